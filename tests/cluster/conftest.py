"""Cluster tests: three real nodes (supervisor + children each) forming a Raft cluster on
loopback, or each in its own namespace of a NetLab. Every process is stopped by pid when the
test ends."""

from __future__ import annotations

import functools
import os
import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from scheduler0.netlab import NetLab
from scheduler0.testing import free_port, wait_for
from tests.integration.nodeproc import NodeProcess


class Cluster:
    """`size` nodes; with a `lab`, node i lives in lab namespace i on lab.address(i) and may
    call back only into the lab's subnet (where the receiver listens on the bridge address)."""

    def __init__(self, root: Path, size: int = 3, lab: NetLab | None = None, **settings):
        self.lab = lab
        self.secrets = {"SecretKey": secrets.token_hex(16), "AuthUsername": "ops",
                        "AuthPassword": secrets.token_hex(8)}
        ports = [(free_port(), free_port(), free_port()) for _ in range(size)]
        hosts = [self._host(i + 1) for i in range(size)]
        self.replicas = [{"NodeId": i + 1, "Address": f"http://{h}:{p}",
                          "RaftAddress": f"{h}:{r}", "IntakeAddress": f"{h}:{k}"}
                         for i, (h, (p, r, k)) in enumerate(zip(hosts, ports, strict=True))]
        self.nodes: list[NodeProcess] = []
        for i, (port, raft, intake) in enumerate(ports):
            workdir = root / f"node{i + 1}"
            workdir.mkdir()
            host = hosts[i]
            self.nodes.append(NodeProcess(
                workdir, secrets=self.secrets, host=host, wrap=self._wrap(i + 1), Port=port,
                NodeId=i + 1, RaftAddress=f"{host}:{raft}", IntakeAddress=f"{host}:{intake}",
                Replicas=self.replicas, RaftElectionTimeout=0.5, RaftHeartbeatTimeout=0.1,
                RaftLeaderFallbackTimeout=2, **self._lab_settings(), **settings))

    def _host(self, node_id: int) -> str:
        return self.lab.address(node_id) if self.lab else "127.0.0.1"

    def _wrap(self, node_id: int):
        return functools.partial(self.lab.wrap, node_id) if self.lab else None

    def _lab_settings(self) -> dict[str, Any]:
        if self.lab is None:
            return {}
        return {"CallbackAllowedNetworks": f"{self.lab.subnet}.0/24"}

    def start(self) -> Cluster:
        for node in self.nodes:
            node.start()
        return self

    def node(self, node_id: int) -> NodeProcess:
        return self.nodes[node_id - 1]

    def leader(self, timeout: float = 30.0, among: list[NodeProcess] | None = None) -> NodeProcess:
        """The node every running node agrees leads."""
        candidates = among or [n for n in self.nodes if n.proc and n.proc.poll() is None]

        def agreed():
            views = [n.health() for n in candidates]
            if any(v is None for v in views):
                return None
            leaders = {v["leader_id"] for v in views}
            if len(leaders) == 1 and None not in leaders:
                leader = self.node(leaders.pop())
                return leader if leader in candidates else None
            return None

        return wait_for(agreed, timeout=timeout, interval=0.1, message="an agreed leader")

    def followers(self, leader: NodeProcess) -> list[NodeProcess]:
        return [n for n in self.nodes if n is not leader]

    def node_id(self, node: NodeProcess) -> int:
        return self.nodes.index(node) + 1

    def running(self) -> list[NodeProcess]:
        return [n for n in self.nodes if n.proc and n.proc.poll() is None]

    def kill_all(self) -> None:
        for node in self.nodes:
            node.kill_all()


def all_reporting(leader: NodeProcess, size: int = 3) -> bool:
    """The leader hears load reports from every node."""
    health = leader.health()
    return bool(health) and len(health.get("nodes", {})) == size


def make_jobs(node: NodeProcess, url: str, count: int, spec: str = "@every 1s",
              **fields: Any) -> list[dict]:
    """`count` jobs in a new project, each calling `url` on `spec`."""
    project = node.api("POST", "/projects", {"name": f"p{time.time_ns()}"})
    jobs = [{"project_id": project["id"], "spec": spec, "callback_url": url, **fields}
            for _ in range(count)]
    return node.api("POST", "/jobs", jobs)


def stop_tree(node: NodeProcess, sig: int) -> list[psutil.Process]:
    """Send `sig` to the node's supervisor and each of its children; returns them."""
    procs = [psutil.Process(node.proc.pid), *node.children().values()]
    for proc in procs:
        os.kill(proc.pid, sig)
    return procs


def resume_tree(procs: list[psutil.Process]) -> None:
    for proc in procs:
        try:
            os.kill(proc.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(tmp_path)
    yield made
    made.kill_all()


def delivering_nodes(rx, since: float) -> set[str]:
    """Ids of the nodes whose deliveries reached `rx` after `since` (epoch seconds)."""
    from tests.cluster.ticks import deliveries

    return {d.node for d in deliveries(rx) if d.arrived_at > since and d.node}


def wait_all_delivering(cluster: Cluster, rx, timeout: float = 30.0) -> tuple[NodeProcess, float]:
    """Once the running nodes agree on a leader and each of its followers delivered a callback
    that arrived after this call: (the leader, that time)."""
    since = time.time()
    leader = cluster.leader(timeout=timeout)
    expected = {str(cluster.node_id(n)) for n in cluster.running() if n is not leader}
    wait_for(lambda: expected <= delivering_nodes(rx, since), timeout=timeout, interval=0.1,
             message=f"nodes {sorted(expected)} delivering (leader {cluster.node_id(leader)})")
    return leader, time.time()


def wait_seconds(seconds: float) -> None:
    """Wait out a fault's duration (there is no condition to wait for, only time)."""
    until = time.monotonic() + seconds
    wait_for(lambda: time.monotonic() >= until, timeout=seconds + 5, interval=0.1,
             message=f"{seconds} s to pass")


STEADY_JOBS = 10
STEADY = 3.0  # seconds of steady state before a fault


def steady(cluster: Cluster, rx, jobs: int = STEADY_JOBS,
           **job_fields: Any) -> tuple[NodeProcess, list[dict], float]:
    """Start the cluster, make `@every 1s` jobs calling `rx`, wait until every follower
    delivers, then STEADY s more: (leader, jobs, when the steady state was seen)."""
    cluster.start()
    leader = cluster.leader()
    wait_for(lambda: all_reporting(leader, len(cluster.nodes)), timeout=15,
             message="load reports from all nodes")
    made = make_jobs(leader, rx.url("/faults"), jobs, **job_fields)
    _, steady_at = wait_all_delivering(cluster, rx)
    wait_seconds(STEADY)
    return cluster.leader(), made, steady_at


def wait_delivered_due_after(rx, moment: float, timeout: float = 30.0) -> None:
    """Until a tick due after `moment` reached the receiver: the cluster works on without the
    faulty node."""
    from tests.cluster.ticks import deliveries, epoch

    wait_for(lambda: any(epoch(d.element["scheduled_at"]) > moment for d in deliveries(rx)),
             timeout=timeout, interval=0.1, message=f"a tick due after {moment:.0f} delivered")
