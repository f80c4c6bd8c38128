"""Snapshots: the SQLite file copied with the backup API, restored only when newer."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from scheduler0 import messages
from scheduler0.errors import StoreError
from scheduler0.store import Reader, StateMachine, schema
from tests.store.helpers import Log, execution, insert_executions, job_input, table_dump


def _populate(log: Log) -> None:
    project = log.project()
    log.ok(messages.CREDENTIAL_CREATE, {"api_key": "k", "secret_hash": "h", "archived": False})
    log.jobs(*(job_input(project["id"], spec) for spec in ("@hourly", "@every 5m", "@daily")))
    insert_executions(log, [
        execution(job_id=1, project_id=1, scheduled_at=5)])


def test_round_trip_into_a_fresh_file(log: Log, tmp_path: Path) -> None:
    _populate(log)
    snap = str(tmp_path / "raft.dump")
    log.machine.snapshot_to(snap, b"\x80raft-data")
    assert StateMachine.read_snapshot(snap) == (log.index, b"\x80raft-data")
    # One self-contained file: pysyncobj renames and ships exactly that path.
    assert sorted(os.listdir(tmp_path)) == ["data", "raft.dump"]

    fresh = StateMachine(str(tmp_path / "other" / "node2.db"))
    assert fresh.restore_from(snap) is True
    assert fresh.last_applied() == log.index
    assert table_dump(fresh.db_path, skip_raft_data=True) == table_dump(log.machine.db_path)
    # The restored node carries on applying where the snapshot ended.
    assert Log(fresh).ok(messages.JOB_DELETE, {"id": 1}) == {"id": 1}
    fresh.close()


def test_the_snapshot_is_a_point_in_time_copy(log: Log, tmp_path: Path) -> None:
    log.project("before")
    snap = str(tmp_path / "snap")
    log.machine.snapshot_to(snap, b"")
    log.project("after")
    fresh = StateMachine(str(tmp_path / "fresh.db"))
    fresh.restore_from(snap)
    reader = Reader(fresh.db_path)
    assert [p["name"] for p in reader.list_projects().rows] == ["before"]
    reader.close()
    fresh.close()


def test_snapshot_overwrites_an_existing_file(log: Log, tmp_path: Path) -> None:
    snap = tmp_path / "snap"
    snap.write_bytes(b"garbage from a crashed earlier attempt")
    log.project()
    log.machine.snapshot_to(str(snap), b"x")
    assert StateMachine.read_snapshot(str(snap)) == (1, b"x")


def test_restore_refuses_an_older_or_equal_snapshot(log: Log, tmp_path: Path) -> None:
    log.project("a")
    snap = str(tmp_path / "snap")
    log.machine.snapshot_to(snap, b"")
    assert log.machine.restore_from(snap) is False  # equal
    log.project("b")
    dump = table_dump(log.machine.db_path)
    assert log.machine.restore_from(snap) is False  # older
    assert table_dump(log.machine.db_path) == dump
    assert log.machine.last_applied() == 2


def test_restore_replaces_newer_content_under_an_open_reader(log: Log, tmp_path: Path) -> None:
    leader = StateMachine(str(tmp_path / "leader.db"))
    leader_log = Log(leader)
    for name in "abc":
        leader_log.project(name)
    snap = str(tmp_path / "snap")
    leader.snapshot_to(snap, b"")
    log.project("stale")  # the follower's own index-1 state, about to be replaced
    reader = Reader(log.machine.db_path)
    assert reader.count_projects() == 1
    assert log.machine.restore_from(snap) is True
    assert [p["name"] for p in reader.list_projects().rows] == ["a", "b", "c"]
    assert reader.last_applied() == 3
    reader.close()
    leader.close()


def test_restore_never_raises_on_a_bad_file(log: Log, tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"not sqlite" * 50)
    assert log.machine.restore_from(str(junk)) is False
    assert log.machine.restore_from(str(tmp_path / "missing")) is False
    assert Log(log.machine).project()["id"] == 1  # still working


def test_read_snapshot_of_a_bad_file_raises_store_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"not sqlite" * 50)
    with pytest.raises(StoreError):
        StateMachine.read_snapshot(str(junk))
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    with pytest.raises(StoreError):
        StateMachine.read_snapshot(str(other))


def test_restore_refuses_a_snapshot_from_a_newer_scheduler0(log: Log, tmp_path: Path) -> None:
    donor = StateMachine(str(tmp_path / "donor.db"))
    donor_log = Log(donor)
    donor_log.project("a")
    donor_log.project("b")
    snap = str(tmp_path / "snap")
    donor.snapshot_to(snap, b"")
    donor.close()
    conn = sqlite3.connect(snap)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.close()
    assert log.machine.restore_from(snap) is False
    assert log.machine.last_applied() == 0
