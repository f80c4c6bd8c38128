"""ZeroMQ's one door: every socket of scheduler0 is made here (pyzmq imported nowhere else).

Sockets of one node (ipc files under <DataDir>/run, see Settings.ipc):
    control   supervisor PUB  -> every child SUB     memory pressure, stop
    commands  coordinator ROUTER <- api REQ          submit a command, read status
    batches   coordinator PUSH -> executors PULL     batches for this node's executors
    results   coordinator SUB  <- executors PUB      execution results and executor load
Between nodes:
    intake    coordinator PULL (tcp, IntakeAddress) <- the leader's PUSH   batches for this node

Every message is one msgpack frame (scheduler0.codec). Failures become TransportError.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import zmq

from scheduler0 import codec
from scheduler0.errors import TransportError

_KINDS = {"push": zmq.PUSH, "pull": zmq.PULL, "pub": zmq.PUB, "sub": zmq.SUB,
          "router": zmq.ROUTER, "req": zmq.REQ}


def context() -> zmq.Context:
    return zmq.Context.instance()


def _prepare_ipc(endpoint: str) -> None:
    if endpoint.startswith("ipc://"):
        path = endpoint[len("ipc://"):]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if len(path) > 100:
            raise TransportError(f"ipc path {path!r} is too long for a unix socket "
                                 "(over 100 bytes); use a shorter DataDir")


class Socket:
    """One ZeroMQ socket carrying codec messages. Not thread-safe: one thread owns it."""

    def __init__(self, kind: str, endpoint: str, *, bind: bool, hwm: int = 100_000,
                 subscribe: bytes | None = b""):
        self.kind = kind
        self.endpoint = endpoint
        self._sock = context().socket(_KINDS[kind])
        self._sock.setsockopt(zmq.LINGER, 0 if kind in ("req", "router") else 2000)
        self._sock.setsockopt(zmq.SNDHWM, hwm)
        self._sock.setsockopt(zmq.RCVHWM, hwm)
        if kind == "sub" and subscribe is not None:
            self._sock.setsockopt(zmq.SUBSCRIBE, subscribe)
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

    @property
    def raw(self) -> Any:
        """The pyzmq socket, for a Poller built with `poller()`."""
        return self._sock

    def send(self, message: dict[str, Any], *, block: bool = True) -> bool:
        """Send one message; with block=False return False instead of waiting at the HWM."""
        try:
            self._sock.send(codec.encode(message), 0 if block else zmq.NOBLOCK)
            return True
        except zmq.Again:
            return False
        except zmq.ZMQError as exc:
            raise TransportError(f"send on {self.endpoint} failed: {exc}") from None

    def recv(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next message, or None after `timeout` seconds (None = wait forever)."""
        if timeout is not None and not self._sock.poll(int(timeout * 1000)):
            return None
        try:
            return codec.decode(self._sock.recv())
        except zmq.ZMQError as exc:
            raise TransportError(f"recv on {self.endpoint} failed: {exc}") from None

    def recv_nowait(self) -> dict[str, Any] | None:
        try:
            return codec.decode(self._sock.recv(zmq.NOBLOCK))
        except zmq.Again:
            return None

    def close(self) -> None:
        self._sock.close()


class RouterServer:
    """The server side of request/reply: many REQ clients, replies matched by identity."""

    def __init__(self, endpoint: str):
        self._sock = Socket("router", endpoint, bind=True)

    @property
    def raw(self) -> Any:
        return self._sock.raw

    def recv(self, timeout: float) -> tuple[list[bytes], dict[str, Any]] | None:
        if not self._sock.raw.poll(int(timeout * 1000)):
            return None
        frames = self._sock.raw.recv_multipart()
        envelope, body = frames[:-1], frames[-1]
        try:
            return envelope, codec.decode(body)
        except ValueError:
            self.reply(envelope, {"ok": False, "error": {"status": 400, "code": "bad_message",
                                                          "message": "undecodable request"}})
            return None

    def reply(self, envelope: list[bytes], message: dict[str, Any]) -> None:
        self._sock.raw.send_multipart([*envelope, codec.encode(message)])

    def close(self) -> None:
        self._sock.close()


class RequestClient:
    """Request/reply to a RouterServer from many threads: one REQ socket per thread.

    A REQ socket that timed out is stuck mid-exchange, so it is thrown away and a fresh one is
    made for the next request.
    """

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self._local = threading.local()

    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        sock = getattr(self._local, "sock", None)
        if sock is None:
            sock = self._local.sock = Socket("req", self.endpoint, bind=False)
        sock.send(message)
        reply = sock.recv(timeout)
        if reply is None:
            sock.close()
            self._local.sock = None
            raise TransportError(f"no reply from {self.endpoint} within {timeout:g} s")
        return reply


def poller(*sockets: Any) -> zmq.Poller:
    p = zmq.Poller()
    for s in sockets:
        p.register(s.raw, zmq.POLLIN)
    return p


def poll(p: zmq.Poller, timeout: float) -> set[Any]:
    """The raw sockets of `p` that have a message within `timeout` seconds."""
    return {sock for sock, _ in p.poll(int(timeout * 1000))}
