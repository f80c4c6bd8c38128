"""PLAN and RESULT commands, and the planner's reads, on a real SQLite file."""

from __future__ import annotations

from scheduler0 import messages
from scheduler0.store import Reader
from scheduler0.store.pipeline import PipelineReader
from tests.store.helpers import TS_S, Log


def planned(log: Log, job_id: int, project_id: int, tick: int, batch: str = "b1") -> dict:
    return log.ok(messages.PLAN, {"batches": [{"batch_id": batch, "node_id": 1, "scheduled_at": tick,
                                               "rows": [[job_id, project_id]]}],
                                  "missed": [], "advances": []})


def test_plan_records_scheduled_and_missed_and_advances(log: Log, reader: Reader, db_path: str):
    project = log.project()
    job = log.job(project["id"], "@every 1m")
    pipeline = PipelineReader(db_path)
    [due] = pipeline.due_schedules(TS_S + 3600, 10)
    data = log.ok(messages.PLAN, {
        "batches": [{"batch_id": "b1", "node_id": 1, "scheduled_at": TS_S + 60,
                     "rows": [[job["id"], project["id"]]]}],
        "missed": [{"scheduled_at": TS_S + 120, "rows": [[job["id"], project["id"]]]}],
        "advances": [[due.id, TS_S + 180, TS_S + 120]]})
    assert data == {"scheduled": 1, "missed": 1, "advanced": 1}
    recorded = reader.list_executions(job_id=job["id"])
    scheduled = reader.list_executions(job_id=job["id"], state="scheduled")
    assert (recorded.total, scheduled.total) == (1, 1)
    assert {(r["execution_id"], r["state"]) for r in recorded.rows + scheduled.rows} == {
        (f"{job['id']}-{TS_S + 60}", "scheduled"), (f"{job['id']}-{TS_S + 120}", "missed")}
    assert pipeline.due_schedules(TS_S + 179, 10) == []
    assert pipeline.due_schedules(TS_S + 180, 10)[0].next_fire_at == TS_S + 180
    pipeline.close()


def test_replanning_a_tick_changes_nothing(log: Log, reader: Reader):
    project = log.project()
    job = log.job(project["id"])
    assert planned(log, job["id"], project["id"], TS_S + 60)["scheduled"] == 1
    assert planned(log, job["id"], project["id"], TS_S + 60)["scheduled"] == 0
    assert reader.list_executions(job_id=job["id"], state="scheduled").total == 1


def test_result_settles_each_execution_once(log: Log, reader: Reader):
    project = log.project()
    job = log.job(project["id"])
    planned(log, job["id"], project["id"], TS_S + 60)
    eid = f"{job['id']}-{TS_S + 60}"
    first = log.ok(messages.RESULT, {"rows": [[eid, "succeeded", 1, 200, None, 2, 10, 20]]})
    again = log.ok(messages.RESULT, {"rows": [[eid, "failed", 4, 500, "HTTP 500", 3, 30, 40]]})
    assert (first, again) == ({"settled": 1}, {"settled": 0})
    [row] = reader.list_executions(job_id=job["id"]).rows
    assert (row["state"], row["attempts"], row["http_status"], row["node_id"]) == ("succeeded", 1, 200, 2)
    assert (row["started_at_ms"], row["finished_at_ms"]) == (10, 20)
    assert reader.get_job(job["id"])["last_execution_at"] == TS_S + 60
    assert reader.list_executions(job_id=job["id"], state="scheduled").rows == []


def test_result_refuses_an_unknown_state(log: Log):
    error = log.refused(messages.RESULT, {"rows": [["1-1", "exploded", 1, None, None, 1, 0, 0]]})
    assert error["status"] == 400 and "exploded" in error["message"]


def test_unfinished_batches_and_jobs_of_schedules(log: Log, db_path: str):
    project = log.project()
    a = log.job(project["id"], "@every 1m")
    b = log.job(project["id"], "@every 1m", paused=True)
    planned(log, a["id"], project["id"], TS_S + 60, batch="bx")
    pipeline = PipelineReader(db_path)
    [due] = pipeline.due_schedules(TS_S + 3600, 10)
    jobs = pipeline.jobs_of_schedules([due.id])
    assert [j.id for j in jobs[due.id]] == [a["id"]]  # paused job b is not planned
    assert b["paused"] is True
    assert jobs[due.id][0].created_at == TS_S
    assert [j.id for j in pipeline.unfinished_batches()["bx"]] == [a["id"]]
    assert pipeline.batch_fire_at("bx") == TS_S + 60
    log.ok(messages.RESULT, {"rows": [[f"{a['id']}-{TS_S + 60}", "failed", 4, None, "timeout", 1, 1, 2]]})
    assert pipeline.unfinished_of_batch("bx") == []
    assert pipeline.project_secrets([project["id"]]) == {project["id"]: "s3cret"}
    pipeline.close()
