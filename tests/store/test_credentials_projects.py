"""credential.* and project.* commands: effects and refusals."""

from __future__ import annotations

from scheduler0 import messages
from scheduler0.store import Reader
from scheduler0.vocabulary import execution_id
from tests.store.helpers import TS_MS, Log, execution, insert_executions, job_input

CRED = {"api_key": "key-1", "secret_hash": "hash-1", "archived": False}


def test_credential_create_returns_the_row_without_the_secret(log: Log, reader: Reader) -> None:
    row = log.ok(messages.CREDENTIAL_CREATE, CRED)
    assert row == {"id": 1, "api_key": "key-1", "archived": False,
                   "created_at_ms": TS_MS, "updated_at_ms": TS_MS, "role": "admin",
                   "projects": None}
    assert reader.get_credential(1) == row
    assert reader.credential_by_api_key("key-1") == {**row, "secret_hash": "hash-1"}


def test_credential_api_key_is_unique(log: Log) -> None:
    log.ok(messages.CREDENTIAL_CREATE, CRED)
    error = log.refused(messages.CREDENTIAL_CREATE, {**CRED, "secret_hash": "other"})
    assert (error["status"], error["code"]) == (409, "conflict")


def test_credential_update_archives(log: Log, reader: Reader) -> None:
    log.ok(messages.CREDENTIAL_CREATE, CRED)
    row = log.ok(messages.CREDENTIAL_UPDATE, {"id": 1, "archived": True}, ts_ms=TS_MS + 1000)
    assert row["archived"] is True and row["updated_at_ms"] == TS_MS + 1000
    assert row["created_at_ms"] == TS_MS
    assert reader.credential_by_api_key("key-1")["archived"] is True


def test_credential_update_and_delete_of_a_missing_one_are_404(log: Log) -> None:
    for command_type, body in ((messages.CREDENTIAL_UPDATE, {"id": 3, "archived": True}),
                               (messages.CREDENTIAL_DELETE, {"id": 3})):
        error = log.refused(command_type, body)
        assert error == {"status": 404, "code": "not_found",
                         "message": "credential 3 does not exist"}


def test_credential_delete(log: Log, reader: Reader) -> None:
    log.ok(messages.CREDENTIAL_CREATE, CRED)
    assert log.ok(messages.CREDENTIAL_DELETE, {"id": 1}) == {"id": 1}
    assert reader.get_credential(1) is None
    assert reader.credential_by_api_key("key-1") is None


def test_project_create_shows_the_signing_secret_once(log: Log, reader: Reader) -> None:
    row = log.project("acme", description="the shop")
    assert row == {"id": 1, "name": "acme", "description": "the shop", "created_at_ms": TS_MS,
                   "updated_at_ms": TS_MS, "previous_signing_secret_expires_at": None,
                   "notification_url": None, "notification_format": "json", "rate_limit": None,
                   "signing_secret": "s3cret"}
    assert "signing_secret" not in reader.get_project(1)
    assert reader.get_project_signing_secret(1) == "s3cret"


def test_project_name_is_unique(log: Log) -> None:
    log.project("acme")
    error = log.refused(messages.PROJECT_CREATE,
                        {"name": "acme", "description": "", "signing_secret": "x"})
    assert error == {"status": 409, "code": "conflict",
                     "message": 'project name "acme" already exists; choose another name'}


def test_project_update_changes_fields(log: Log, reader: Reader) -> None:
    log.project("acme")
    row = log.ok(messages.PROJECT_UPDATE, {"id": 1, "description": "new"}, ts_ms=TS_MS + 1)
    assert row["description"] == "new" and row["name"] == "acme"
    assert row["updated_at_ms"] == TS_MS + 1
    assert "signing_secret" not in row
    assert reader.get_project(1) == row


def test_project_update_rotating_the_secret_shows_it(log: Log, reader: Reader) -> None:
    log.project("acme")
    row = log.ok(messages.PROJECT_UPDATE, {"id": 1, "signing_secret": "rotated"})
    assert row["signing_secret"] == "rotated"
    assert reader.get_project_signing_secret(1) == "rotated"


def test_project_rename_to_a_taken_name_is_409_but_to_its_own_is_fine(log: Log) -> None:
    log.project("a")
    log.project("b")
    assert log.refused(messages.PROJECT_UPDATE, {"id": 2, "name": "a"})["status"] == 409
    assert log.ok(messages.PROJECT_UPDATE, {"id": 2, "name": "b"})["name"] == "b"


def test_project_update_and_delete_of_a_missing_one_are_404(log: Log) -> None:
    for command_type in (messages.PROJECT_UPDATE, messages.PROJECT_DELETE):
        error = log.refused(command_type, {"id": 7, "name": "x"})
        assert error == {"status": 404, "code": "not_found",
                         "message": "project 7 does not exist"}


def test_project_delete_with_jobs_needs_cascade(log: Log, reader: Reader) -> None:
    project = log.project()
    log.jobs(*(job_input(project["id"]) for _ in range(3)))
    error = log.refused(messages.PROJECT_DELETE, {"id": 1, "cascade": False})
    assert error == {"status": 409, "code": "conflict",
                     "message": "project 1 has 3 jobs; delete them first or pass ?cascade=true"}
    assert reader.count_jobs() == 3


def test_project_delete_cascade_removes_jobs_executions_and_schedules(
        log: Log, reader: Reader) -> None:
    doomed = log.project("doomed")
    kept = log.project("kept")
    jobs = log.jobs(job_input(doomed["id"], "@hourly"), job_input(doomed["id"], "@daily"),
                    job_input(kept["id"], "@daily"))
    insert_executions(log, [
        execution(job_id=job["id"], project_id=job["project_id"], scheduled_at=1000)
        for job in jobs])
    result = log.ok(messages.PROJECT_DELETE, {"id": doomed["id"], "cascade": True})
    assert result == {"id": doomed["id"], "jobs_deleted": 2}
    assert reader.get_project(doomed["id"]) is None
    assert [j["id"] for j in reader.list_jobs().rows] == [jobs[2]["id"]]
    assert [e["execution_id"] for e in reader.list_executions().rows] == [
        execution_id(jobs[2]["id"], 1000)]
    assert _schedule_specs(log) == ["@daily"]  # @hourly had no job left; @daily is shared


def test_project_delete_without_jobs(log: Log, reader: Reader) -> None:
    log.project()
    assert log.ok(messages.PROJECT_DELETE, {"id": 1}) == {"id": 1, "jobs_deleted": 0}
    assert reader.count_projects() == 0


def _schedule_specs(log: Log) -> list[str]:
    import sqlite3

    conn = sqlite3.connect(log.machine.db_path)
    try:
        return [s for (s,) in conn.execute("SELECT spec FROM schedules ORDER BY id")]
    finally:
        conn.close()
