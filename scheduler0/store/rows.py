"""SQL column lists and the API-facing row dicts built from them.

One place defines each shape, so the StateMachine's results and the Reader's answers match:

    credential  {id, api_key, archived, created_at_ms, updated_at_ms}
                (+ secret_hash only from Reader.credential_by_api_key)
    project     {id, name, description, created_at_ms, updated_at_ms}
                (+ signing_secret only in project.create and a rotating project.update)
    job         {id, project_id, spec, timezone, callback_url, data, execution_type,
                 start_date, end_date, paused, misfire_policy, created_at_ms, updated_at_ms,
                 next_execution_at, last_execution_at}
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

CREDENTIAL_COLUMNS = "id, api_key, archived, created_at_ms, updated_at_ms"
PROJECT_COLUMNS = "id, name, description, created_at_ms, updated_at_ms"

# `j` is jobs, `s` its schedule. The last two columns feed next/last_execution_at.
JOB_SELECT = """SELECT j.id, j.project_id, j.spec, j.timezone, j.callback_url, j.data,
    j.execution_type, j.start_date, j.end_date, j.paused, j.misfire_policy,
    j.created_at_ms, j.updated_at_ms, j.anchor, s.next_fire_at,
    (SELECT max(e.scheduled_at) FROM executions e WHERE e.job_id = j.id)
    FROM jobs j JOIN schedules s ON s.id = j.schedule_id"""

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
    (job_id, project_id, spec, timezone, callback_url, data, execution_type, start_date,
     end_date, paused, misfire_policy, created_at_ms, updated_at_ms, anchor, schedule_next,
     last_execution_at) = row
    next_at = schedules.job_next_fire(
        cache, schedules.key_of(spec, timezone, anchor), schedule_next,
        created_s=created_at_ms // 1000, start_date=start_date, end_date=end_date,
        paused=bool(paused))
    return {
        "id": job_id, "project_id": project_id, "spec": spec, "timezone": timezone,
        "callback_url": callback_url, "data": data, "execution_type": execution_type,
        "start_date": start_date, "end_date": end_date, "paused": bool(paused),
        "misfire_policy": misfire_policy, "created_at_ms": created_at_ms,
        "updated_at_ms": updated_at_ms, "next_execution_at": next_at,
        "last_execution_at": last_execution_at,
    }


def execution(row: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(EXECUTION_FIELDS, row, strict=True))


def fetch_job(conn: sqlite3.Connection, job_id: int, cache: ScheduleCache) -> dict[str, Any] | None:
    row = conn.execute(JOB_SELECT + " WHERE j.id = ?", (job_id,)).fetchone()
    return None if row is None else job(row, cache)
