"""A project's rate limit in the store: set, replaced and removed through apply, read back by
the Reader and the planner's PipelineReader, and a version 4 file migrated to version 5 with
every existing project unlimited."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from scheduler0 import messages
from scheduler0.store import Reader, StateMachine, schema
from scheduler0.store.pipeline import PipelineReader
from tests.store.helpers import Log, file_at_version


@pytest.fixture
def pipeline(machine: StateMachine) -> Iterator[PipelineReader]:
    r = PipelineReader(machine.db_path)
    yield r
    r.close()


def test_a_limit_is_set_replaced_and_removed_and_the_planner_reads_only_limited_projects(
        log: Log, reader: Reader, pipeline: PipelineReader) -> None:
    plain = log.project("plain")
    assert plain["rate_limit"] is None and pipeline.rate_limits() == {}
    limited = log.project("limited", rate_limit={"concurrency": 2, "per_second": 5})
    assert limited["rate_limit"] == {"concurrency": 2, "per_second": 5.0}
    assert reader.get_project(limited["id"])["rate_limit"] == limited["rate_limit"]
    assert pipeline.rate_limits() == {
        limited["id"]: messages.RateLimit(concurrency=2, per_second=5.0)}
    changed = log.ok(messages.PROJECT_UPDATE, {"id": limited["id"],
                                              "rate_limit": {"per_second": 0.5}})
    assert changed["rate_limit"] == {"concurrency": None, "per_second": 0.5}
    renamed = log.ok(messages.PROJECT_UPDATE, {"id": limited["id"], "name": "renamed"})
    assert renamed["rate_limit"] == {"concurrency": None, "per_second": 0.5}
    removed = log.ok(messages.PROJECT_UPDATE, {"id": limited["id"], "remove_rate_limit": True})
    assert removed["rate_limit"] is None and pipeline.rate_limits() == {}


def test_the_planners_read_goes_through_the_partial_index(machine: StateMachine) -> None:
    conn = sqlite3.connect(machine.db_path)
    try:
        plan = " ".join(str(row[-1]) for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT id, rate_concurrency, rate_per_second FROM projects "
            "INDEXED BY projects_rate_limited "
            "WHERE rate_concurrency IS NOT NULL OR rate_per_second IS NOT NULL"))
    finally:
        conn.close()
    assert "projects_rate_limited" in plan


def test_a_version_4_file_is_migrated_with_every_project_unlimited(db_path: str) -> None:
    conn = file_at_version(db_path, 4)
    conn.execute("INSERT INTO projects (name, signing_secret, created_at_ms, updated_at_ms) "
                 "VALUES ('old', 's', 1, 1)")
    conn.close()
    StateMachine(db_path).close()  # migrates to the current version
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        assert conn.execute("SELECT rate_concurrency, rate_per_second FROM projects"
                            ).fetchall() == [(None, None)]
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("UPDATE projects SET rate_concurrency = 0")
    finally:
        conn.close()
    reader = PipelineReader(db_path)
    try:
        assert reader.get_project(1)["rate_limit"] is None
        assert reader.rate_limits() == {}
    finally:
        reader.close()
