"""Bulk operations and the cluster pause in the state machine: operation.create / step /
finish and cluster.pause / resume applied to a real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from scheduler0 import labels, messages
from scheduler0.store import Reader, StateMachine
from scheduler0.store import operations as ops
from tests.store.helpers import TS_MS, Log, table_dump


def create(log: Log, action: str = "pause", total: int = 3, **fields: Any) -> dict[str, Any]:
    body = {"action": action, "selection": {"ids": list(range(1, total + 1))}, "total": total,
            "created_by": "node", "runner_node": 1, "runner_token": "t1", **fields}
    return dict(log.ok(messages.OPERATION_CREATE, body))


def step(log: Log, operation_id: int, ids: list[int], final: bool = False,
         **kw: Any) -> dict[str, Any]:
    return dict(log.ok(messages.OPERATION_STEP, {"operation_id": operation_id, "ids": ids,
                                                 "final": final}, **kw))


def jobs_of(log: Log, project_id: int, count: int, **fields: Any) -> list[int]:
    return [j["id"] for j in log.jobs(*[{"project_id": project_id, "spec": "@every 1h",
                                         "callback_url": "http://127.0.0.1:9/x", **fields}
                                        for _ in range(count)])]


def column(reader: Reader, job_ids: list[int], name: str) -> list[Any]:
    """Each job's field `name` as the store row holds it (None for a job that is gone);
    labels as the dict its text holds."""
    rows = [reader.get_job(i) for i in job_ids]
    values = [row[name] if row else None for row in rows]
    return [labels.from_text(v) for v in values] if name == "labels" else values


def test_steps_pause_their_jobs_count_them_and_the_final_one_finishes(log: Log,
                                                                     reader: Reader) -> None:
    project = log.project()
    ids = jobs_of(log, project["id"], 5)
    operation = create(log, total=5)
    assert (operation["state"], operation["done"], operation["finished_at_ms"]) == (
        "running", 0, None)
    after = step(log, operation["id"], ids[:3], ts_ms=TS_MS + 1000)
    assert (after["done"], after["state"], after["updated_at_ms"]) == (3, "running",
                                                                        TS_MS + 1000)
    assert column(reader, ids, "paused") == [True, True, True, False, False]
    last = step(log, operation["id"], ids[3:], final=True, ts_ms=TS_MS + 2000)
    assert (last["done"], last["skipped"], last["state"], last["finished_at_ms"]) == (
        5, 0, "succeeded", TS_MS + 2000)
    assert column(reader, ids, "paused") == [True] * 5
    # Resuming: only the jobs of the chunk change.
    again = create(log, action="resume", total=2)
    step(log, again["id"], ids[:2], final=True)
    assert column(reader, ids, "paused") == [False, False, True, True, True]


def test_jobs_gone_before_their_chunk_are_skipped_and_named(log: Log) -> None:
    project = log.project()
    ids = jobs_of(log, project["id"], 4)
    log.ok(messages.JOB_DELETE, {"id": ids[1]})
    operation = create(log, total=5)
    after = step(log, operation["id"], [*ids, 999_999], final=True)
    assert (after["done"], after["skipped"], after["skipped_ids"]) == (3, 2, [ids[1], 999_999])
    assert after["state"] == "succeeded" and after["errors"] == []


def test_delete_removes_the_jobs_their_history_and_unused_schedules(log: Log,
                                                                   reader: Reader) -> None:
    project = log.project()
    ids = jobs_of(log, project["id"], 3, spec="@every 7h")
    before = reader.counters()["jobs"]
    operation = create(log, action="delete", total=3)
    after = step(log, operation["id"], ids, final=True)
    assert (after["done"], after["state"]) == (3, "succeeded")
    assert column(reader, ids, "id") == [None, None, None]
    assert reader.counters()["jobs"] == before - 3
    dump = table_dump(log.machine.db_path)
    assert not [row for row in dump if row.startswith('INSERT INTO "schedules"')
                and "@every 7h" in row]


def test_a_step_applies_only_to_jobs_of_the_creators_projects(log: Log, reader: Reader) -> None:
    mine, theirs = log.project("mine"), log.project("theirs")
    my_ids, their_ids = jobs_of(log, mine["id"], 2), jobs_of(log, theirs["id"], 2)
    operation = create(log, total=4, scope=[mine["id"]])
    after = step(log, operation["id"], [*my_ids, *their_ids], final=True)
    assert (after["done"], after["skipped"]) == (2, 2)
    assert column(reader, my_ids + their_ids, "paused") == [True, True, False, False]


def test_set_labels_merges_and_null_removes(log: Log, reader: Reader) -> None:
    project = log.project()
    first, second = jobs_of(log, project["id"], 1, labels={"team": "web", "old": "x"}) + \
        jobs_of(log, project["id"], 1)
    operation = create(log, action="set_labels", total=2,
                       labels={"env": "prod", "old": None, "team": "api"})
    step(log, operation["id"], [first, second], final=True)
    assert column(reader, [first, second], "labels") == [{"env": "prod", "team": "api"},
                                                         {"env": "prod", "team": "api"}]
    found = reader.select_jobs(labels=labels.parse_selector("env=prod,team=api"))
    assert list(found.ids) == [first, second]  # the label index followed


def test_set_labels_leaves_a_job_that_would_have_too_many(log: Log, reader: Reader) -> None:
    project = log.project()
    full = {f"k{i}": "v" for i in range(64)}
    crowded, roomy = jobs_of(log, project["id"], 1, labels=full) + jobs_of(log,
                                                                            project["id"], 1)
    operation = create(log, action="set_labels", total=2, labels={"extra": "1"})
    after = step(log, operation["id"], [crowded, roomy], final=True)
    assert (after["done"], after["skipped"], after["skipped_ids"]) == (1, 1, [crowded])
    assert after["errors"] == [f"jobs {crowded} left as they were: they would have more "
                               "than 64 labels"]
    assert column(reader, [crowded, roomy], "labels") == [full, {"extra": "1"}]


@pytest.mark.parametrize(("changes", "fragment"), [
    (None, "expected an object"), ({}, "must not be empty"), ({"a b": "x"}, "not a label key"),
    ({"team": 7}, "must be a string, or null"), ({"team": "a b"}, "not a label value")])
def test_set_labels_is_checked_again_by_the_store(log: Log, changes: Any, fragment: str) -> None:
    body = {"action": "set_labels", "selection": {"ids": [1]}, "total": 1,
            "created_by": "node", "runner_node": 1, "runner_token": "t", "labels": changes}
    error = log.refused(messages.OPERATION_CREATE, body)
    assert (error["status"], error["code"]) == (400, "invalid_labels")
    assert fragment in error["message"]


def test_a_step_of_a_finished_operation_is_refused(log: Log) -> None:
    project = log.project()
    ids = jobs_of(log, project["id"], 2)
    operation = create(log, total=2)
    step(log, operation["id"], ids, final=True)
    error = log.refused(messages.OPERATION_STEP, {"operation_id": operation["id"], "ids": ids})
    assert error["status"] == 409 and "is succeeded, not running" in error["message"]
    missing = log.refused(messages.OPERATION_STEP, {"operation_id": 999, "ids": ids})
    assert missing["status"] == 404


def test_a_step_may_carry_at_most_5000_ids(log: Log) -> None:
    operation = create(log, total=6000)
    error = log.refused(messages.OPERATION_STEP, {"operation_id": operation["id"],
                                                  "ids": list(range(1, 5002))})
    assert error["status"] == 413


def test_finish_stops_only_what_still_runs_as_its_condition_says(log: Log) -> None:
    operation = create(log, total=10)
    finish = messages.OPERATION_FINISH
    other = log.ok(finish, {"operation_id": operation["id"], "error": "x", "runner_token": "t2"})
    assert other["state"] == "running"  # another runner's token: not this one's to stop
    moved = log.ok(finish, {"operation_id": operation["id"], "error": "x",
                            "stalled_before_ms": TS_MS - 1})
    assert moved["state"] == "running"  # it made progress after the sweep looked
    failed = log.ok(finish, {"operation_id": operation["id"], "error": "stalled: no progress",
                             "stalled_before_ms": TS_MS}, ts_ms=TS_MS + 5)
    assert (failed["state"], failed["errors"], failed["finished_at_ms"]) == (
        "failed", ["stalled: no progress"], TS_MS + 5)
    again = log.ok(finish, {"operation_id": operation["id"], "error": "later"})
    assert again["errors"] == ["stalled: no progress"]  # a finished operation stays as it is


def test_an_operation_selecting_nothing_is_finished_at_once(log: Log) -> None:
    operation = create(log, total=0)
    assert (operation["state"], operation["finished_at_ms"]) == ("succeeded", TS_MS)


def test_the_cluster_runs_at_most_so_many_operations(log: Log) -> None:
    for _ in range(ops.MAX_RUNNING_OPERATIONS):
        create(log)
    body = {"action": "pause", "selection": {"ids": [1]}, "total": 1, "created_by": "node",
            "runner_node": 1, "runner_token": "t"}
    error = log.refused(messages.OPERATION_CREATE, body)
    assert (error["status"], error["code"]) == (429, "too_many_operations")


def test_old_finished_operations_are_pruned_running_ones_kept(
        log: Log, reader: Reader, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ops, "MAX_OPERATIONS_KEPT", 3)
    running = create(log)
    finished = [create(log, total=0)["id"] for _ in range(5)]
    kept = [row["id"] for row in reader.list_operations(limit=100).rows]
    assert kept == [*reversed(finished[-3:]), running["id"]]


def test_reads_list_newest_first_by_state_and_within_a_scope(log: Log, reader: Reader) -> None:
    first = create(log, total=0, projects=[1])
    second = create(log, projects=[1, 2])
    third = create(log, total=0)  # projects not known: only for every project
    everything = reader.list_operations(limit=2)
    assert [r["id"] for r in everything.rows] == [third["id"], second["id"]]
    assert everything.total == 3 and everything.next_after == str(second["id"])
    rest = reader.list_operations(limit=2, after=int(everything.next_after))
    assert [r["id"] for r in rest.rows] == [first["id"]] and rest.next_after is None
    running = reader.list_operations(state="running")
    assert [r["id"] for r in running.rows] == [second["id"]]
    limited = reader.scoped([1])
    assert [r["id"] for r in limited.list_operations().rows] == [first["id"]]
    assert [r["id"] for r in reader.scoped([1, 2, 5]).list_operations().rows] == [
        second["id"], first["id"]]
    assert limited.get_operation(first["id"])["id"] == first["id"]
    for hidden, words in ((second, "concerns projects 1, 2"),
                          (third, "concerns projects not known to it")):
        with pytest.raises(Exception, match=words):
            limited.get_operation(hidden["id"])


def test_pause_and_resume_record_who_and_when_and_repeat_harmlessly(log: Log,
                                                                   reader: Reader) -> None:
    assert reader.cluster_pause()["paused"] is False
    paused = log.ok(messages.CLUSTER_PAUSE, {"by": "credential:1", "reason": "upgrade"},
                    ts_ms=TS_MS + 1)
    assert (paused["paused"], paused["paused_at_ms"], paused["paused_by"], paused["reason"]) == (
        True, TS_MS + 1, "credential:1", "upgrade")
    again = log.ok(messages.CLUSTER_PAUSE, {"by": "node"}, ts_ms=TS_MS + 2)
    assert again == paused  # the first pause's time stays: the ticks since then are paused
    resumed = log.ok(messages.CLUSTER_RESUME, {"by": "node"}, ts_ms=TS_MS + 3)
    assert (resumed["paused"], resumed["resumed_at_ms"], resumed["resumed_by"]) == (
        False, TS_MS + 3, "node")
    assert log.ok(messages.CLUSTER_RESUME, {"by": "x"}, ts_ms=TS_MS + 4) == resumed
    assert reader.cluster_pause() == resumed


def test_two_nodes_fed_the_same_operations_build_identical_files(tmp_path: Path) -> None:
    machines = [StateMachine(str(tmp_path / f"{name}.db")) for name in ("one", "two")]
    results = []
    for machine in machines:
        log = Log(machine)
        project = log.project()
        ids = jobs_of(log, project["id"], 6)
        operation = create(log, action="delete", total=6)
        step(log, operation["id"], ids[:3], ts_ms=TS_MS + 10)
        labelled = create(log, action="set_labels", total=3, labels={"a": "b"})
        step(log, labelled["id"], ids[3:], final=True, ts_ms=TS_MS + 20)
        log.ok(messages.OPERATION_FINISH, {"operation_id": operation["id"], "error": "stop"})
        log.ok(messages.CLUSTER_PAUSE, {"by": "node"}, ts_ms=TS_MS + 30)
        results.append(table_dump(machine.db_path))
        machine.close()
    assert results[0] == results[1]
    assert sum(row.startswith('INSERT INTO "operations"') for row in results[0]) == 2


def test_a_run_step_fires_a_run_now_of_each_job_that_is_still_there(log: Log,
                                                                    reader: Reader) -> None:
    project = log.project()
    ids = jobs_of(log, project["id"], 3) + jobs_of(log, project["id"], 1, paused=True)
    [got] = jobs_of(log, project["id"], 1, method="GET")
    log.ok(messages.JOB_DELETE, {"id": ids[1]})
    operation = create(log, action="run", total=5, data="override")
    done = step(log, operation["id"], [*ids, got], final=True, ts_ms=TS_MS + 1000)
    assert (done["state"], done["done"], done["skipped"], done["skipped_ids"]) == (
        "succeeded", 3, 2, [ids[1], got])
    assert done["errors"] == [f"jobs {got} left as they were: they are delivered with GET, "
                              "which sends no body, so the data would never reach their "
                              "receivers; run them without data"]
    page = reader.operation_executions(operation["id"])
    fired = [ids[0], ids[2], ids[3]]
    assert [e["job_id"] for e in page.rows] == fired and page.total == 3
    assert {(e["state"], e["trigger"], e["scheduled_at"]) for e in page.rows} == {
        ("scheduled", "manual", TS_MS // 1000 + 1)}
    runs = [int(e["execution_id"].rsplit("-m", 1)[1]) for e in page.rows]
    assert runs == sorted(runs) and len(set(runs)) == 3
    assert column(reader, fired, "paused") == [False, False, True]  # left as they were
    with sqlite3.connect(log.machine.db_path) as conn:
        assert conn.execute("SELECT job_id, data, operation_id FROM runs_manual ORDER BY run"
                            ).fetchall() == [(j, "override", operation["id"]) for j in fired]
    # A run without data fires a job delivered with GET too; a single run-now is no
    # operation's.
    plain = create(log, action="run", total=1)
    step(log, plain["id"], [got], final=True)
    assert [e["job_id"] for e in reader.operation_executions(plain["id"]).rows] == [got]
    log.ok(messages.JOB_RUN, {"job_id": got})
    assert reader.operation_executions(plain["id"]).total == 1


@pytest.mark.parametrize(("changes", "fragment"), [
    ({"action": "stop"}, "action must be one of pause, resume, delete, set_labels, run"),
    ({"data": "x"}, "data applies only to the action run, not pause"),
    ({"total": -1}, "total must not be negative"),
    ({"total": "3"}, "operation.create body: Expected `int`"),
    ({"runner_token": None}, "operation.create body"),
])
def test_a_malformed_operation_is_refused_naming_the_field(log: Log, changes: dict[str, Any],
                                                           fragment: str) -> None:
    body = {"action": "pause", "selection": {"ids": [1]}, "total": 1, "created_by": "node",
            "runner_node": 1, "runner_token": "t", **changes}
    error = log.refused(messages.OPERATION_CREATE, body)
    assert error["status"] == 400 and fragment in error["message"], error
