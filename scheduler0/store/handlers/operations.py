"""operation.create / step / finish: a bulk operation over jobs, applied a chunk per command.

The API process that accepted POST /jobs/bulk resolved its selection to job ids (a snapshot:
jobs created later are not in it) and sends them in OperationStep chunks of a few thousand, so
no Raft entry is large and no apply holds the state machine for long. Each step applies the
operation's action to the jobs of its chunk that still exist (within the creating credential's
projects) and counts them: `done` those it applied to, `skipped` those gone by then (deleted
meanwhile) or that it had to leave as they were (set_labels past a job's label limit, a run
with data of a job delivered with GET); the last step finishes the operation. A step for an
operation that no longer runs is refused (409): its runner then stops.

A run fires a run-now of each job (store/manual.py), paused or not, as POST /jobs/{id}/run
does; each carries the operation's id, which lists them (GET /operations/{id}/executions).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from scheduler0 import labels
from scheduler0.errors import (
    ApiError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    ValidationError,
)
from scheduler0.messages import OperationCreate, OperationFinish, OperationStep
from scheduler0.store import counters, history, manual, schedules
from scheduler0.store import operations as ops
from scheduler0.store.tx import Tx
from scheduler0.vocabulary import BulkAction

MAX_STEP_IDS = 5000  # job ids one step carries at most
_ID_CHUNK = 500  # ids per `IN (...)`: well under SQLite's bound-variable limit


def create(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    """Record a new operation (already finished when it selected no job); prunes the oldest
    finished ones beyond MAX_OPERATIONS_KEPT."""
    body = OperationCreate.decode(data)
    conn = tx.conn
    if body.action == BulkAction.SET_LABELS.value:
        problem = ops.label_changes_problem(body.labels)
        if problem is not None:
            raise ValidationError(f"labels: {problem}", code="invalid_labels")
    (running,) = conn.execute(f"SELECT count(*) FROM operations WHERE state = '{ops.RUNNING}'"
                              ).fetchone()
    if body.total and running >= ops.MAX_RUNNING_OPERATIONS:
        raise ApiError(f"{running} bulk operations are running in the cluster, the most there "
                       "may be; wait for one to finish (GET /operations?state=running)",
                       status=429, code="too_many_operations")
    state, finished = (ops.RUNNING, None) if body.total else (ops.SUCCEEDED, tx.ts_ms)
    cursor = conn.execute(
        "INSERT INTO operations (action, selection, labels, data, total, state, scope, "
        "projects, created_by, runner_node, runner_token, created_at_ms, updated_at_ms, "
        "finished_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (body.action, ops.as_json(body.selection), ops.as_json(body.labels), body.data,
         body.total, state, ops.as_json(body.scope), ops.as_json(body.projects),
         body.created_by, body.runner_node, body.runner_token, tx.ts_ms, tx.ts_ms, finished))
    _prune(conn)
    return _fetch(conn, int(cursor.lastrowid or 0))


def _prune(conn: sqlite3.Connection) -> None:
    conn.execute(f"DELETE FROM operations WHERE state != '{ops.RUNNING}' AND id <= "
                 "(SELECT id FROM operations ORDER BY id DESC LIMIT 1 OFFSET ?)",
                 (ops.MAX_OPERATIONS_KEPT,))


def step(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    """Apply the operation's action to one chunk of its jobs; the final chunk finishes it."""
    body = OperationStep.decode(data)
    if len(body.ids) > MAX_STEP_IDS:
        raise PayloadTooLargeError(f"{len(body.ids)} job ids in one step; send at most "
                                   f"{MAX_STEP_IDS}")
    operation = _running(tx.conn, body.operation_id)
    ids = sorted(set(body.ids))
    present = _present(tx.conn, ids, operation["scope"])
    left, why = ACTIONS[operation["action"]](tx, present, operation)
    kept = set(present)
    skipped = sorted([i for i in ids if i not in kept] + left)
    errors = operation["errors"]
    if left:
        errors = ops.with_error(errors, f"jobs {ops.ids_text(left)} left as they were: {why}")
    final = (ops.SUCCEEDED, tx.ts_ms) if body.final else (ops.RUNNING, None)
    tx.conn.execute(
        "UPDATE operations SET done = done + ?, skipped = skipped + ?, skipped_ids = ?, "
        "errors = ?, state = ?, finished_at_ms = ?, updated_at_ms = ? WHERE id = ?",
        (len(present) - len(left), len(skipped),
         ops.as_json([*operation["skipped_ids"], *skipped][:ops.MAX_SKIPPED_IDS]),
         ops.as_json(errors), *final, tx.ts_ms, body.operation_id))
    return _fetch(tx.conn, body.operation_id)


def finish(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    """Stop a running operation as failed; an operation that finished, or (when the body says
    so) moved on or is run by another runner, is answered as it is."""
    body = OperationFinish.decode(data)
    operation = _fetch(tx.conn, body.operation_id)
    if operation["state"] != ops.RUNNING:
        return operation
    if body.runner_token is not None and body.runner_token != operation["runner_token"]:
        return operation
    if (body.stalled_before_ms is not None
            and operation["updated_at_ms"] > body.stalled_before_ms):
        return operation
    tx.conn.execute(
        "UPDATE operations SET state = ?, errors = ?, finished_at_ms = ?, updated_at_ms = ? "
        "WHERE id = ?",
        (ops.FAILED, ops.as_json(ops.with_error(operation["errors"], body.error)), tx.ts_ms,
         tx.ts_ms, body.operation_id))
    return _fetch(tx.conn, body.operation_id)


def _fetch(conn: sqlite3.Connection, operation_id: int) -> dict[str, Any]:
    operation = ops.load(conn, operation_id)
    if operation is None:
        raise NotFoundError(f"operation {operation_id} does not exist")
    return operation


def _running(conn: sqlite3.Connection, operation_id: int) -> dict[str, Any]:
    operation = _fetch(conn, operation_id)
    if operation["state"] != ops.RUNNING:
        errors = "; ".join(operation["errors"])
        raise ConflictError(f"operation {operation_id} is {operation['state']}, not running"
                            + (f" ({errors})" if errors else "") + "; start a new one")
    return operation


def _in_parts(ids: Sequence[int]) -> list[tuple[str, Sequence[int]]]:
    """(`(?, ?, ...)`, its ids) for each part of `ids` small enough for one statement."""
    parts = []
    for start in range(0, len(ids), _ID_CHUNK):
        part = ids[start:start + _ID_CHUNK]
        parts.append((f"({', '.join('?' * len(part))})", part))
    return parts


def _present(conn: sqlite3.Connection, ids: Sequence[int], scope: list[int] | None) -> list[int]:
    """Those of `ids` that are jobs (of the projects in `scope`, when it is given), by id."""
    limit = "" if scope is None else f" AND project_id IN ({', '.join(map(str, map(int, scope)))})"
    found: list[int] = []
    for marks, part in _in_parts(ids):
        found += [i for (i,) in conn.execute(
            f"SELECT id FROM jobs WHERE id IN {marks}{limit} ORDER BY id", part)]
    return found


# An action applies the operation to the jobs of a chunk (those that exist); it answers the
# ids of those it had to leave as they were, and why.
Action = Callable[[Tx, list[int], dict[str, Any]], tuple[list[int], str]]


def _set_paused(value: int) -> Action:
    def apply(tx: Tx, ids: list[int], _operation: dict[str, Any]) -> tuple[list[int], str]:
        for marks, part in _in_parts(ids):
            tx.conn.execute(f"UPDATE jobs SET paused = ?, updated_at_ms = ? "
                            f"WHERE id IN {marks} AND paused != ?",
                            (value, tx.ts_ms, *part, value))
        return [], ""
    return apply


def _delete(tx: Tx, ids: list[int], _operation: dict[str, Any]) -> tuple[list[int], str]:
    """job.delete for each job: its history and last result, then the job, then the schedule
    rows no job uses any more."""
    history.forget_jobs(tx.conn, ids)
    schedule_ids: set[int] = set()
    for marks, part in _in_parts(ids):
        schedule_ids.update(sid for (sid,) in tx.conn.execute(
            f"SELECT DISTINCT schedule_id FROM jobs WHERE id IN {marks}", part))
        tx.conn.execute(f"DELETE FROM jobs WHERE id IN {marks}", part)
    counters.add(tx.conn, {counters.JOBS: -len(ids)})
    schedules.drop_orphans(tx.conn, sorted(schedule_ids))
    return [], ""


def _set_labels(tx: Tx, ids: list[int], operation: dict[str, Any]) -> tuple[list[int], str]:
    """Merge the operation's labels into each job's: a value sets its key, null removes it,
    the job's other labels stay. A job that would have more labels than a job may is left as
    it was. (The schema's triggers keep the label index in step.)"""
    changes: dict[str, str | None] = operation["labels"]
    left: list[int] = []
    updates: list[tuple[str | None, int, int]] = []
    for marks, part in _in_parts(ids):
        for job_id, text in tx.conn.execute(f"SELECT id, labels FROM jobs WHERE id IN {marks}",
                                            part).fetchall():
            merged = ops.merged_labels(text, changes)
            if len(merged) > labels.MAX_LABELS:
                left.append(job_id)
            elif labels.canonical_text(merged) != text:
                updates.append((labels.canonical_text(merged), tx.ts_ms, job_id))
    tx.conn.executemany("UPDATE jobs SET labels = ?, updated_at_ms = ? WHERE id = ?", updates)
    return left, f"they would have more than {labels.MAX_LABELS} labels"


def _run(tx: Tx, ids: list[int], operation: dict[str, Any]) -> tuple[list[int], str]:
    """A run-now of each job, delivering the operation's data when it has some. A job
    delivered with GET is left as it was then: GET sends no body, so the data would never
    reach its receiver (a single run-now with data is refused for it likewise)."""
    data = operation["data"]
    left: list[int] = []
    for marks, part in _in_parts(ids):
        for job_id, project_id, method in tx.conn.execute(
                f"SELECT id, project_id, method FROM jobs WHERE id IN {marks} ORDER BY id",
                part).fetchall():
            if data and method == "GET":
                left.append(job_id)
            else:
                manual.start_run(tx, job_id, project_id, data, operation["id"])
    return left, ("they are delivered with GET, which sends no body, so the data would never "
                  "reach their receivers; run them without data")


ACTIONS: dict[str, Action] = {
    BulkAction.PAUSE.value: _set_paused(1),
    BulkAction.RESUME.value: _set_paused(0),
    BulkAction.DELETE.value: _delete,
    BulkAction.SET_LABELS.value: _set_labels,
    BulkAction.RUN.value: _run,
}
