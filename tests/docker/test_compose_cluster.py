"""The image and the 3-node compose cluster, for real: build, up, deliver, kill the leader.

In a dockerd of the test's own (engine.py), the repository's Dockerfile is built on a Debian
base made by debootstrap, with the machine's CA bundle in docker/extra-ca/ (pip reaches PyPI
through a TLS-intercepting proxy here, the documented way to build behind one). The
repository's docker-compose.yml runs with one override: its network is internal (no route out)
on a subnet of the test's choosing, and callbacks are restricted to that subnet. The test talks
to the containers by their addresses on that bridge; nothing leaves the machine.

Skipped, saying why, when the machine cannot run a daemon (not root, packages missing, dockerd
will not start); .ci/run installs the packages, so it runs there.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from scheduler0.testing import wait_for
from tests.docker import engine as engine_mod

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
# What the Dockerfile and the compose file need (the .dockerignore keeps to the same).
CONTEXT = ("Dockerfile", ".dockerignore", "docker-compose.yml", "setup.py", "setup.cfg",
           "README.md", "scheduler0", "docker", "examples/python-receiver/receiver.py")
PROJECT = "s0dockertest"
IMAGE = "scheduler0:dockertest"
NODES = ("node1", "node2", "node3")
ACCEPTED = re.compile(r"execution (\S+): job (\d+) scheduled at (\S+), data")
DUPLICATE = re.compile(r"execution (\S+): duplicate, skipped")
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[engine_mod.Engine]:
    reason = engine_mod.why_not_runnable()
    if reason:
        pytest.skip(f"no Docker engine for the compose test: {reason}")
    before = engine_mod.host_network_settings()
    started = engine_mod.Engine(Path(tmp_path_factory.mktemp("dockerd")))
    try:
        failure = started.start()
        if failure:
            pytest.skip(f"dockerd cannot start here: {failure}")
        started.build_base_image()
        yield started
        started.docker("rmi", engine_mod.BASE_TAG)
        networks = started.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
        assert sorted(networks) == [b"host", b"none"], networks
    finally:
        started.stop()
    assert engine_mod.host_network_settings() == before, "the daemon changed host networking"
    assert not started.root.exists() and not started.mounts_under_root()


def free_subnet() -> str:
    """A /24 in 172.29-172.31 that no route of the host uses."""
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    used = [ipaddress.ip_network(word, strict=False) for word in routes.split()
            if re.fullmatch(r"\d+\.\d+\.\d+\.\d+/\d+", word)]
    for second in range(29, 32):
        for third in range(10, 250, 7):
            candidate = ipaddress.ip_network(f"172.{second}.{third}.0/24")
            if not any(candidate.overlaps(net) for net in used):
                return str(candidate)
    raise AssertionError("no free 172.29-31.x.0/24 subnet for the compose network")


def build_context(into: Path) -> Path:
    """The build context as a user has it, plus this machine's CA bundle as an extra CA."""
    for name in CONTEXT:
        source, target = REPO / name, into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    shutil.copy2(engine_mod.SYSTEM_CA_BUNDLE, into / "docker" / "extra-ca" / "machine.crt")
    return into


def internal_override(subnet: str, into: Path) -> Path:
    path = into / "compose.internal.yml"
    path.write_text("networks:\n  cluster:\n    internal: true\n"
                    f"    ipam:\n      config: [{{subnet: \"{subnet}\"}}]\n")
    return path


class Cluster:
    """The compose project: its containers by service, and calls to their APIs."""

    def __init__(self, docker: engine_mod.Engine, context: Path, override: Path, subnet: str):
        self.docker, self.context = docker, context
        self.files = ["-p", PROJECT, "-f", "docker-compose.yml", "-f", str(override),
                      "--profile", "receiver"]
        self.env = {"SCHEDULER0_IMAGE": IMAGE, "SCHEDULER0_SUBNET": subnet,
                    "SCHEDULER0_CALLBACK_ALLOWED_NETWORKS": json.dumps([subnet])}
        self.auth = ""

    def compose(self, *args: str, env: dict[str, str] | None = None,
                timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
        return self.docker.compose(self.context, *self.files, *args,
                                   env={**self.env, **(env or {})}, timeout=timeout)

    def container(self, service: str) -> str:
        return self.compose("ps", "-q", service).stdout.decode().strip()

    def address(self, service: str) -> str:
        found = self.docker.docker("inspect", "-f",
                                   "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                                   self.container(service)).stdout.decode().strip()
        assert found, f"{service} has no address"
        return found

    def call(self, service: str, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"http://{self.address(service)}:9091/api/v1{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": self.auth, "Content-Type": "application/json"})
        with NO_PROXY.open(request, timeout=10) as response:
            return json.loads(response.read())["data"]

    def health(self, service: str) -> dict[str, Any] | None:
        try:
            return self.call(service, "GET", "/healthcheck")  # type: ignore[no-any-return]
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            return None

    def agreed_leader(self, services: tuple[str, ...]) -> int | None:
        """The leader every one of `services` reports healthy under, if they agree."""
        seen = [self.health(service) for service in services]
        leaders = {h.get("leader_id") for h in seen if h and h.get("healthy")}
        return leaders.pop() if len(leaders) == 1 and all(seen) and None not in leaders else None

    def receiver_log(self) -> str:
        return self.compose("logs", "--no-color", "receiver").stdout.decode(errors="replace")


def deliveries(log: str) -> tuple[dict[str, datetime], list[str]]:
    """The receiver's accepted executions (id -> scheduled time) and the duplicates it saw."""
    accepted = {m.group(1): datetime.fromisoformat(m.group(3).rstrip(",").replace("Z", "+00:00"))
                for m in ACCEPTED.finditer(log)}
    return accepted, DUPLICATE.findall(log)


@pytest.mark.timeout(900)  # debootstrap, a pip install in the build and a cluster's life
def test_compose_cluster_delivers_from_a_follower_and_survives_the_leaders_death(engine, tmp_path):
    context = build_context(tmp_path / "context")
    subnet = free_subnet()
    cluster = Cluster(engine, context, internal_override(subnet, tmp_path), subnet)
    engine.docker("build", "--network", "host", "--build-arg",
                  f"BASE_IMAGE={engine_mod.BASE_TAG}", "-t", IMAGE, str(context), timeout=900)
    try:
        cluster.compose("up", "-d", "--no-build", "node1", "node2", "node3")
        leader_id = wait_for(lambda: cluster.agreed_leader(NODES), timeout=120, interval=1,
                             message="the three nodes to agree on a leader")
        shown = json.loads(cluster.docker.docker(
            "exec", cluster.container("node1"), "scheduler0", "credential", "show",
            "--reveal").stdout)
        token = f"{shown['AuthUsername']}:{shown['AuthPassword']}".encode()
        cluster.auth = "Basic " + base64.b64encode(token).decode()
        # The README's other way in: an API key made by the CLI inside a container.
        key = json.loads(cluster.docker.docker(
            "exec", cluster.container("node1"), "scheduler0", "create", "credential").stdout)
        assert key["api_key"] and key["api_secret"], key

        # Through a follower: its write is forwarded to the leader and answered once committed.
        entry = NODES[leader_id % 3]  # the node after the leader
        project = cluster.call(entry, "POST", "/projects", {"name": "compose"})
        cluster.compose("up", "-d", "--no-build", "receiver",
                        env={"SCHEDULER0_SIGNING_SECRET": project["signing_secret"]})
        wait_for(lambda: "listening on" in cluster.receiver_log(), timeout=60, interval=0.5,
                 message="the receiver to listen")
        job = cluster.call(entry, "POST", "/jobs", {
            "project_id": project["id"], "spec": "@every 1s",
            "callback_url": "http://receiver:8000/tick"})

        wait_for(lambda: len(deliveries(cluster.receiver_log())[0]) >= 5, timeout=60,
                 interval=0.5, message="five deliveries")
        history = cluster.call(entry, "GET", f"/executions?job_id={job['id']}&limit=50")
        delivered_by = {row["node_id"] for row in history["executions"]
                        if row["state"] == "succeeded"}
        assert delivered_by and leader_id not in delivered_by, history

        killed_at = datetime.now().astimezone()
        engine.docker("kill", cluster.container(NODES[leader_id - 1]))
        survivors = tuple(n for n in NODES if n != NODES[leader_id - 1])
        # Until their election timeout the survivors still name the dead leader: wait past it.
        wait_for(lambda: cluster.agreed_leader(survivors) not in (None, leader_id), timeout=60,
                 interval=0.5, message="a new leader among the two others")
        wait_for(lambda: sum(at.timestamp() > killed_at.timestamp() + 10 for at in
                             deliveries(cluster.receiver_log())[0].values()) >= 3,
                 timeout=90, interval=0.5, message="ticks delivered after the leader died")

        accepted, duplicates = deliveries(cluster.receiver_log())
        seconds = sorted(int(at.timestamp()) for at in accepted.values())
        assert duplicates == [], f"delivered twice: {duplicates}"
        assert len(seconds) == len(set(seconds)), "one tick arrived with two execution ids"
        missing = sorted(set(range(seconds[0], seconds[-1] - 2)) - set(seconds))
        assert missing == [], f"ticks lost around the kill at {killed_at}: {missing}"

        # SIGTERM stops a node cleanly within its 10 s grace period.
        stopping = cluster.container(survivors[0])
        began = time.monotonic()
        engine.docker("stop", "--time", "10", stopping, timeout=60)
        state = json.loads(engine.docker("inspect", stopping).stdout)[0]["State"]
        assert state["ExitCode"] == 0 and time.monotonic() - began < 10, state
    finally:
        cluster.compose("down", "--volumes", "--rmi", "all", "--remove-orphans", timeout=300)
        engine.docker("rmi", "--force", IMAGE, check=False)
    assert engine.docker("ps", "-aq").stdout.strip() == b""
    assert engine.docker("volume", "ls", "-q").stdout.strip() == b""
    assert engine.docker("images", "-q", IMAGE).stdout.strip() == b""
