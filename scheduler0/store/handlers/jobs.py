"""job.create / update / delete.

A job points at the shared schedule row of its resolved (spec, timezone, anchor); see
scheduler0.store.schedules. Its `H` values and its `@at now` are resolved here, where its id
and the command's second are known (scheduler0.schedule.resolve); the job keeps its spec as
written. Creating or changing a job creates the row if it is new and deletes a row no job uses
any more.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

from scheduler0 import labels, vocabulary
from scheduler0.errors import NotFoundError, PayloadTooLargeError, ScheduleError, ValidationError
from scheduler0.messages import (
    JobCreate,
    JobDelete,
    JobUpdate,
    column_rows,
    fields,
    fold_column,
    map_column,
    unfold_column,
)
from scheduler0.schedule import MISFIRE_POLICIES, depends_on_job, validate_timezone
from scheduler0.store import counters, history, job_labels, job_names, rows, schedules
from scheduler0.store.schedules import ScheduleKey
from scheduler0.store.tx import Tx
from scheduler0.vocabulary import JOB_COLUMNS

MAX_JOBS_PER_COMMAND = 10_000
DEFAULT_TIMEZONE = "UTC"
DEFAULT_EXECUTION_TYPE = "http"
DEFAULT_MISFIRE_POLICY = "run_once"

# A job.create writes every column of `jobs` (this INSERT when a value holds a NUL, see _insert).
_INSERT = (f"INSERT INTO jobs ({', '.join(JOB_COLUMNS)}) "
           f"VALUES ({', '.join('?' * len(JOB_COLUMNS))})")
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


# A job's delivery settings: null is the node's own setting. The API sends headers and
# success_codes as the JSON text the columns keep (api/validation.py checks them first).


def _method(value: Any, name: str) -> str | None:
    if value is not None and value not in vocabulary.HTTP_METHODS:
        raise ValidationError(f"{name} must be one of {', '.join(vocabulary.HTTP_METHODS)} "
                              f"or null, got {value!r}")
    return None if value is None else str(value)


def _headers(value: Any, name: str) -> str | None:
    if value is None:
        return None
    headers = _json_text(value, name, dict, "an object of header names to values")
    if len(headers) > vocabulary.MAX_JOB_HEADERS:
        raise ValidationError(f"{name} holds {len(headers)} headers; at most "
                              f"{vocabulary.MAX_JOB_HEADERS}")
    seen: set[str] = set()
    for header, text in headers.items():
        problem = vocabulary.header_name_problem(header)
        if problem is None and not isinstance(text, str):
            problem = f"the value of {header!r} must be a string"
        if problem is None:
            problem = vocabulary.header_value_problem(text)
        if problem is None and header.lower() in seen:
            problem = f"{header!r} is given twice"
        if problem is not None:
            raise ValidationError(f"{name}: {problem}")
        seen.add(header.lower())
    if sum(len(h) + len(t) for h, t in headers.items()) > vocabulary.MAX_HEADERS_BYTES:
        raise ValidationError(f"{name} holds more than {vocabulary.MAX_HEADERS_BYTES} bytes")
    return str(value)


def _success_codes(value: Any, name: str) -> str | None:
    if value is None:
        return None
    codes = _json_text(value, name, list, "an array of HTTP statuses")
    low, high = vocabulary.HTTP_STATUS_RANGE
    if not 0 < len(codes) <= vocabulary.MAX_SUCCESS_CODES or len(set(codes)) != len(codes) or any(
            isinstance(c, bool) or not isinstance(c, int) or not low <= c <= high
            for c in codes):
        raise ValidationError(f"{name} must hold 1-{vocabulary.MAX_SUCCESS_CODES} distinct "
                              f"HTTP statuses {low}-{high}, got {value!r}")
    return str(value)


def _json_text(value: Any, name: str, kind: type, what: str) -> Any:
    text = fields.as_str(value, name)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if not isinstance(parsed, kind):
        raise ValidationError(f"{name} must be the JSON text of {what}, got {text[:60]!r}")
    return parsed


def _seconds_check(low: float, high: float) -> Callable[[Any, str], float | None]:
    def seconds(value: Any, name: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                low <= value <= high):
            raise ValidationError(f"{name} must be a number of seconds {low:g}-{high:g} or "
                                  f"null, got {value!r}")
        return float(value)
    return seconds


def _retries(value: Any, name: str) -> int | None:
    retries = fields.as_int_or_none(value, name)
    low, high = vocabulary.RETRIES_RANGE
    if retries is not None and not low <= retries <= high:
        raise ValidationError(f"{name} must be {low}-{high} or null, got {retries}")
    return retries


# A job's name, description and labels (scheduler0.labels has the rules; the API sends labels
# as the canonical text the column keeps, and the store writes that text again from what it
# reads, so no other spelling of a label set gets into the file).


def _job_name(value: Any, name: str) -> str | None:
    if value is None or type(value) is str and labels.is_name(value):  # the usual: at once
        return value
    problem = labels.name_problem(fields.as_str(value, name))
    raise ValidationError(f"{name}: {problem}")


def _description(value: Any, name: str) -> str:
    return "" if value is None else fields.as_str(value, name)


def _labels(value: Any, name: str) -> str | None:
    """The canonical text of a label set given as that text (or any JSON text of an object)
    or as the object itself; None for none."""
    if value is None:
        return None
    try:
        given = labels.from_text(value) if isinstance(value, str) else fields.mapping(value, name)
        return labels.canonical_text(labels.checked(given))
    except labels.LabelError as exc:
        raise ValidationError(f"{name}: {exc}") from None


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
    "method": _method,
    "headers": _headers,
    "timeout": _seconds_check(*vocabulary.TIMEOUT_RANGE),
    "retries": _retries,
    "retry_delay": _seconds_check(*vocabulary.RETRY_DELAY_RANGE),
    "success_codes": _success_codes,
    "name": _job_name,
    "description": _description,
    "labels": _labels,
}
UPDATABLE = frozenset(FIELD_CHECKS)


# What job.create stores for a field the input leaves out (or null).
_CREATE_DEFAULTS: dict[str, Any] = {
    "timezone": DEFAULT_TIMEZONE, "data": None, "execution_type": DEFAULT_EXECUTION_TYPE,
    "start_date": None, "end_date": None, "paused": False,
    "misfire_policy": DEFAULT_MISFIRE_POLICY, "anchor": None,
    **dict.fromkeys(vocabulary.JOB_DELIVERY_FIELDS),
    "name": None, "description": "", "labels": None}
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


def create(tx: Tx, data: Mapping[str, Any]) -> Any:
    """Create every job of the batch or none; returns their rows in input order: row dicts for
    a body of `jobs`, the rows in columns for a body in columns (messages.JobCreate)."""
    body = JobCreate.decode(data)
    count = len(body.jobs) if body.columns is None else body.count
    if count > MAX_JOBS_PER_COMMAND:
        raise PayloadTooLargeError(f"{count} jobs in one request; send at most "
                                   f"{MAX_JOBS_PER_COMMAND} per request")
    if body.columns is None:
        jobs = [_job_input(raw, f"jobs[{i}].", tx.ts_s) for i, raw in enumerate(body.jobs)]
        columns = {name: fold_column([job[name] for job in jobs]) for name in _INPUTS}
    else:
        columns = _checked_columns(body.columns, count, tx.ts_s)
    created = _create(tx, columns, count)
    return created if body.columns is not None else column_rows(created["columns"], count)


# A job input's fields (what _job_input returns), project_id first.
_INPUTS = ("project_id", *FIELD_CHECKS)
# What a checked input can hold (a float: a delivery setting in seconds).
_COLUMN_KINDS = frozenset({str, int, bool, float, type(None)})
_NUMBER_KINDS = frozenset({int, bool, float})  # equal values of these hash alike: 1, 1.0, true


def _checked_columns(raw: Mapping[str, Any], count: int, ts_s: int) -> dict[str, Any]:
    """The input columns checked as `_job_input` checks each job, each distinct value of a
    column once, with the defaults filled in. A column the quick check does not pass sends the
    whole batch through `_job_input` job by job, so a refusal names the first bad job's field
    exactly as it does for a body of `jobs`."""
    columns: dict[str, Any] = {}
    for name in _INPUTS:
        column = _checked_column(raw.get(name), name)
        if column is _UNCHECKED:
            rows = column_rows(raw, count)
            jobs = [_job_input(row, f"jobs[{i}].", ts_s) for i, row in enumerate(rows)]
            return {field: fold_column([job[field] for job in jobs]) for field in _INPUTS}
        columns[name] = column
    anchor, start = columns["anchor"], columns["start_date"]
    if isinstance(anchor, list) or isinstance(start, list):
        if anchor is None or isinstance(anchor, list) and None in anchor:
            columns["anchor"] = fold_column([
                a if a is not None else s if s is not None else ts_s
                for a, s in zip(unfold_column(anchor, count), unfold_column(start, count),
                                strict=True)])
    elif anchor is None:
        # An @every job's phase starts at its start date, else its creation.
        columns["anchor"] = start if start is not None else ts_s
    return columns


_UNCHECKED: Any = object()


def _checked_column(column: Any, name: str) -> Any:
    """`column` with each value checked and defaulted as `_job_input` does, or _UNCHECKED when
    some value does not pass (or could not be told apart from another by hashing: true and 1)."""
    values = column if isinstance(column, list) else (column,)
    kinds = set(map(type, values))
    if not kinds <= _COLUMN_KINDS or len(kinds & _NUMBER_KINDS) > 1:
        return _UNCHECKED
    distinct = dict.fromkeys(values)
    if None in distinct and (name == "project_id" or name in _REQUIRED):
        return _UNCHECKED
    # project_id has no entry: it is an integer.
    check: Callable[[Any, str], Any] = FIELD_CHECKS.get(name, fields.as_int_or_none)
    try:
        normal = {value: _CREATE_DEFAULTS[name] if value is None else check(value, name)
                  for value in distinct}
    except ValidationError:
        return _UNCHECKED
    return map_column(column, normal)


def _create(tx: Tx, columns: dict[str, Any], count: int) -> dict[str, Any]:
    """Insert `count` jobs given as checked input columns; their rows in columns."""
    if count == 0:
        return {"count": 0, "columns": {}}
    _require_projects(tx.conn, columns["project_id"], count)
    job_names.require_free(tx.conn, columns["project_id"], columns["name"], count)
    first_id = _next_id(tx.conn, "jobs")
    rows_of_jobs = _place(tx, columns, count, first_id)
    paused = columns["paused"]
    stored = {**columns, "schedule_id": rows_of_jobs.pop("id"), "created_at_ms": tx.ts_ms,
              "updated_at_ms": tx.ts_ms,
              "paused": [int(p) for p in paused] if isinstance(paused, list) else int(paused)}
    _insert(tx.conn, first_id, stored, count)
    job_labels.index_created(tx.conn, first_id, count, stored["labels"])
    counters.add(tx.conn, {counters.JOBS: count})
    stored["id"] = list(range(first_id, first_id + count))
    # Results and reads are built by the same rules (rows.job_columns is rows.job_of's).
    return {"count": count,
            "columns": rows.job_columns(stored, count, rows_of_jobs, tx.schedules)}


def _insert(conn: sqlite3.Connection, first_id: int, stored: Mapping[str, Any],
            count: int) -> None:
    """INSERT the jobs whose columns (but id: first_id on) are `stored`.

    One INSERT ... SELECT whose shared values are bound once and whose other values SQLite
    reads from one JSON array: binding every value of every row through executemany took
    about three times as long (measured, 10,000 jobs: 104 ms against 30 ms). SQLite's JSON
    functions cut text at a NUL character, so a batch with one goes through executemany, as
    does every batch on an SQLite built without JSON functions: the rows are the same.
    """
    varying = tuple(c for c in JOB_COLUMNS if c != "id" and isinstance(stored[c], list))
    if not varying:
        values = "[" + ",".join(["0"] * count) + "]"
    elif len(varying) == 1:
        values = json.dumps(stored[varying[0]], ensure_ascii=False, separators=(",", ":"))
    else:
        values = json.dumps(list(zip(*(stored[c] for c in varying), strict=True)),
                            ensure_ascii=False, separators=(",", ":"))
    if "\\u0000" not in values:
        bound = [first_id if c == "id" else stored[c] for c in JOB_COLUMNS if c not in varying]
        try:
            conn.execute(_insert_select(varying), (*bound, values))
            return
        except sqlite3.OperationalError as exc:  # a failed statement leaves no row behind
            if "json_" not in str(exc):
                raise
    ids = range(first_id, first_id + count)
    conn.executemany(_INSERT, zip(*(ids if c == "id" else unfold_column(stored[c], count)
                                    for c in JOB_COLUMNS), strict=True))


@functools.lru_cache(maxsize=64)
def _insert_select(varying: tuple[str, ...]) -> str:
    """The INSERT of _insert for these varying columns (id is always `first_id + index`)."""
    def value(column: str) -> str:
        if column == "id":
            return "? + j.key"
        if column not in varying:
            return "?"
        if len(varying) == 1:
            return "j.value"
        return f"json_extract(j.value, '$[{varying.index(column)}]')"
    return (f"INSERT INTO jobs ({', '.join(JOB_COLUMNS)}) "
            f"SELECT {', '.join(map(value, JOB_COLUMNS))} FROM json_each(?) j")


def _require_projects(conn: sqlite3.Connection, project_ids: Any, count: int) -> None:
    """Raise NotFoundError naming the first job whose project does not exist (`project_ids`:
    a column, one id or a list of `count`)."""
    distinct = dict.fromkeys(project_ids if isinstance(project_ids, list) else [project_ids])
    wanted = sorted(distinct)
    found: set[int] = set()
    for start in range(0, len(wanted), _ID_CHUNK):
        chunk = wanted[start:start + _ID_CHUNK]
        marks = ", ".join("?" * len(chunk))
        found.update(pid for (pid,) in conn.execute(
            f"SELECT id FROM projects WHERE id IN ({marks})", chunk))
    for project_id in distinct:  # in the order of their first jobs
        if project_id not in found:
            i = project_ids.index(project_id) if isinstance(project_ids, list) else 0
            where = f" (jobs[{i}].project_id)" if count > 1 else ""
            raise NotFoundError(f"project {project_id} does not exist{where}; "
                                "create it first or fix project_id")


_Row = tuple[int, int | None]  # a schedule row's (id, next_fire_at)


def _place(tx: Tx, columns: dict[str, Any], count: int, first_id: int) -> dict[str, Any]:
    """The columns of the jobs' schedule rows (`id` and rows.SCHEDULE_FIELDS), creating rows
    for new keys in the order of the jobs that first have them; the jobs get ids from
    `first_id` on.

    Normalises the spec and zone columns in place (the spec as the job keeps it, the zone as
    the schedule row stores it), so equal schedules written differently share a row. A spec
    with H is resolved once per job (its id decides), any other once per distinct input.
    """
    spec, zone, anchor = columns["spec"], columns["timezone"], columns["anchor"]
    per_job_specs = {s for s in (spec if isinstance(spec, list) else [spec])
                     if depends_on_job(s)}
    shared = not per_job_specs and not any(isinstance(c, list) for c in (spec, zone, anchor))
    # (spec, zone, anchor, job id): the id only where the spec depends on it, 0 elsewhere.
    written = [(spec, zone, anchor, 0)] if shared else [
        (s, z, a, first_id + i if s in per_job_specs else 0)
        for i, (s, z, a) in enumerate(zip(unfold_column(spec, count), unfold_column(zone, count),
                                          unfold_column(anchor, count), strict=True))]
    rows_by_key: dict[ScheduleKey, _Row] = {}
    placed: dict[tuple[str, str, int, int], tuple[schedules.Placement, _Row]] = {}
    for key_written in dict.fromkeys(written):
        try:
            placement = _placement(tx, *key_written)
        except ScheduleError as exc:
            prefix = f"jobs[{written.index(key_written)}]: " if count > 1 else ""
            raise ScheduleError(prefix + exc.message) from None
        key = placement.key
        if key not in rows_by_key:
            rows_by_key[key] = schedules.ensure(tx, key, placement.schedule)
        placed[key_written] = placement, rows_by_key[key]
    per_job = [placed[w] for w in written]
    columns["spec"] = fold_column([p.job_spec for p, _ in per_job])
    columns["timezone"] = fold_column([p.key.timezone for p, _ in per_job])
    return {"id": fold_column([row[0] for _, row in per_job]),
            "next_fire_at": fold_column([row[1] for _, row in per_job]),
            "spec": fold_column([p.key.spec for p, _ in per_job]),
            "timezone": columns["timezone"],
            "anchor": fold_column([p.key.anchor for p, _ in per_job])}


def _placement(tx: Tx, spec: str, timezone: str, anchor: int,
               job_id: int) -> schedules.Placement:
    """Where a job created by this command goes; refuses a one-off that could never fire."""
    placement = schedules.place(tx.schedules, spec, timezone, anchor, job_id=job_id,
                                ts_s=tx.ts_s, index=tx.index)
    schedules.check_can_fire(placement.schedule, tx.ts_s)
    return placement


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
    # null clears a nullable field (data, start_date, end_date, the delivery settings); the
    # others refuse it.
    values = {field: FIELD_CHECKS[field](value, field) for field, value in changes.items()}
    current = tx.conn.execute(
        "SELECT j.spec, j.timezone, j.anchor, j.schedule_id, s.spec, s.timezone, s.anchor "
        "FROM jobs j JOIN schedules s ON s.id = j.schedule_id WHERE j.id = ?",
        (job_id,)).fetchone()
    if current is None:
        raise NotFoundError(f"job {job_id} does not exist")
    spec, timezone, anchor, old_schedule = current[:4]
    if values.get("name") is not None:
        job_names.require_free_for(tx.conn, job_id, values["name"])
    if {"spec", "timezone", "anchor"} & set(values):
        values.update(_moved(tx, job_id, (spec, timezone, anchor), ScheduleKey(*current[4:]),
                             values))
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


def _moved(tx: Tx, job_id: int, written: tuple[str, str, int], old_key: ScheduleKey,
           values: Mapping[str, Any]) -> dict[str, Any]:
    """The spec, zone and (when it changes) schedule_id of a job whose spec, zone or anchor
    is being updated; the stored spec and zone when they come back as they are (a job read
    and sent back), which changes nothing.

    A changed spec is resolved again (its H for this job, a new `@at now`). A one-off whose
    instant stays the same keeps its row: its tick may be planned already, and a new row would
    fire it a second time.
    """
    spec, timezone, anchor = written
    merged = {"spec": spec, "timezone": timezone, "anchor": anchor, **values}
    if (" ".join(merged["spec"].split()), _zone_or_text(merged["timezone"]),
            merged["anchor"]) == written:
        return {"spec": spec, "timezone": timezone}
    placement = schedules.place(tx.schedules, merged["spec"], merged["timezone"],
                                merged["anchor"], job_id=job_id, ts_s=tx.ts_s, index=tx.index)
    key = placement.key
    moved: dict[str, Any] = {"spec": placement.job_spec, "timezone": key.timezone}
    same_one_off = placement.schedule.kind == "at" and key.spec == old_key.spec
    if key != old_key and not same_one_off:
        schedules.check_can_fire(placement.schedule, tx.ts_s)
        moved["schedule_id"] = schedules.ensure(tx, key, placement.schedule)[0]
    return moved


def _zone_or_text(name: str) -> str:
    """The canonical name of a zone, or the text itself when it is none (place() refuses it)."""
    try:
        return validate_timezone(name)
    except (ScheduleError, ValueError, OSError, KeyError):
        return name


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
