"""Reader.browse_jobs: the jobs screen's filters and sorts, keyset pages in each sort, the
bounded scan, the callback host column and its migration, and the indexes the walks use."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from scheduler0 import labels, messages
from scheduler0.store import Reader, StateMachine, hosts, job_browse
from scheduler0.store.job_browse import Browse
from scheduler0.vocabulary import execution_id
from tests.store.helpers import TS_S, Log, file_at_version, job_input

URLS = ("http://Alpha.example:8080/a", "https://beta.example/b?x=1", "http://[::1]:9/c",
        "http://user:pw@alpha.example/d#f")


def _seed(log: Log) -> list[dict[str, Any]]:
    """12 jobs in two projects: names (some none), hosts, labels, paused, an ended one, and
    last results (succeeded, failed, missed)."""
    a, b = log.project("a"), log.project("b")
    inputs = []
    for i in range(12):
        fields: dict[str, Any] = {"callback_url": URLS[i % len(URLS)],
                                  "paused": i % 5 == 0, "labels": {"team": "x" if i % 2 else "y"}}
        if i % 4 != 3:
            fields["name"] = f"{'Job' if i % 3 else 'task'}-{i:02d}"
        if i == 7:
            fields["end_date"] = TS_S + 60  # completed: the next tick is later
            fields["spec"] = "0 0 1 1 *"
        inputs.append(job_input(a["id"] if i < 8 else b["id"], **fields))
    jobs = log.jobs(*inputs)
    tick = 1_900_000_000
    rows = [messages.PlanRow(job["id"], job["project_id"]) for job in jobs[:6]]
    log.ok(messages.PLAN, messages.Plan(batches=[messages.PlanBatch(
        batch_id="b", node_id=1, scheduled_at=tick, rows=rows)]).encode())
    states = ["succeeded", "failed", "succeeded", "missed", "failed", "succeeded"]
    log.ok(messages.RESULT, messages.Result(rows=[messages.ResultRow(
        execution_id(job["id"], tick), state, 1, 200 if state == "succeeded" else 500, None,
        1, (tick * 1000 + 40 + job["id"]) if state != "missed" else None,
        tick * 1000 + 90, "b") for job, state in zip(jobs[:6], states, strict=True)]).encode())
    return jobs


def _all_pages(reader: Reader, browse: Browse, limit: int = 2) -> list[int]:
    """Every job id of `browse`, page after page (scan-limited pages included)."""
    seen: list[int] = []
    for _ in range(100):
        page = reader.browse_jobs(browse, limit=limit)
        seen += [row["id"] for row in page.rows]
        if page.next_after is None:
            return seen
        browse = Browse(**{**browse.__dict__, "after": page.next_after})
    raise AssertionError("more than 100 pages")


def _expected(reader: Reader, keep: Any, sort: str = "id") -> list[int]:
    """Brute force: every job (read one by one), kept by `keep`, in `sort`."""
    jobs = [reader.get_job(i) for i in range(1, 13)]
    reader.add_lateness([j for j in jobs if j])
    kept = [j for j in jobs if j is not None and keep(j)]
    if sort.lstrip("-") == "name":
        kept = [j for j in kept if j["name"] is not None]
        kept.sort(key=lambda j: (j["name"], j["project_id"]), reverse=sort.startswith("-"))
    else:
        kept.sort(key=lambda j: j["id"], reverse=sort.startswith("-"))
    return [j["id"] for j in kept]


def _status(job: dict[str, Any]) -> str:
    return "paused" if job["paused"] else "completed" if job["completed"] else "active"


CASES: list[tuple[dict[str, Any], Any]] = [
    ({"contains": "JOB"}, lambda j: j["name"] and "job" in j["name"].lower()),
    ({"contains": "-0"}, lambda j: j["name"] and "-0" in j["name"]),
    ({"status": "paused"}, lambda j: _status(j) == "paused"),
    ({"status": "active"}, lambda j: _status(j) == "active"),
    ({"status": "completed"}, lambda j: _status(j) == "completed"),
    ({"last_state": "succeeded"}, lambda j: j["last_state"] == "succeeded"),
    ({"last_state": "failed"}, lambda j: j["last_state"] == "failed"),
    ({"last_state": "missed", "project_id": 1}, lambda j: j["last_state"] == "missed"),
    ({"host": "alpha.example"}, lambda j: hosts.callback_host(j["callback_url"]) == "alpha.example"),
    ({"host": "::1", "paused": False}, lambda j: "[::1]" in j["callback_url"] and not j["paused"]),
    ({"labels": labels.parse_selector("team=x"), "contains": "job"},
     lambda j: json.loads(j["labels"]) == {"team": "x"} and j["name"]
     and "job" in j["name"].lower()),
    ({"failing": True, "host": "beta.example"},
     lambda j: j["last_state"] in ("failed", "missed") and "beta" in j["callback_url"]),
    ({"failing": True}, lambda j: j["last_state"] in ("failed", "missed")),
    ({"failing": True, "project_id": 1}, lambda j: j["last_state"] in ("failed", "missed")
     and j["project_id"] == 1),
    ({"name_prefix": "task"}, lambda j: (j["name"] or "").startswith("task")),
    ({}, lambda j: True),
]


@pytest.mark.parametrize("sort", job_browse.SORTS)
@pytest.mark.parametrize(("filters", "keep"), CASES)
def test_every_filter_in_every_sort_pages_through_exactly_the_matches(
        log: Log, reader: Reader, filters: dict[str, Any], keep: Any, sort: str) -> None:
    _seed(log)
    browse = Browse(**filters, sort=sort)
    assert _all_pages(reader, browse) == _expected(reader, keep, sort)
    first = reader.browse_jobs(browse, limit=100)
    assert [r["id"] for r in first.rows] == _expected(reader, keep, sort)
    assert (first.total, first.exact, first.scan_limited) == (len(first.rows), True, False)


def test_the_failing_total_counted_without_the_jobs_table_follows_a_delete(
        log: Log, reader: Reader) -> None:
    """The failing total is counted in job_last alone: a deleted job leaves it with its row."""
    _seed(log)  # jobs 2, 4 and 5 failed or were missed
    assert reader.browse_jobs(Browse(failing=True), limit=100).total == 3
    log.ok(messages.JOB_DELETE, {"id": 4})
    after = reader.browse_jobs(Browse(failing=True), limit=100)
    assert ([r["id"] for r in after.rows], after.total, after.exact) == ([2, 5], 2, True)
    assert reader.browse_jobs(Browse(last_state="missed"), limit=100).total == 0


def test_a_bounded_scan_stops_and_says_where(log: Log, reader: Reader,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _seed(log)
    monkeypatch.setattr(job_browse, "SCAN_LIMIT", 3)
    browse = Browse(contains="task")  # jobs 1, 4, 7, 10 are task-*; only 1, 7, 10 are named so
    page = reader.browse_jobs(browse, limit=5)
    # Rows 1-3 scanned: job 1 matches, the page is not full, the scan stopped at job 3.
    assert ([r["id"] for r in page.rows], page.scan_limited, page.next_after) == ([1], True, "3")
    assert page.exact is False
    assert _all_pages(reader, browse, limit=5) == [1, 7, 10]
    by_name = reader.browse_jobs(Browse(status="active", sort="-name"), limit=50)
    assert by_name.scan_limited and len(by_name.rows) <= 3


def test_listed_jobs_carry_their_last_lateness(log: Log, reader: Reader) -> None:
    jobs = _seed(log)
    found = {r["id"]: r for r in reader.browse_jobs(Browse(sort="id"), limit=20).rows}
    assert found[jobs[0]["id"]]["last_late_ms"] == 40 + jobs[0]["id"]
    assert found[jobs[3]["id"]]["last_late_ms"] is None  # missed: it never started
    assert found[jobs[9]["id"]]["last_late_ms"] is None  # no result yet


def test_a_cursor_of_another_sort_is_refused() -> None:
    token = job_browse.token("name", ("a", 1))
    assert job_browse.parse_after("name", token) == ("a", 1)
    for sort, raw in (("id", token), ("name", "17"), ("-name", "n.!!")):
        with pytest.raises(Exception, match="after: "):
            job_browse.parse_after(sort, raw)


@pytest.mark.parametrize("url", [*URLS, "http://h", "http://H?x", "http://h#y", "https://a@b@c/",
                                 "http://Ünï.example/x", "http://[FE80::1]:80"])
def test_the_host_column_and_its_python_twin_agree(machine: StateMachine, url: str) -> None:
    conn = sqlite3.connect(machine.db_path)
    try:
        (found,) = conn.execute(f"SELECT {hosts.HOST_SQL} FROM (SELECT ? AS callback_url) "
                                f"CROSS JOIN (SELECT {hosts.AUTHORITY_SQL} AS "
                                "callback_authority FROM (SELECT ? AS callback_url))",
                                (url, url)).fetchone()
    finally:
        conn.close()
    assert found == hosts.callback_host(url)


def test_a_version_6_file_gets_the_host_of_every_job(db_path: str) -> None:
    conn = file_at_version(db_path, 6)
    conn.execute("INSERT INTO projects (name, signing_secret, created_at_ms, updated_at_ms) "
                 "VALUES ('p', 's', 0, 0)")
    conn.execute("INSERT INTO schedules (spec, timezone, anchor) VALUES ('* * * * *', 'UTC', 0)")
    conn.execute("INSERT INTO jobs (project_id, schedule_id, spec, timezone, anchor, "
                 "callback_url, execution_type, misfire_policy, created_at_ms, updated_at_ms) "
                 "VALUES (1, 1, '* * * * *', 'UTC', 0, 'http://Old.Example:81/x', 'http', "
                 "'run_once', 0, 0)")
    conn.close()
    machine = StateMachine(db_path)
    reader = Reader(db_path)
    try:
        page = reader.browse_jobs(Browse(host="old.example"))
        assert [r["id"] for r in page.rows] == [1]
    finally:
        reader.close()
        machine.close()


def _plans(reader: Reader, browse: Browse) -> list[list[str]]:
    seen: list[str] = []
    reader._conn.set_trace_callback(seen.append)
    try:
        reader.browse_jobs(browse, limit=5)
    finally:
        reader._conn.set_trace_callback(None)
    queries = [sql for sql in seen if sql.lstrip().startswith("SELECT") and "late_ms" not in sql
               and "FROM counters" not in sql]
    return [[str(step[-1]) for step in reader._conn.execute("EXPLAIN QUERY PLAN " + sql)]
            for sql in queries]


@pytest.mark.parametrize(("filters", "index"), [
    ({"host": "alpha.example"}, "jobs_host"),
    ({"host": "alpha.example", "sort": "-id", "contains": "j"}, "jobs_host"),
    ({"sort": "name"}, "jobs_name"),
    ({"sort": "-name", "status": "active", "after": job_browse.token("name", ("m", 1))},
     "jobs_name"),
    ({"last_state": "failed", "contains": "x"}, "job_last_failing"),
    ({"labels": labels.parse_selector("team=x"), "status": "completed"}, "PRIMARY KEY"),
    ({"contains": "job", "after": "3"}, "INTEGER PRIMARY KEY"),
    ({"status": "paused", "sort": "-id"}, "jobs_paused"),
])
def test_each_walk_uses_its_index_and_never_sorts(log: Log, reader: Reader,
                                                  filters: dict[str, Any], index: str) -> None:
    _seed(log)
    plans = _plans(reader, Browse(**filters))
    assert plans
    for steps in plans:
        assert any(index in step for step in steps), steps
        assert not any("TEMP B-TREE" in step for step in steps), steps
        # A scan is of an index or of a subquery's rows, never of the jobs table itself.
        assert all("INDEX" in step or "PRIMARY KEY" in step or step.startswith("SCAN (subquery")
                   for step in steps if step.startswith("SCAN")), steps
