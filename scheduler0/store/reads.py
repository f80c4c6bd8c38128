"""Read-only queries for the API process, over its own connection to the node's file.

WAL lets readers run beside the coordinator's writes. Each method is one short transaction
(a list and its total come from the same one) with every cursor fully consumed, so a reader
never holds back a checkpoint. A Reader belongs to one thread (sqlite3's own check enforces
it); the API keeps one per thread. Reads show this node's copy, which on a follower can lag
the leader by the replication delay.

Row dicts: see scheduler0.store.rows. Lists return (rows, total) where total counts every
row matching the filters, not just the page. Every method raises StoreError when SQLite fails.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from scheduler0.schedule import ScheduleCache
from scheduler0.store import db, dedup, rows
from scheduler0.vocabulary import EXECUTION_STATES

T = TypeVar("T")
Page = tuple[list[dict[str, Any]], int]


class _Where:
    """AND-ed conditions with their parameters, built from optional filters."""

    def __init__(self) -> None:
        self.terms: list[str] = []
        self.params: list[Any] = []

    def add(self, term: str, value: Any) -> None:
        if value is not None:
            self.terms.append(term)
            self.params.append(value)

    @property
    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.terms)) if self.terms else ""


class Reader:
    """Read-only view of the node's SQLite file for the calling thread."""

    def __init__(self, db_path: str) -> None:
        """Raises StoreError when the file does not exist or is not initialised yet."""
        self._path = db_path
        self._conn = db.open_reader(db_path)
        self._schedules = ScheduleCache()

    @classmethod
    def for_thread(cls, local: threading.local, db_path: str) -> Reader:
        """The calling thread's Reader kept in `local`, opened on first use (a Reader serves
        only the thread that made it)."""
        reader: Reader | None = getattr(local, "reader", None)
        if reader is None:
            reader = local.reader = cls(db_path)
        return reader

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query inside sees the same committed state."""
        with db.wrapped(f"cannot read {self._path}"):
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    def _one(self, sql: str, params: Sequence[Any], convert: Callable[[Any], T]) -> T | None:
        with self._read() as conn:
            row = conn.execute(sql, params).fetchone()
        return None if row is None else convert(row)

    def _page(self, select: str, table_sql: str, where: _Where, order: str, limit: int,
              offset: int, convert: Callable[[Any], dict[str, Any]]) -> Page:
        with self._read() as conn:
            found = conn.execute(
                f"{select}{where.sql} ORDER BY {order} LIMIT ? OFFSET ?",
                (*where.params, max(0, limit), max(0, offset))).fetchall()
            (total,) = conn.execute(f"SELECT count(*) FROM {table_sql}{where.sql}",
                                    where.params).fetchone()
        return [convert(row) for row in found], int(total)

    # -- credentials --------------------------------------------------------------------------

    def credential_by_api_key(self, api_key: str) -> dict[str, Any] | None:
        """The credential with `secret_hash` (for auth), or None."""
        def convert(row: Any) -> dict[str, Any]:
            return {**rows.credential(row[:5]), "secret_hash": row[5]}
        return self._one(f"SELECT {rows.CREDENTIAL_COLUMNS}, secret_hash FROM credentials "
                         "WHERE api_key = ?", (api_key,), convert)

    def get_credential(self, credential_id: int) -> dict[str, Any] | None:
        return self._one(f"SELECT {rows.CREDENTIAL_COLUMNS} FROM credentials WHERE id = ?",
                         (credential_id,), rows.credential)

    def list_credentials(self, limit: int = 50, offset: int = 0) -> Page:
        """Newest first."""
        return self._page(f"SELECT {rows.CREDENTIAL_COLUMNS} FROM credentials", "credentials",
                          _Where(), "id DESC", limit, offset, rows.credential)

    # -- projects -----------------------------------------------------------------------------

    def get_project(self, project_id: int) -> dict[str, Any] | None:
        return self._one(f"SELECT {rows.PROJECT_COLUMNS} FROM projects WHERE id = ?",
                         (project_id,), rows.project)

    def get_project_signing_secret(self, project_id: int) -> str | None:
        return self._one("SELECT signing_secret FROM projects WHERE id = ?", (project_id,),
                         lambda row: str(row[0]))

    def list_projects(self, limit: int = 50, offset: int = 0) -> Page:
        """By id."""
        return self._page(f"SELECT {rows.PROJECT_COLUMNS} FROM projects", "projects", _Where(),
                          "id", limit, offset, rows.project)

    def project_job_count(self, project_id: int) -> int:
        return self._count("SELECT count(*) FROM jobs WHERE project_id = ?", (project_id,))

    def count_projects(self) -> int:
        return self._count("SELECT count(*) FROM projects", ())

    # -- jobs ---------------------------------------------------------------------------------

    def get_job(self, job_id: int) -> dict[str, Any] | None:
        return self._one(rows.JOB_SELECT + " WHERE j.id = ?", (job_id,), self._job)

    def list_jobs(self, project_id: int | None = None, paused: bool | None = None,
                  limit: int = 50, offset: int = 0) -> Page:
        """By id; filters are AND-ed, None means any."""
        where = _Where()
        where.add("j.project_id = ?", project_id)
        where.add("j.paused = ?", None if paused is None else int(paused))
        return self._page(rows.JOB_SELECT, "jobs j", where, "j.id", limit, offset, self._job)

    def count_jobs(self) -> int:
        return self._count("SELECT count(*) FROM jobs", ())

    def _job(self, row: Any) -> dict[str, Any]:
        return rows.job(row, self._schedules)

    # -- executions ---------------------------------------------------------------------------

    def list_executions(self, project_id: int | None = None, job_id: int | None = None,
                        state: str | None = None, since: int | None = None,
                        until: int | None = None, limit: int = 50, offset: int = 0) -> Page:
        """Newest scheduled_at first; `since` inclusive, `until` exclusive (epoch s)."""
        where = _Where()
        where.add("project_id = ?", project_id)
        where.add("job_id = ?", job_id)
        where.add("state = ?", state)
        where.add("scheduled_at >= ?", since)
        where.add("scheduled_at < ?", until)
        return self._page(f"SELECT {rows.EXECUTION_COLUMNS} FROM executions", "executions",
                          where, "scheduled_at DESC, execution_id DESC", limit, offset,
                          rows.execution)

    def executions_by_state(self) -> dict[str, int]:
        """Count per state; every state is present (0 when none)."""
        with self._read() as conn:
            found = dict(conn.execute(
                "SELECT state, count(*) FROM executions GROUP BY state").fetchall())
        return {state: int(found.get(state, 0)) for state in EXECUTION_STATES}

    # -- raft ---------------------------------------------------------------------------------

    def last_applied(self) -> int:
        with self._read() as conn:
            return dedup.last_applied(conn)

    def _count(self, sql: str, params: Sequence[Any]) -> int:
        with self._read() as conn:
            (count,) = conn.execute(sql, params).fetchone()
        return int(count)
