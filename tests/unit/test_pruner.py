"""The pruner on fakes: one pass sends PRUNE commands with each kind's cut-off until the store
says nothing more is due, pausing between them, and a stop ends the pass. Fake time; no
processes."""

from __future__ import annotations

import threading

import pytest

from scheduler0 import messages
from scheduler0.config import Settings
from scheduler0.coordinator.pruner import DAY, PRUNE_PAUSE, PRUNE_ROWS, STALE_BATCH_S, Pruner
from scheduler0.testing import FakeClock, FakeRaft

NOW = 1_800_000_000


def deleted(count: int, more: bool, next_job: int | None = None) -> dict:
    return {"ok": True, "data": {"deleted": count, "more": more, "succeeded_next_job": next_job}}


def test_a_pass_prunes_each_kind_by_its_window_until_nothing_more_is_due():
    clock, raft = FakeClock(), FakeRaft()
    settings = Settings(execution_retention_hours=2, succeeded_retention_minutes=5,
                        failed_retention_rows=1000, minute_rollup_retention_days=3,
                        hour_rollup_retention_days=30)
    pruner = Pruner(settings, raft, threading.Event(), clock=clock)
    # The succeeded sweep goes on from job 4,200, then reaches the last job; failed rows are
    # still due after that, so a third command prunes those alone.
    raft.script(deleted(PRUNE_ROWS, True, 4200), deleted(PRUNE_ROWS, True, None),
                deleted(7, False))
    started = clock.monotonic()
    assert pruner.prune_pass(NOW) == 2 * PRUNE_ROWS + 7
    first = {
        "before": NOW - 2 * 3600, "limit": PRUNE_ROWS, "succeeded_before": NOW - 5 * 60,
        "bad_rows_cap": 1000, "minute_rollups_before": NOW - 3 * DAY,
        "hour_rollups_before": NOW - 30 * DAY, "stale_before": NOW - STALE_BATCH_S}
    assert raft.bodies(messages.PRUNE) == [
        first, {**first, "succeeded_from_job": 4200}, {**first, "succeeded_before": 0}]
    assert clock.monotonic() - started == pytest.approx(2 * PRUNE_PAUSE)  # between commands
    assert pruner.deleted == 2 * PRUNE_ROWS + 7


def test_a_stop_ends_the_pass_and_history_kept_forever_has_no_cut_off():
    clock, raft, stopping = FakeClock(), FakeRaft(), threading.Event()
    pruner = Pruner(Settings(execution_retention_hours=1), raft, stopping, clock=clock)
    # The node is told to stop while its second command commits: no third.
    raft.script(deleted(PRUNE_ROWS, True),
                lambda: (stopping.set(), deleted(PRUNE_ROWS, True))[1])
    assert pruner.prune_pass(NOW) == 2 * PRUNE_ROWS
    assert len(raft.bodies(messages.PRUNE)) == 2
    assert pruner.prune_pass(NOW) == 0 and len(raft.bodies(messages.PRUNE)) == 2
    forever = Pruner(Settings(execution_retention_hours=0, succeeded_retention_minutes=0,
                              failed_retention_rows=0, minute_rollup_retention_days=0,
                              hour_rollup_retention_days=0), raft, threading.Event(), clock=clock)
    raft.script(deleted(0, False))
    assert forever.prune_pass(NOW) == 0
    body = raft.bodies(messages.PRUNE)[-1]
    assert {k: body.get(k) for k in ("before", "succeeded_before", "minute_rollups_before",
                                     "hour_rollups_before", "bad_rows_cap")} == {
        "before": 0, "succeeded_before": 0, "minute_rollups_before": 0,
        "hour_rollups_before": 0, "bad_rows_cap": None}
