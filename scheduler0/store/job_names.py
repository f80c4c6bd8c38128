"""Job names: unique within a project, checked in the apply before the jobs are written.

The unique index jobs_name (name, project_id) is the last guard; these checks come first so a
refusal names the job and the project instead of failing as an SQLite constraint.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from scheduler0 import labels
from scheduler0.errors import ConflictError, ValidationError
from scheduler0.messages import unfold_column

_CHUNK = 500  # names per `IN (...)`: well under SQLite's bound-variable limit


def require_free(conn: sqlite3.Connection, project_ids: Any, names: Any, count: int) -> None:
    """Refuse a batch (its project_id and name columns, messages.JobCreate's shape) that gives
    one name to two jobs of a project (400), or a name a job of its project has (409)."""
    if names is None:
        return
    if not isinstance(names, list) and count > 1 and not isinstance(project_ids, list):
        raise ValidationError(f"jobs[1].name: {labels.name_repeated(names, 0, project_ids)}",
                              code="invalid_name")
    first = _first_of_each(project_ids, names, count)
    wanted = sorted({name for name, _ in first})
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        for name, project_id, job_id in conn.execute(
                f"SELECT name, project_id, id FROM jobs WHERE name IN ({marks})", chunk):
            found = first.get((name, project_id))
            if found is not None:
                where = f"jobs[{found}].name" if count > 1 else "name"
                raise ConflictError(f"{where}: {labels.name_taken(name, job_id, project_id)}")


def _first_of_each(project_ids: Any, names: Any, count: int) -> dict[tuple[str, int], int]:
    """(name, project_id) -> the index of the job that has it; 400 for a pair two jobs have."""
    if not isinstance(project_ids, list) and isinstance(names, list) and None not in names and (
            len(set(names)) == count):  # one project, every job named, each its own name
        return {(name, project_ids): index for index, name in enumerate(names)}
    first: dict[tuple[str, int], int] = {}
    for index, (name, project_id) in enumerate(_pairs(project_ids, names, count)):
        if name is None:
            continue
        seen = first.setdefault((name, project_id), index)
        if seen != index:
            raise ValidationError(f"jobs[{index}].name: "
                                  f"{labels.name_repeated(name, seen, project_id)}",
                                  code="invalid_name")
    return first


def _pairs(project_ids: Any, names: Any, count: int) -> Iterator[tuple[Any, Any]]:
    return zip(unfold_column(names, count), unfold_column(project_ids, count), strict=True)


def require_free_for(conn: sqlite3.Connection, job_id: int, name: str) -> None:
    """Refuse (409) renaming job `job_id` to a name another job of its project has."""
    row = conn.execute("SELECT o.id, o.project_id FROM jobs j JOIN jobs o "
                       "ON o.name = ? AND o.project_id = j.project_id AND o.id != j.id "
                       "WHERE j.id = ?", (name, job_id)).fetchone()
    if row is not None:
        raise ConflictError(f"name: {labels.name_taken(name, row[0], row[1])}")
