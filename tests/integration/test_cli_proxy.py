"""CLI calls to the node never go through a proxy from the environment (it would get the
node's Basic auth); bin/local-cluster's health checks neither."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                   "ALL_PROXY")


class RecordingProxy:
    """A listening socket on loopback that records every connection and what it was sent."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self._sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.received.append(conn.recv(65536))
                except OSError:
                    self.received.append(b"")
            # closing at once: a client that came here fails fast instead of waiting

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


@pytest.fixture
def proxy() -> Iterator[RecordingProxy]:
    recorder = RecordingProxy()
    yield recorder
    recorder.close()


def _proxied(env: dict[str, str], proxy: RecordingProxy) -> dict[str, str]:
    env = {k: v for k, v in env.items() if k.lower() != "no_proxy"}
    return {**env, **{name: proxy.url for name in PROXY_VARIABLES}}


def _cli(node, env, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "scheduler0.cli", *args], cwd=node.workdir,
                          env=env, capture_output=True, timeout=60)


def test_cli_calls_ignore_proxy_variables(node_factory, proxy):
    node = node_factory().start()
    node.wait_leader()
    env = _proxied(node.env, proxy)
    created = _cli(node, env, "create", "credential")
    status = _cli(node, env, "cluster", "status")
    assert proxy.received == []
    assert created.returncode == 0, created.stderr
    assert "api_key" in json.loads(created.stdout)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)


def test_local_cluster_status_ignores_proxy_variables(node_factory, proxy, tmp_path):
    node = node_factory().start()
    node.wait_leader()
    cluster = tmp_path / "cluster"
    (cluster / "node1").mkdir(parents=True)
    (cluster / "node1" / "config.yml").write_text(f"Port: {node.port}\n")
    result = subprocess.run([sys.executable, str(REPO / "bin" / "local-cluster"), "status",
                             "--dir", str(cluster)], env=_proxied(node.env, proxy),
                            capture_output=True, timeout=60)
    assert proxy.received == []
    assert result.returncode == 0, result.stderr
    assert f"node1: port {node.port} leader" in result.stdout.decode()


def test_health_command_says_healthy_only_for_a_node_that_answers_healthy(node_factory, proxy):
    """`scheduler0 health` is the container's HEALTHCHECK: 0 for a healthy node, 1 with the
    reason when nothing answers; it asks loopback directly, never through a proxy."""
    node = node_factory().start()
    node.wait_leader()
    healthy = _cli(node, _proxied(node.env, proxy), "health")
    assert healthy.returncode == 0, healthy.stderr
    assert b"healthy: node 1" in healthy.stdout
    node.kill_all()
    gone = _cli(node, node.env, "health", "--timeout", "2")
    assert gone.returncode == 1
    assert b"cannot reach the node" in gone.stderr
    assert proxy.received == []
