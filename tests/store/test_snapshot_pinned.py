"""Snapshots copied from a pinned read view while the writer keeps applying commands."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from scheduler0 import messages
from scheduler0.store import StateMachine
from tests.store.helpers import Log, job_input, table_dump


def _populate(log: Log, jobs: int = 300) -> None:
    project = log.project()
    # Enough rows for the file to span many pages, so a one-page-per-step copy takes many steps.
    log.jobs(*(job_input(project["id"], data="x" * 200) for _ in range(jobs)))


def _integrity(path: str) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def test_the_copy_is_the_state_at_the_pin_while_applies_go_on(log: Log, tmp_path: Path) -> None:
    _populate(log)
    pinned_index = log.index
    at_pin = table_dump(log.machine.db_path)
    view = log.machine.pin_snapshot()
    assert view.last_applied == pinned_index
    steps: list[int] = []

    def apply_between_steps() -> None:
        # Rewrites pages already copied and pages not copied yet, and grows the file.
        steps.append(log.index)
        log.ok(messages.JOB_UPDATE, {"id": 1 + len(steps) % 300,
                                     "changes": {"data": f"changed {len(steps)}"}})
        log.project(f"during {len(steps)}")

    snap = str(tmp_path / "snap")
    view.copy_to(snap, b"\x80raft", step_pages=1, between_steps=apply_between_steps)

    assert len(steps) > 50
    assert log.machine.last_applied() == pinned_index + 2 * len(steps)
    assert StateMachine.read_snapshot(snap) == (pinned_index, b"\x80raft")
    assert _integrity(snap) == "ok"
    assert table_dump(snap, skip_raft_data=True) == at_pin
    assert table_dump(log.machine.db_path) != at_pin
    assert sorted(os.listdir(tmp_path)) == ["data", "snap"]  # no -wal / -shm beside it

    fresh = StateMachine(str(tmp_path / "fresh" / "node.db"))
    assert fresh.restore_from(snap) is True
    assert fresh.last_applied() == pinned_index
    fresh.close()


def test_an_abort_between_steps_stops_the_copy(log: Log, tmp_path: Path) -> None:
    _populate(log, jobs=50)

    def abort() -> None:
        raise RuntimeError("stop")

    view = log.machine.pin_snapshot()
    with pytest.raises(RuntimeError, match="stop"):
        view.copy_to(str(tmp_path / "snap"), b"", step_pages=1, between_steps=abort)
    view.close()
    assert log.project("after")["id"] == 2  # the writer is unharmed


def test_the_writer_can_restore_under_a_pinned_view(log: Log, tmp_path: Path) -> None:
    # A snapshot from the leader may arrive while this node's own copy is pinned.
    donor = StateMachine(str(tmp_path / "donor.db"))
    donor_log = Log(donor)
    for name in "abcd":
        donor_log.project(name)
    donated = str(tmp_path / "donated")
    donor.snapshot_to(donated, b"")
    donor.close()
    log.project("mine")
    at_pin = table_dump(log.machine.db_path)
    view = log.machine.pin_snapshot()

    assert log.machine.restore_from(donated) is True
    assert log.machine.last_applied() == 4

    snap = str(tmp_path / "snap")
    view.copy_to(snap, b"")
    assert table_dump(snap, skip_raft_data=True) == at_pin


def test_pin_refuses_a_view_that_is_not_the_applied_state(log: Log, db_path: str) -> None:
    log.project()
    other = sqlite3.connect(db_path, isolation_level=None)  # a writer behind the machine's back
    other.execute("UPDATE raft_meta SET last_applied = 99")
    other.close()
    with pytest.raises(Exception, match="index 99, not at the applied 1"):
        log.machine.pin_snapshot()


def test_the_checkpoints_resume_once_the_view_is_released(log: Log, tmp_path: Path) -> None:
    # While pinned, a checkpoint could not pass the view anyway.
    checkpoints = log.machine.checkpointer
    log.project()
    assert checkpoints.run_once() is True
    view = log.machine.pin_snapshot()
    assert checkpoints.run_once() is False
    log.project("during")
    view.copy_to(str(tmp_path / "snap"), b"")
    assert checkpoints.run_once() is True

    aborted = log.machine.pin_snapshot()
    aborted.close()  # a copy that failed or was cancelled
    assert checkpoints.run_once() is True
