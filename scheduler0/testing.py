"""Helpers for tests and tools: a real single node in-process, and waiting on conditions."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from scheduler0 import clock, config
from scheduler0.coordinator.raft import RaftNode, raft_password
from scheduler0.errors import UnavailableError
from scheduler0.store import Reader, StateMachine


def free_port() -> int:
    """A port the kernel just handed out on loopback (bind 0, read it back)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02,
             message: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def node_settings(data_dir: Path | str, **overrides: Any) -> config.Settings:
    """Settings for one loopback node on free ports, callbacks restricted to loopback."""
    port = free_port()
    base = config.Settings(
        port=port,
        data_dir=str(data_dir),
        raft_address=f"127.0.0.1:{free_port()}",
        intake_address=f"127.0.0.1:{free_port()}",
        callback_allowed_networks=("127.0.0.0/8",),
        raft_election_timeout=0.3,
        raft_heartbeat_timeout=0.05,
    )
    return dataclasses.replace(base, **overrides)


@contextlib.contextmanager
def local_node(data_dir: Path | str, **overrides: Any) -> Iterator[LocalServices]:
    """A started LocalServices (real pysyncobj + real SQLite) that is stopped afterwards."""
    services = LocalServices(node_settings(data_dir, **overrides)).start()
    try:
        yield services
    finally:
        services.stop()


class LocalServices:
    """NodeServices with the coordinator in this process: a RaftNode over a StateMachine.

    The real node splits these across processes; tests and tools use this to
    run the API against a real Raft node and a real SQLite file without ZeroMQ in between.
    """

    def __init__(self, settings: config.Settings, secret_key: str = "local-test-secret"):
        self.settings = settings
        os.makedirs(settings.data_dir, exist_ok=True)
        self.machine = StateMachine(settings.db_path)
        self.raft = RaftNode(settings, self.machine, raft_password(secret_key))
        self.memory_pressure = False
        self._local = threading.local()

    def start(self, wait_leader: float = 10.0) -> LocalServices:
        self.raft.start()
        deadline = clock.monotonic() + wait_leader
        while not self.raft.is_leader and self.settings.replicas == ():
            if clock.monotonic() > deadline:
                raise UnavailableError("the single node did not become leader in time")
            threading.Event().wait(0.02)
        return self

    def stop(self) -> None:
        self.raft.stop()
        self.machine.close()

    def submit(self, command: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        return self.raft.submit(command, self.settings.write_timeout if timeout is None else timeout)

    def reader(self) -> Reader:
        return Reader.for_thread(self._local, self.settings.db_path)

    def status(self) -> dict[str, Any]:
        return {**self.raft.status(), "memory_pressure": self.memory_pressure}

    def membership(self, action: str, raft_address: str) -> dict[str, Any]:
        self.raft.change_membership(action, raft_address)
        return {"ok": True, "data": None}
