"""Reader: read-only, filters, pagination and totals."""

from __future__ import annotations

import threading

import pytest

from scheduler0 import messages
from scheduler0.errors import StoreError
from scheduler0.store import Reader
from tests.store.helpers import TS_MS, Log, execution, insert_executions, job_input


def test_credentials_newest_first_with_total(log: Log, reader: Reader) -> None:
    for i in range(5):
        log.ok(messages.CREDENTIAL_CREATE, {"api_key": f"k{i}", "secret_hash": "h",
                                            "archived": False}, ts_ms=TS_MS + i)
    rows, total = reader.list_credentials(limit=2, offset=1)
    assert total == 5
    assert [r["api_key"] for r in rows] == ["k3", "k2"]
    assert all("secret_hash" not in r for r in rows)


def test_projects_by_id_with_total_and_counts(log: Log, reader: Reader) -> None:
    for name in "abcde":
        log.project(name)
    rows, total = reader.list_projects(limit=2, offset=3)
    assert ([r["name"] for r in rows], total) == (["d", "e"], 5)
    assert reader.list_projects(limit=10, offset=10) == ([], 5)
    assert reader.count_projects() == 5
    log.jobs(job_input(2), job_input(2), job_input(3))
    assert (reader.project_job_count(2), reader.project_job_count(1)) == (2, 0)
    assert reader.count_jobs() == 3


def test_missing_things_are_none(reader: Reader) -> None:
    assert reader.get_job(1) is None
    assert reader.get_project(1) is None
    assert reader.get_project_signing_secret(1) is None
    assert reader.get_credential(1) is None
    assert reader.credential_by_api_key("nope") is None


def test_list_jobs_filters_by_project_and_paused(log: Log, reader: Reader) -> None:
    a, b = log.project("a"), log.project("b")
    log.jobs(job_input(a["id"]), job_input(b["id"], paused=True), job_input(a["id"], paused=True),
             job_input(a["id"]), job_input(b["id"]))
    rows, total = reader.list_jobs(project_id=a["id"])
    assert ([r["id"] for r in rows], total) == ([1, 3, 4], 3)
    rows, total = reader.list_jobs(paused=True)
    assert ([r["id"] for r in rows], total) == ([2, 3], 2)
    rows, total = reader.list_jobs(project_id=a["id"], paused=False, limit=1, offset=1)
    assert ([r["id"] for r in rows], total) == ([4], 2)
    rows, total = reader.list_jobs(limit=2)
    assert ([r["id"] for r in rows], total) == ([1, 2], 5)


@pytest.fixture
def history(log: Log) -> list[dict]:
    project = log.project()
    other = log.project("other")
    log.jobs(job_input(project["id"]), job_input(project["id"]), job_input(other["id"]))
    states = ["succeeded", "failed", "missed", "scheduled"]
    rows = [execution(execution_id=f"e{t:02d}-{job}", job_id=job,
                      project_id=other["id"] if job == 3 else project["id"],
                      scheduled_at=1000 + t * 60, state=states[(t + job) % 4])
            for t in range(10) for job in (1, 2, 3)]
    insert_executions(log.machine.db_path, rows)
    return rows


def _ids(page: tuple[list[dict], int]) -> tuple[list[str], int]:
    return [r["execution_id"] for r in page[0]], page[1]


def test_executions_newest_first_with_stable_ties(history, reader: Reader) -> None:
    ids, total = _ids(reader.list_executions(limit=4))
    assert total == 30
    assert ids == ["e09-3", "e09-2", "e09-1", "e08-3"]
    assert _ids(reader.list_executions(limit=4, offset=4))[0] == [
        "e08-2", "e08-1", "e07-3", "e07-2"]


def test_executions_filters(history, reader: Reader) -> None:
    ids, total = _ids(reader.list_executions(job_id=2, limit=3))
    assert (ids, total) == (["e09-2", "e08-2", "e07-2"], 10)
    ids, total = _ids(reader.list_executions(project_id=2))
    assert total == 10 and all(i.endswith("-3") for i in ids)
    ids, total = _ids(reader.list_executions(state="failed", job_id=1))
    assert (ids, total) == (["e08-1", "e04-1", "e00-1"], 3)
    # since inclusive, until exclusive
    ids, total = _ids(reader.list_executions(job_id=1, since=1000 + 2 * 60,
                                             until=1000 + 5 * 60))
    assert (ids, total) == (["e04-1", "e03-1", "e02-1"], 3)
    row = reader.list_executions(job_id=1, limit=1)[0][0]
    assert row == {"execution_id": "e09-1", "job_id": 1, "project_id": 1, "scheduled_at": 1540,
                   "state": "missed", "attempts": 1, "http_status": 200, "node_id": 1,
                   "batch_id": "b1", "error": None, "planned_at_ms": TS_MS,
                   "started_at_ms": TS_MS, "finished_at_ms": TS_MS}


def test_executions_by_state_lists_every_state(history, reader: Reader) -> None:
    counts = reader.executions_by_state()
    assert set(counts) == {"scheduled", "succeeded", "failed", "missed"}
    assert sum(counts.values()) == 30


def test_executions_by_state_when_empty(reader: Reader) -> None:
    assert reader.executions_by_state() == {"scheduled": 0, "succeeded": 0, "failed": 0,
                                            "missed": 0}


def test_reader_sees_new_commits_and_last_applied(log: Log, reader: Reader) -> None:
    assert reader.last_applied() == 0
    log.project()
    assert reader.last_applied() == 1
    assert reader.count_projects() == 1


def test_reader_cannot_write(log: Log, reader: Reader) -> None:
    with pytest.raises(Exception, match="readonly"):
        reader._conn.execute("DELETE FROM projects")


def test_a_reader_belongs_to_its_thread(reader: Reader) -> None:
    errors: list[BaseException] = []

    def use() -> None:
        try:
            reader.count_jobs()
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    thread = threading.Thread(target=use)
    thread.start()
    thread.join()
    assert errors and "thread" in str(errors[0])


def test_a_closed_reader_raises_store_error(reader: Reader) -> None:
    reader.close()
    with pytest.raises(StoreError):
        reader.count_jobs()


def test_explain_uses_indexes_for_history(history, reader: Reader) -> None:
    plans = []
    for where in ("job_id = 1", "project_id = 1", "state = 'failed'", "scheduled_at >= 5"):
        plan = reader._conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM executions WHERE " + where +
            " ORDER BY scheduled_at DESC, execution_id DESC LIMIT 50").fetchall()
        plans.append(" ".join(str(step[-1]) for step in plan))
    assert all("USING INDEX" in plan for plan in plans), plans
