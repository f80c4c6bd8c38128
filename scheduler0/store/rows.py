"""SQL column lists and the API-facing row dicts built from them.

One place defines each shape, so the StateMachine's results and the Reader's answers match:

    credential  {id, api_key, archived, created_at_ms, updated_at_ms}
                (+ secret_hash only from Reader.credential_by_api_key)
    project     {id, name, description, created_at_ms, updated_at_ms}
                (+ signing_secret only in project.create and a rotating project.update)
    job         {id, project_id, spec, timezone, callback_url, data, execution_type,
                 start_date, end_date, paused, misfire_policy, created_at_ms, updated_at_ms,
                 next_execution_at, last_execution_at}
                (the columns and their order: scheduler0.vocabulary.JOB_FIELDS)
    execution   {execution_id, job_id, project_id, scheduled_at, state, attempts,
                 http_status, node_id, batch_id, error, planned_at_ms, started_at_ms,
                 finished_at_ms}
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from scheduler0.schedule import ScheduleCache
from scheduler0.store import schedules
from scheduler0.vocabulary import JOB_COLUMNS, JOB_FIELDS

CREDENTIAL_COLUMNS = "id, api_key, archived, created_at_ms, updated_at_ms"
PROJECT_COLUMNS = "id, name, description, created_at_ms, updated_at_ms"

# `j` is jobs (every column, in vocabulary.JOB_COLUMNS order), `s` its schedule. The last two
# columns feed next/last_execution_at.
JOB_SELECT = (f"SELECT {', '.join('j.' + column for column in JOB_COLUMNS)}, s.next_fire_at, "
              "(SELECT max(e.scheduled_at) FROM executions e WHERE e.job_id = j.id) "
              "FROM jobs j JOIN schedules s ON s.id = j.schedule_id")
# The columns of `jobs` a job row does not show (the store's own).
_HIDDEN_COLUMNS = tuple(f.column for f in JOB_FIELDS if f.column and not f.api)

EXECUTION_COLUMNS = ("execution_id, job_id, project_id, scheduled_at, state, attempts, "
                     "http_status, node_id, batch_id, error, planned_at_ms, started_at_ms, "
                     "finished_at_ms")
EXECUTION_FIELDS = tuple(name.strip() for name in EXECUTION_COLUMNS.split(","))


def credential(row: Sequence[Any]) -> dict[str, Any]:
    return {"id": row[0], "api_key": row[1], "archived": bool(row[2]),
            "created_at_ms": row[3], "updated_at_ms": row[4]}


def project(row: Sequence[Any]) -> dict[str, Any]:
    return {"id": row[0], "name": row[1], "description": row[2],
            "created_at_ms": row[3], "updated_at_ms": row[4]}


def job(row: Sequence[Any], cache: ScheduleCache) -> dict[str, Any]:
    """A JOB_SELECT row as the API shows it."""
    return job_of(dict(zip(JOB_COLUMNS, row, strict=False)), row[-2], row[-1], cache)


def job_of(columns: dict[str, Any], schedule_next: int | None,
           last_execution_at: int | None, cache: ScheduleCache) -> dict[str, Any]:
    """The job whose `jobs` columns are `columns`, as the API shows it: without the store's
    own columns, with its schedule's next fire time restricted to the job's window and its
    latest tick. `columns` becomes the answer (job.create hands over 10,000 at a time)."""
    key = schedules.key_of(columns["spec"], columns["timezone"], columns["anchor"])
    for hidden in _HIDDEN_COLUMNS:
        del columns[hidden]
    paused = columns["paused"] = bool(columns["paused"])
    columns["next_execution_at"] = schedules.job_next_fire(
        cache, key, schedule_next, created_s=columns["created_at_ms"] // 1000,
        start_date=columns["start_date"], end_date=columns["end_date"], paused=paused)
    columns["last_execution_at"] = last_execution_at
    return columns


def execution(row: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(EXECUTION_FIELDS, row, strict=True))


def fetch_job(conn: sqlite3.Connection, job_id: int, cache: ScheduleCache) -> dict[str, Any] | None:
    row = conn.execute(JOB_SELECT + " WHERE j.id = ?", (job_id,)).fetchone()
    return None if row is None else job(row, cache)
