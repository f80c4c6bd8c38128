"""job.* and prune commands: effects, shared schedule rows, windows, refusals."""

from __future__ import annotations

import sqlite3

import pytest

from scheduler0 import messages
from scheduler0.store import Reader
from scheduler0.store.handlers.jobs import MAX_JOBS_PER_COMMAND
from scheduler0.store.handlers.retention import MAX_PRUNE
from scheduler0.vocabulary import execution_id
from tests.store.helpers import TS_MS, TS_S, Log, execution, insert_executions, job_input

NEXT_5_MIN = 1_700_000_100  # the first */5 minute strictly after TS_S


def _schedules(db_path: str) -> list[tuple[str, str, int, int | None]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(
            "SELECT spec, timezone, anchor, next_fire_at FROM schedules ORDER BY id").fetchall()
    finally:
        conn.close()


def test_create_returns_full_rows_with_ids_and_next_time(log: Log, reader: Reader) -> None:
    project = log.project()
    rows = log.jobs(job_input(project["id"]), job_input(project["id"], data=None))
    assert rows[0] == {
        "id": 1, "project_id": project["id"], "spec": "*/5 * * * *", "timezone": "UTC",
        "callback_url": "http://127.0.0.1:9/hook", "data": "payload", "execution_type": "http",
        "start_date": None, "end_date": None, "paused": False, "misfire_policy": "run_once",
        "name": None, "description": "", "labels": None,
        "method": None, "headers": None, "timeout": None, "retries": None, "retry_delay": None,
        "success_codes": None,
        "created_at_ms": TS_MS, "updated_at_ms": TS_MS, "next_execution_at": NEXT_5_MIN,
        "resolved_spec": "*/5 * * * *", "completed": False,
        "last_execution_at": None, "last_state": None, "last_http_status": None}
    assert rows[1]["id"] == 2 and rows[1]["data"] is None
    assert [reader.get_job(1), reader.get_job(2)] == rows


def test_create_fills_defaults(log: Log) -> None:
    project = log.project()
    row = log.jobs({"project_id": project["id"], "spec": "@daily",
                    "callback_url": "http://x"})[0]
    assert (row["timezone"], row["data"], row["execution_type"], row["paused"],
            row["misfire_policy"]) == ("UTC", None, "http", False, "run_once")


def test_ids_are_never_reused(log: Log) -> None:
    project = log.project()
    first = log.job(project["id"])
    log.ok(messages.JOB_DELETE, {"id": first["id"]})
    assert log.job(project["id"])["id"] == first["id"] + 1


def test_jobs_with_the_same_cron_spec_share_one_schedule_row(log: Log) -> None:
    project = log.project()
    log.jobs(job_input(project["id"], "*/5 * * * *", anchor=1),
             job_input(project["id"], " */5   *  * * * ", anchor=2, timezone="utc"))
    log.job(project["id"], "*/5 * * * *", ts_ms=TS_MS + 60_000)
    assert _schedules(log.machine.db_path) == [("*/5 * * * *", "UTC", 0, NEXT_5_MIN)]


def test_spec_and_zone_are_stored_normalised(log: Log) -> None:
    project = log.project()
    row = log.job(project["id"], "0  9 * * 1-5", timezone="america/new_york")
    assert (row["spec"], row["timezone"]) == ("0 9 * * 1-5", "America/New_York")


def test_every_jobs_are_anchored_and_do_not_share_across_anchors(log: Log) -> None:
    project = log.project()
    created = log.jobs(job_input(project["id"], "@every 90s"),
                       job_input(project["id"], "@every 90s", anchor=TS_S - 30),
                       job_input(project["id"], "@every 90s", start_date=TS_S + 1000))
    assert [row["next_execution_at"] for row in created] == [
        TS_S + 90, TS_S + 60, TS_S + 1090]
    assert [anchor for (_, _, anchor, _) in _schedules(log.machine.db_path)] == [
        TS_S, TS_S - 30, TS_S + 1000]


def test_zones_matter(log: Log) -> None:
    project = log.project()
    utc, paris = log.jobs(job_input(project["id"], "0 9 * * *"),
                          job_input(project["id"], "0 9 * * *", timezone="Europe/Paris"))
    assert utc["next_execution_at"] - paris["next_execution_at"] == 3600  # CET = UTC+1 in Nov
    assert len(_schedules(log.machine.db_path)) == 2


def test_window_start_and_end(log: Log) -> None:
    project = log.project()
    later, over, paused = log.jobs(
        job_input(project["id"], start_date=TS_S + 86_400 + 1),
        job_input(project["id"], end_date=TS_S + 10),
        job_input(project["id"], paused=True))
    assert later["next_execution_at"] == NEXT_5_MIN + 86_400
    assert over["next_execution_at"] is None
    assert paused["next_execution_at"] is None and paused["paused"] is True


def test_a_job_joining_a_lagging_schedule_never_fires_before_its_creation(
        log: Log, reader: Reader) -> None:
    project = log.project()
    old = log.job(project["id"])
    conn = sqlite3.connect(log.machine.db_path)
    with conn:  # as if the planner had not advanced this schedule for an hour
        conn.execute("UPDATE schedules SET next_fire_at = ?", (NEXT_5_MIN,))
    conn.close()
    new = log.job(project["id"], ts_ms=TS_MS + 3_600_000)
    assert new["next_execution_at"] == NEXT_5_MIN + 3600
    assert reader.get_job(old["id"])["next_execution_at"] == NEXT_5_MIN


def test_create_with_an_unknown_project_is_404_naming_it(log: Log, reader: Reader) -> None:
    project = log.project()
    error = log.refused(messages.JOB_CREATE, {"jobs": [job_input(project["id"]),
                                                       job_input(42)]})
    assert (error["status"], error["code"]) == (404, "not_found")
    assert "project 42 does not exist" in error["message"]
    assert "jobs[1].project_id" in error["message"]
    assert reader.count_jobs() == 0


def test_create_with_a_bad_spec_is_400_invalid_spec(log: Log) -> None:
    project = log.project()
    error = log.refused(messages.JOB_CREATE, {"jobs": [job_input(project["id"], "61 * * * *")]})
    assert (error["status"], error["code"]) == (400, "invalid_spec")
    assert "minute" in error["message"]


def test_create_with_a_bad_zone_is_400_invalid_spec(log: Log) -> None:
    project = log.project()
    error = log.refused(messages.JOB_CREATE,
                        {"jobs": [job_input(project["id"], timezone="Mars/Olympus")]})
    assert (error["status"], error["code"]) == (400, "invalid_spec")
    assert "Mars/Olympus" in error["message"]


@pytest.mark.parametrize("field,value,needle", [
    ("misfire_policy", "sometimes", "misfire_policy must be one of"),
    ("paused", "yes", "paused must be true or false"),
    ("start_date", "tomorrow", "start_date must be an integer"),
    ("callback_url", "", "callback_url must not be empty"),
])
def test_create_names_the_bad_field(log: Log, field: str, value: object, needle: str) -> None:
    project = log.project()
    error = log.refused(messages.JOB_CREATE, {"jobs": [job_input(project["id"]),
                                                       job_input(project["id"], **{field: value})]})
    assert error["status"] == 400
    assert error["message"].startswith(f"jobs[1].{needle}")


def test_create_refuses_more_than_the_batch_limit(log: Log) -> None:
    project = log.project()
    jobs = [job_input(project["id"])] * (MAX_JOBS_PER_COMMAND + 1)
    error = log.refused(messages.JOB_CREATE, {"jobs": jobs})
    assert (error["status"], error["code"]) == (413, "payload_too_large")


def test_ten_thousand_jobs_in_one_command(log: Log, reader: Reader) -> None:
    project = log.project()
    specs = ["*/5 * * * *", "@hourly", "0 9 * * 1-5", "@every 1m"]
    created = log.jobs(*(job_input(project["id"], specs[i % 4]) for i in range(10_000)))
    assert [row["id"] for row in created] == list(range(1, 10_001))
    assert reader.count_jobs() == 10_000
    assert len(_schedules(log.machine.db_path)) == 4


def test_ten_thousand_jobs_are_all_or_none(log: Log, reader: Reader) -> None:
    project = log.project()
    jobs = [job_input(project["id"]) for _ in range(10_000)]
    jobs[9_999] = job_input(project["id"] + 1)
    error = log.refused(messages.JOB_CREATE, {"jobs": jobs})
    assert error["status"] == 404 and "jobs[9999].project_id" in error["message"]
    assert reader.count_jobs() == 0
    assert _schedules(log.machine.db_path) == []
    assert log.job(project["id"])["id"] == 1  # no id was consumed either


def test_update_plain_fields(log: Log, reader: Reader) -> None:
    project = log.project()
    job = log.job(project["id"])
    changes = {"callback_url": "http://other", "data": None, "paused": True,
               "misfire_policy": "skip", "start_date": TS_S, "end_date": TS_S + 10**6}
    row = log.ok(messages.JOB_UPDATE, {"id": job["id"], "changes": changes},
                 ts_ms=TS_MS + 1000)
    assert {k: row[k] for k in changes} == changes
    assert row["updated_at_ms"] == TS_MS + 1000 and row["created_at_ms"] == TS_MS
    assert row["next_execution_at"] is None  # paused
    assert reader.get_job(job["id"]) == row


def test_update_spec_moves_the_job_and_drops_the_empty_schedule(log: Log) -> None:
    project = log.project()
    job = log.job(project["id"], "*/5 * * * *")
    log.job(project["id"], "@hourly")
    row = log.ok(messages.JOB_UPDATE, {"id": job["id"], "changes": {"spec": "@hourly"}},
                 ts_ms=TS_MS + 1000)
    assert row["spec"] == "@hourly"
    assert row["next_execution_at"] == 1_700_002_800  # the shared @hourly row's time
    assert [spec for (spec, *_) in _schedules(log.machine.db_path)] == ["@hourly"]


def test_update_zone_creates_a_schedule_from_the_update_time(log: Log) -> None:
    project = log.project()
    job = log.job(project["id"], "0 9 * * *")
    later = TS_MS + 86_400_000
    row = log.ok(messages.JOB_UPDATE, {"id": job["id"], "changes": {"timezone": "Asia/Tokyo"}},
                 ts_ms=later)
    assert row["timezone"] == "Asia/Tokyo"
    assert row["next_execution_at"] > later // 1000
    assert [tz for (_, tz, *_) in _schedules(log.machine.db_path)] == ["Asia/Tokyo"]


def test_update_to_the_same_spec_written_differently_does_not_move(log: Log) -> None:
    project = log.project()
    job = log.job(project["id"], "*/5 * * * *")
    log.ok(messages.JOB_UPDATE, {"id": job["id"], "changes": {"spec": "*/5  *  * * *"}})
    assert len(_schedules(log.machine.db_path)) == 1


def test_update_refusals(log: Log, reader: Reader) -> None:
    project = log.project()
    job = log.job(project["id"])
    bad_field = log.refused(messages.JOB_UPDATE, {"id": job["id"],
                                                  "changes": {"project_id": 9}})
    assert bad_field["status"] == 400 and "project_id cannot be changed" in bad_field["message"]
    bad_spec = log.refused(messages.JOB_UPDATE, {"id": job["id"],
                                                 "changes": {"spec": "* * *"}})
    assert (bad_spec["status"], bad_spec["code"]) == (400, "invalid_spec")
    null_spec = log.refused(messages.JOB_UPDATE, {"id": job["id"], "changes": {"spec": None}})
    assert null_spec["status"] == 400
    missing = log.refused(messages.JOB_UPDATE, {"id": 12, "changes": {"paused": True}})
    assert missing == {"status": 404, "code": "not_found", "message": "job 12 does not exist"}
    assert reader.get_job(job["id"]) == job


def test_delete_removes_the_job_its_executions_and_its_lone_schedule(
        log: Log, reader: Reader) -> None:
    project = log.project()
    lone, shared, other = log.jobs(job_input(project["id"], "@hourly"),
                                   job_input(project["id"], "@daily"),
                                   job_input(project["id"], "@daily"))
    insert_executions(log, [
        execution(job_id=lone["id"], project_id=1, scheduled_at=10),
        execution(job_id=other["id"], project_id=1, scheduled_at=10)])
    assert log.ok(messages.JOB_DELETE, {"id": lone["id"]}) == {"id": lone["id"]}
    assert log.ok(messages.JOB_DELETE, {"id": shared["id"]}) == {"id": shared["id"]}
    assert reader.get_job(lone["id"]) is None
    assert [e["execution_id"] for e in reader.list_executions().rows] == [
        execution_id(other["id"], 10)]
    assert [spec for (spec, *_) in _schedules(log.machine.db_path)] == ["@daily"]
    error = log.refused(messages.JOB_DELETE, {"id": lone["id"]})
    assert error == {"status": 404, "code": "not_found",
                     "message": f"job {lone['id']} does not exist"}


def test_last_execution_at_is_the_newest_execution(log: Log, reader: Reader) -> None:
    project = log.project()
    job = log.job(project["id"])
    insert_executions(log, [
        execution(job_id=job["id"], project_id=1, scheduled_at=t)
        for t in (100, 300, 200)])
    assert reader.get_job(job["id"])["last_execution_at"] == 300


def test_prune_deletes_the_oldest_up_to_the_limit(log: Log, reader: Reader) -> None:
    project = log.project()
    job = log.job(project["id"])
    insert_executions(log, [
        execution(job_id=job["id"], project_id=project["id"], scheduled_at=t)
        for t in range(100)])
    # One job's rows, more than the limit: a command stops inside the job and the next goes
    # on from there.
    first = log.ok(messages.PRUNE, {"before": 50, "limit": 30})
    assert first == {"deleted": 30, "more": True, "succeeded_next_job": job["id"]}
    assert log.ok(messages.PRUNE, {"before": 50, "limit": 30, "succeeded_from_job": job["id"]}
                  ) == {"deleted": 20, "more": False, "succeeded_next_job": None}
    assert log.ok(messages.PRUNE, {"before": 50, "limit": 30}) == {
        "deleted": 0, "more": False, "succeeded_next_job": None}
    page = reader.list_executions(limit=1000)
    assert page.total == 50 and min(r["scheduled_at"] for r in page.rows) == 50


def test_prune_limit_is_bounded(log: Log) -> None:
    assert log.refused(messages.PRUNE, {"before": 5, "limit": 0})["status"] == 400
    assert log.refused(messages.PRUNE, {"before": 5, "limit": MAX_PRUNE + 1})["status"] == 400
