"""Cluster tests: three real nodes (supervisor + children each) forming a Raft cluster on
loopback. Every process is stopped by pid when the test ends."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler0.testing import free_port, wait_for
from tests.integration.nodeproc import NodeProcess


class Cluster:
    def __init__(self, root: Path, size: int = 3, **settings):
        self.secrets = {"SecretKey": secrets.token_hex(16), "AuthUsername": "ops",
                        "AuthPassword": secrets.token_hex(8)}
        ports = [(free_port(), free_port(), free_port()) for _ in range(size)]
        self.replicas = [{"NodeId": i + 1, "Address": f"http://127.0.0.1:{p}",
                          "RaftAddress": f"127.0.0.1:{r}", "IntakeAddress": f"127.0.0.1:{k}"}
                         for i, (p, r, k) in enumerate(ports)]
        self.nodes: list[NodeProcess] = []
        for i, (port, raft, intake) in enumerate(ports):
            workdir = root / f"node{i + 1}"
            workdir.mkdir()
            self.nodes.append(NodeProcess(
                workdir, secrets=self.secrets, Port=port, NodeId=i + 1,
                RaftAddress=f"127.0.0.1:{raft}", IntakeAddress=f"127.0.0.1:{intake}",
                Replicas=self.replicas, RaftElectionTimeout=0.5, RaftHeartbeatTimeout=0.1,
                RaftLeaderFallbackTimeout=2, **settings))

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

    def kill_all(self) -> None:
        for node in self.nodes:
            node.kill_all()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(tmp_path)
    yield made
    made.kill_all()
