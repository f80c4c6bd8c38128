"""Sending as the leader: PUSH sockets to the nodes' intakes, and the proof that this node
still leads, which every send waits for.

A leader that was cut off (a partition) or paused (SIGSTOP, a long GC) may not know it was
succeeded. Before it sends anything (a batch, a lease ack) it must have committed through Raft
within DISPATCH_STALENESS: only a leader with a majority can, so after its successor took over
it fails instead of sending.
"""

from __future__ import annotations

import threading

from scheduler0 import messages, transport
from scheduler0.clock import SYSTEM_CLOCK, Clock
from scheduler0.config import Settings
from scheduler0.coordinator.placement import NodeReports
from scheduler0.coordinator.ports import Raft
from scheduler0.errors import Scheduler0Error

LEADERSHIP_PROOF_TIMEOUT = 2.0  # seconds
DISPATCH_STALENESS = 0.5  # seconds a commit proves leadership for


class LeadershipLost(Scheduler0Error):
    pass


class LeadershipProof:
    """When this node last committed as leader; shared by the planner and the lease desk."""

    def __init__(self, raft: Raft, clock: Clock = SYSTEM_CLOCK):
        self.raft = raft
        self.clock = clock
        self._lock = threading.Lock()
        self._at = float("-inf")  # never committed: not fresh whatever the clock reads

    def note(self) -> None:
        """A command committed as leader just now."""
        with self._lock:
            self._at = self.clock.monotonic()

    def confirm(self) -> None:
        """Commit an empty PLAN as this node: only a leader with a majority can."""
        self.raft.submit_as_leader(messages.command(messages.Plan()), LEADERSHIP_PROOF_TIMEOUT)
        self.note()

    def ensure(self) -> None:
        """Raise LeadershipLost unless this node provably still leads."""
        if not self.raft.is_leader:
            raise LeadershipLost("no longer the leader")
        with self._lock:
            fresh = self.clock.monotonic() - self._at <= DISPATCH_STALENESS
        if not fresh:
            try:
                self.confirm()
            except Scheduler0Error as exc:
                raise LeadershipLost(str(exc)) from None


class Dispatcher:
    """CURVE PUSH sockets to each node's intake; owned by one thread."""

    def __init__(self, settings: Settings, curve: transport.CurveKeys | None,
                 reports: NodeReports | None = None):
        self.settings = settings
        self.curve = curve
        self.reports = reports
        self._pushers = transport.PeerPushers(hwm=10_000, curve=curve)

    def intake_of(self, node_id: int) -> str:
        if node_id == self.settings.node_id:
            return self.settings.intake_address
        for replica in self.settings.replicas:
            if replica.node_id == node_id:
                return replica.intake_address
        # A node added at run time is known by the load reports it sends.
        report = self.reports.get(node_id) if self.reports else None
        if report and report.get("intake_address"):
            return str(report["intake_address"])
        raise KeyError(node_id)

    def send(self, node_id: int, message: messages.Message) -> bool:
        """Queue `message` for the node's intake; False when it cannot go now."""
        return self._pushers.send(node_id, self.intake_of(node_id), message)

    def close(self) -> None:
        self._pushers.close()
