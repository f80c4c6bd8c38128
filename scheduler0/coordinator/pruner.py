"""History retention: the leader deletes executions older than ExecutionRetentionHours, in
small PRUNE commands, so pruning never holds Raft's apply thread long enough to stall planning."""

from __future__ import annotations

import logging
import threading

from scheduler0 import messages
from scheduler0.clock import SYSTEM_CLOCK, Clock
from scheduler0.config import Settings
from scheduler0.coordinator.ports import Raft
from scheduler0.coordinator.supervised import SupervisedThread
from scheduler0.errors import Scheduler0Error

log = logging.getLogger(__name__)

PRUNE_INTERVAL = 60.0  # seconds between pruning passes
PRUNE_ROWS = 5000  # rows per PRUNE command
PRUNE_PAUSE = 0.05  # seconds between commands of one pass: planning gets the apply thread


def prune_before(now: float, retention_hours: int) -> int | None:
    """The cut-off instant, or None when the history is kept forever."""
    if retention_hours <= 0:
        return None
    return int(now - retention_hours * 3600)


class Pruner(SupervisedThread):
    def __init__(self, settings: Settings, raft: Raft, stopping: threading.Event,
                 interval: float = PRUNE_INTERVAL, *, clock: Clock = SYSTEM_CLOCK):
        super().__init__("pruner", stopping, clock)
        self.settings = settings
        self.raft = raft
        self.interval = interval
        self.deleted = 0

    def loop(self) -> None:
        while not self.clock.wait(self.stopping, self.interval):
            self.beat()
            if self.raft.is_leader:
                try:
                    self.prune_pass(self.clock.now())
                except Scheduler0Error as exc:
                    log.warning("pruning paused (%s)", exc)

    def prune_pass(self, now: float) -> int:
        before = prune_before(now, self.settings.execution_retention_hours)
        if before is None:
            return 0
        total = 0
        while not self.stopping.is_set():
            body = messages.Prune(before=before, limit=PRUNE_ROWS)
            result = self.raft.submit(messages.command(body), self.settings.write_timeout)
            deleted = int((result.get("data") or {}).get("deleted", 0))
            total += deleted
            if deleted < PRUNE_ROWS:
                break
            self.clock.wait(self.stopping, PRUNE_PAUSE)
        self.deleted += total
        if total:
            log.info("pruned %d executions scheduled before %d", total, before)
        return total
