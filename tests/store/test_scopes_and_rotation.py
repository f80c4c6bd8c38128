"""Credential roles and projects, project-limited reads, and signing-secret rotation with a
grace period: in the commands, the migration and the readers, on real SQLite files."""

from __future__ import annotations

import pytest

from scheduler0 import messages
from scheduler0.errors import ForbiddenError
from scheduler0.store import Reader, StateMachine
from scheduler0.store.pipeline import PipelineReader
from tests.store.helpers import TS_MS, TS_S, Log, execution, file_at_version, insert_executions, job_input

CRED = {"api_key": "key-1", "secret_hash": "hash-1"}

# -- credentials -------------------------------------------------------------------------------


def test_a_credential_keeps_its_role_and_projects(log: Log, reader: Reader) -> None:
    log.project("a")
    log.project("b")
    row = log.ok(messages.CREDENTIAL_CREATE, {**CRED, "role": "read", "projects": [2, 1]})
    assert (row["role"], row["projects"]) == ("read", [1, 2])
    assert reader.credential_by_api_key("key-1")["projects"] == [1, 2]
    assert reader.get_credential(row["id"]) == row


def test_a_credential_create_written_before_roles_means_full_access(log: Log) -> None:
    # The body every earlier release proposed: no role, no projects.
    row = log.ok(messages.CREDENTIAL_CREATE, {"api_key": "old", "secret_hash": "h",
                                              "archived": False})
    assert (row["role"], row["projects"]) == ("admin", None)


@pytest.mark.parametrize(("fields", "status", "fragment"), [
    ({"role": "owner"}, 400, "role must be one of read, write, admin"),
    ({"projects": []}, 400, "projects must not be empty"),
    ({"projects": ["1"]}, 400, "projects[0] must be an integer"),
    ({"projects": 1}, 400, "projects must be a list"),
    ({"projects": [1, 9]}, 404, "projects[1]: project 9 does not exist"),
])
def test_a_credential_create_outside_the_rules_is_refused(log: Log, fields: dict, status: int,
                                                          fragment: str) -> None:
    log.project()
    error = log.refused(messages.CREDENTIAL_CREATE, {**CRED, **fields})
    assert error["status"] == status and fragment in error["message"], error


def test_migrating_a_version_2_file_gives_old_credentials_full_access(db_path: str) -> None:
    conn = file_at_version(db_path, 2)
    conn.execute("INSERT INTO credentials (api_key, secret_hash, archived, created_at_ms, "
                 "updated_at_ms) VALUES ('old', 'h', 0, 1, 1)")
    conn.execute("INSERT INTO projects (name, signing_secret, created_at_ms, updated_at_ms) "
                 "VALUES ('p', 's', 1, 1)")
    conn.close()
    StateMachine(db_path).close()  # migrates to the current version
    reader = Reader(db_path)
    try:
        credential = reader.credential_by_api_key("old")
        assert (credential["role"], credential["projects"]) == ("admin", None)
        assert reader.get_project(1)["previous_signing_secret_expires_at"] is None
    finally:
        reader.close()


# -- project-limited reads ---------------------------------------------------------------------


@pytest.fixture
def three_projects(log: Log) -> list[dict]:
    """Three projects with two jobs each, and one recorded execution per job."""
    projects = [log.project(name) for name in ("one", "two", "three")]
    jobs = log.jobs(*(job_input(p["id"]) for p in projects for _ in range(2)))
    insert_executions(log, [execution(job_id=j["id"], project_id=j["project_id"],
                                      scheduled_at=TS_S + 60) for j in jobs])
    return projects


def test_a_scoped_reader_lists_only_its_projects(reader: Reader, three_projects: list) -> None:
    first, _, third = (p["id"] for p in three_projects)
    scoped = reader.scoped([third, first])
    assert [p["id"] for p in scoped.list_projects().rows] == [first, third]
    assert scoped.list_projects().total == 2
    jobs = scoped.list_jobs()
    assert {j["project_id"] for j in jobs.rows} == {first, third} and jobs.total == 4
    history = scoped.list_executions()
    assert {e["project_id"] for e in history.rows} == {first, third} and history.total == 4
    [minute] = scoped.rollups("minute")
    assert minute["succeeded"] == 4
    assert reader.rollups("minute")[0]["succeeded"] == 6  # the unscoped view is untouched
    assert reader.list_jobs().total == 6


def test_a_scoped_reader_refuses_another_projects_objects(reader: Reader,
                                                          three_projects: list) -> None:
    first, second, _ = (p["id"] for p in three_projects)
    scoped = reader.scoped([first])
    other_job = reader.list_jobs(project_id=second).rows[0]
    with pytest.raises(ForbiddenError, match=rf"limited to projects \[{first}\]; job "
                                             rf"{other_job['id']} belongs to project {second}"):
        scoped.get_job(other_job["id"])
    with pytest.raises(ForbiddenError, match=f"project {second} is not one of them"):
        scoped.get_project(second)
    assert scoped.get_project(first)["id"] == first
    assert scoped.get_job(999_999) is None  # no such job: nothing to refuse
    # A filter naming another project or its job finds nothing, even past the API's checks.
    assert scoped.list_executions(project_id=second).rows == []
    assert scoped.list_executions(job_id=other_job["id"]).total == 0


# -- signing-secret rotation -------------------------------------------------------------------


def _rotate(log: Log, secret: str, grace: int | None, ts_ms: int = TS_MS) -> dict:
    body: dict = {"id": 1, "signing_secret": secret}
    if grace is not None:
        body["grace_seconds"] = grace
    return dict(log.ok(messages.PROJECT_UPDATE, body, ts_ms=ts_ms))


def test_a_rotation_keeps_the_old_secret_for_its_grace_period(log: Log, db_path: str) -> None:
    log.project()
    row = _rotate(log, "new", 3600)
    assert row["signing_secret"] == "new"
    assert row["previous_signing_secret_expires_at"] == TS_S + 3600
    pipeline = PipelineReader(db_path)
    try:
        assert pipeline.project_secrets([1]) == {1: "new"}
        assert pipeline.previous_secrets([1], TS_S + 3599) == {
            1: messages.PreviousSecret(secret="s3cret", expires_at=TS_S + 3600)}
        assert pipeline.previous_secrets([1], TS_S + 3600) == {}  # the grace period is over
    finally:
        pipeline.close()


def test_a_second_rotation_drops_the_oldest_secret(log: Log, db_path: str) -> None:
    log.project()
    _rotate(log, "second", 3600)
    _rotate(log, "third", 60, ts_ms=TS_MS + 1000)
    pipeline = PipelineReader(db_path)
    try:
        assert pipeline.previous_secrets([1], TS_S) == {
            1: messages.PreviousSecret(secret="second", expires_at=TS_S + 1 + 60)}
    finally:
        pipeline.close()


@pytest.mark.parametrize("grace", [0, None])  # None: a project.update of an earlier release
def test_a_rotation_without_grace_stops_the_old_secret_at_once(log: Log, db_path: str,
                                                               grace: int | None) -> None:
    log.project()
    _rotate(log, "second", 3600)
    row = _rotate(log, "third", grace)
    assert row["previous_signing_secret_expires_at"] is None
    pipeline = PipelineReader(db_path)
    try:
        assert pipeline.previous_secrets([1], TS_S) == {}
        assert pipeline.project_secrets([1]) == {1: "third"}
    finally:
        pipeline.close()


def test_a_negative_grace_is_refused(log: Log) -> None:
    log.project()
    error = log.refused(messages.PROJECT_UPDATE, {"id": 1, "signing_secret": "x",
                                                  "grace_seconds": -1})
    assert error["status"] == 400 and "grace_seconds" in error["message"]


def test_other_changes_leave_the_previous_secret_alone(log: Log) -> None:
    log.project()
    _rotate(log, "new", 3600)
    row = log.ok(messages.PROJECT_UPDATE, {"id": 1, "description": "renamed"})
    assert row["previous_signing_secret_expires_at"] == TS_S + 3600
