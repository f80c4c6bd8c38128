"""What this node holds: the batches its intake relayed to its executors and not yet settled,
and the ones whose results are being committed. Shared by the intake thread (relays, lease
changes), the results thread (a batch's final results) and the heartbeat thread (reports it).

The heartbeat tells the leader what is held, so that a new leader re-sends only what no live
node holds and an overdue batch still held here is waited for rather than sent elsewhere; the
intake drops a copy of a batch held or settled here (a re-dispatch that reached this node
again), so one node never delivers a tick twice.

A held batch stays listed however late it runs (an overloaded node delivers late, never twice)
until it settles, its lease is revoked, or it is orphaned: relayed to the executors before one
of them was lost (restarted, or silent), and not in the batch ids any live executor reported
since. Only then does the leader's deadline re-send it. A batch still waiting in this node's
intake is never orphaned: it is in this process; so is one a rate limit holds back
(scheduler0.rationing), however long it waits: the leader waits for it too.

The intake counts the executions of a rate-limited project it let go on (`ration`) until their
batch stops being held here (settled, revoked or orphaned): those are the project's executions
in flight on this node.

Executor reports are read by the results thread, which falls behind while it commits a
backlog of results. Silence and "reported since" are therefore judged against the last time it
had read everything the executors sent (`drained`), never against the clock alone: a busy
results thread must not make live executors look lost.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from scheduler0.messages import LeaseId

log = logging.getLogger(__name__)

SETTLING_KEPT = 10.0  # seconds a settled batch stays reported, until its results committed
RECENT_KEPT = 50_000  # settled batch ids remembered to drop late copies
EXECUTOR_SILENT = 5.0  # seconds without a load report after which an executor counts as lost
# After a loss, the live executors' next reports (about one a second) say what they still hold.
VOUCH_WAIT = 3.0


@dataclass
class Held:
    stamp: LeaseId | None
    fire_at: float
    deadline: float  # wall clock, the batch's result deadline
    relayed: float | None = None  # monotonic, when it went on to the executors
    vouched: float = float("-inf")  # monotonic, the last report of an executor holding it
    project_id: int | None = None  # a rate-limited project's, once let through its limit
    size: int = 0  # its executions, counted in flight while it is held


@dataclass
class ExecutorSeen:
    pid: int
    seen: float  # monotonic


def _not_fenced(pid: int) -> bool:
    return True  # counted lost without a kill: for nodes whose executors are not processes


class Holdings:
    def __init__(self, fence: Callable[[int], bool] = _not_fenced) -> None:
        # Makes sure a silent executor is gone before its batches count as lost
        # (scheduler0.coordinator.fencing); False: not sure, they stay held.
        self._fence = fence
        self._lock = threading.Lock()
        self._held: dict[str, Held] = {}
        self._settling: OrderedDict[str, float] = OrderedDict()  # batch id -> settled at (mono)
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._executors: dict[int, ExecutorSeen] = {}
        self._in_flight: dict[int, int] = {}  # rate-limited project id -> executions
        self._last_loss = float("-inf")  # monotonic, when an executor was last found lost
        self._drained = float("-inf")  # monotonic, when every executor report sent was read
        self.duplicates_dropped = 0
        self.revoked = 0
        self.orphaned = 0
        self.results_pending = False  # set by the results thread while rows wait for Raft

    def take(self, batch_id: str, stamp: LeaseId | None, fire_at: float,
             deadline: float) -> bool:
        """Record a batch about to be relayed; False if it is a copy of one held or settled."""
        with self._lock:
            if batch_id in self._held or batch_id in self._recent:
                self.duplicates_dropped += 1
                return False
            self._held[batch_id] = Held(stamp, fire_at, deadline)
            return True

    def ration(self, batch_id: str, project_id: int, size: int) -> bool:
        """A rate-limited project's batch was let through its limit: its `size` executions
        count in flight until it is no longer held. False (nothing counted) when it is not
        held any more (its lease was revoked meanwhile: the leader re-sent it)."""
        with self._lock:
            held = self._held.get(batch_id)
            if held is None:
                return False
            held.project_id, held.size = project_id, size
            self._in_flight[project_id] = self._in_flight.get(project_id, 0) + size
            return True

    def in_flight(self, project_id: int) -> int:
        """Executions of a rate-limited project let through here and not settled yet."""
        with self._lock:
            return self._in_flight.get(project_id, 0)

    def _drop(self, batch_id: str) -> None:
        """Stop holding a batch, and counting its executions in flight. Under the lock."""
        held = self._held.pop(batch_id, None)
        if held is None or held.project_id is None:
            return
        left = self._in_flight.get(held.project_id, 0) - held.size
        if left > 0:
            self._in_flight[held.project_id] = left
        else:
            self._in_flight.pop(held.project_id, None)

    def relayed(self, batch_id: str, now: float) -> None:
        """The batch left the intake for the executors' queue."""
        with self._lock:
            if (held := self._held.get(batch_id)) is not None:
                held.relayed = now

    def vouch(self, executor: int, pid: int, batch_ids: list[str], now: float) -> None:
        """An executor's load report: it is alive and holds `batch_ids`. A new pid for the
        same executor means the old process is gone, with whatever it held."""
        with self._lock:
            seen = self._executors.get(executor)
            if seen is not None and seen.pid != pid:
                self._last_loss = now
            self._executors[executor] = ExecutorSeen(pid, now)
            for batch_id in batch_ids:
                if (held := self._held.get(batch_id)) is not None:
                    held.vouched = now

    def drained(self, now: float) -> None:
        """The results thread found nothing more to read: every report sent before `now` has
        been taken."""
        with self._lock:
            self._drained = now

    def settled(self, batch_id: str, now: float) -> None:
        """Every execution of the batch has a result (committed soon by the results thread)."""
        with self._lock:
            self._drop(batch_id)
            self._settling[batch_id] = now
            self._recent[batch_id] = None
            while len(self._recent) > RECENT_KEPT:
                self._recent.popitem(last=False)

    def revoke(self, keep: list[LeaseId], current: LeaseId | None) -> list[str]:
        """Forget batches placed under a lease this node no longer holds (the leader re-sent
        them); keep those under `keep` or under a lease newer than `current`."""
        with self._lock:
            gone = [b for b, h in self._held.items()
                    if h.stamp is not None and h.stamp not in keep
                    and current is not None and h.stamp < current]
            for batch_id in gone:
                self._drop(batch_id)
            self.revoked += len(gone)
            return gone

    def report(self, now: float, now_wall: float) -> tuple[list[str], list[str]]:
        """(held, settling) batch ids for a heartbeat, after forgetting what is long over."""
        self._fence_silent()
        with self._lock:
            self._forget_orphans()
            if not self.results_pending:
                while self._settling and now - next(iter(self._settling.values())) > SETTLING_KEPT:
                    self._settling.popitem(last=False)
            return list(self._held), list(self._settling)

    def _fence_silent(self) -> None:
        """Count as lost each executor silent for EXECUTOR_SILENT, once it is fenced (killed,
        outside the lock: that takes a moment). One that cannot be fenced stays counted live."""
        with self._lock:
            silent = [(e, seen) for e, seen in self._executors.items()
                      if self._drained - seen.seen > EXECUTOR_SILENT]
        for executor, seen in silent:
            if not self._fence(seen.pid):
                continue
            with self._lock:
                if self._executors.get(executor) is not seen:
                    continue  # it reported meanwhile (or restarted: counted by vouch)
                del self._executors[executor]
                self._last_loss = self._drained
            log.warning("executor %d sent no report for %.0f s: counted as lost", executor,
                        EXECUTOR_SILENT)

    def _forget_orphans(self) -> None:
        """Stop listing batches a lost executor took with it (the leader re-sends them once
        their deadline passed). Under the lock."""
        if self._drained - self._last_loss < VOUCH_WAIT:
            return  # the live executors' reports since the loss have not all been read
        orphans = [b for b, h in self._held.items()
                   if h.relayed is not None and h.relayed <= self._last_loss
                   and h.vouched <= self._last_loss]
        for batch_id in orphans:
            self._drop(batch_id)
        if orphans:
            self.orphaned += len(orphans)
            log.warning("%d batches relayed before an executor was lost and held by no live "
                        "executor: left to the leader to re-send", len(orphans))

    def count(self) -> int:
        with self._lock:
            return len(self._held)
