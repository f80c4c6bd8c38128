"""Migrations: a fresh file, reopening, upgrading an older file, refusing a newer one."""

from __future__ import annotations

import sqlite3

import pytest

from scheduler0 import vocabulary
from scheduler0.errors import StoreError
from scheduler0.store import Reader, StateMachine, schema
from tests.store.helpers import Log

TABLES = {"raft_meta", "requests", "credentials", "projects", "schedules", "jobs", "runs_ok",
          "runs_bad", "pending", "pending_jobs", "job_last", "rollup_minute", "rollup_hour",
          "counters"}


def _tables(db_path: str) -> set[str]:
    conn = sqlite3.connect(db_path)
    try:
        return {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


def _pragma(db_path: str, name: str) -> object:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def test_fresh_file_has_every_table_at_the_current_version(machine: StateMachine) -> None:
    assert _tables(machine.db_path) >= TABLES
    assert "executions" not in _tables(machine.db_path)  # version 1's history, moved and dropped
    assert _pragma(machine.db_path, "user_version") == schema.SCHEMA_VERSION
    assert _pragma(machine.db_path, "journal_mode") == "wal"
    assert machine.last_applied() == 0


def test_creates_missing_directories(tmp_path) -> None:
    path = tmp_path / "a" / "b" / "c.db"
    StateMachine(str(path)).close()
    assert path.exists()


def test_reopening_is_a_no_op_and_keeps_data(db_path: str) -> None:
    machine = StateMachine(db_path)
    Log(machine).project("kept")
    machine.close()
    before = _pragma(db_path, "schema_version")  # bumped by any DDL
    machine = StateMachine(db_path)
    try:
        assert _pragma(db_path, "schema_version") == before
        assert machine.last_applied() == 1
        reader = Reader(db_path)
        assert reader.list_projects().total == 1
        reader.close()
    finally:
        machine.close()


def test_an_older_file_is_upgraded_in_place(db_path: str) -> None:
    StateMachine(db_path).close()
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("INSERT INTO projects (name, signing_secret, created_at_ms, updated_at_ms) "
                 "VALUES ('old', 's', 1, 1)")
    version_2 = ("ALTER TABLE projects ADD COLUMN color TEXT NOT NULL DEFAULT 'blue'",)
    before = schema.migrate(conn, db_path, (*schema.MIGRATIONS, version_2))
    assert before == schema.SCHEMA_VERSION
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION + 1
    assert conn.execute("SELECT name, color FROM projects").fetchall() == [("old", "blue")]
    conn.close()


def test_a_failing_step_leaves_the_file_at_the_previous_version(db_path: str) -> None:
    StateMachine(db_path).close()
    conn = sqlite3.connect(db_path, isolation_level=None)
    broken = ("CREATE TABLE half_done (x INTEGER)", "THIS IS NOT SQL")
    with pytest.raises(sqlite3.Error):
        schema.migrate(conn, db_path, (*schema.MIGRATIONS, broken))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert "half_done" not in {n for (n,) in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()


def _make_newer(db_path: str) -> None:
    StateMachine(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.close()


def test_a_file_from_a_newer_scheduler0_is_refused_by_the_machine(db_path: str) -> None:
    _make_newer(db_path)
    with pytest.raises(StoreError, match="newer scheduler0"):
        StateMachine(db_path)


def test_a_file_from_a_newer_scheduler0_is_refused_by_a_reader(db_path: str) -> None:
    _make_newer(db_path)
    with pytest.raises(StoreError, match="newer scheduler0"):
        Reader(db_path)


def test_a_reader_before_the_file_exists_says_so(db_path: str) -> None:
    with pytest.raises(StoreError, match="does not exist yet"):
        Reader(db_path)


def test_a_reader_on_an_uninitialised_file_says_so(tmp_path) -> None:
    path = str(tmp_path / "empty.db")
    sqlite3.connect(path).close()
    with pytest.raises(StoreError, match="not initialised"):
        Reader(path)


def test_a_corrupt_file_raises_store_error(tmp_path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError):
        StateMachine(str(path))


def test_the_job_field_table_names_every_column_of_jobs(machine: StateMachine) -> None:
    # The store's job column lists (rows.JOB_SELECT, the job.create INSERT) are derived from
    # vocabulary.JOB_FIELDS: the table must hold exactly the columns the migrations create.
    conn = sqlite3.connect(machine.db_path)
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(jobs)")]
    finally:
        conn.close()
    assert sorted(columns) == sorted(vocabulary.JOB_COLUMNS)
    assert len(set(vocabulary.JOB_COLUMNS)) == len(vocabulary.JOB_COLUMNS)
