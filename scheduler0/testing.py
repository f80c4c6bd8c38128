"""Helpers for tests and tools: a real single node in-process, and waiting on conditions."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from scheduler0 import config


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
def local_node(data_dir: Path | str, **overrides: Any) -> Iterator[Any]:
    """A started LocalServices (real pysyncobj + real SQLite) that is stopped afterwards."""
    from scheduler0.raft import LocalServices

    services = LocalServices(node_settings(data_dir, **overrides)).start()
    try:
        yield services
    finally:
        services.stop()
