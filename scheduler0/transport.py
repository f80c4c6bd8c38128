"""ZeroMQ's one door: every socket of scheduler0 is made here (pyzmq imported nowhere else).

Sockets of one node (ipc files under <DataDir>/run, see Settings.ipc):
    control   supervisor PUB  -> every child SUB     memory pressure, stop
    commands  coordinator ROUTER <- api REQ          submit a command, read status
    batches   coordinator PUSH -> executors PULL     batches for this node's executors
    results   coordinator SUB  <- executors PUB      execution results and executor load
    leases    coordinator PUB  -> executors SUB      this node's lease (scheduler0.leases)
Between nodes:
    intake    coordinator PULL (tcp, IntakeAddress) <- the leader's PUSH   batches and lease
              acks for this node; every node's heartbeats

Every message is one msgpack frame: scheduler0.messages encodes it, and a socket that receives
decodes through the Channel of what it carries (an unreadable message is logged and dropped).
Failures become TransportError.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from typing import Any

import zmq
import zmq.auth.thread
from zmq.utils import z85

from scheduler0 import messages, peer_names
from scheduler0.errors import TransportError

_KINDS = {"push": zmq.PUSH, "pull": zmq.PULL, "pub": zmq.PUB, "sub": zmq.SUB,
          "router": zmq.ROUTER, "req": zmq.REQ}


def context() -> zmq.Context[zmq.Socket[bytes]]:
    return zmq.Context.instance()


def _prepare_ipc(endpoint: str) -> None:
    if endpoint.startswith("ipc://"):
        path = endpoint[len("ipc://"):]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if len(path) > 100:
            raise TransportError(f"ipc path {path!r} is too long for a unix socket "
                                 "(over 100 bytes); use a shorter DataDir")


@dataclass(frozen=True)
class CurveKeys:
    """CURVE key pairs for the channels between nodes, derived from the cluster's SecretKey.

    Every node derives the same pairs, so no key exchange is needed; a process without the
    SecretKey can neither complete the handshake as a client (the server's ZAP handler admits
    only the derived client key) nor impersonate a server.
    """

    server_public: bytes
    server_secret: bytes
    client_public: bytes
    client_secret: bytes

    @classmethod
    def derive(cls, secret_key: str) -> CurveKeys:
        def pair(label: str) -> tuple[bytes, bytes]:
            secret = z85.encode(hashlib.sha256(f"scheduler0-curve-{label}:{secret_key}".encode())
                                .digest())
            return zmq.curve_public(secret), secret

        server_public, server_secret = pair("server")
        client_public, client_secret = pair("client")
        return cls(server_public, server_secret, client_public, client_secret)


_authenticator: Any = None
_auth_lock = threading.Lock()


def _start_authenticator(keys: CurveKeys) -> None:
    """One ZAP handler per process, admitting only the cluster's client key."""
    global _authenticator
    with _auth_lock:
        if _authenticator is not None:
            return
        auth = zmq.auth.thread.ThreadAuthenticator(context())
        auth.start()

        class _Provider:
            def callback(self, domain: str, key: bytes) -> bool:
                return key == keys.client_public

        auth.configure_curve_callback(domain="*", credentials_provider=_Provider())
        _authenticator = auth


class Socket:
    """One ZeroMQ socket carrying scheduler0.messages. Not thread-safe: one thread owns it.

    A socket that receives reads the messages of `channel` (messages.BATCHES, ...).

    With `curve` the socket authenticates and encrypts (tcp between nodes): a bound socket is
    the CURVE server, a connecting one the client.
    """

    def __init__(self, kind: str, endpoint: str, *, bind: bool, hwm: int = 100_000,
                 subscribe: bytes | None = b"", curve: CurveKeys | None = None,
                 channel: messages.Channel[Any] | None = None):
        self.kind = kind
        self.endpoint = endpoint
        self.channel = channel
        self._sock = context().socket(_KINDS[kind])
        self._sock.setsockopt(zmq.LINGER, 0 if kind in ("req", "router") else 2000)
        self._sock.setsockopt(zmq.SNDHWM, hwm)
        self._sock.setsockopt(zmq.RCVHWM, hwm)
        if kind == "sub" and subscribe is not None:
            self._sock.setsockopt(zmq.SUBSCRIBE, subscribe)
        if curve is not None:
            self._secure(curve, bind)
        try:
            if bind:
                _prepare_ipc(endpoint)
                self._sock.bind(endpoint)
            else:
                self._sock.connect(endpoint)
        except zmq.ZMQError as exc:
            self._sock.close(0)
            verb = "bind" if bind else "connect"
            raise TransportError(f"cannot {verb} {kind} socket to {endpoint}: {exc}") from None

    def _secure(self, keys: CurveKeys, server: bool) -> None:
        if server:
            _start_authenticator(keys)
            self._sock.curve_server = True
            self._sock.curve_secretkey = keys.server_secret
            self._sock.curve_publickey = keys.server_public
        else:
            self._sock.curve_serverkey = keys.server_public
            self._sock.curve_publickey = keys.client_public
            self._sock.curve_secretkey = keys.client_secret

    @property
    def raw(self) -> Any:
        """The pyzmq socket, for a Poller built with `poller()`."""
        return self._sock

    def send(self, message: messages.Versioned, *, block: bool = True) -> bool:
        """Send one message; with block=False return False instead of waiting at the HWM."""
        try:
            self._sock.send(messages.encode(message), 0 if block else zmq.NOBLOCK)
            return True
        except zmq.Again:
            return False
        except zmq.ZMQError as exc:
            raise TransportError(f"send on {self.endpoint} failed: {exc}") from None

    def recv(self, timeout: float | None = None) -> Any:
        """The next message of this socket's channel, or None after `timeout` seconds (None =
        wait forever) or when what came could not be read (logged by the channel)."""
        if timeout is not None and not self._sock.poll(int(timeout * 1000)):
            return None
        try:
            return self._decode(self._sock.recv())
        except zmq.ZMQError as exc:
            raise TransportError(f"recv on {self.endpoint} failed: {exc}") from None

    def recv_nowait(self) -> Any:
        try:
            return self._decode(self._sock.recv(zmq.NOBLOCK))
        except zmq.Again:
            return None

    def _decode(self, data: bytes) -> Any:
        if self.channel is None:
            raise TypeError(f"the {self.kind} socket to {self.endpoint} has no channel to read")
        return self.channel.decode(data)

    def close(self) -> None:
        self._sock.close()


class RouterServer:
    """The server side of request/reply: many REQ clients, replies matched by identity."""

    def __init__(self, endpoint: str):
        self._sock = Socket("router", endpoint, bind=True)

    @property
    def raw(self) -> Any:
        return self._sock.raw

    def recv(self, timeout: float) -> tuple[list[bytes], messages.Request] | None:
        if not self._sock.raw.poll(int(timeout * 1000)):
            return None
        frames = self._sock.raw.recv_multipart()
        envelope, body = frames[:-1], frames[-1]
        request = messages.REQUESTS.read(body)
        if isinstance(request, str):
            self.reply(envelope, messages.Reply.refused(400, "bad_message",
                                                        f"undecodable request: {request}"))
            return None
        return envelope, request

    def reply(self, envelope: list[bytes], message: messages.Reply) -> None:
        self._sock.raw.send_multipart([*envelope, messages.encode(message)])

    def close(self) -> None:
        self._sock.close()


class PeerPushers:
    """Non-blocking PUSH sockets to other nodes, one per key, each connected to the peer's
    address as peer_names last resolved it and made again when that address changes (a
    restarted container). Owned by one thread, as its sockets are."""

    def __init__(self, hwm: int, curve: CurveKeys | None):
        self._hwm = hwm
        self._curve = curve
        self._sockets: dict[Any, tuple[str, Socket]] = {}

    def send(self, key: Any, host_port: str, message: messages.Message) -> bool:
        """Queue `message` for `host_port`; False when it cannot go now (the queue is full,
        or the host's name has never resolved)."""
        endpoint = peer_names.tcp_endpoint(host_port)
        if endpoint is None:
            return False
        known = self._sockets.get(key)
        if known is None or known[0] != endpoint:
            if known is not None:
                known[1].close()
            known = self._sockets[key] = (endpoint, Socket(
                "push", endpoint, bind=False, hwm=self._hwm, curve=self._curve))
        return known[1].send(message, block=False)

    def close(self) -> None:
        for _endpoint, sock in self._sockets.values():
            sock.close()
        self._sockets.clear()


class RequestClient:
    """Request/reply to a RouterServer from many threads: one REQ socket per thread.

    A REQ socket that timed out is stuck mid-exchange, so it is thrown away and a fresh one is
    made for the next request.
    """

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self._local = threading.local()

    def request(self, message: messages.Request, timeout: float) -> messages.Reply:
        sock = getattr(self._local, "sock", None)
        if sock is None:
            sock = self._local.sock = Socket("req", self.endpoint, bind=False,
                                             channel=messages.REPLIES)
        sock.send(message)
        reply = sock.recv(timeout)
        if not isinstance(reply, messages.Reply):
            sock.close()
            self._local.sock = None
            raise TransportError(f"no readable reply from {self.endpoint} within {timeout:g} s")
        return reply


def poller(*sockets: Any) -> zmq.Poller:
    p = zmq.Poller()
    for s in sockets:
        p.register(s.raw, zmq.POLLIN)
    return p


def poll(p: zmq.Poller, timeout: float) -> set[Any]:
    """The raw sockets of `p` that have a message within `timeout` seconds."""
    return {sock for sock, _ in p.poll(int(timeout * 1000))}
