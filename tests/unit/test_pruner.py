"""The pruner on fakes: one pass deletes in PRUNE commands of PRUNE_ROWS until one deletes
fewer, pausing between them, and a stop ends the pass. Fake time; no processes."""

from __future__ import annotations

import threading

import pytest

from scheduler0 import messages
from scheduler0.config import Settings
from scheduler0.coordinator.pruner import PRUNE_PAUSE, PRUNE_ROWS, Pruner
from scheduler0.testing import FakeClock, FakeRaft

NOW = 1_800_000_000


def deleted(count: int) -> dict:
    return {"ok": True, "data": {"deleted": count}}


def test_a_pass_deletes_in_commands_of_prune_rows_until_one_deletes_fewer():
    clock, raft = FakeClock(), FakeRaft()
    pruner = Pruner(Settings(execution_retention_hours=2), raft, threading.Event(), clock=clock)
    raft.script(deleted(PRUNE_ROWS), deleted(PRUNE_ROWS), deleted(7))
    started = clock.monotonic()
    assert pruner.prune_pass(NOW) == 2 * PRUNE_ROWS + 7
    assert raft.bodies(messages.PRUNE) == [{"before": NOW - 2 * 3600, "limit": PRUNE_ROWS}] * 3
    assert clock.monotonic() - started == pytest.approx(2 * PRUNE_PAUSE)  # between commands
    assert pruner.deleted == 2 * PRUNE_ROWS + 7


def test_a_stop_ends_the_pass_and_history_kept_forever_is_never_pruned():
    clock, raft, stopping = FakeClock(), FakeRaft(), threading.Event()
    pruner = Pruner(Settings(execution_retention_hours=1), raft, stopping, clock=clock)
    # The node is told to stop while its second command commits: no third.
    raft.script(deleted(PRUNE_ROWS), lambda: (stopping.set(), deleted(PRUNE_ROWS))[1],
                deleted(PRUNE_ROWS))
    assert pruner.prune_pass(NOW) == 2 * PRUNE_ROWS
    assert len(raft.bodies(messages.PRUNE)) == 2
    assert pruner.prune_pass(NOW) == 0 and len(raft.bodies(messages.PRUNE)) == 2
    forever = Pruner(Settings(execution_retention_hours=0), raft, threading.Event(), clock=clock)
    assert forever.prune_pass(NOW) == 0 and len(raft.bodies(messages.PRUNE)) == 2
