"""A job's delivery settings in the store: columns that are NULL (the node's settings) in every
job a file had before them, the apply's second check of what a command carries, and the
planner's read, which hands each job's settings to its batch."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from scheduler0 import messages
from scheduler0.store import Reader, StateMachine
from scheduler0.store.pipeline import PipelineReader
from tests.store.helpers import TS_S, Log, file_at_version, job_input

SETTINGS = ("method", "headers", "timeout", "retries", "retry_delay", "success_codes")
STORED = {"method": "PUT", "headers": '{"Authorization":"Bearer t","X-Tenant":"acme"}',
          "timeout": 2.5, "retries": 1, "retry_delay": 0.25, "success_codes": "[200,404]"}


def test_a_file_from_before_the_settings_keeps_every_job_as_it_was(db_path: str) -> None:
    conn = file_at_version(db_path, 3)  # a file at version 3, written by hand
    conn.execute("INSERT INTO projects (name, signing_secret, created_at_ms, updated_at_ms) "
                 "VALUES ('old', 's', 1, 1)")
    conn.execute("INSERT INTO schedules (spec, timezone, anchor, next_fire_at) "
                 f"VALUES ('@every 1m', 'UTC', {TS_S}, {TS_S + 60})")
    conn.execute("INSERT INTO jobs (project_id, schedule_id, spec, timezone, anchor, "
                 "callback_url, data, execution_type, paused, misfire_policy, created_at_ms, "
                 "updated_at_ms) VALUES (1, 1, '@every 1m', 'UTC', ?, 'http://127.0.0.1:9/h', "
                 "'d', 'http', 0, 'run_once', 1, 1)", (TS_S,))
    conn.close()
    StateMachine(db_path).close()  # upgrades it
    conn = sqlite3.connect(db_path)
    assert conn.execute(f"SELECT {', '.join(SETTINGS)} FROM jobs").fetchall() == [
        (None,) * len(SETTINGS)]
    conn.close()
    reader = Reader(db_path)
    job = reader.get_job(1)
    assert job is not None and {name: job[name] for name in SETTINGS} == dict.fromkeys(SETTINGS)
    reader.close()
    pipeline = PipelineReader(db_path)
    [planned] = pipeline.jobs_of_schedules([1])[1]
    assert planned.delivery is None and planned.callback_url == "http://127.0.0.1:9/h"
    pipeline.close()


def test_settings_are_stored_and_read_back(log: Log, reader: Reader) -> None:
    project = log.project()
    [job] = log.jobs(job_input(project["id"], **STORED))
    assert {name: job[name] for name in SETTINGS} == STORED
    assert reader.get_job(job["id"]) == job
    changed = log.ok(messages.JOB_UPDATE, {"id": job["id"], "changes": {
        "method": None, "timeout": 9, "headers": None}})
    assert (changed["method"], changed["timeout"], changed["headers"]) == (None, 9.0, None)
    assert changed["retries"] == 1 and reader.get_job(job["id"]) == changed


def test_columns_keep_shared_settings_one_value(log: Log) -> None:
    project = log.project()
    created = log.ok(messages.JOB_CREATE, {"count": 3, "columns": {
        "project_id": project["id"], "spec": "*/5 * * * *", "callback_url": "http://x/",
        "data": ["a", "b", "c"], **STORED}})
    columns = created["columns"]
    assert {name: columns[name] for name in SETTINGS} == STORED


@pytest.mark.parametrize(("field", "value", "message"), [
    ("method", "DELETE", "method must be one of POST, PUT, GET or null, got 'DELETE'"),
    ("headers", "{", "headers must be the JSON text of an object of header names to values"),
    ("headers", '["X-A"]', "headers must be the JSON text of an object"),
    ("headers", {"X-A": "1"}, "headers must be a string, got dict"),
    ("headers", '{"Host":"h"}', "headers: 'Host' is set by the server"),
    ("headers", '{"X-A":"a\\nb"}', "headers: contains a line break"),
    ("headers", '{"X-A":1}', "headers: the value of 'X-A' must be a string"),
    ("headers", '{"x-a":"1","X-A":"2"}', "headers: 'X-A' is given twice"),
    ("headers", '{"X A":"1"}', "headers: 'X A' is not a valid header name"),
    ("timeout", 0.0, "timeout must be a number of seconds 0.1-3600 or null, got 0.0"),
    ("timeout", "5", "timeout must be a number of seconds 0.1-3600 or null, got '5'"),
    ("retries", 21, "retries must be 0-20 or null, got 21"),
    ("retries", 1.5, "retries must be an integer, got float"),
    ("retry_delay", -1.0, "retry_delay must be a number of seconds 0-3600 or null, got -1.0"),
    ("success_codes", "[]", "success_codes must hold 1-50 distinct HTTP statuses 100-599"),
    ("success_codes", "[200,200]", "success_codes must hold 1-50 distinct HTTP statuses"),
    ("success_codes", "[99]", "success_codes must hold 1-50 distinct HTTP statuses"),
    ("success_codes", "200", "success_codes must be the JSON text of an array of HTTP statuses"),
])
def test_a_command_with_bad_settings_is_refused_naming_them(log: Log, field: str, value: Any,
                                                            message: str) -> None:
    project = log.project()
    refusal = log.refused(messages.JOB_CREATE, {"jobs": [job_input(project["id"],
                                                                   **{field: value})]})
    assert refusal["status"] == 400 and message in refusal["message"], refusal
    job = log.job(project["id"])
    refusal = log.refused(messages.JOB_UPDATE, {"id": job["id"], "changes": {field: value}})
    assert message in refusal["message"], refusal


def test_the_planner_reads_each_jobs_settings(log: Log, db_path: str) -> None:
    project = log.project()
    jobs = log.jobs(job_input(project["id"], "@every 1m", **STORED),
                    job_input(project["id"], "@every 1m"),
                    job_input(project["id"], "@every 1m", **STORED),
                    job_input(project["id"], "@every 1m", retries=0))
    pipeline = PipelineReader(db_path)
    [due] = pipeline.due_schedules(TS_S + 3600, 10)
    planned = pipeline.jobs_of_schedules([due.id])[due.id]
    expected = messages.Delivery(method="PUT", headers=(("Authorization", "Bearer t"),
                                                        ("X-Tenant", "acme")),
                                 timeout=2.5, retries=1, retry_delay=0.25,
                                 success_codes=(200, 404))
    assert [p.delivery for p in planned] == [expected, None, expected,
                                             messages.Delivery(retries=0)]
    assert planned[0].delivery is planned[2].delivery  # one object for equal settings
    # A re-dispatch reads them too: the node it goes to looks nothing up.
    log.ok(messages.PLAN, {"batches": [{"batch_id": "b1", "node_id": 1,
                                        "scheduled_at": TS_S + 60,
                                        "rows": [[j["id"], project["id"]] for j in jobs]}]})
    assert [p.delivery for p in pipeline.unfinished_of_batch("b1")] == [
        p.delivery for p in planned]
    pipeline.close()
