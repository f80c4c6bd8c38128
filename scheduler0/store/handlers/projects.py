"""project.create / update / delete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scheduler0.errors import ConflictError, NotFoundError
from scheduler0.messages import ProjectCreate, ProjectDelete, ProjectUpdate
from scheduler0.store import counters, history, notifications, rows, schedules
from scheduler0.store.tx import Tx

URL_REMOVED = "not sent: the project's notification_url was removed"


def create(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    body = ProjectCreate.decode(data)
    _require_free_name(tx, body.name, None)
    limit = body.rate_limit
    cursor = tx.conn.execute(
        "INSERT INTO projects (name, description, signing_secret, created_at_ms, updated_at_ms, "
        "notification_url, notification_format, rate_concurrency, rate_per_second) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (body.name, body.description, body.signing_secret, tx.ts_ms, tx.ts_ms,
         body.notification_url, body.notification_format,
         None if limit is None else limit.concurrency,
         None if limit is None else limit.per_second))
    counters.add(tx.conn, {counters.PROJECTS: 1})
    return {**_fetch(tx, int(cursor.lastrowid or 0)), "signing_secret": body.signing_secret}


def update(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    """Changes the given fields; the result shows signing_secret only when it was rotated.

    A rotation keeps the secret it replaces as the previous one until `grace_seconds` after the
    command's time (none when 0); a second rotation within the grace period drops the oldest
    secret, so there are never more than two. Removing the notification_url gives up on the
    project's notifications not sent yet (a new URL receives them instead).
    """
    body = ProjectUpdate.decode(data)
    project_id = body.id
    _fetch(tx, project_id)
    changes: dict[str, Any] = dict(body.changes())
    if "name" in changes:
        _require_free_name(tx, changes["name"], project_id)
    if "signing_secret" in changes:
        changes.update(_previous_secret(tx, project_id, body.grace_seconds))
    if changes:
        assignments = ", ".join(f"{field} = ?" for field in changes)  # fixed names, not input
        tx.conn.execute(f"UPDATE projects SET {assignments}, updated_at_ms = ? WHERE id = ?",
                        (*changes.values(), tx.ts_ms, project_id))
    if "notification_url" in changes and changes["notification_url"] is None:
        notifications.give_up_project(tx.conn, project_id, URL_REMOVED, tx.ts_ms)
    project = _fetch(tx, project_id)
    if "signing_secret" in changes:
        project["signing_secret"] = changes["signing_secret"]
    return project


def _previous_secret(tx: Tx, project_id: int, grace_seconds: int) -> dict[str, Any]:
    """The columns that keep the current secret signing for `grace_seconds` once replaced."""
    if grace_seconds <= 0:
        return {"previous_signing_secret": None, "previous_signing_secret_expires_at": None}
    (current,) = tx.conn.execute("SELECT signing_secret FROM projects WHERE id = ?",
                                 (project_id,)).fetchone()
    return {"previous_signing_secret": current,
            "previous_signing_secret_expires_at": tx.ts_s + grace_seconds}


def delete(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    """Refuses (409) while the project has jobs, unless `cascade` deletes them too."""
    body = ProjectDelete.decode(data)
    project_id, cascade = body.id, body.cascade
    _fetch(tx, project_id)
    (job_count,) = tx.conn.execute("SELECT count(*) FROM jobs WHERE project_id = ?",
                                   (project_id,)).fetchone()
    if job_count and not cascade:
        raise ConflictError(f"project {project_id} has {job_count} jobs; delete them first "
                            "or pass ?cascade=true")
    schedule_ids = [sid for (sid,) in tx.conn.execute(
        "SELECT DISTINCT schedule_id FROM jobs WHERE project_id = ?", (project_id,))]
    history.forget_project(tx.conn, project_id)
    notifications.forget_project(tx.conn, project_id)
    tx.conn.execute("DELETE FROM jobs WHERE project_id = ?", (project_id,))
    schedules.drop_orphans(tx.conn, schedule_ids)
    tx.conn.execute("DELETE FROM projects WHERE id = ?", (project_id,))
    counters.add(tx.conn, {counters.JOBS: -int(job_count), counters.PROJECTS: -1})
    return {"id": project_id, "jobs_deleted": int(job_count)}


def _require_free_name(tx: Tx, name: str, own_id: int | None) -> None:
    row = tx.conn.execute("SELECT id FROM projects WHERE name = ?", (name,)).fetchone()
    if row is not None and row[0] != own_id:
        raise ConflictError(f'project name "{name}" already exists; choose another name')


def _fetch(tx: Tx, project_id: int) -> dict[str, Any]:
    row = tx.conn.execute(f"SELECT {rows.PROJECT_COLUMNS} FROM projects WHERE id = ?",
                          (project_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"project {project_id} does not exist")
    return rows.project(row)
