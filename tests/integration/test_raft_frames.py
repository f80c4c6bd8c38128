"""The Raft port bounds what a peer can make the node buffer.

A real single node (LocalServices: real pysyncobj, real SQLite) and raw TCP clients on loopback.
A client without the password that announces a 1 GiB frame and streams zeros is cut off while
writes keep committing; one that announces a frame over the handshake cap is cut off before it
sent it; one that never finishes the handshake is dropped. A client with the password may send
frames far over the handshake cap, but not over the frame cap. And three real nodes replicate a
multi-MiB command a follower forwards to the leader in one frame.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import logging
import os
import pickle
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from pysyncobj.encryptor import getEncryptor

from scheduler0 import config, messages
from scheduler0.coordinator import raft, raft_wire
from scheduler0.coordinator.raft import frame_cap, raft_password
from scheduler0.testing import LocalServices, local_node, node_settings, wait_for

SECRET = "local-test-secret"  # LocalServices' default secret key
ANNOUNCED = 2**30  # the frame length the attacker claims
STREAM_LIMIT = 64 * 2**20  # bytes one attacking connection offers at most
STREAM_SECONDS = 20.0  # and seconds
CUT_OFF = 16 * 2**20  # a refused connection got fewer bytes through than this (socket buffers)
WRITES = 20


@pytest.fixture
def node(tmp_path: Path) -> Iterator[LocalServices]:
    with local_node(tmp_path) as services:
        yield services


def raft_endpoint(services: LocalServices) -> tuple[str, int]:
    host, port = services.settings.raft_address.rsplit(":", 1)
    assert host == "127.0.0.1"
    return host, int(port)


def local_name(sock: socket.socket) -> str:
    """host:port of this end, as the node names its peer."""
    host, port = sock.getsockname()[:2]
    return f"{host}:{port}"


def closed_by_node(sock: socket.socket) -> bool:
    """True once the node closed `sock` (EOF or reset); False while it is open and quiet.

    Frames the node sends (heartbeats to a read-only peer) are read and dropped.
    """
    sock.settimeout(0.05)
    try:
        while sock.recv(65536):
            pass
        return True
    except TimeoutError:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True


def warnings_naming(caplog: pytest.LogCaptureFixture, peer: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "scheduler0.coordinator.raft_wire" and r.levelno == logging.WARNING
            and peer in r.getMessage()]


@dataclasses.dataclass
class Stream:
    """One attacking connection: a frame header, then zeros as fast as the node takes them."""

    address: tuple[str, int]
    stop: threading.Event
    peer: str = ""
    sent: int = 0
    ended: str = ""

    def run(self) -> Stream:
        chunk = bytes(64 * 1024)
        deadline = time.monotonic() + STREAM_SECONDS
        with socket.create_connection(self.address, timeout=0.5) as sock:
            self.peer = local_name(sock)
            sock.sendall(struct.pack("i", ANNOUNCED))
            while True:
                if self.stop.is_set():
                    self.ended = "stopped"
                elif self.sent >= STREAM_LIMIT:
                    self.ended = "limit"
                elif time.monotonic() > deadline:
                    self.ended = "deadline"
                if self.ended:
                    return self
                try:
                    self.sent += sock.send(chunk)
                except TimeoutError:
                    continue
                except (ConnectionResetError, BrokenPipeError):
                    self.ended = "closed"
                    return self


class Attack(threading.Thread):
    """Streams back to back, each on a new connection, until stopped."""

    def __init__(self, address: tuple[str, int]):
        super().__init__(name="raft-frame-attack", daemon=True)
        self.address = address
        self.halt = threading.Event()
        self.streams: list[Stream] = []
        self.current: Stream | None = None

    def run(self) -> None:
        while not self.halt.is_set():
            self.current = Stream(self.address, self.halt)
            self.streams.append(self.current.run())

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=STREAM_SECONDS + 10)
        assert not self.is_alive()


def project_create(name: str) -> dict[str, Any]:
    return messages.make(messages.PROJECT_CREATE,
                         {"name": name, "description": "", "signing_secret": "s3cret"})


def test_an_oversized_frame_is_cut_off_while_writes_keep_committing(node, caplog):
    caplog.set_level(logging.WARNING, logger="scheduler0.coordinator.raft_wire")
    process = psutil.Process()
    rss_before = process.memory_info().rss
    rss_peak = rss_before
    attack = Attack(raft_endpoint(node))
    attack.start()
    try:
        wait_for(lambda: attack.current is not None and attack.current.sent > 0, timeout=10,
                 message="the attack to start streaming")
        for i in range(WRITES):
            result = node.submit(project_create(f"during-attack-{i}"), timeout=5.0)
            assert result["ok"] is True, result
            rss_peak = max(rss_peak, process.memory_info().rss)
        # The attack is still going on: the node kept cutting new connections off.
        wait_for(lambda: sum(s.ended == "closed" for s in attack.streams) >= 3, timeout=10,
                 message="three attacking connections closed by the node")
    finally:
        attack.stop()
    streams = attack.streams
    assert all(s.ended in ("closed", "stopped") for s in streams), [s.ended for s in streams]
    assert max(s.sent for s in streams) < CUT_OFF, [s.sent for s in streams]
    assert rss_peak - rss_before < 48 * 2**20
    # One warning per refused connection, naming the peer and saying why; nothing secret.
    for stream in (s for s in streams if s.ended == "closed"):
        (warning,) = warnings_naming(caplog, stream.peer)
        assert f"{ANNOUNCED} bytes" in warning and "before the handshake" in warning
    password = raft_password(SECRET)
    assert not any(password in r.getMessage() or SECRET in r.getMessage() for r in caplog.records)
    assert node.reader().get_project(node.submit(project_create("after"))["data"]["id"])


def test_a_frame_over_the_handshake_cap_is_refused_before_it_arrives(node, caplog):
    caplog.set_level(logging.WARNING, logger="scheduler0.coordinator.raft_wire")
    announced = 64 * 1024  # tiny next to the frame cap, but no handshake frame is this big
    with socket.create_connection(raft_endpoint(node), timeout=5) as sock:
        peer = local_name(sock)
        sock.sendall(struct.pack("i", announced) + bytes(2 * raft_wire.HANDSHAKE_FRAME_CAP))
        wait_for(lambda: closed_by_node(sock), timeout=10, message="the node to close")
    (warning,) = warnings_naming(caplog, peer)
    assert f"{announced} bytes" in warning and f"{raft_wire.HANDSHAKE_FRAME_CAP}-byte" in warning


def test_a_client_that_never_finishes_the_handshake_is_dropped(tmp_path, monkeypatch):
    monkeypatch.setattr(raft_wire, "HANDSHAKE_TIMEOUT", 0.5)
    with local_node(tmp_path) as services:
        with socket.create_connection(raft_endpoint(services), timeout=5) as silent, \
                socket.create_connection(raft_endpoint(services), timeout=5) as trickling:
            trickling.sendall(struct.pack("i", 200))  # a plausible handshake frame, never sent

            def both_closed() -> bool:
                with contextlib.suppress(OSError):
                    trickling.sendall(b"\0")
                return closed_by_node(silent) and closed_by_node(trickling)

            wait_for(both_closed, timeout=10, message="the node to drop both")
        assert services.submit(project_create("still-serving"))["ok"] is True


class PasswordPeer:
    """The connecting half of pysyncobj's handshake over a plain socket, as its admin tool
    (syncobj_admin) speaks it: random keys both ways, then Fernet frames carrying the key."""

    def __init__(self, address: tuple[str, int], password: str):
        self.sock = socket.create_connection(address, timeout=5)
        self.fernet = getEncryptor(password)
        self.key = os.urandom(32)
        self.node_key: bytes | None = None
        self.buffer = b""

    def send(self, message: Any) -> None:
        if self.node_key is not None:
            message = (self.node_key, message)
        token = self.fernet.encrypt_at_time(zlib.compress(pickle.dumps(message, 2), 3),
                                            int(time.monotonic()))
        self.sock.sendall(struct.pack("i", len(token)) + token)

    def receive(self) -> Any:
        while True:
            if len(self.buffer) >= 4:
                (length,) = struct.unpack_from("i", self.buffer)
                if len(self.buffer) >= 4 + length:
                    token, self.buffer = self.buffer[4:4 + length], self.buffer[4 + length:]
                    key, message = pickle.loads(zlib.decompress(self.fernet.decrypt(token)))
                    assert key == self.key
                    return message
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the node closed the connection")
            self.buffer += chunk

    def handshake(self) -> None:
        self.send(self.key)
        self.node_key = self.receive()


def test_a_peer_with_the_password_may_send_big_frames_but_not_over_the_cap(node, caplog):
    caplog.set_level(logging.WARNING, logger="scheduler0.coordinator.raft_wire")
    peer = PasswordPeer(raft_endpoint(node), raft_password(SECRET))
    with peer.sock:
        local = local_name(peer.sock)
        peer.handshake()
        peer.send(["status"])  # the admin tool's command; proves the password
        assert "raft_term" in peer.receive()
        # A frame 100 times the handshake cap (random bytes do not compress) is read whole.
        padding = os.urandom(100 * raft_wire.HANDSHAKE_FRAME_CAP)
        peer.send(["status", padding])
        assert "raft_term" in peer.receive()
        assert not warnings_naming(caplog, local)
        cap = frame_cap(node.settings)
        peer.sock.sendall(struct.pack("i", cap + 1) + bytes(64 * 1024))
        wait_for(lambda: closed_by_node(peer.sock), timeout=10, message="the node to close")
    (warning,) = warnings_naming(caplog, local)
    assert f"{cap + 1} bytes" in warning and "after the handshake" in warning
    assert node.submit(project_create("after-peer"))["ok"] is True


# -- big real frames ---------------------------------------------------------------------------------

def test_the_frame_cap_exceeds_the_largest_command_the_api_can_build():
    """A frame is at most ~2.7x the body it came from (a protocol-2 pickle doubles bytes >= 0x80,
    base64 adds 4/3; zlib is assumed to gain nothing); the largest measured was 1.24x."""
    default = config.Settings()
    assert frame_cap(default) >= 3 * default.api_max_body_mb * 2**20
    bigger = dataclasses.replace(default, api_max_body_mb=100.0)
    assert frame_cap(bigger) >= 3 * 100 * 2**20
    assert raft_wire.HANDSHAKE_FRAME_CAP < 2**16 < raft_wire.READ_BUDGET < frame_cap(default)


def job_create_with_data(project_id: int, jobs: int) -> dict[str, Any]:
    """A job.create whose jobs carry `data` at its 64 KiB limit, of random base64 (zlib gains
    little on it), as the API would build it."""
    return messages.make(messages.JOB_CREATE, {"jobs": [
        {"project_id": project_id, "spec": "0 0 1 1 *", "timezone": "UTC",
         "callback_url": "http://127.0.0.1:9/hook",
         "data": base64.b64encode(os.urandom(3 * 2**14)).decode(), "execution_type": "http",
         "start_date": None, "end_date": None, "paused": True, "misfire_policy": "run_once",
         "anchor": 1_700_000_000} for _ in range(jobs)]})


@contextlib.contextmanager
def three_nodes(root: Path) -> Iterator[list[LocalServices]]:
    base = [node_settings(root / f"n{i}", node_id=i, raft_election_timeout=0.5)
            for i in (1, 2, 3)]
    replicas = tuple(config.Replica(s.node_id, s.api_address, s.raft_address, s.intake_address)
                     for s in base)
    nodes = [LocalServices(dataclasses.replace(s, replicas=replicas)) for s in base]
    started: list[LocalServices] = []
    try:
        for services in nodes:
            started.append(services.start())
        yield nodes
    finally:
        for services in started:
            services.stop()


def test_a_big_command_a_follower_forwards_in_one_frame_commits_everywhere(tmp_path):
    """A follower forwards a command to the leader whole, in one apply_command frame: here ~4 MiB,
    1000 times the handshake cap and read over several poll events (READ_BUDGET is 1 MiB)."""
    with three_nodes(tmp_path) as nodes:
        leader = wait_for(lambda: next((n for n in nodes if n.raft.is_leader), None), timeout=20,
                          message="a leader")
        follower = next(n for n in nodes if n is not leader)
        project = follower.submit(project_create("big"), timeout=20)["data"]
        command = job_create_with_data(project["id"], 64)
        result = follower.submit(command, timeout=60)
        assert result["ok"] is True, result.get("error")
        ids = [row["id"] for row in result["data"]]
        for services in nodes:
            wait_for(lambda s=services: s.reader().get_job(ids[-1]) is not None, timeout=60,
                     message=f"node {services.settings.node_id} to apply the command")
            first = services.reader().get_job(ids[0])
            assert first is not None and first["data"] == command["body"]["jobs"][0]["data"]


def test_the_raft_port_listens_on_its_own_address_only(node: LocalServices) -> None:
    # All of 127/8 is this host: a listener on every interface would also answer 127.0.0.2.
    host, port = raft_endpoint(node)
    with socket.create_connection((host, port), timeout=5):
        pass
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.2", port),
                                                                         timeout=5):
        pass


def test_importing_the_raft_module_leaves_ipv6_formatting_working() -> None:
    # pysyncobj swaps socket.inet_ntop for a Windows-only function; scheduler0.coordinator.raft undoes it.
    assert raft.SyncObj is not None
    assert socket.inet_ntop(socket.AF_INET6, b"\0" * 15 + b"\1") == "::1"
