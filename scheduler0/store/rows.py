"""SQL column lists and the API-facing row dicts built from them.

One place defines each shape, so the StateMachine's results and the Reader's answers match:

    credential  {id, api_key, archived, created_at_ms, updated_at_ms, role, projects}
                (projects: a sorted list of ids, or None for every project;
                 + secret_hash only from Reader.credential_by_api_key)
    project     {id, name, description, created_at_ms, updated_at_ms,
                 previous_signing_secret_expires_at, notification_url, notification_format,
                 rate_limit}  (rate_limit: {concurrency, per_second}, or None: unlimited)
                (+ signing_secret only in project.create and a rotating project.update)
    job         {id, project_id, spec, timezone, callback_url, data, execution_type,
                 start_date, end_date, paused, misfire_policy, method, headers, timeout,
                 retries, retry_delay, success_codes, created_at_ms, updated_at_ms,
                 resolved_spec, next_execution_at, completed, last_execution_at, last_state,
                 last_http_status}
                (the columns and their order: scheduler0.vocabulary.JOB_FIELDS)
    execution   {execution_id, job_id, project_id, scheduled_at, state, attempts,
                 http_status, node_id, batch_id, error, planned_at_ms, started_at_ms,
                 finished_at_ms, trigger, redeliveries}
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from scheduler0.messages import fold_column, unfold_column
from scheduler0.schedule import ScheduleCache
from scheduler0.store import history, schedules
from scheduler0.vocabulary import JOB_COLUMNS, JOB_FIELDS

CREDENTIAL_COLUMNS = "id, api_key, archived, created_at_ms, updated_at_ms, role, project_ids"
PROJECT_COLUMNS = ("id, name, description, created_at_ms, updated_at_ms, "
                   "previous_signing_secret_expires_at, notification_url, notification_format, "
                   "rate_concurrency, rate_per_second")

# `j` is jobs (every column, in vocabulary.JOB_COLUMNS order), `s` its schedule, `l` its last
# result. The last seven columns feed next_execution_at, resolved_spec, completed and the last
# result: the schedule row holds the job's resolved spec (store/schedules.py).
_SCHEDULE_SELECT = "s.next_fire_at, s.spec, s.timezone, s.anchor"
JOB_SELECT = (f"SELECT {', '.join('j.' + column for column in JOB_COLUMNS)}, {_SCHEDULE_SELECT}, "
              "l.scheduled_at, l.state, l.http_status "
              "FROM jobs j JOIN schedules s ON s.id = j.schedule_id "
              "LEFT JOIN job_last l ON l.job_id = j.id")
# The jobs whose last result failed, driven from the failing index (few rows) rather than
# from every job; CROSS JOIN makes SQLite keep that order of the loops.
FAILING_JOB_SELECT = (
    f"SELECT {', '.join('j.' + column for column in JOB_COLUMNS)}, {_SCHEDULE_SELECT}, "
    "l.scheduled_at, l.state, l.http_status "
    "FROM job_last l CROSS JOIN jobs j ON j.id = l.job_id "
    "JOIN schedules s ON s.id = j.schedule_id")
# The jobs of a label selector, driven from the ranges `x` of the label index
# (store/job_labels.py) in the same way.
LABELLED_JOB_SELECT = (
    f"SELECT {', '.join('j.' + column for column in JOB_COLUMNS)}, {_SCHEDULE_SELECT}, "
    "l.scheduled_at, l.state, l.http_status "
    "FROM job_labels x CROSS JOIN jobs j ON j.id BETWEEN x.first_id AND x.last_id "
    "JOIN schedules s ON s.id = j.schedule_id LEFT JOIN job_last l ON l.job_id = j.id")
# The jobs whose names start with a prefix, driven from the name index (a range of it).
NAMED_JOB_SELECT = JOB_SELECT.replace("FROM jobs j ", "FROM jobs j INDEXED BY jobs_name ", 1)
_LAST_COLUMNS = 3
_SCHEDULE_COLUMNS = 4
# The columns of `jobs` a job row does not show (the store's own).
_HIDDEN_COLUMNS = tuple(f.column for f in JOB_FIELDS if f.column and not f.api)

EXECUTION_FIELDS = ("execution_id", "job_id", "project_id", "scheduled_at", "state",
                    "attempts", "http_status", "node_id", "batch_id", "error", "planned_at_ms",
                    "started_at_ms", "finished_at_ms", "trigger", "redeliveries")


def credential(row: Sequence[Any]) -> dict[str, Any]:
    return {"id": row[0], "api_key": row[1], "archived": bool(row[2]),
            "created_at_ms": row[3], "updated_at_ms": row[4], "role": row[5],
            "projects": credential_projects(row[6])}


def credential_projects(stored: str | None) -> list[int] | None:
    """The `project_ids` column read back: None (every project) or the ids."""
    return None if stored is None else [int(p) for p in json.loads(stored)]


def stored_projects(projects: Sequence[int] | None) -> str | None:
    """What the `project_ids` column keeps for a credential limited to `projects`."""
    return None if projects is None else json.dumps(sorted(set(projects)))


def project(row: Sequence[Any]) -> dict[str, Any]:
    return {"id": row[0], "name": row[1], "description": row[2],
            "created_at_ms": row[3], "updated_at_ms": row[4],
            "previous_signing_secret_expires_at": row[5], "notification_url": row[6],
            "notification_format": row[7], "rate_limit": rate_limit(row[8], row[9])}


def rate_limit(concurrency: int | None, per_second: float | None) -> dict[str, Any] | None:
    """A project's rate limit columns read back (None: unlimited)."""
    if concurrency is None and per_second is None:
        return None
    return {"concurrency": concurrency, "per_second": per_second}


def job(row: Sequence[Any], cache: ScheduleCache) -> dict[str, Any]:
    """A JOB_SELECT row as the API shows it."""
    last_at, last_code, last_status = row[-_LAST_COLUMNS:]
    schedule_next, *key = row[-_LAST_COLUMNS - _SCHEDULE_COLUMNS:-_LAST_COLUMNS]
    columns = dict(zip(JOB_COLUMNS, row, strict=False))
    return job_of(columns, schedules.ScheduleKey(*key), schedule_next, cache, last_at,
                  None if last_code is None else history.CODE_STATES[last_code], last_status)


def job_of(columns: dict[str, Any], key: schedules.ScheduleKey, schedule_next: int | None,
           cache: ScheduleCache, last_execution_at: int | None = None,
           last_state: str | None = None, last_http_status: int | None = None
           ) -> dict[str, Any]:
    """The job whose `jobs` columns are `columns` and whose schedule row is `key` (its
    resolved spec), as the API shows it: without the store's own columns, with its schedule's
    next fire time restricted to the job's window, whether any is left, and its last result.
    `columns` becomes the answer (job.create hands over 10,000 at a time)."""
    for hidden in _HIDDEN_COLUMNS:
        del columns[hidden]
    paused = columns["paused"] = bool(columns["paused"])
    columns["resolved_spec"] = key.spec
    columns["next_execution_at"] = schedules.job_next_fire(
        cache, key, schedule_next, created_s=columns["created_at_ms"] // 1000,
        start_date=columns["start_date"], end_date=columns["end_date"], paused=paused)
    columns["completed"] = schedules.no_tick_left(schedule_next, columns["end_date"])
    columns["last_execution_at"] = last_execution_at
    columns["last_state"] = last_state
    columns["last_http_status"] = last_http_status
    return columns


# The `jobs` columns a job row shows, in job_of's order (the next and last fields follow).
_SHOWN_COLUMNS = tuple(column for column in JOB_COLUMNS if column not in _HIDDEN_COLUMNS)
# What a job's next fire time depends on, beyond its schedule row's (see job_of).
_NEXT_INPUTS = ("start_date", "end_date", "paused", "created_at_ms")
# The schedule row's columns job_columns takes (`rows` there), as JOB_SELECT reads them.
SCHEDULE_FIELDS = ("next_fire_at", "spec", "timezone", "anchor")


def job_columns(columns: Mapping[str, Any], count: int, schedule_rows: Mapping[str, Any],
                cache: ScheduleCache) -> dict[str, Any]:
    """`job_of` for `count` jobs just created (no last result yet), in columns: each of
    `columns` (the jobs' JOB_COLUMNS) and of `schedule_rows` (their schedule rows'
    SCHEDULE_FIELDS) is a list of `count` values or the one value every job has, as in
    messages.JobCreate. The same fields, in the same order, with the same values; a next fire
    time is computed once per distinct combination of what it depends on, where job_of
    computes it once per job."""
    result = {column: columns[column] for column in _SHOWN_COLUMNS}
    paused = columns["paused"]
    result["paused"] = [bool(p) for p in paused] if isinstance(paused, list) else bool(paused)
    result["resolved_spec"] = schedule_rows["spec"]
    inputs = [result[name] if name == "paused" else columns[name] for name in _NEXT_INPUTS]
    inputs += [schedule_rows[name] for name in SCHEDULE_FIELDS]
    if not any(isinstance(column, list) for column in inputs):
        result["next_execution_at"], result["completed"] = _next_execution(*inputs, cache=cache)
    else:
        per_job = list(zip(*(unfold_column(column, count) for column in inputs), strict=True))
        known = {combination: _next_execution(*combination, cache=cache)
                 for combination in dict.fromkeys(per_job)}
        result["next_execution_at"] = fold_column([known[c][0] for c in per_job])
        result["completed"] = fold_column([known[c][1] for c in per_job])
    result["last_execution_at"] = result["last_state"] = result["last_http_status"] = None
    return result


def _next_execution(start_date: int | None, end_date: int | None, paused: bool,
                    created_at_ms: int, schedule_next: int | None, spec: str, timezone: str,
                    anchor: int, *, cache: ScheduleCache) -> tuple[int | None, bool]:
    """(next_execution_at, completed) of a job just created."""
    key = schedules.ScheduleKey(spec, timezone, anchor)
    return (schedules.job_next_fire(cache, key, schedule_next, created_s=created_at_ms // 1000,
                                    start_date=start_date, end_date=end_date, paused=paused),
            schedules.no_tick_left(schedule_next, end_date))


def fetch_job(conn: sqlite3.Connection, job_id: int, cache: ScheduleCache) -> dict[str, Any] | None:
    row = conn.execute(JOB_SELECT + " WHERE j.id = ?", (job_id,)).fetchone()
    return None if row is None else job(row, cache)
