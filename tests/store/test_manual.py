"""Run-nows, redeliveries and backfills in the store: job.run, execution.redeliver and
job.backfill commands, then RESULT, on a real SQLite file (scheduler0.store.manual)."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from scheduler0 import messages
from scheduler0.store import Reader, history
from scheduler0.store.pipeline import PipelineReader
from scheduler0.vocabulary import ExecutionKey
from tests.store.helpers import TS_MS, TS_S, Log

TICK = TS_S + 60  # the first tick of a "* * * * *" job created at TS_S (a minute's start + 20 s)


def plan_tick(log: Log, job: dict[str, Any], tick: int, batch: str = "b") -> str:
    batch_id = f"{tick}-{batch}"
    log.ok(messages.PLAN, messages.Plan(batches=[messages.PlanBatch(
        batch_id=batch_id, node_id=1, scheduled_at=tick,
        rows=[messages.PlanRow(job["id"], job["project_id"])])]).encode())
    return batch_id


def settle(log: Log, execution_id: str, batch_id: str, state: str = "succeeded",
           started_ms: int | None = None, status: int | None = 200, **kw: Any) -> Any:
    tick = int(execution_id.split("-")[1])
    started = tick * 1000 + 50 if started_ms is None else started_ms
    return log.ok(messages.RESULT, messages.Result(rows=[messages.ResultRow(
        execution_id, state, 1, status, None if state == "succeeded" else "HTTP 500", 2,
        started, started + 7, batch_id)]).encode(), **kw)


def run_now(log: Log, job: dict[str, Any], data: str | None = None, **kw: Any) -> Any:
    return log.ok(messages.JOB_RUN, messages.JobRun(job_id=job["id"], data=data).encode(), **kw)


def redeliver(log: Log, execution_id: str, **kw: Any) -> Any:
    return log.apply(messages.EXECUTION_REDELIVER,
                     messages.ExecutionRedeliver(execution_id=execution_id).encode(), **kw)


def rollup(reader: Reader, project_id: int, minute: int) -> dict[str, int]:
    [found] = [r for r in reader.rollups("minute", project_id=project_id)
               if r["period_start"] == minute]
    return found


def test_a_run_now_is_scheduled_then_recorded_with_its_own_id(log: Log, reader: Reader,
                                                              db_path: str) -> None:
    project = log.project()
    job = log.job(project["id"], "* * * * *")
    ts_ms = TICK * 1000 + 300  # the same second as the job's own tick
    started = run_now(log, job, '{"n": 1}', ts_ms=ts_ms)
    eid = f"{job['id']}-{TICK}-m1"
    assert started == {**started, "execution_id": eid, "state": "scheduled",
                       "scheduled_at": TICK, "trigger": "manual", "redeliveries": 0,
                       "batch_id": "manual-1", "planned_at_ms": ts_ms}
    [listed] = reader.list_executions(job_id=job["id"], state="scheduled").rows
    assert (listed["execution_id"], listed["trigger"]) == (eid, "manual")
    pipeline = PipelineReader(db_path)
    assert pipeline.requested_batches() == ["manual-1"]
    [planned] = pipeline.unfinished_of_batch("manual-1")
    assert (planned.id, planned.data) == (job["id"], '{"n": 1}')  # the override, not "payload"
    batch = plan_tick(log, job, TICK)  # the schedule's own tick, same second: no collision
    assert settle(log, f"{job['id']}-{TICK}", "manual-1") == {"settled": 0}  # not its id
    assert settle(log, eid, "manual-1") == {"settled": 1}
    assert settle(log, eid, "manual-1") == {"settled": 0}  # a duplicate changes nothing
    assert pipeline.requested_batches() == []
    assert settle(log, f"{job['id']}-{TICK}", batch, "failed", status=500) == {"settled": 1}
    rows = reader.list_executions(job_id=job["id"]).rows
    assert [(r["execution_id"], r["state"], r["trigger"]) for r in rows] == [
        (eid, "succeeded", "manual"), (f"{job['id']}-{TICK}", "failed", "schedule")]
    assert reader.list_executions(job_id=job["id"]).total == 2
    # The job's last result follows its schedule, not the test run.
    assert reader.get_job(job["id"])["last_state"] == "failed"
    counts = rollup(reader, project["id"], TICK - TICK % 60)
    assert (counts["succeeded"], counts["failed"]) == (1, 1)
    assert reader.executions_by_state()["succeeded"] == 1
    pipeline.close()


def test_keyset_pages_walk_run_nows_and_ticks_of_one_second(log: Log, reader: Reader) -> None:
    project = log.project()
    jobs = [log.job(project["id"], "* * * * *") for _ in range(3)]
    for job in jobs:
        batch = plan_tick(log, job, TICK, batch=str(job["id"]))
        settle(log, f"{job['id']}-{TICK}", batch)
        for _ in range(2):
            run = run_now(log, job, ts_ms=TICK * 1000)
            settle(log, run["execution_id"], run["batch_id"])
    for scope in ({}, {"job_id": jobs[1]["id"]}, {"project_id": project["id"]}):
        everything = [r["execution_id"] for r in reader.list_executions(**scope, limit=100).rows]
        paged, after = [], None
        while True:
            page = reader.list_executions(**scope, limit=2, after=after)
            paged += [r["execution_id"] for r in page.rows]
            after = page.next_after
            if after is None:
                break
        assert paged == everything and len(set(paged)) == len(paged), scope
        assert len(everything) == (9 if not scope.get("job_id") else 3)
    first = reader.list_executions(job_id=jobs[0]["id"]).rows
    assert [r["trigger"] for r in first] == ["manual", "manual", "schedule"]  # newest first


def test_a_redelivery_replaces_the_outcome_and_moves_the_counts(log: Log, reader: Reader,
                                                                db_path: str) -> None:
    project = log.project()
    job = log.job(project["id"], "* * * * *")
    batch = plan_tick(log, job, TICK)
    eid = f"{job['id']}-{TICK}"
    settle(log, eid, batch, "failed", status=500)
    assert reader.get_job(job["id"])["last_state"] == "failed"
    before = reader.counters()
    started = redeliver(log, eid)["data"]
    assert (started["state"], started["trigger"], started["redeliveries"]) == (
        "scheduled", "schedule", 0)
    assert started["batch_id"].startswith("redeliver-")
    again = redeliver(log, eid)
    assert again["ok"] is False and again["error"]["status"] == 409
    assert "still scheduled" in again["error"]["message"]
    assert reader.execution(ExecutionKey(job["id"], TICK))["state"] == "scheduled"
    late = (TICK + 3600) * 1000  # an hour later: its lateness bucket moves with it
    assert settle(log, eid, started["batch_id"], started_ms=late) == {"settled": 1}
    [row] = reader.list_executions(job_id=job["id"]).rows
    assert (row["state"], row["redeliveries"], row["http_status"], row["started_at_ms"]) == (
        "succeeded", 1, 200, late)
    assert reader.get_job(job["id"])["last_state"] == "succeeded"
    counts = rollup(reader, project["id"], TICK - TICK % 60)
    assert (counts["succeeded"], counts["failed"], counts["late_100ms"], counts["late_more"]) \
        == (1, 0, 0, 1)
    after = reader.counters()
    assert (after["retained_failed"], after["retained_succeeded"]) == (
        before["retained_failed"] - 1, before["retained_succeeded"] + 1)
    assert after["recorded_succeeded"] == before["recorded_succeeded"] + 1
    assert after["recorded_failed"] == before["recorded_failed"]  # outcomes ever recorded
    assert_counters_recount(reader, db_path)


def assert_counters_recount(reader: Reader, db_path: str) -> None:
    """The counters kept on apply equal a fresh count of the tables (but recorded_<state>:
    every outcome ever recorded, which no count of the rows can give)."""
    conn = sqlite3.connect(db_path)
    try:
        recount = history.recount_counters(conn)
    finally:
        conn.close()
    kept = reader.counters()
    assert {k: v for k, v in kept.items() if not k.startswith("recorded_")} == {
        k: v for k, v in recount.items() if not k.startswith("recorded_")}


def advance_schedules(log: Log, db_path: str, next_fire_at: int) -> None:
    """The planner's PLAN that moves every due schedule on to `next_fire_at`."""
    pipeline = PipelineReader(db_path)
    due = pipeline.due_schedules(next_fire_at + 86400, 100)
    pipeline.close()
    log.ok(messages.PLAN, messages.Plan(advances=[
        messages.Advance(d.id, next_fire_at, next_fire_at - 60) for d in due]).encode())


def test_redelivering_a_run_now_keeps_its_data_and_id(log: Log, reader: Reader,
                                                      db_path: str) -> None:
    project = log.project()
    job = log.job(project["id"], "* * * * *")
    run = run_now(log, job, "override", ts_ms=TICK * 1000)
    settle(log, run["execution_id"], run["batch_id"], "failed", status=503)
    started = redeliver(log, run["execution_id"])["data"]
    assert started["batch_id"].endswith("-m1") and started["trigger"] == "manual"
    pipeline = PipelineReader(db_path)
    [planned] = pipeline.unfinished_of_batch(started["batch_id"])
    assert planned.data == "override"
    pipeline.close()
    settle(log, run["execution_id"], started["batch_id"])
    [row] = reader.list_executions(job_id=job["id"]).rows
    assert (row["execution_id"], row["state"], row["redeliveries"]) == (
        run["execution_id"], "succeeded", 1)
    counts = rollup(reader, project["id"], TICK - TICK % 60)
    assert (counts["succeeded"], counts["failed"]) == (1, 0)


@pytest.mark.parametrize(("execution_id", "status", "fragment"), [
    ("nonsense", 400, "is not an execution id"),
    ("JOB-1", 404, "is not in the history"),
    ("999999-1", 404, "job 999999 does not exist"),
    ("JOB-1-m99", 404, "is not in the history"),
])
def test_a_redelivery_of_what_is_not_recorded_is_refused(log: Log, execution_id: str,
                                                         status: int, fragment: str) -> None:
    project = log.project()
    job = log.job(project["id"], "* * * * *")
    refused = redeliver(log, execution_id.replace("JOB", str(job["id"])))
    assert refused["ok"] is False and refused["error"]["status"] == status, refused
    assert fragment in refused["error"]["message"]


def test_a_scheduled_tick_cannot_be_redelivered(log: Log) -> None:
    project = log.project()
    job = log.job(project["id"], "* * * * *")
    plan_tick(log, job, TICK)
    refused = redeliver(log, f"{job['id']}-{TICK}")
    assert refused["error"]["status"] == 409 and refused["error"]["code"] == "execution_in_flight"


def backfill(log: Log, job: dict[str, Any], start: int, end: int, **kw: Any) -> Any:
    return log.apply(messages.JOB_BACKFILL,
                     messages.JobBackfill(job_id=job["id"], start=start, end=end).encode(), **kw)


def test_a_backfill_fires_the_past_ticks_never_recorded_once_each(log: Log, reader: Reader,
                                                                  db_path: str) -> None:
    project = log.project()
    job = log.job(project["id"], "* * * * *", ts_ms=TS_MS - 3600_000)  # created an hour ago
    start = TS_S - TS_S % 60 - 600  # ten minutes before the command, on a minute
    recorded = plan_tick(log, job, start + 60)
    settle(log, f"{job['id']}-{start + 60}", recorded, "failed", status=500)
    plan_tick(log, job, start + 120)  # in flight
    advance_schedules(log, db_path, TS_S - TS_S % 60 + 60)  # the planner is past TS_S
    now_ms = TS_MS + 1000
    answer = backfill(log, job, start, TS_S, ts_ms=now_ms)["data"]
    assert answer == {"job_id": job["id"], "from": start, "to": TS_S, "count": 9, "ticks": 11,
                      "skipped": {"recorded": 1, "in_flight": 1, "not_yet_planned": 0},
                      "first_ticks": [start] + [start + 60 * k for k in range(3, 11)]}
    pipeline = PipelineReader(db_path)
    requested = pipeline.requested_batches()
    assert len(requested) == 9 and all(b.startswith("backfill-") for b in requested)
    again = backfill(log, job, start, TS_S, ts_ms=now_ms)["data"]
    assert (again["count"], again["skipped"]["in_flight"]) == (0, 10)  # nothing twice
    for batch_id in requested:
        tick = pipeline.batch_fire_at(batch_id)
        assert settle(log, f"{job['id']}-{tick}", batch_id) == {"settled": 1}
    rows = reader.list_executions(job_id=job["id"]).rows
    assert {r["scheduled_at"]: r["trigger"] for r in rows} == {
        **{start + 60 * k: "backfill" for k in range(11) if k not in (1, 2)},
        start + 60: "schedule"}
    pipeline.close()


def test_a_backfill_leaves_the_planners_ticks_and_refuses_bad_ranges(log: Log,
                                                                    db_path: str) -> None:
    project = log.project()
    job = log.job(project["id"], "* * * * *", ts_ms=TS_MS - 3600_000)
    advance_schedules(log, db_path, TS_S - TS_S % 60 - 120)  # a planner two minutes behind
    answer = backfill(log, job, TS_S - 600, TS_S)["data"]
    assert answer["skipped"]["not_yet_planned"] > 0
    assert all(t < TS_S - TS_S % 60 - 120 for t in answer["first_ticks"])
    future = backfill(log, job, TS_S - 60, TS_S + 60)
    assert future["error"]["status"] == 400 and "is in the future" in future["error"]["message"]
    backwards = backfill(log, job, TS_S - 60, TS_S - 120)
    assert "is before from" in backwards["error"]["message"]
    huge = backfill(log, job, TS_S - 86400 * 7, TS_S - 3600)
    assert huge["error"]["code"] == "too_many_ticks" and "1000 or fewer" in huge["error"]["message"]
    assert backfill(log, {"id": 999999}, TS_S - 60, TS_S)["error"]["status"] == 404


def test_retention_and_deletes_keep_the_counters_exact(log: Log, reader: Reader,
                                                       db_path: str) -> None:
    project = log.project()
    job = log.job(project["id"], "* * * * *")
    other = log.job(project["id"], "* * * * *")
    for target in (job, other):
        for state in ("succeeded", "failed"):
            run = run_now(log, target, ts_ms=TICK * 1000)
            settle(log, run["execution_id"], run["batch_id"], state, status=200)
    run_now(log, job)  # unsettled
    assert_counters_recount(reader, db_path)
    log.ok(messages.PRUNE, messages.Prune(before=TICK, succeeded_before=TICK + 1,
                                          limit=100).encode())
    assert [r["state"] for r in reader.list_executions(job_id=job["id"]).rows] == ["failed"]
    assert_counters_recount(reader, db_path)
    log.ok(messages.JOB_DELETE, {"id": job["id"]})
    assert_counters_recount(reader, db_path)
    assert reader.list_executions(job_id=other["id"]).total == 1  # its failure is kept


def test_a_redelivery_whose_row_was_pruned_meanwhile_is_recorded_and_counted_once(
        log: Log, reader: Reader, db_path: str) -> None:
    project = log.project()
    job = log.job(project["id"], "* * * * *")
    batch = plan_tick(log, job, TICK)
    eid = f"{job['id']}-{TICK}"
    settle(log, eid, batch)
    started = redeliver(log, eid)["data"]
    log.ok(messages.PRUNE, messages.Prune(before=TICK + 1, limit=100).encode())
    assert reader.list_executions(job_id=job["id"]).rows == []  # retention took it
    settle(log, eid, started["batch_id"], "failed", status=502)
    [row] = reader.list_executions(job_id=job["id"]).rows
    assert (row["state"], row["redeliveries"], row["http_status"]) == ("failed", 1, 502)
    counts = rollup(reader, project["id"], TICK - TICK % 60)
    assert (counts["succeeded"], counts["failed"]) == (1, 0)  # its first outcome, once
    assert_counters_recount(reader, db_path)
