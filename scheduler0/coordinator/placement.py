"""Where the leader sends batches: the least-loaded healthy other node.

A node is healthy when its lease is live (scheduler0.leases), Raft counts it a member it is
connected to, and it reports no memory pressure. The leader's own executors take work only
when no other node is healthy, so one node left runs everything.

The batches of a rate-limited project all go to one node, which rations them
(scheduler0.rationing): the healthy node the project's id ranks first by rendezvous hashing,
so it stays the same while the healthy nodes do, and only the projects of a node that left
or joined move.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from scheduler0.clock import SYSTEM_CLOCK, Clock
from scheduler0.config import Settings
from scheduler0.coordinator.ports import PeerLinks

REPORT_FRESH = 5.0  # seconds a node's load report counts as current for display


class NodeReports:
    """The latest load report of every node, shared by the intake and planner threads."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock  # stamps arrivals; the lease desk reads them on the same clock
        self._lock = threading.Lock()
        self._reports: dict[int, dict[str, Any]] = {}

    def put(self, report: dict[str, Any]) -> None:
        with self._lock:
            self._reports[int(report["node_id"])] = {**report, "seen": self.clock.monotonic(),
                                                     "received_wall": self.clock.now()}

    def latest(self) -> dict[int, dict[str, Any]]:
        with self._lock:
            return dict(self._reports)

    def fresh(self) -> dict[int, dict[str, Any]]:
        now = self.clock.monotonic()
        with self._lock:
            return {n: r for n, r in self._reports.items() if now - r["seen"] < REPORT_FRESH}

    def get(self, node_id: int) -> dict[str, Any] | None:
        with self._lock:
            return self._reports.get(node_id)


class Placement:
    def __init__(self, settings: Settings, raft: PeerLinks, reports: NodeReports):
        self.settings = settings
        self.raft = raft
        self.reports = reports
        self.live: Callable[[], set[int]] = lambda: set()  # the planner's live leases
        self._assigned: Counter[int] = Counter()

    def healthy_peers(self) -> dict[int, int]:
        """Healthy other nodes and the batches each holds now."""
        healthy = {}
        live = self.live()
        for node_id, report in self.reports.latest().items():
            if node_id == self.settings.node_id or node_id not in live:
                continue
            if report.get("memory_pressure"):
                continue
            if self.raft.node_connected(str(report.get("raft_address", ""))):
                healthy[node_id] = int(report.get("held", 0))
        return healthy

    def start_round(self) -> None:
        self._assigned.clear()

    def choose(self, exclude: int | None = None) -> int:
        """The node for the next batch: least held + assigned this round; self if none."""
        loads = {n: held + self._assigned[n] for n, held in self.healthy_peers().items()
                 if n != exclude}
        if not loads:
            return self.settings.node_id
        node = min(loads, key=lambda n: (loads[n], n))
        self._assigned[node] += 1
        return node

    def for_project(self, project_id: int, exclude: int | None = None) -> int:
        """The node for every batch of rate-limited project `project_id`; self if no other
        node is healthy (as `choose`)."""
        peers = [n for n in self.healthy_peers() if n != exclude]
        if not peers:
            return self.settings.node_id
        node = max(peers, key=lambda n: (rendezvous_rank(project_id, n), n))
        self._assigned[node] += 1
        return node


def rendezvous_rank(project_id: int, node_id: int) -> int:
    """The rank of a node for a project: the highest-ranked healthy node takes it."""
    digest = hashlib.blake2b(f"{project_id}:{node_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")
