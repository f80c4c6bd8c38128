"""The leader's lease desk: a thread of its own that reads the nodes' heartbeats, renews their
leases by acknowledging them and notices the leases that lapse (scheduler0.leases).

It runs apart from the planner because a planning round can take a second or two at scale,
and a node whose acks wait that long would stop delivering. The planner reads the same table
(under `LeaseBook`'s lock) to place batches and to adopt what nodes hold, and takes back the
batches of the nodes this desk found lapsed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from scheduler0 import leases, transport
from scheduler0.clock import SYSTEM_CLOCK, Clock
from scheduler0.config import Settings
from scheduler0.coordinator.dispatcher import Dispatcher, LeadershipProof
from scheduler0.coordinator.placement import NodeReports
from scheduler0.coordinator.ports import Pusher, Raft
from scheduler0.coordinator.supervised import SupervisedThread
from scheduler0.errors import Scheduler0Error
from scheduler0.messages import LeaseId

log = logging.getLogger(__name__)

DESK_INTERVAL = 0.1  # seconds between looks at the heartbeats (they come every 0.25 s)


class LeaseBook:
    """The leader's `LeaseTable` for its current term, and the lapses not yet taken back."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK, own: int | None = None) -> None:
        self.clock = clock
        self.own = own  # the leader's own node id (leases.LeaseTable.own)
        self.lock = threading.RLock()
        self._table: leases.LeaseTable | None = None
        self._lapsed: set[int] = set()

    def table(self, term: int) -> leases.LeaseTable:
        """The table of `term`, a new one when the term changed (epochs restart per term)."""
        with self.lock:
            if self._table is None or self._table.term != term:
                # The lease desk reads the revoked leases before it observes any heartbeat.
                self._table = leases.LeaseTable(term, self.clock.monotonic(), revoked=None,
                                                own=self.own)
                self._lapsed.clear()
            return self._table

    def current(self) -> leases.LeaseTable | None:
        with self.lock:
            return self._table

    def close(self) -> None:
        """Not leading any more."""
        with self.lock:
            self._table = None
            self._lapsed.clear()

    def lapsed(self, node_ids: list[int]) -> None:
        with self.lock:
            self._lapsed.update(node_ids)

    def take_lapsed(self) -> set[int]:
        with self.lock:
            taken, self._lapsed = self._lapsed, set()
            return taken

    def placeable(self) -> set[int]:
        with self.lock:
            return self._table.placeable(self.clock.monotonic()) if self._table else set()

    def view(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return self._table.view(self.clock.monotonic()) if self._table else {}


class LeaseDesk(SupervisedThread):
    def __init__(self, settings: Settings, raft: Raft, stopping: threading.Event,
                 reports: NodeReports, curve: transport.CurveKeys | None, book: LeaseBook,
                 proof: LeadershipProof, revoked: Callable[[], dict[int, LeaseId]], *,
                 clock: Clock = SYSTEM_CLOCK, pusher: Callable[[], Pusher] | None = None):
        super().__init__("leases", stopping, clock)
        self.settings = settings
        self.raft = raft
        self.reports = reports
        self.curve = curve
        self.book = book
        self.proof = proof
        self._revoked = revoked  # the store's revoked leases (PipelineReader.revoked_leases)
        self._pusher = pusher or (lambda: Dispatcher(self.settings, self.curve, self.reports))
        self.lapses = 0
        self._warned_clocks: set[int] = set()

    def loop(self) -> None:
        dispatcher = self._pusher()
        try:
            while not self.clock.wait(self.stopping, DESK_INTERVAL):
                self.step(dispatcher)
        finally:
            dispatcher.close()

    def step(self, dispatcher: Pusher) -> None:
        """One pass of the loop: tend the leases while leading, forget them otherwise."""
        self.beat()
        if not self.raft.is_leader:
            self.book.close()
            return
        try:
            self.tend(dispatcher)
        except Scheduler0Error as exc:
            log.info("lease acks paused: %s", exc)

    def tend(self, dispatcher: Pusher) -> None:
        """Take the latest heartbeats, note lapses, and acknowledge the rest once this node
        provably leads (the acks renew the leases)."""
        term = self.raft.term
        with self.book.lock:
            known = self.book.table(term).revoked is not None
        if not known:
            self._read_revoked(term)
        latest = self.reports.latest()
        with self.book.lock:
            table = self.book.table(term)
            if table.revoked is None:
                return  # the term changed meanwhile: read again next pass
            table.observe(latest)
            lapsed = table.expire(self.clock.monotonic())
            if lapsed:
                self.book.lapsed(lapsed)
            acks = table.acks(self.clock.now(), {n: float(r.get("received_wall") or 0)
                                                 for n, r in latest.items()})
            offsets = {n: lease.clock_offset for n, lease in table.nodes.items()}
        for node_id in lapsed:
            self.lapses += 1
            log.warning("lease of node %d lapsed (silent, restarted, or not answering for "
                        "%.1f s): its batches go to other nodes", node_id, leases.LEASE_PERIOD)
        if acks:
            self.proof.ensure()
        for ack in acks:
            dispatcher.send(ack.node_id, ack)
        self._watch_clocks(offsets)

    def _read_revoked(self, term: int) -> None:
        """Read the leases earlier leaders took back, before continuing any. This leader's
        own commit comes after every earlier one in the log, and it is applied here once it
        returns, so the store then holds every revocation committed before this term."""
        self.proof.confirm()
        revoked = self._revoked()
        with self.book.lock:
            table = self.book.table(term)
            if table.term == term and table.revoked is None:
                table.revoked = revoked

    def _watch_clocks(self, offsets: dict[int, float | None]) -> None:
        """Warn once per node when its clock is off from this leader's by over CLOCK_WARNING."""
        for node_id, offset in offsets.items():
            if offset is None:
                continue
            if abs(offset) > leases.CLOCK_WARNING and node_id not in self._warned_clocks:
                self._warned_clocks.add(node_id)
                log.warning("node %d's clock is %+.3f s off this leader's: its ticks fire that "
                            "much early or late; keep the nodes' clocks in sync (NTP)",
                            node_id, offset)
            elif abs(offset) < leases.CLOCK_WARNING / 2:
                self._warned_clocks.discard(node_id)
