"""What this node holds: the batches its intake relayed to its executors and not yet settled,
and the ones whose results are being committed. Shared by the intake thread (relays, lease
changes), the results thread (a batch's final results) and the heartbeat thread (reports it).

The heartbeat tells the leader what is held, so that a new leader re-sends only what no live
node holds; the intake drops a copy of a batch held or settled here (a re-dispatch that reached
this node again), so one node never delivers a tick twice.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from scheduler0.messages import LeaseId

SETTLING_KEPT = 10.0  # seconds a settled batch stays reported, until its results committed
RECENT_KEPT = 50_000  # settled batch ids remembered to drop late copies
HELD_GRACE = 30.0  # seconds past its result deadline a batch no result came for stays listed


@dataclass
class Held:
    stamp: LeaseId | None
    fire_at: float
    deadline: float  # wall clock, the batch's result deadline


class Holdings:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, Held] = {}
        self._settling: OrderedDict[str, float] = OrderedDict()  # batch id -> settled at (mono)
        self._recent: OrderedDict[str, None] = OrderedDict()
        self.duplicates_dropped = 0
        self.revoked = 0
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

    def settled(self, batch_id: str, now: float) -> None:
        """Every execution of the batch has a result (committed soon by the results thread)."""
        with self._lock:
            self._held.pop(batch_id, None)
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
                del self._held[batch_id]
            self.revoked += len(gone)
            return gone

    def report(self, now: float, now_wall: float) -> tuple[list[str], list[str]]:
        """(held, settling) batch ids for a heartbeat, after forgetting what is long over."""
        with self._lock:
            for batch_id in [b for b, h in self._held.items()
                             if now_wall > h.deadline + HELD_GRACE]:
                del self._held[batch_id]  # its executor died with it: the deadline re-sends it
            if not self.results_pending:
                while self._settling and now - next(iter(self._settling.values())) > SETTLING_KEPT:
                    self._settling.popitem(last=False)
            return list(self._held), list(self._settling)

    def count(self) -> int:
        with self._lock:
            return len(self._held)
