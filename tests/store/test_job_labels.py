"""Job names and labels in the store: the label index kept in step with every change of the
jobs (create, update, delete, a project's delete), names unique per project, lists by
selector and name prefix served from the indexes, a migration that keeps every row, and a
snapshot that carries them."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from scheduler0 import labels, messages
from scheduler0.store import Reader, StateMachine
from tests.store.helpers import TS_MS, Log, file_at_version, job_input


def _ranges(db_path: str) -> list[tuple[str, str, int, int]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT key, value, first_id, last_id FROM job_labels "
                            "ORDER BY key, value, first_id").fetchall()
    finally:
        conn.close()


def _index(db_path: str) -> list[tuple[str, str, int]]:
    """The (key, value, job id) the index's ranges hold, after checking that the ranges of a
    label are disjoint and hold no id that is not a job."""
    conn = sqlite3.connect(db_path)
    try:
        jobs = {job_id for (job_id,) in conn.execute("SELECT id FROM jobs")}
    finally:
        conn.close()
    held: list[tuple[str, str, int]] = []
    for key, value, first_id, last_id in _ranges(db_path):
        assert first_id <= last_id, (key, value, first_id, last_id)
        ids = range(first_id, last_id + 1)
        assert set(ids) <= jobs, (key, value, first_id, last_id)
        held += [(key, value, job_id) for job_id in ids]
    assert len(set(held)) == len(held), "overlapping ranges"
    return sorted(held)


def _index_from_jobs(db_path: str) -> list[tuple[str, str, int]]:
    """What the index must hold: every label of every job, read from jobs.labels."""
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT l.key, l.value, j.id FROM jobs j, json_each(j.labels) l "
                            "ORDER BY 1, 2, 3").fetchall()
    finally:
        conn.close()


def _columns(project_id: int, count: int, **columns: Any) -> dict[str, Any]:
    """A job.create body in columns: every job as job_input, but `columns`."""
    return {"count": count, "columns": {**job_input(project_id), **columns}}


def test_a_batch_sharing_its_labels_is_one_range_per_label(log: Log) -> None:
    project = log.project()
    log.ok(messages.JOB_CREATE, _columns(project["id"], 1000, labels='{"env":"prod","t":"a"}'))
    assert _ranges(log.machine.db_path) == [("env", "prod", 1, 1000), ("t", "a", 1, 1000)]
    # The next batch with a label of these extends its range; a batch in between does not.
    log.ok(messages.JOB_CREATE, _columns(project["id"], 10, labels='{"env":"prod"}'))
    log.job(project["id"])
    log.ok(messages.JOB_CREATE, _columns(project["id"], 5, labels='{"t":"a"}'))
    assert _ranges(log.machine.db_path) == [("env", "prod", 1, 1010), ("t", "a", 1, 1000),
                                            ("t", "a", 1012, 1016)]


def test_a_change_in_the_middle_of_a_range_splits_it_and_keeps_the_labels_kept(log: Log) -> None:
    project = log.project()
    log.ok(messages.JOB_CREATE, _columns(project["id"], 10, labels='{"a":"1","b":"2"}'))
    log.ok(messages.JOB_UPDATE, {"id": 5, "changes": {"labels": '{"a":"1","b":"3"}'}})
    assert _ranges(log.machine.db_path) == [("a", "1", 1, 10), ("b", "2", 1, 4),
                                            ("b", "2", 6, 10), ("b", "3", 5, 5)]
    log.ok(messages.JOB_UPDATE, {"id": 6, "changes": {"labels": '{"b":"3"}'}})
    assert _ranges(log.machine.db_path) == [("a", "1", 1, 5), ("a", "1", 7, 10),
                                            ("b", "2", 1, 4), ("b", "2", 7, 10),
                                            ("b", "3", 5, 6)]  # extended, not a new range
    for job_id in (1, 10, 8):
        log.ok(messages.JOB_DELETE, {"id": job_id})
    assert _ranges(log.machine.db_path) == [("a", "1", 2, 5), ("a", "1", 7, 7),
                                            ("a", "1", 9, 9), ("b", "2", 2, 4),
                                            ("b", "2", 7, 7), ("b", "2", 9, 9),
                                            ("b", "3", 5, 6)]


def test_deleting_a_job_removes_its_labels(log: Log) -> None:
    project = log.project()
    kept, gone = log.jobs(job_input(project["id"], labels={"team": "a", "env": "prod"}),
                          job_input(project["id"], labels={"team": "a", "tier": "x"}))
    assert len(_index(log.machine.db_path)) == 4
    log.ok(messages.JOB_DELETE, {"id": gone["id"]})
    assert _index(log.machine.db_path) == [("env", "prod", kept["id"]),
                                           ("team", "a", kept["id"])]


def test_deleting_a_project_with_its_jobs_removes_their_labels(log: Log) -> None:
    doomed, other = log.project("doomed"), log.project("other")
    log.ok(messages.JOB_CREATE, _columns(doomed["id"], 50, labels='{"team":"x"}'))
    survivor = log.job(other["id"], labels={"team": "x"})
    log.ok(messages.PROJECT_DELETE, {"id": doomed["id"], "cascade": True})
    assert _index(log.machine.db_path) == [("team", "x", survivor["id"])]


def test_an_update_replaces_the_labels_and_leaves_others_alone(log: Log) -> None:
    project = log.project()
    job = log.job(project["id"], labels={"team": "a", "old": "x"})
    log.ok(messages.JOB_UPDATE, {"id": job["id"], "changes": {"labels": '{"team":"b"}'}})
    assert _index(log.machine.db_path) == [("team", "b", job["id"])]
    log.ok(messages.JOB_UPDATE, {"id": job["id"], "changes": {"paused": True}})
    assert _index(log.machine.db_path) == [("team", "b", job["id"])]
    log.ok(messages.JOB_UPDATE, {"id": job["id"], "changes": {"labels": None}})
    assert _index(log.machine.db_path) == []


def test_the_index_follows_any_sequence_of_changes(log: Log) -> None:
    project = log.project()
    choices = [None, {"a": "1"}, {"a": "2"}, {"a": "1", "b": "1"}, {"b": "2", "c": ""}]
    rng = random.Random(7)
    alive: list[int] = []
    for step in range(300):
        action = rng.choice(["create", "batch", "batch", "update", "delete", "delete"]
                            if alive else ["create"])
        if action == "create":
            alive.append(log.job(project["id"], labels=rng.choice(choices))["id"])
        elif action == "batch":
            texts = [labels.canonical_text(c) if c else None for c in choices]
            shared = rng.random() < 0.5
            column = rng.choice(texts) if shared else [rng.choice(texts) for _ in range(7)]
            created = log.ok(messages.JOB_CREATE, _columns(project["id"], 7, labels=column))
            alive += created["columns"]["id"]
        elif action == "update":
            log.ok(messages.JOB_UPDATE, {"id": rng.choice(alive),
                                         "changes": {"labels": rng.choice(choices)}})
        else:
            log.ok(messages.JOB_DELETE, {"id": alive.pop(rng.randrange(len(alive)))})
        assert _index(log.machine.db_path) == _index_from_jobs(log.machine.db_path), step


def test_labels_are_kept_as_one_canonical_text(log: Log, reader: Reader) -> None:
    project = log.project()
    job = log.job(project["id"], labels={"team": "a", "env": "b"})
    other = log.job(project["id"], labels='{ "env" : "b", "team": "a" }')
    assert job["labels"] == other["labels"] == '{"env":"b","team":"a"}'
    assert log.job(project["id"], labels={})["labels"] is None
    refused = log.refused(messages.JOB_CREATE, {"jobs": [job_input(project["id"],
                                                                   labels={"Bad Key": "x"})]})
    assert refused["status"] == 400 and 'the key "Bad Key"' in refused["message"]
    refused = log.refused(messages.JOB_CREATE, {"jobs": [job_input(project["id"],
                                                                   labels="[1]")]})
    assert "JSON text of an object" in refused["message"]


def test_names_are_unique_within_a_project_only(log: Log) -> None:
    one, two = log.project("one"), log.project("two")
    first = log.job(one["id"], name="nightly")
    assert log.job(two["id"], name="nightly")["name"] == "nightly"
    refused = log.refused(messages.JOB_CREATE, {"jobs": [job_input(one["id"]),
                                                         job_input(one["id"], name="nightly")]})
    assert (refused["status"], refused["code"]) == (409, "conflict")
    assert refused["message"] == (f'jobs[1].name: "nightly" is already the name of job '
                                  f"{first['id']} in project {one['id']}; names are unique "
                                  "within a project: choose another name")
    refused = log.refused(messages.JOB_CREATE, _columns(one["id"], 3, name="same"))
    assert (refused["status"], refused["code"]) == (400, "invalid_name")
    assert refused["message"].startswith('jobs[1].name: "same" is also the name of jobs[0]')
    renamed = log.job(one["id"], name="spare")
    refused = log.refused(messages.JOB_UPDATE, {"id": renamed["id"],
                                                "changes": {"name": "nightly"}})
    assert refused["status"] == 409
    # Its own name again is no conflict; a name freed by a delete may be taken.
    log.ok(messages.JOB_UPDATE, {"id": first["id"], "changes": {"name": "nightly"}})
    log.ok(messages.JOB_DELETE, {"id": first["id"]})
    log.ok(messages.JOB_UPDATE, {"id": renamed["id"], "changes": {"name": "nightly"}})
    refused = log.refused(messages.JOB_CREATE, {"jobs": [job_input(one["id"], name="42")]})
    assert "starts with a digit" in refused["message"]


# -- reads -------------------------------------------------------------------------------------


@pytest.fixture
def fleet(log: Log) -> dict[int, dict[str, str]]:
    """300 jobs of two projects with labels drawn from a few values: id -> labels."""
    one, two = log.project("one"), log.project("two")
    rng = random.Random(11)
    made: dict[int, dict[str, str]] = {}
    for batch in range(3):
        sets = [{k: v for k, v in (("team", rng.choice(["a", "b", "c"])),
                                   ("env", rng.choice(["prod", "dev", None])),
                                   ("tier", rng.choice(["1", "2", None, None])))
                 if v is not None} for _ in range(100)]
        created = log.ok(messages.JOB_CREATE, _columns(
            one["id"] if batch < 2 else two["id"], 100,
            labels=[labels.canonical_text(s) for s in sets],
            name=[f"job-{batch}-{i:02d}" for i in range(100)],
            paused=[i % 3 == 0 for i in range(100)]))
        made.update(zip(created["columns"]["id"], sets, strict=True))
    return made


def _meets(job_labels: dict[str, str], requirement: labels.Requirement) -> bool:
    value, wanted = job_labels.get(requirement.key), requirement.values
    return {labels.EQUALS: lambda: value == wanted[0],
            labels.NOT_EQUALS: lambda: value != wanted[0],
            labels.IN: lambda: value in wanted,
            labels.NOT_IN: lambda: value not in wanted,
            labels.EXISTS: lambda: value is not None,
            labels.NOT_EXISTS: lambda: value is None}[requirement.op]()


SELECTORS = ["team=a", "team!=a", "team in (a,b)", "team notin (a,b)", "tier", "!tier",
             "team=a,env=prod", "env!=prod,tier in (1)", "!env,team=c", "tier,team notin (c)",
             "env=dev,env=prod", "nothing=here", "!nothing"]


@pytest.mark.parametrize("selector", SELECTORS)
def test_a_selector_lists_the_jobs_meeting_it_page_by_page(fleet: dict[int, dict[str, str]],
                                                           reader: Reader, selector: str) -> None:
    requirements = labels.parse_selector(selector)
    expected = [i for i, s in sorted(fleet.items()) if all(_meets(s, r) for r in requirements)]
    assert [j["id"] for j in reader.list_jobs(labels=requirements, limit=1000).rows] == expected
    walked: list[int] = []
    after = None
    while True:
        page = reader.list_jobs(labels=requirements, limit=7, after=after)
        assert page.total == len(expected) and page.exact
        walked += [j["id"] for j in page.rows]
        if page.next_after is None:
            break
        after = int(page.next_after)
    assert walked == expected
    paused = [i for i in expected if (i - 1) % 100 % 3 == 0]
    assert [j["id"] for j in reader.list_jobs(labels=requirements, paused=True,
                                              limit=1000).rows] == paused
    in_two = [i for i in expected if i > 200]
    assert [j["id"] for j in reader.list_jobs(labels=requirements, project_id=2,
                                              limit=1000).rows] == in_two
    named = [i for i in expected if 100 < i <= 200 and (i - 101) // 10 == 4]
    assert [j["id"] for j in reader.list_jobs(labels=requirements, name_prefix="job-1-4",
                                              limit=1000).rows] == named


def _plans(machine: StateMachine, reader: Reader, **filters: Any) -> list[str]:
    """The query plans of the statements list_jobs runs with `filters`."""
    statements: list[str] = []
    reader._conn.set_trace_callback(statements.append)  # the reader's own connection
    try:
        reader.list_jobs(**filters)
    finally:
        reader._conn.set_trace_callback(None)
    conn = sqlite3.connect(machine.db_path)
    try:
        return [" / ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
                for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    finally:
        conn.close()


@pytest.mark.parametrize(("filters", "index"), [
    ({"labels": labels.parse_selector("team=a")},
     "SEARCH x USING PRIMARY KEY (key=? AND value=?"),
    ({"labels": labels.parse_selector("team=a,env!=dev"), "after": 50},
     "SEARCH x USING PRIMARY KEY (key=? AND value=?"),
    ({"labels": labels.parse_selector("team in (a,b)")},
     "SEARCH x USING PRIMARY KEY (key=? AND value=?"),
    ({"labels": labels.parse_selector("tier")}, "SEARCH x USING PRIMARY KEY (key=?)"),
    ({"name_prefix": "job-1"}, "INDEX jobs_name (name>? AND name<?)"),
    ({"name_prefix": "job-1", "project_id": 2}, "INDEX jobs_name (name>? AND name<?)"),
])
def test_lists_by_label_or_name_walk_an_index_not_the_jobs(
        fleet: dict[int, dict[str, str]], machine: StateMachine, reader: Reader,
        filters: dict[str, Any], index: str) -> None:
    plans = _plans(machine, reader, **filters)
    assert len(plans) == 2, plans  # the page and its total
    for plan in plans:
        assert index in plan, plan
        assert "SCAN j" not in plan and "SCAN jobs" not in plan, plan


def test_the_page_and_total_of_a_lone_equality(fleet: dict[int, dict[str, str]],
                                                           machine: StateMachine,
                                                           reader: Reader) -> None:
    page_plan, total_plan = _plans(machine, reader, labels=labels.parse_selector("team=b"),
                                   after=50)
    assert "SEARCH x USING PRIMARY KEY (key=? AND value=?)" in total_plan
    assert "SEARCH j" not in total_plan, total_plan  # no job read to count them
    # The page starts at the range holding the cursor (a seek), and needs no sort.
    assert "(key=? AND value=? AND first_id>?)" in page_plan, page_plan
    assert "SEARCH j USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)" in page_plan
    assert "TEMP B-TREE" not in page_plan, page_plan


def test_jobs_named_finds_a_name_in_a_project_or_in_any(log: Log, reader: Reader) -> None:
    one, two = log.project("one"), log.project("two")
    a, b = log.job(one["id"], name="x"), log.job(two["id"], name="x")
    assert reader.jobs_named("x") == [(a["id"], one["id"]), (b["id"], two["id"])]
    assert reader.jobs_named("x", two["id"]) == [(b["id"], two["id"])]
    assert reader.scoped([one["id"]]).jobs_named("x") == [(a["id"], one["id"])]
    assert reader.jobs_named("y") == []
    assert reader.names_taken(["x", "y"]) == {("x", one["id"]): a["id"],
                                              ("x", two["id"]): b["id"]}


# -- the file ----------------------------------------------------------------------------------


def test_a_file_of_the_previous_version_keeps_every_job(db_path: str) -> None:
    conn = file_at_version(db_path, 3)
    conn.execute("INSERT INTO projects (name, signing_secret, created_at_ms, updated_at_ms) "
                 "VALUES ('old', 's', 1, 1)")
    conn.execute("INSERT INTO schedules (spec, timezone, anchor) VALUES ('@daily', 'UTC', 0)")
    for _ in range(3):
        conn.execute("INSERT INTO jobs (project_id, schedule_id, spec, timezone, anchor, "
                     "callback_url, data, execution_type, misfire_policy, created_at_ms, "
                     "updated_at_ms) VALUES (1, 1, '@daily', 'UTC', 0, 'http://127.0.0.1/', "
                     "'d', 'http', 'run_once', 1, 1)")
    conn.close()
    machine = StateMachine(db_path)
    reader = Reader(db_path)
    try:
        jobs = reader.list_jobs().rows
        assert [j["id"] for j in jobs] == [1, 2, 3]
        assert {(j["name"], j["description"], j["labels"], j["data"]) for j in jobs} == {
            (None, "", None, "d")}
        log = Log(machine)
        log.ok(messages.JOB_UPDATE, {"id": 2, "changes": {"name": "now-named",
                                                          "labels": '{"a":"b"}'}})
        assert [j["id"] for j in reader.list_jobs(labels=labels.parse_selector("a=b")).rows] == [2]
        log.ok(messages.JOB_DELETE, {"id": 2})
        assert _index(db_path) == []
    finally:
        reader.close()
        machine.close()


def test_a_snapshot_carries_names_labels_and_the_index(log: Log, tmp_path: Path) -> None:
    project = log.project()
    log.ok(messages.JOB_CREATE, _columns(project["id"], 20, labels='{"team":"snap"}',
                                         name=[f"s{i}" for i in range(20)],
                                         description="kept"))
    snap = str(tmp_path / "raft.dump")
    log.machine.snapshot_to(snap, b"")
    fresh = StateMachine(str(tmp_path / "other" / "node2.db"))
    try:
        assert fresh.restore_from(snap) is True
        reader = Reader(fresh.db_path)
        page = reader.list_jobs(labels=labels.parse_selector("team=snap"), limit=100)
        assert [j["name"] for j in page.rows] == [f"s{i}" for i in range(20)]
        assert {j["description"] for j in page.rows} == {"kept"}
        assert reader.jobs_named("s3") == [(4, project["id"])]
        reader.close()
        # The restored file's triggers keep the index right from here on.
        Log(fresh).ok(messages.JOB_DELETE, {"id": 1}, ts_ms=TS_MS)
        assert len(_index(fresh.db_path)) == 19
    finally:
        fresh.close()


def test_the_created_rows_and_the_read_rows_agree(log: Log, reader: Reader) -> None:
    project = log.project()
    created = log.ok(messages.JOB_CREATE, _columns(
        project["id"], 3, labels=['{"a":"1"}', None, '{"a":"1"}'], name=["p", None, "q"],
        description=["x", "", "y"]))
    rows = messages.column_rows(created["columns"], 3)
    assert [reader.get_job(row["id"]) for row in rows] == rows
    assert [json.loads(r["labels"]) if r["labels"] else None for r in rows] == [
        {"a": "1"}, None, {"a": "1"}]
