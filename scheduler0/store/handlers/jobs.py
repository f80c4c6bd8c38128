"""job.create / update / delete.

A job points at the shared schedule row of its (spec, timezone, anchor); see
scheduler0.store.schedules. Creating or changing a job creates the row if it is new and
deletes a row no job uses any more.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from scheduler0.errors import NotFoundError, PayloadTooLargeError, ScheduleError, ValidationError
from scheduler0.messages import JobCreate, JobDelete, JobUpdate, fields
from scheduler0.schedule import MISFIRE_POLICIES
from scheduler0.store import counters, history, rows, schedules
from scheduler0.store.schedules import ScheduleKey
from scheduler0.store.tx import Tx
from scheduler0.vocabulary import JOB_COLUMNS

MAX_JOBS_PER_COMMAND = 10_000
DEFAULT_TIMEZONE = "UTC"
DEFAULT_EXECUTION_TYPE = "http"
DEFAULT_MISFIRE_POLICY = "run_once"

# A job.create writes every column of `jobs`; its values are taken from the row dict by name.
_INSERT = (f"INSERT INTO jobs ({', '.join(JOB_COLUMNS)}) "
           f"VALUES ({', '.join('?' * len(JOB_COLUMNS))})")
_INSERT_VALUES = operator.itemgetter(*JOB_COLUMNS)
_ID_CHUNK = 500  # ids per `IN (...)`: well under SQLite's bound-variable limit


def _spec(value: Any, name: str) -> str:
    spec = fields.as_str(value, name).strip()
    if not spec:
        raise ValidationError(f'{name} must not be empty; use e.g. "*/5 * * * *" or "@every 1m"')
    return spec


def _non_empty(value: Any, name: str) -> str:
    text = fields.as_str(value, name)
    if not text:
        raise ValidationError(f"{name} must not be empty")
    return text


def _text_or_none(value: Any, name: str) -> str | None:
    return None if value is None else fields.as_str(value, name)


def _anchor(value: Any, name: str) -> int:
    anchor = fields.as_int_or_none(value, name)
    if anchor is None:
        raise ValidationError(f"{name} must be an integer (epoch seconds)")
    return anchor


def _misfire_policy(value: Any, name: str) -> str:
    if value not in MISFIRE_POLICIES:
        raise ValidationError(f"{name} must be one of {', '.join(MISFIRE_POLICIES)}, got {value!r}")
    return str(value)


# How each writable field is checked, for job.create inputs and job.update changes alike.
FIELD_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "spec": _spec,
    "timezone": _non_empty,
    "anchor": _anchor,
    "callback_url": _non_empty,
    "data": _text_or_none,
    "execution_type": _non_empty,
    "start_date": fields.as_int_or_none,
    "end_date": fields.as_int_or_none,
    "paused": fields.as_bool,
    "misfire_policy": _misfire_policy,
}
UPDATABLE = frozenset(FIELD_CHECKS)


# What job.create stores for a field the input leaves out (or null).
_CREATE_DEFAULTS: dict[str, Any] = {
    "timezone": DEFAULT_TIMEZONE, "data": None, "execution_type": DEFAULT_EXECUTION_TYPE,
    "start_date": None, "end_date": None, "paused": False,
    "misfire_policy": DEFAULT_MISFIRE_POLICY, "anchor": None}
_REQUIRED = ("spec", "callback_url")
_CHECKS = tuple(FIELD_CHECKS.items())


def _job_input(raw: Any, where: str, ts_s: int) -> dict[str, Any]:
    """One job_input checked, with defaults filled in (all deterministic)."""
    data = fields.mapping(raw, where.rstrip("."))
    job: dict[str, Any] = {"project_id": fields.req_int(data, "project_id", where)}
    try:
        for field, check in _CHECKS:  # runs 10,000 times per batch: keep it lean
            value = data.get(field)
            if value is not None:
                job[field] = check(value, field)
            elif field in _REQUIRED:
                raise ValidationError(f"{field} is required")
            else:
                job[field] = _CREATE_DEFAULTS[field]
    except ValidationError as exc:
        raise ValidationError(where + exc.message) from None
    if job["anchor"] is None:
        # An @every job's phase starts at its start date, else its creation.
        job["anchor"] = job["start_date"] if job["start_date"] is not None else ts_s
    return job


def create(tx: Tx, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Create every job of the batch or none; returns their rows in input order."""
    inputs = JobCreate.decode(data).jobs
    if len(inputs) > MAX_JOBS_PER_COMMAND:
        raise PayloadTooLargeError(f"{len(inputs)} jobs in one request; send at most "
                                   f"{MAX_JOBS_PER_COMMAND} per request")
    jobs = [_job_input(raw, f"jobs[{i}].", tx.ts_s) for i, raw in enumerate(inputs)]
    _require_projects(tx.conn, [job["project_id"] for job in jobs])
    placed = _place(tx, jobs)
    first_id = _next_id(tx.conn, "jobs")
    ts_ms = tx.ts_ms
    for i, job in enumerate(jobs):  # each input becomes its row (a copy costs 10,000 dicts)
        job["id"], job["schedule_id"] = first_id + i, placed[i][0]
        job["paused"] = int(job["paused"])
        job["created_at_ms"] = job["updated_at_ms"] = ts_ms
    tx.conn.executemany(_INSERT, map(_INSERT_VALUES, jobs))
    counters.add(tx.conn, {counters.JOBS: len(jobs)})
    # Results and reads share one builder (rows.job_of), so they cannot differ.
    return [rows.job_of(job, placed[i][1], tx.schedules) for i, job in enumerate(jobs)]


def _require_projects(conn: sqlite3.Connection, project_ids: Sequence[int]) -> None:
    """Raise NotFoundError naming the first job whose project does not exist."""
    wanted = sorted(set(project_ids))
    found: set[int] = set()
    for start in range(0, len(wanted), _ID_CHUNK):
        chunk = wanted[start:start + _ID_CHUNK]
        marks = ", ".join("?" * len(chunk))
        found.update(pid for (pid,) in conn.execute(
            f"SELECT id FROM projects WHERE id IN ({marks})", chunk))
    for i, project_id in enumerate(project_ids):
        if project_id not in found:
            where = f" (jobs[{i}].project_id)" if len(project_ids) > 1 else ""
            raise NotFoundError(f"project {project_id} does not exist{where}; "
                                "create it first or fix project_id")


def _place(tx: Tx, jobs: Sequence[dict[str, Any]]) -> list[tuple[int, int | None]]:
    """(schedule id, next_fire_at) per job, creating schedule rows for new keys.

    Normalises each job's spec and zone in place (as the schedule row stores them), so equal
    schedules written differently share a row. The engine parses once per distinct input.
    """
    keys: dict[tuple[str, str, int], ScheduleKey] = {}
    rows_by_key: dict[ScheduleKey, tuple[int, int | None]] = {}
    placed: list[tuple[int, int | None]] = []
    for i, job in enumerate(jobs):
        written = (job["spec"], job["timezone"], job["anchor"])
        key = keys.get(written)
        if key is None:
            try:
                key, schedule = schedules.resolve(tx.schedules, *written)
            except ScheduleError as exc:
                prefix = f"jobs[{i}]: " if len(jobs) > 1 else ""
                raise ScheduleError(prefix + exc.message) from None
            keys[written] = key
            if key not in rows_by_key:
                rows_by_key[key] = schedules.ensure(tx, key, schedule)
        job["spec"], job["timezone"] = key.spec, key.timezone
        placed.append(rows_by_key[key])
    return placed


def _next_id(conn: sqlite3.Connection, table: str) -> int:
    """The id AUTOINCREMENT would give the next row: never reuses a deleted id."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    (top,) = conn.execute(f"SELECT max(id) FROM {table}").fetchone()  # table: a literal
    return max(row[0] if row else 0, top or 0) + 1


def update(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    """Apply `changes`; a new spec, zone or anchor moves the job to its schedule row.

    Ticks already planned stay planned; the change shows from the next planned tick.
    """
    body = JobUpdate.decode(data)
    job_id, changes = body.id, body.changes
    unknown = sorted(set(changes) - UPDATABLE)
    if unknown:
        raise ValidationError(f"changes: {', '.join(unknown)} cannot be changed; changeable "
                              f"fields are {', '.join(sorted(UPDATABLE))}")
    # null clears a nullable field (data, start_date, end_date); the others refuse it.
    values = {field: FIELD_CHECKS[field](value, field) for field, value in changes.items()}
    current = tx.conn.execute(
        "SELECT spec, timezone, anchor, schedule_id FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if current is None:
        raise NotFoundError(f"job {job_id} does not exist")
    spec, timezone, anchor, old_schedule = current
    merged = {"spec": spec, "timezone": timezone, "anchor": anchor, **values}
    if {"spec", "timezone", "anchor"} & set(values):
        new_key, schedule = schedules.resolve(tx.schedules, merged["spec"], merged["timezone"],
                                              merged["anchor"])
        values.update(spec=new_key.spec, timezone=new_key.timezone)
        if new_key != schedules.key_of(spec, timezone, anchor):
            values["schedule_id"] = schedules.ensure(tx, new_key, schedule)[0]
    if "paused" in values:
        values["paused"] = int(values["paused"])
    assignments = "".join(f"{field} = ?, " for field in values)  # names from UPDATABLE only
    tx.conn.execute(f"UPDATE jobs SET {assignments}updated_at_ms = ? WHERE id = ?",
                    (*values.values(), tx.ts_ms, job_id))
    if "schedule_id" in values:
        schedules.drop_orphans(tx.conn, [old_schedule])
    job = rows.fetch_job(tx.conn, job_id, tx.schedules)
    assert job is not None  # updated in this transaction
    return job


def delete(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    """Delete the job, its executions, and its schedule row if no other job shares it."""
    job_id = JobDelete.decode(data).id
    row = tx.conn.execute("SELECT schedule_id FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"job {job_id} does not exist")
    history.forget_job(tx.conn, job_id)
    tx.conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
    counters.add(tx.conn, {counters.JOBS: -1})
    schedules.drop_orphans(tx.conn, [row[0]])
    return {"id": job_id}
