"""Bulk operations and the cluster pause as the store keeps them: rows, reads, and what their
commands change (scheduler0.store.handlers.operations and .cluster apply them).

An operation row dict:

    {id, action, selection, labels, total, done, skipped, skipped_ids, state, errors, scope,
     projects, created_by, runner_node, runner_token, created_at_ms, updated_at_ms,
     finished_at_ms, data}

(selection, labels, skipped_ids, errors, scope and projects decoded from their JSON columns). The pause row:
{paused, paused_at_ms, paused_by, reason, resumed_at_ms, resumed_by}.
"""

from __future__ import annotations

import json
import sqlite3
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scheduler0 import labels
from scheduler0.vocabulary import OperationState

# Finished operations kept: older ones are deleted when a new one is created.
MAX_OPERATIONS_KEPT = 1000
# Operations running at once in the whole cluster; a new one beyond is refused (429).
MAX_RUNNING_OPERATIONS = 16
MAX_ERRORS = 20  # messages one operation keeps; the later ones are dropped, and counted
MAX_SKIPPED_IDS = 10  # ids of the selected jobs found gone that an operation shows

RUNNING = OperationState.RUNNING.value
SUCCEEDED = OperationState.SUCCEEDED.value
FAILED = OperationState.FAILED.value

COLUMNS = ("id", "action", "selection", "labels", "total", "done", "skipped", "skipped_ids",
           "state", "errors", "scope", "projects", "created_by", "runner_node", "runner_token",
           "created_at_ms", "updated_at_ms", "finished_at_ms", "data")
_JSON_COLUMNS = frozenset({"selection", "labels", "skipped_ids", "errors", "scope", "projects"})
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM operations"
PAUSE_COLUMNS = ("paused", "paused_at_ms", "paused_by", "reason", "resumed_at_ms",
                 "resumed_by")


def as_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def row_of(values: Sequence[Any]) -> dict[str, Any]:
    row = dict(zip(COLUMNS, values, strict=True))
    for column in _JSON_COLUMNS:
        if row[column] is not None:
            row[column] = json.loads(row[column])
    return row


def load(conn: sqlite3.Connection, operation_id: int) -> dict[str, Any] | None:
    found = conn.execute(f"{_SELECT} WHERE id = ?", (operation_id,)).fetchone()
    return None if found is None else row_of(found)


def _scope_terms(scope: Sequence[int] | None) -> tuple[str, list[Any]]:
    """The condition that keeps the operations a credential limited to `scope` may see: those
    whose projects are known and all among its own (None: every operation)."""
    if scope is None:
        return "", []
    marks = ", ".join("?" * len(scope)) or "NULL"
    return (" AND projects IS NOT NULL AND NOT EXISTS (SELECT 1 FROM json_each(projects) "
            f"WHERE value NOT IN ({marks}))", list(scope))


def visible(row: dict[str, Any], scope: Sequence[int] | None) -> bool:
    """The same rule as _scope_terms, for one row."""
    projects = row["projects"]
    return scope is None or (projects is not None and set(projects) <= set(scope))


def page(conn: sqlite3.Connection, scope: Sequence[int] | None, state: str | None,
         limit: int, offset: int, after: int | None) -> tuple[list[dict[str, Any]], int]:
    """Newest first: `limit` + 1 rows (the caller tells a next page by the extra one) and the
    total matching (the table holds at most a few thousand rows)."""
    where, params = _scope_terms(scope)
    if state is not None:
        where += " AND state = ?"
        params.append(state)
    total = int(conn.execute(f"SELECT count(*) FROM operations WHERE 1{where}",
                             params).fetchone()[0])
    if after is not None:
        where += " AND id < ?"
        params.append(after)
    found = conn.execute(f"{_SELECT} WHERE 1{where} ORDER BY id DESC LIMIT ? OFFSET ?",
                         (*params, limit + 1, offset)).fetchall()
    return [row_of(values) for values in found], total


def running(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [row_of(values) for values in conn.execute(
        f"{_SELECT} WHERE state = '{RUNNING}' ORDER BY id")]


def count_by_state(conn: sqlite3.Connection) -> dict[str, int]:
    found = dict(conn.execute("SELECT state, count(*) FROM operations GROUP BY state"))
    return {state.value: int(found.get(state.value, 0)) for state in OperationState}


def pause_state(conn: sqlite3.Connection) -> dict[str, Any]:
    found = conn.execute(f"SELECT {', '.join(PAUSE_COLUMNS)} FROM cluster_pause WHERE id = 1"
                         ).fetchone()
    if found is None:  # a file migrated before the row existed cannot be: V4 inserts it
        return {"paused": False, **dict.fromkeys(PAUSE_COLUMNS[1:])}
    row = dict(zip(PAUSE_COLUMNS, found, strict=True))
    row["paused"] = bool(row["paused"])
    return row


def planning_paused(conn: sqlite3.Connection) -> bool:
    found = conn.execute("SELECT paused FROM cluster_pause WHERE id = 1").fetchone()
    return bool(found and found[0])


def ids_text(ids: Sequence[int]) -> str:
    """`17, 18, 19 and 4 more` for a message."""
    shown = ", ".join(map(str, ids[:MAX_SKIPPED_IDS]))
    more = len(ids) - MAX_SKIPPED_IDS
    return f"{shown} and {more} more" if more > 0 else shown


_MORE = "... and "


def with_error(errors: list[str], message: str) -> list[str]:
    """`errors` with `message` added, MAX_ERRORS at most: past that the last one says how many
    more there were."""
    if len(errors) < MAX_ERRORS:
        return [*errors, message]
    last = errors[-1]
    dropped = int(last.split()[2]) if last.startswith(_MORE) else 1  # 1: the one it replaces
    return [*errors[:MAX_ERRORS - 1], f"{_MORE}{dropped + 1} more errors"]


# -- selecting the jobs of a bulk operation ---------------------------------------------------

_ID_CHUNK = 500  # ids per `IN (...)`


@dataclass
class Selection:
    """The jobs a bulk operation selected, read in one transaction (a snapshot): their ids,
    increasing, and the projects they belong to."""

    ids: array[int] = field(default_factory=lambda: array("q"))
    projects: set[int] = field(default_factory=set)


def owners(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, int]:
    """Job id -> its project, for those of `ids` that are jobs."""
    found: dict[int, int] = {}
    for start in range(0, len(ids), _ID_CHUNK):
        part = ids[start:start + _ID_CHUNK]
        found.update(conn.execute(
            f"SELECT id, project_id FROM jobs WHERE id IN ({', '.join('?' * len(part))})",
            part))
    return found


JOBS = "FROM jobs j"
# The label index `x` in front of the jobs: the id ranges of one label (store/job_labels.py).
LABELLED = "FROM job_labels x CROSS JOIN jobs j ON j.id BETWEEN x.first_id AND x.last_id"


def select(conn: sqlite3.Connection, terms: Sequence[str], params: Sequence[Any],
           cap: int, source: str = JOBS) -> Selection:
    """The jobs matching every SQL condition of `terms` (on `jobs j`, and on the index rows
    `x` when `source` is LABELLED), at most `cap` + 1 of them (one more tells the caller there
    are too many), by id."""
    where = (" WHERE " + " AND ".join(terms)) if terms else ""
    selection = Selection()
    for job_id, project_id in conn.execute(
            f"SELECT j.id, j.project_id {source}{where} ORDER BY j.id LIMIT ?",
            (*params, cap + 1)):
        selection.ids.append(job_id)
        selection.projects.add(project_id)
    return selection


# -- set_labels ---------------------------------------------------------------------------------


def label_changes_problem(changes: Any) -> str | None:
    """Why `changes` cannot be set_labels's labels (keys to values, None removing a key), or
    None. The API says it first; the state machine checks again."""
    if not isinstance(changes, dict):
        return 'expected an object of label keys to values, e.g. {"team": "billing"}'
    if not changes:
        return "must not be empty: give at least one label to set (or to remove, with null)"
    if len(changes) > labels.MAX_LABELS:
        return f"{len(changes)} labels is too many; at most {labels.MAX_LABELS}"
    for key, value in changes.items():
        problem = labels.key_problem(key)
        if problem is None and value is not None:
            problem = (labels.value_problem(value, key) if isinstance(value, str) else
                       f"the value of {json.dumps(key)} must be a string, or null to remove "
                       "the label")
        if problem is not None:
            return problem
    return None


def merged_labels(text: str | None, changes: dict[str, str | None]) -> dict[str, str]:
    """A job's labels (its stored text) with `changes` applied: a value sets its key, None
    removes it, the job's other labels stay."""
    merged = labels.from_text(text)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
