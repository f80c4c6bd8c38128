"""The leader's planner and lease desk on fakes (scheduler0.testing): a fake clock, Raft node,
store and sockets, and three nodes whose heartbeats the rig writes as their heartbeat threads
would. Time passes only in `tick`, so a test of a rule that takes seconds runs in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from scheduler0 import leases, messages
from scheduler0.config import Replica, Settings
from scheduler0.coordinator.dispatcher import LeadershipProof
from scheduler0.coordinator.lease_desk import LeaseBook, LeaseDesk
from scheduler0.coordinator.placement import NodeReports
from scheduler0.coordinator.planner import Planner
from scheduler0.lifecycle import Lifecycle
from scheduler0.schedule import planning
from scheduler0.testing import FakeClock, FakePusher, FakeRaft, FakeReader

NODES = (1, 2, 3)  # node 1 is the leader under test
EARLIER_LEASE = [1, 1]  # what every node holds under when a test begins
TERM = 2
# Each result deadline is a tick's time + 1 s (one attempt, no retry) + RESULT_GRACE.
SETTINGS = {"job_execution_timeout": 1.0, "job_execution_retry_max": 0,
            "job_execution_retry_delay": 0.0}


def replica(node_id: int) -> Replica:
    return Replica(node_id, f"http://127.0.0.1:{9090 + node_id}", f"127.0.0.1:{8090 + node_id}",
                   f"127.0.0.1:{7090 + node_id}")


class LeaderRig:
    """Node 1 of three, about to lead term TERM; `lead()` gets it there."""

    term = TERM

    def __init__(self, **overrides: Any):
        self.settings = Settings(node_id=1, replicas=tuple(replica(n) for n in NODES),
                                 **{**SETTINGS, **overrides})
        self.clock = FakeClock()
        self.reader = FakeReader()
        self.raft = FakeRaft(term=TERM, apply=self.reader.apply)
        self.pusher = FakePusher()
        self.lifecycle = Lifecycle(self.settings)
        self.reports = NodeReports(self.clock)
        self.book = LeaseBook(self.clock)
        self.proof = LeadershipProof(self.raft, self.clock)
        self.planner = Planner(self.settings, self.raft, self.lifecycle, lambda: self.reader,
                               None, self.reports, self.book, self.proof, clock=self.clock,
                               pusher=lambda: self.pusher)
        self.desk = LeaseDesk(self.settings, self.raft, self.lifecycle.stopping, self.reports,
                              None, self.book, self.proof, self.reader.revoked_leases,
                              clock=self.clock,
                              pusher=lambda: self.pusher)
        self.silent: set[int] = set()  # nodes whose heartbeats stopped
        self.deliver = False  # whether the nodes settle the batches sent to them, at their tick
        self.holding: dict[int, set[str]] = {n: set() for n in NODES}  # batches a node holds
        self.losing: set[int] = set()  # nodes whose executors lose the batches sent to them
        # Batches a node has every result of and is committing (its heartbeat says so).
        self.settling: dict[int, set[str]] = {n: set() for n in NODES}
        self.load = dict.fromkeys(NODES, 0)  # batches a node reports besides those
        self.sent_at: list[float] = []  # the wall clock when each message of the pusher went
        self._seq = dict.fromkeys(NODES, 0)

    @staticmethod
    def job(job_id: int, policy: str = "run_once", spec: str = "@every 1h", project: int = 1,
            start: int | None = None, end: int | None = None) -> planning.PlannedJob:
        return planning.PlannedJob(job_id, project, f"http://127.0.0.1:9/{job_id}", "d", start,
                                   end, policy, spec, "UTC")

    def schedule(self, schedule_id: int, next_fire_at: int, *jobs: planning.PlannedJob,
                 spec: str = "@every 1h", anchor: int | None = None) -> None:
        """A due schedule and its jobs, as the store holds them."""
        self.reader.add(planning.DueSchedule(
            schedule_id, spec, "UTC", next_fire_at if anchor is None else anchor,
            next_fire_at), *jobs)

    # -- time passing ------------------------------------------------------------------------

    def tick(self) -> None:
        """One heartbeat interval: the nodes' heartbeats arrive, then the lease desk and the
        planner each take a turn of their loops."""
        self.clock.advance(leases.HEARTBEAT_INTERVAL)
        self.heartbeats()
        self.desk.step(self.pusher)
        self.planner.step(self.reader, self.pusher)
        self.sent_at += [self.clock.now()] * (len(self.pusher.sent) - len(self.sent_at))

    def run(self, seconds: float) -> None:
        for _ in range(round(seconds / leases.HEARTBEAT_INTERVAL)):
            self.tick()

    def run_until(self, condition: Callable[[], object], most: float = 120.0) -> None:
        """Ticks until `condition()` holds, failing after `most` seconds of fake time."""
        for _ in range(round(most / leases.HEARTBEAT_INTERVAL)):
            if condition():
                return
            self.tick()
        raise AssertionError(f"not so after {most} s of fake time")

    def lead(self) -> None:
        """Until the planner has reconciled as leader of this term."""
        def reconciled() -> bool:
            table = self.planner.leases
            return table is not None and table.term == self.raft.term and not table.adopting

        self.run_until(reconciled, most=2 * leases.LEASE_PERIOD)

    # -- the nodes ---------------------------------------------------------------------------

    def heartbeats(self) -> None:
        """Each node not silent reports the lease of the latest ack it got (before any, the
        lease an earlier leader gave it) and what it holds: the batches sent to it whose
        executions are not settled (or those it was told)."""
        if self.deliver:
            for node_id, message in self.pusher.of_type("batch"):
                if node_id not in self.silent and message["fire_at"] <= self.clock.now():
                    self.reader.settle(message["batch_id"])
        acked = {n: [m["term"], m["epoch"]] for n, m in self.pusher.of_type("lease")}
        unfinished = self.reader.unfinished_batches()
        for node_id, batch_id in self.batches():
            if batch_id in unfinished and node_id not in self.losing:
                self.holding[node_id].add(batch_id)
        for node_id in NODES:
            if node_id in self.silent:
                continue
            self._seq[node_id] += 1
            held = sorted(b for b in self.holding[node_id] if b in unfinished)
            r = replica(node_id)
            self.reports.put({
                "type": "load_report", "node_id": node_id, "raft_address": r.raft_address,
                "intake_address": r.intake_address, "memory_pressure": False,
                "seq": self._seq[node_id], "boot": f"boot-{node_id}",
                "lease": acked.get(node_id, EARLIER_LEASE), "held": len(held) + self.load[node_id],
                "held_batches": held,
                "settling": sorted(self.settling[node_id]), "clock_offset": 0.0})

    # -- what the leader did -----------------------------------------------------------------

    def batches(self, since: int = 0) -> list[tuple[int, str]]:
        """(node id, batch id) of every batch pushed, in order, from the `since`-th message."""
        return [(n, m["batch_id"]) for n, m in self.pusher.sent[since:]
                if m.get("type") == "batch"]

    def sent_to(self, batch_id: str) -> list[int]:
        return [n for n, b in self.batches() if b == batch_id]

    def times_sent(self, batch_id: str) -> list[float]:
        """When each push of `batch_id` went (wall clock), for pushes made in `tick`."""
        return [at for at, (_, m) in zip(self.sent_at, self.pusher.sent, strict=False)
                if m.get("type") == "batch" and m["batch_id"] == batch_id]

    def plans(self) -> list[dict[str, Any]]:
        """The PLAN bodies committed that plan something (not the empty leadership proofs)."""
        return [b for b in self.raft.bodies(messages.PLAN) if any(b.values())]

    def results(self) -> list[list[Any]]:
        """The rows of every RESULT committed, in order."""
        return [row for b in self.raft.bodies(messages.RESULT) for row in b["rows"]]


@pytest.fixture
def rig() -> LeaderRig:
    return LeaderRig()


@pytest.fixture
def make_rig() -> Callable[..., LeaderRig]:
    return LeaderRig

