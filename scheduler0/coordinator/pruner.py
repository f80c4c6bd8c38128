"""History retention: the leader prunes the history in small PRUNE commands, so pruning never
holds Raft's apply thread long enough to stall planning.

Each kind has its own window: succeeded executions (SucceededRetentionMinutes), failed and
missed ones (ExecutionRetentionHours, and at most FailedRetentionRows of them), per-minute and
per-hour rollups (MinuteRollupRetentionDays, HourRollupRetentionDays).
"""

from __future__ import annotations

import logging
import threading

import msgspec

from scheduler0 import messages
from scheduler0.clock import SYSTEM_CLOCK, Clock
from scheduler0.config import Settings
from scheduler0.coordinator.ports import Raft
from scheduler0.coordinator.supervised import SupervisedThread
from scheduler0.errors import Scheduler0Error

log = logging.getLogger(__name__)

PRUNE_INTERVAL = 60.0  # seconds between pruning passes
PRUNE_ROWS = 5000  # rows per kind per PRUNE command
PRUNE_PAUSE = 0.05  # seconds between commands of one pass: planning gets the apply thread
PRUNE_COMMANDS = 10_000  # commands in one pass at most (the next pass goes on)
STALE_BATCH_S = 3600  # an open batch this old gets its ticks of deleted jobs settled
DAY = 86_400


def cut_off(now: float, seconds: int) -> int:
    """The instant before which rows go; Prune.FOREVER when `seconds` is 0 (kept forever)."""
    return messages.Prune.FOREVER if seconds <= 0 else int(now - seconds)


def prune_body(settings: Settings, now: float, limit: int = PRUNE_ROWS) -> messages.Prune:
    """The PRUNE command of one step of a pass at `now`. Pure."""
    return messages.Prune(
        before=cut_off(now, settings.execution_retention_hours * 3600), limit=limit,
        succeeded_before=cut_off(now, settings.succeeded_retention_minutes * 60),
        bad_rows_cap=settings.failed_retention_rows or None,
        minute_rollups_before=cut_off(now, settings.minute_rollup_retention_days * DAY),
        hour_rollups_before=cut_off(now, settings.hour_rollup_retention_days * DAY),
        stale_before=int(now - STALE_BATCH_S))


def next_body(body: messages.Prune, succeeded_next_job: int | None) -> messages.Prune:
    """The pass's next command after one that answered `succeeded_next_job`. Pure."""
    if succeeded_next_job is None:  # the succeeded sweep is over for this pass
        return msgspec.structs.replace(body, succeeded_before=messages.Prune.FOREVER, succeeded_from_job=None)
    return msgspec.structs.replace(body, succeeded_from_job=int(succeeded_next_job))


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
        """Prune until nothing is left to prune at `now`; returns history rows deleted.

        The succeeded rows are swept once a pass, in job order: each command goes on from the
        job where the last one stopped, and once the sweep reached the last job the pass's
        other commands leave them alone."""
        body = prune_body(self.settings, now)
        total = 0
        for _ in range(PRUNE_COMMANDS):
            if self.stopping.is_set():
                break
            self.beat()
            result = self.raft.submit(messages.command(body), self.settings.write_timeout)
            data = result.get("data") or {}
            total += int(data.get("deleted", 0))
            if not data.get("more"):
                break
            body = next_body(body, data.get("succeeded_next_job"))
            self.clock.wait(self.stopping, PRUNE_PAUSE)
        self.deleted += total
        if total:
            log.info("pruned %d executions", total)
        return total
