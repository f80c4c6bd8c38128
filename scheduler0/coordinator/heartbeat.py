"""The heartbeat thread: this node's heartbeat to every node about four times a second: its
lease, the batches it holds or is settling, its load and its wall clock.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from typing import Any

from scheduler0 import clock, leases, messages, transport
from scheduler0.config import Settings
from scheduler0.coordinator.holdings import Holdings
from scheduler0.coordinator.intake import LeaseKeeper
from scheduler0.coordinator.placement import NodeReports
from scheduler0.coordinator.supervised import SupervisedThread

log = logging.getLogger(__name__)


class Heartbeat(SupervisedThread):
    """Tells every node (this one too) about four times a second what this node holds and
    how loaded it is, over the nodes' intakes. The leader renews this node's lease by it and
    places batches by it."""

    def __init__(self, settings: Settings, stopping: threading.Event,
                 curve: transport.CurveKeys | None, reports: NodeReports,
                 report: Callable[[], dict[str, Any]], holdings: Holdings,
                 keeper: LeaseKeeper):
        super().__init__("heartbeat", stopping)
        self.settings = settings
        self.curve = curve
        self.reports = reports
        self._report = report
        self.holdings = holdings
        self.keeper = keeper
        self.seq = 0
        self.boot = secrets.token_hex(8)  # this process's incarnation, new at each start

    def loop(self) -> None:
        # Small HWM, non-blocking sends: a heartbeat for a dead peer is dropped, never queued.
        pushers = transport.PeerPushers(hwm=5, curve=self.curve)
        try:
            while not self.stopping.wait(leases.HEARTBEAT_INTERVAL):
                self.beat()
                message = self.message()
                self._send(pushers, message)
            # The last word: the leader takes this node's batches back at once rather than
            # when its lease lapses (the executors hand back all they had not started).
            self._send(pushers, self.message(stopping=True))
        finally:
            pushers.close()

    def _send(self, pushers: transport.PeerPushers, message: messages.Heartbeat) -> None:
        for address in self.targets():
            pushers.send(address, address, message)  # False: unresolved or full, dropped

    def targets(self) -> set[str]:
        """Every node's intake: this node's (the leader's ack comes back through it), the
        configured peers', and those of nodes added at run time, known by their heartbeats."""
        known = {str(r.get("intake_address")) for r in self.reports.latest().values()
                 if r.get("intake_address")}
        return {self.settings.intake_address, *(r.intake_address for r in self.settings.peers()),
                *known}

    def message(self, *, stopping: bool = False) -> messages.Heartbeat:
        self.seq += 1
        held, settling = self.holdings.report(clock.monotonic(), clock.now())
        holder = self.keeper.snapshot()
        self.keeper.sent(self.seq)
        load = self._report()
        return messages.Heartbeat(
            node_id=self.settings.node_id, address=self.settings.api_address,
            raft_address=self.settings.raft_address,
            intake_address=self.settings.intake_address,
            executors=int(load.get("executors") or 0),
            memory_pressure=bool(load.get("memory_pressure")), seq=self.seq, boot=self.boot,
            wall=clock.now(), lease=holder.current, held=len(held), held_batches=list(held),
            settling=list(settling), clock_offset=holder.clock_offset, stopping=stopping)
