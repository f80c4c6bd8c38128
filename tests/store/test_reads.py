"""Reader: read-only, filters, pagination and totals."""

from __future__ import annotations

import threading

import pytest

from scheduler0 import messages
from scheduler0.errors import StoreError
from scheduler0.store import Reader
from scheduler0.store.reads import Page
from scheduler0.vocabulary import execution_id
from tests.store.helpers import TS_MS, Log, execution, insert_executions, job_input


def test_credentials_newest_first_with_total(log: Log, reader: Reader) -> None:
    for i in range(5):
        log.ok(messages.CREDENTIAL_CREATE, {"api_key": f"k{i}", "secret_hash": "h",
                                            "archived": False}, ts_ms=TS_MS + i)
    page = reader.list_credentials(limit=2, offset=1)
    assert (page.total, page.exact) == (5, True)
    assert [r["api_key"] for r in page.rows] == ["k3", "k2"]
    assert all("secret_hash" not in r for r in page.rows)


def test_projects_by_id_with_total_and_counts(log: Log, reader: Reader) -> None:
    for name in "abcde":
        log.project(name)
    page = reader.list_projects(limit=2, offset=3)
    assert ([r["name"] for r in page.rows], page.total) == (["d", "e"], 5)
    assert reader.list_projects(limit=10, offset=10) == Page([], 5)
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
    page = reader.list_jobs(project_id=a["id"])
    assert ([r["id"] for r in page.rows], page.total) == ([1, 3, 4], 3)
    page = reader.list_jobs(paused=True)
    assert ([r["id"] for r in page.rows], page.total) == ([2, 3], 2)
    page = reader.list_jobs(project_id=a["id"], paused=False, limit=1, offset=1)
    assert ([r["id"] for r in page.rows], page.total) == ([4], 2)
    page = reader.list_jobs(limit=2)
    assert ([r["id"] for r in page.rows], page.total) == ([1, 2], 5)


@pytest.fixture
def history(log: Log) -> list[dict]:
    project = log.project()
    other = log.project("other")
    log.jobs(job_input(project["id"]), job_input(project["id"]), job_input(other["id"]))
    states = ["succeeded", "failed", "missed", "scheduled"]
    rows = [execution(job_id=job, project_id=other["id"] if job == 3 else project["id"],
                      scheduled_at=1000 + t * 60, state=states[(t + job) % 4])
            for t in range(10) for job in (1, 2, 3)]
    insert_executions(log, rows)
    return rows


def _eid(t: int, job: int) -> str:
    """The id of the history fixture's tick `t` of `job`."""
    return execution_id(job, 1000 + t * 60)


def _ids(page: Page) -> tuple[list[str], int]:
    return [r["execution_id"] for r in page.rows], page.total


def test_executions_newest_first_with_stable_ties(history, reader: Reader) -> None:
    # 22 of the 30 ticks are recorded; the 8 `scheduled` ones are planned, not recorded.
    page = reader.list_executions(limit=4)
    assert (page.total, page.exact) == (22, True)
    ids = _ids(page)[0]
    assert ids == [_eid(9, 3), _eid(9, 1), _eid(8, 2), _eid(8, 1)]
    assert page.next_after == _eid(8, 1)
    second = [_eid(7, 3), _eid(7, 2), _eid(7, 1), _eid(6, 3)]
    assert _ids(reader.list_executions(limit=4, offset=4))[0] == second
    assert _ids(reader.list_executions(limit=4, after=page.next_after))[0] == second


def test_executions_filters(history, reader: Reader) -> None:
    ids, total = _ids(reader.list_executions(job_id=2, limit=3))
    assert (ids, total) == ([_eid(8, 2), _eid(7, 2), _eid(6, 2)], 7)
    page = reader.list_executions(project_id=2)
    assert page.total == 7 and all(r["job_id"] == 3 for r in page.rows)
    ids, total = _ids(reader.list_executions(state="failed", job_id=1))
    assert (ids, total) == ([_eid(8, 1), _eid(4, 1), _eid(0, 1)], 3)
    # since inclusive, until exclusive (tick 5 of job 1 is recorded, tick 2 is not)
    ids, total = _ids(reader.list_executions(job_id=1, since=1000 + 3 * 60,
                                             until=1000 + 5 * 60))
    assert (ids, total) == ([_eid(4, 1), _eid(3, 1)], 2)
    row = reader.list_executions(job_id=1, limit=1).rows[0]
    assert row == {"execution_id": _eid(9, 1), "job_id": 1, "project_id": 1,
                   "scheduled_at": 1540, "state": "missed", "attempts": 1, "http_status": 200,
                   "node_id": 1, "batch_id": None, "error": None, "planned_at_ms": None,
                   "started_at_ms": TS_MS, "finished_at_ms": TS_MS, "trigger": "schedule",
                   "redeliveries": 0}


def test_scheduled_ticks_are_listed_apart_with_their_batch(history, reader: Reader) -> None:
    page = reader.list_executions(state="scheduled")
    assert (page.total, page.exact) == (8, True)
    assert {r["state"] for r in page.rows} == {"scheduled"}
    ids, total = _ids(reader.list_executions(state="scheduled", job_id=2, limit=2))
    assert (ids, total) == ([_eid(9, 2), _eid(5, 2)], 3)
    row = reader.list_executions(state="scheduled", job_id=2, limit=1).rows[0]
    assert row == {"execution_id": _eid(9, 2), "job_id": 2, "project_id": 1,
                   "scheduled_at": 1540, "state": "scheduled", "attempts": 0,
                   "http_status": None, "node_id": 1, "batch_id": "b1-1540", "error": None,
                   "planned_at_ms": TS_MS, "started_at_ms": None, "finished_at_ms": None,
                   "trigger": "schedule", "redeliveries": 0}


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
    # The page queries the reader really runs, each read in index order (no scan, no sort).
    seen: list[str] = []
    reader._conn.set_trace_callback(seen.append)
    try:
        for filters in ({"job_id": 1}, {"project_id": 1}, {"state": "failed"}, {"since": 5},
                        {"after": _eid(5, 1)}, {"job_id": 1, "after": _eid(5, 1)}):
            reader.list_executions(**filters)
    finally:
        reader._conn.set_trace_callback(None)
    pages = [sql for sql in seen if "FROM runs_" in sql and "ORDER BY" in sql]
    assert {sql.split("FROM ")[1].split()[0] for sql in pages} == {"runs_ok", "runs_bad",
                                                                    "runs_manual"}
    plans = []
    for sql in pages:
        plan = reader._conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
        plans.append(" ".join(str(step[-1]) for step in plan))
    assert all(("USING INDEX" in plan or "USING PRIMARY KEY" in plan)
               and "SCAN" not in plan and "TEMP B-TREE" not in plan for plan in plans), plans


def test_explain_uses_indexes_for_job_lists(history, reader: Reader) -> None:
    # The page and total queries of each jobs filter walk an index, not every job.
    seen: list[str] = []
    reader._conn.set_trace_callback(seen.append)
    try:
        for filters in ({"paused": True}, {"failing": True}, {"project_id": 2},
                        {"after": 1}, {"failing": True, "after": 1}):
            reader.list_jobs(**filters)
    finally:
        reader._conn.set_trace_callback(None)
    queries = [sql for sql in seen if "FROM jobs" in sql or "FROM job_last" in sql]
    assert len(queries) >= 9  # five pages, four capped totals (no filter: the counter)
    for sql in queries:
        steps = [str(step[-1]) for step in
                 reader._conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()]
        # A scan is of a (partial) index or of a subquery's rows, never of the jobs table.
        assert all("INDEX" in step or step.startswith("SCAN (subquery")
                   for step in steps if step.startswith("SCAN")), (sql, steps)
        assert not any("TEMP B-TREE" in step for step in steps), (sql, steps)
