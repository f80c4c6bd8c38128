"""The notification outbox: state changes of jobs recorded on apply, sent by the leader.

scheduler0.store.history finds the changes while it records results (it holds each job's last
result) and `add`s them here, in the same transaction, on every node alike: the outbox is
replicated state like the history, so a new leader finds in it whatever the last one did not
confirm sent. The leader's notifier reads the oldest pending notification of each project
(`pending_heads`, `outgoing`), sends it, and commits the outcome (`settle`, the
notification.settle command).

Bounded: a project holds at most MAX_PENDING_PER_PROJECT pending notifications (a flapping job
whose receiver is down adds no more until they drain) and keeps its KEEP_SETTLED_PER_PROJECT
newest settled ones for GET /projects/{id}/notifications; older ones are pruned when others
settle. Both bounds are constants, not settings: every node must prune the same rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from scheduler0.notifications import GIVEN_UP, PENDING, Change, Notification, Outgoing

MAX_PENDING_PER_PROJECT = 1000
KEEP_SETTLED_PER_PROJECT = 100
SQL_VARIABLES = 900  # below SQLite's default limit on bound parameters per statement

NOTIFICATION_COLUMNS = ("id, project_id, job_id, job_name, type, state, previous_state, "
                        "scheduled_at, attempts, http_status, error, created_at_ms")
LISTED_COLUMNS = (NOTIFICATION_COLUMNS + ", delivery, delivery_attempts, delivery_status, "
                  "delivery_error, settled_at_ms")
# Written out, not bound: SQLite uses the partial index notifications_pending only for a
# condition that reads as its own.
_IS_PENDING = f"delivery = '{PENDING}'"
_INSERT = ("INSERT INTO notifications (project_id, job_id, job_name, type, state, "
           "previous_state, scheduled_at, attempts, http_status, error, created_at_ms) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def notifying_projects(conn: sqlite3.Connection) -> frozenset[int]:
    """The projects with a notification_url (read from its partial index: a few rows)."""
    return frozenset(project for (project,) in conn.execute(
        "SELECT id FROM projects WHERE notification_url IS NOT NULL"))


def add(conn: sqlite3.Connection, changes: Sequence[Change], ts_ms: int) -> int:
    """Record `changes` as pending notifications, in order, each project's up to
    MAX_PENDING_PER_PROJECT pending; returns how many were recorded."""
    if not changes:
        return 0
    names = _job_names(conn, sorted({change.job_id for change in changes}))
    room: dict[int, int] = {}
    recorded = 0
    for change in changes:
        left = room.get(change.project_id)
        if left is None:
            left = MAX_PENDING_PER_PROJECT - pending_count(conn, change.project_id)
        if left <= 0:
            room[change.project_id] = 0
            continue
        conn.execute(_INSERT, (change.project_id, change.job_id, names.get(change.job_id),
                               change.type, change.state, change.previous_state,
                               change.scheduled_at, change.attempts, change.http_status,
                               change.error, ts_ms))
        room[change.project_id] = left - 1
        recorded += 1
    return recorded


def _job_names(conn: sqlite3.Connection, job_ids: Sequence[int]) -> dict[int, str]:
    names: dict[int, str] = {}
    for start in range(0, len(job_ids), SQL_VARIABLES):
        part = job_ids[start:start + SQL_VARIABLES]
        names.update(conn.execute(
            f"SELECT id, name FROM jobs WHERE id IN ({','.join('?' * len(part))}) "
            "AND name IS NOT NULL", part))
    return names


def settle(conn: sqlite3.Connection, outcomes: Iterable[tuple[int, str, int, int | None,
                                                           str | None]], ts_ms: int) -> int:
    """Record how sending went, each outcome (id, delivery, attempts, http_status, error),
    for notifications still pending (a second leader's outcome for the same one is ignored);
    returns how many settled. Then prunes the settled ones past each project's keep."""
    settled = 0
    projects: set[int] = set()
    for ident, delivery, attempts, status, error in outcomes:
        row = conn.execute(
            "UPDATE notifications SET delivery = ?, delivery_attempts = ?, delivery_status = ?, "
            "delivery_error = ?, settled_at_ms = ? WHERE id = ? AND delivery = ? "
            "RETURNING project_id", (delivery, attempts, status, error, ts_ms, ident,
                                     PENDING)).fetchone()
        if row is not None:
            settled += 1
            projects.add(int(row[0]))
    prune_settled(conn, sorted(projects))
    return settled


def give_up_project(conn: sqlite3.Connection, project_id: int, reason: str, ts_ms: int) -> None:
    """Settle a project's pending notifications as given up, saying why (its URL was
    removed: there is nowhere left to send them)."""
    conn.execute("UPDATE notifications SET delivery = ?, delivery_error = ?, settled_at_ms = ? "
                 "WHERE project_id = ? AND delivery = ?",
                 (GIVEN_UP, reason, ts_ms, project_id, PENDING))
    prune_settled(conn, [project_id])


def prune_settled(conn: sqlite3.Connection, project_ids: Sequence[int]) -> None:
    """Keep each project's KEEP_SETTLED_PER_PROJECT newest settled notifications."""
    for project_id in project_ids:
        conn.execute(
            "DELETE FROM notifications WHERE project_id = ? AND delivery != ? AND id < ("
            "SELECT id FROM notifications WHERE project_id = ? AND delivery != ? "
            "ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (project_id, PENDING, project_id, PENDING, KEEP_SETTLED_PER_PROJECT - 1))


def forget_project(conn: sqlite3.Connection, project_id: int) -> None:
    conn.execute("DELETE FROM notifications WHERE project_id = ?", (project_id,))


# -- reads ------------------------------------------------------------------------------------


def pending_heads(conn: sqlite3.Connection, limit: int) -> list[int]:
    """The oldest pending notification of each project (a project's are sent in order, one
    at a time), oldest first."""
    return [int(ident) for (ident,) in conn.execute(
        f"SELECT min(id) FROM notifications WHERE {_IS_PENDING} GROUP BY project_id "
        "ORDER BY 1 LIMIT ?", (limit,))]


def outgoing(conn: sqlite3.Connection, ids: Sequence[int], now: int) -> list[Outgoing]:
    """Pending notifications `ids` with where they go and the secrets that sign them (the
    secret a rotation replaced only while its grace period lasts beyond `now`, epoch s);
    those of projects without a notification_url are left out."""
    found: list[Outgoing] = []
    columns = ", ".join(f"n.{c.strip()}" for c in NOTIFICATION_COLUMNS.split(","))
    for start in range(0, len(ids), SQL_VARIABLES):
        part = list(ids[start:start + SQL_VARIABLES])
        for row in conn.execute(
                f"SELECT {columns}, p.notification_url, p.notification_format, "
                "p.signing_secret, p.previous_signing_secret, "
                "p.previous_signing_secret_expires_at FROM notifications n "
                "JOIN projects p ON p.id = n.project_id "
                f"WHERE n.id IN ({','.join('?' * len(part))}) AND n.delivery = ? "
                "AND p.notification_url IS NOT NULL ORDER BY n.id", (*part, PENDING)):
            url, fmt, secret, previous, expires_at = row[12:]
            keeps = previous is not None and expires_at is not None and expires_at > now
            found.append(Outgoing(notification_of(row[:12]), url, fmt, secret,
                                  previous if keeps else None, expires_at if keeps else None))
    return found


def notification_of(row: Sequence[Any]) -> Notification:
    """A row of NOTIFICATION_COLUMNS."""
    return Notification(*row)


def listed(row: Sequence[Any]) -> dict[str, Any]:
    """A row of LISTED_COLUMNS as the API's listing shows it (serialize formats its times)."""
    head, (delivery, attempts, status, error, settled) = row[:12], row[12:]
    return {"id": head[0], "notification": notification_of(head), "delivery": delivery,
            "delivery_attempts": attempts, "delivery_status": status, "delivery_error": error,
            "settled_at_ms": settled}


def pending_count(conn: sqlite3.Connection, project_id: int) -> int:
    (count,) = conn.execute(f"SELECT count(*) FROM notifications WHERE project_id = ? "
                            f"AND {_IS_PENDING}", (project_id,)).fetchone()
    return int(count)
