"""pysyncobj's TCP transport with a bounded read side, and entries reassembled on the follower.

RaftNode (scheduler0.coordinator.raft) starts SyncObj with `BoundedTransport`; nothing else here is
used from outside.
"""

from __future__ import annotations

import functools
import hmac
import logging
import pickle
import socket
import struct
import zlib
from collections.abc import Callable
from typing import Any

from pysyncobj import pickle as syncobj_pickle
from pysyncobj.dns_resolver import globalDnsResolver
from pysyncobj.monotonic import monotonic as syncobj_monotonic
from pysyncobj.poller import POLL_EVENT_TYPE
from pysyncobj.tcp_connection import CONNECTION_STATE, TcpConnection
from pysyncobj.transport import TCPTransport

from scheduler0 import clock
from scheduler0.config import Settings
from scheduler0.coordinator.raft_walk_back import JournalView, WalkBack
from scheduler0.errors import RaftError

log = logging.getLogger(__name__)

# -- the wire: pysyncobj's TCP transport with a bounded read side ----------------------------------
#
# pysyncobj 0.3.17 reads a frame (a native signed-int length, then that many bytes) into a bytes
# buffer with `+=` and looks at it only once it is complete: one client without the password that
# announces 1 GiB and streams zeros costs the tick thread quadratic copying and the node unbounded
# memory, and no write commits meanwhile. `BoundedTransport` is its TCPTransport with
# the server and the connections swapped for ones that buffer into a bytearray, refuse a frame
# over the cap as soon as its length is read, and read a bounded amount per poll event.
#
# Frames on this version (password set, as RaftNode always does), measured on loopback:
#   handshake: each side's random key, then the connecting side's address (or an admin command):
#   248-332 B. A frame is a Fernet token, 4/3 of (its zlib'ed pickle + 57-73 B), so the 4 KiB
#   cap leaves room for a 2,000-character address.
#   after it: votes, heartbeats, next_node_idx <= 632 B; a snapshot travels in 64 KiB file chunks
#   and an entry of >= appendEntriesBatchSizeBytes (64 KiB) alone in its batch in 64 KiB pieces,
#   ~68 KB frames (bound: ~175 KB; see "entries that arrive in pieces"). But a command a follower
#   forwards to the leader (apply_command), like an entry batched behind smaller ones, travels
#   whole: a job.create from a 16 MiB body made a 17.2 MB frame (base64 data) and a 20.7 MB one
#   (random non-ASCII data; 17.6 MB for 250 such jobs pickled with protocol 4, as now, against
#   20.5 MB with protocol 2); 10,000 minimal jobs 32 KB. Bound: 2.7x the body (a protocol-2
#   pickle of bytes doubles every byte >= 0x80, base64 adds 4/3, zlib assumed to gain nothing)
#   plus the fields the API adds. Protocol 4 makes it ~1.4x, but a node without
#   SYNCOBJ_PICKLE_PROTOCOL still sends protocol 2, so the cap stays sized for it.
HANDSHAKE_FRAME_CAP = 4 * 1024  # bytes a frame may have before the peer proved the password
MIN_FRAME_CAP = 64 * 2**20  # bytes a frame may have afterwards, at least
FRAME_CAP_PER_BODY_BYTE = 8  # ... and at least this many times api_max_body_mb (bound: 2.7)
READ_BUDGET = 2**20  # bytes one authenticated connection reads per poll event
HANDSHAKE_TIMEOUT = 10.0  # seconds an accepted connection has to prove the password
_FRAME_HEADER = struct.Struct("i")  # pysyncobj's length prefix
# TcpConnection internals replaced or updated here (pysyncobj is pinned to 0.3.17 in setup.cfg):
# if an upgrade renames them, the transport refuses to start rather than run unbounded.
_HOOK_METHODS = ("_TcpConnection__tryReadBuffer", "_TcpConnection__processParseMessage")
_HOOK_ATTRIBUTES = ("_TcpConnection__socket", "_TcpConnection__lastReadTime")
_SYNCOBJ_JOURNAL = "_SyncObj__raftLog"  # the follower's log, read by WalkBack
_ACCEPT_WARNING_INTERVAL = 60.0  # seconds between two warnings about failing accept() calls


def frame_cap(settings: Settings) -> int:
    """The largest frame, in bytes, a peer that proved the password may send.

    It must exceed the largest real frame, one command built from the largest API body (at most
    ~2.7x the body, see above): a cut frame would be resent and cut again, for good. 128 MiB for
    the default 16 MiB body.
    """
    body = int(settings.api_max_body_mb * 2**20)
    return max(MIN_FRAME_CAP, body * FRAME_CAP_PER_BODY_BYTE)


def _check_pysyncobj_hooks() -> None:
    probe = TcpConnection(poller=None)
    missing = [name for name in _HOOK_METHODS if not callable(getattr(TcpConnection, name, None))]
    missing += [name for name in _HOOK_ATTRIBUTES if not hasattr(probe, name)]
    if syncobj_pickle.dumps(None)[1] != getattr(syncobj_pickle, "__protocol", None):
        missing.append("pickle.__protocol")
    if missing:
        raise RaftError("this pysyncobj lacks the internals scheduler0.coordinator.raft bounds or tunes "
                        f"({', '.join(missing)}): install pysyncobj==0.3.17")


class _BoundedConnection(TcpConnection):
    """pysyncobj's TcpConnection with the read side replaced (see "the wire").

    Until the peer proved the password (a frame carried the random key this side sent, or with
    no password its first frame arrived), frames are capped at HANDSHAKE_FRAME_CAP and a poll
    event reads no more than one such frame; afterwards at `frame_cap` and READ_BUDGET. An
    oversized frame closes the connection with one warning naming the peer. Sending, timeouts
    and the handshake itself stay pysyncobj's.
    """

    recvLastTimestamp: int  # TcpConnection's, set in its __init__

    def __init__(self, poller: Any, *, frame_cap: int, peer: str, **kwargs: Any) -> None:
        self._frame_cap = frame_cap
        self._recv_size = int(kwargs.get("recvBufferSize", 2**16))
        self._begin(peer)
        super().__init__(poller, **kwargs)

    def _begin(self, peer: str) -> None:
        self._peer = peer
        self._buffer = bytearray()
        self._authenticated = False
        self._handshake_deadline = clock.monotonic() + HANDSHAKE_TIMEOUT

    def connect(self, host: str, port: int) -> bool:
        self._begin(f"{host}:{port}")
        return bool(super().connect(host, port))

    def disconnect(self) -> None:
        self._buffer = bytearray()
        self._authenticated = False
        super().disconnect()

    def handshake_overdue(self, now: float) -> bool:
        return (not self._authenticated and now > self._handshake_deadline
                and self.state != CONNECTION_STATE.DISCONNECTED)

    # TcpConnection.__processConnection calls these two on every read event.
    def _TcpConnection__tryReadBuffer(self) -> None:
        budget = READ_BUDGET if self._authenticated else HANDSHAKE_FRAME_CAP + _FRAME_HEADER.size
        sock = self._TcpConnection__socket
        while budget > 0:
            try:
                chunk = sock.recv(min(budget, self._recv_size))
            except BlockingIOError:
                break
            except OSError:
                self.disconnect()
                return
            if not chunk:
                self.disconnect()
                return
            self._buffer += chunk
            budget -= len(chunk)
        self._TcpConnection__lastReadTime = syncobj_monotonic()

    def _TcpConnection__processParseMessage(self) -> Any:
        """The next whole message, or None (not complete yet, or the connection was closed)."""
        buffer = self._buffer
        if len(buffer) < _FRAME_HEADER.size:
            return None
        (length,) = _FRAME_HEADER.unpack_from(buffer)
        cap = self._frame_cap if self._authenticated else HANDSHAKE_FRAME_CAP
        if not 0 <= length <= cap:
            self._refuse(length, cap)
            return None
        end = _FRAME_HEADER.size + length
        if len(buffer) < end:
            return None
        with memoryview(buffer) as view:
            frame = view[_FRAME_HEADER.size:end].tobytes()
        del buffer[:end]
        try:
            return self._decode(frame)
        except Exception:
            # As pysyncobj does: a frame that does not decrypt, unpickle or carry this
            # connection's key ends the connection.
            self.disconnect()
            return None

    def _decode(self, frame: bytes) -> Any:
        """pysyncobj's decoding, its `assert`s made real checks (python -O drops asserts)."""
        if self.encryptor:
            stamp = self.encryptor.extract_timestamp(frame)
            if stamp < self.recvLastTimestamp:
                raise ValueError("a frame older than the one before it")
            self.recvLastTimestamp = stamp
            frame = self.encryptor.decrypt(frame)
        message = syncobj_pickle.loads(zlib.decompress(frame))
        if self.recvRandKey:
            key, message = message
            if not hmac.compare_digest(key, self.recvRandKey):
                raise ValueError("a frame for another connection")
            self._authenticated = True
        elif not self.encryptor:
            self._authenticated = True  # no password: nothing to prove
        return message

    def _refuse(self, length: int, cap: int) -> None:
        stage = "after" if self._authenticated else "before"
        log.warning("raft: closing the connection with %s: it announced a frame of %d bytes, "
                    "over the %d-byte limit %s the handshake", self._peer, length, cap, stage)
        self.disconnect()


class _BoundedServer:
    """pysyncobj's TcpServer (same socket options), accepting into _BoundedConnection.

    Unlike it, a failing accept() (out of descriptors, say) does not stop the listening for good.
    """

    def __init__(self, poller: Any, host: str, port: int,
                 on_connection: Callable[[_BoundedConnection], None], conf: Any, frame_cap: int):
        self._poller = poller
        self._host = host
        self._port = int(port)
        self._on_connection = on_connection
        self._conf = conf
        self._frame_cap = frame_cap
        self._socket: socket.socket | None = None
        self._last_accept_warning = float("-inf")

    def _tune(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._conf.sendBufferSize)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._conf.recvBufferSize)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)

    def bind(self) -> None:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._tune(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._port))
            sock.listen(5)
        except OSError:
            sock.close()
            raise
        self._socket = sock
        self._poller.subscribe(sock.fileno(), self._accept,
                               POLL_EVENT_TYPE.READ | POLL_EVENT_TYPE.ERROR)

    def unbind(self) -> None:
        if self._socket is not None:
            self._poller.unsubscribe(self._socket.fileno())
            self._socket.close()
            self._socket = None

    def _accept(self, descr: int, event: int) -> None:
        if event & POLL_EVENT_TYPE.ERROR:
            self.unbind()  # as TcpServer does
        if self._socket is None or not event & POLL_EVENT_TYPE.READ:
            return
        try:
            sock, address = self._socket.accept()
        except BlockingIOError:
            return
        except OSError as exc:
            now = clock.monotonic()
            if now - self._last_accept_warning >= _ACCEPT_WARNING_INTERVAL:
                self._last_accept_warning = now
                log.warning("raft: accepting a connection failed (%s); still listening", exc)
            return
        self._tune(sock)
        conf = self._conf
        self._on_connection(_BoundedConnection(
            self._poller, socket=sock, timeout=conf.connectionTimeout,
            sendBufferSize=conf.sendBufferSize, recvBufferSize=conf.recvBufferSize,
            frame_cap=self._frame_cap, peer=f"{address[0]}:{address[1]}"))


# -- entries that arrive in pieces ---------------------------------------------------------------
#
# A leader sends an entry whose command is >= appendEntriesBatchSizeBytes (64 KiB) alone: the
# pickle of (command bytes, index, term), cut into 64 KiB pieces marked "start", "process" and
# "finish" (syncobj.py, __sendAppendEntries). It marks a piece "finish" once it reaches the length
# of the command bytes, not of that pickle:
#     elif pos + batchSizeBytes >= len(entries[0][0]):
#         transmission = 'finish'
# and the pickle is longer. With protocol 2 it is up to twice as long (see
# SYNCOBJ_PICKLE_PROTOCOL), so for a command with non-ASCII text about the second half of the
# pieces are all "finish"; with protocol 4 it is 24-35 bytes longer, and two pieces are "finish"
# whenever a piece boundary falls in those bytes. At each "finish" the follower
# (__onMessageReceived) unpickles what it has so far,
#     newEntries = [pickle.loads(self.__recvTransmission)]
# which raises in the tick thread ("failed _onTick"), leaves the piece unanswered and the frames
# behind it unread until more bytes arrive. Measured with protocol 2, three nodes, a job.create
# of jobs with 64 KiB of "é" each: 16 jobs, 32 errors; 64 jobs, 192 errors and 3 s to commit;
# 240 jobs (a 16 MiB body), ~600 errors and 40 terms in 40 s, not committed while submit()
# retried it (nor in 120 s).
#
# `_Reassembly` does the follower's side instead, whatever the leader marked: it keeps a leader's
# pieces in a bytearray (pysyncobj's `+=` on bytes copied all of them for each piece), hands
# pysyncobj each piece as an empty "start" (so it still answers the leader), and once the pieces
# unpickle whole, the entry as the ordinary append_entries pysyncobj sends for smaller entries.
# The leader's side is left as it is, so nodes with and without this still talk to each other.


class _Reassembly:
    """The pieces of one big entry per leader, until they make the whole entry."""

    def __init__(self) -> None:
        self._pieces: dict[Any, bytearray] = {}

    def message_for_syncobj(self, node: Any, message: dict[str, Any]) -> dict[str, Any]:
        """What pysyncobj should see of `message`, an append_entries piece from `node`."""
        data = message.get("data")
        if not isinstance(data, bytes):
            return message  # not what 0.3.17 sends: pysyncobj's own handling decides
        transmission = message["transmission"]
        pieces = self._pieces.get(node)
        if transmission == "start" or pieces is None:
            # A piece without its start (a connection lost midway) starts nothing: the leader's
            # next heartbeat finds this node behind and sends the entry again from its start.
            if transmission == "start":
                self._pieces[node] = bytearray(data)
            return {**message, "transmission": "start", "data": b""}
        pieces += data
        entry = _whole_entry(pieces) if transmission == "finish" else None
        if entry is None:
            return {**message, "transmission": "start", "data": b""}
        del self._pieces[node]
        whole = {key: value for key, value in message.items()
                 if key not in ("transmission", "data")}
        return {**whole, "entries": [entry]}

    def forget(self, node: Any) -> None:
        self._pieces.pop(node, None)


def _whole_entry(pieces: bytearray) -> Any:
    """The entry the pieces so far unpickle to, or None while some are missing.

    A truncated pickle fails at its first missing byte without decoding the rest (measured:
    ~2 ms for half of a 32 MB one; the whole one takes ~40 ms), and only the whole one reaches
    its final STOP opcode.
    """
    try:
        return pickle.loads(pieces)
    except Exception:  # truncated: UnpicklingError, EOFError, or a cut UTF-8 sequence
        return None


class BoundedTransport(TCPTransport):
    """pysyncobj's TCPTransport over _BoundedServer and _BoundedConnection.

    Also closes accepted connections that have not proved the password within
    HANDSHAKE_TIMEOUT: pysyncobj keeps a silent one open for good; reassembles entries that
    arrive in pieces itself (see _Reassembly); and answers a leader so that it walks back past
    entries nobody committed (see scheduler0.coordinator.raft_walk_back).
    """

    def __init__(self, syncObj: Any, selfNode: Any, otherNodes: Any, *, frame_cap: int):
        _check_pysyncobj_hooks()
        if not hasattr(syncObj, _SYNCOBJ_JOURNAL):
            raise RaftError(f"this pysyncobj has no {_SYNCOBJ_JOURNAL}: install pysyncobj==0.3.17")
        self._frame_cap = frame_cap  # before TCPTransport.__init__, which calls addNode
        self._reassembly = _Reassembly()
        self._walk_back = WalkBack()
        self._log = JournalView(getattr(syncObj, _SYNCOBJ_JOURNAL))
        super().__init__(syncObj, selfNode, otherNodes)

    def _onMessageReceived(self, node: Any, message: Any) -> None:
        if isinstance(message, dict) and message.get("type") == "append_entries":
            if "transmission" in message:
                message = self._reassembly.message_for_syncobj(node, message)
            message = self._walk_back.message_for_syncobj(
                message, int(self._syncObj.raftCurrentTerm), self._log)
        super()._onMessageReceived(node, message)

    def _onNodeDisconnected(self, node: Any) -> None:
        self._reassembly.forget(node)
        super()._onNodeDisconnected(node)

    def _createServer(self) -> None:
        # TCPTransport._createServer, with our server class.
        conf = self._syncObj.conf
        if conf.bindAddress is not None:
            host, port = conf.bindAddress.rsplit(":", 1)
        else:
            host, port = self._selfNode.address.rsplit(":", 1)
            host = "::" if ":" in host else "0.0.0.0"
        if host != "0.0.0.0":
            host = globalDnsResolver().resolve(host)
        self._server = _BoundedServer(self._syncObj._poller, host, int(port),
                                      self._onNewIncomingConnection, conf, self._frame_cap)

    def addNode(self, node: Any) -> None:
        # TCPTransport.addNode, with our connection class.
        self._nodes.add(node)
        self._nodeAddrToNode[node.address] = node
        if not self._shouldConnect(node):
            return
        conf = self._syncObj.conf
        conn = _BoundedConnection(
            self._syncObj._poller, timeout=conf.connectionTimeout,
            sendBufferSize=conf.sendBufferSize, recvBufferSize=conf.recvBufferSize,
            keepalive=conf.tcp_keepalive, frame_cap=self._frame_cap, peer=node.address)
        conn.encryptor = self._syncObj.encryptor
        conn.setOnConnectedCallback(functools.partial(self._onOutgoingConnected, conn))
        conn.setOnMessageReceivedCallback(functools.partial(self._onMessageReceived, node))
        conn.setOnDisconnectedCallback(functools.partial(self._onDisconnected, conn))
        self._connections[node] = conn

    def _onTick(self) -> None:
        super()._onTick()
        now = clock.monotonic()
        for conn in [c for c in self._unknownConnections if c.handshake_overdue(now)]:
            conn.disconnect()
