"""Read-only queries for the API process, over its own connection to the node's file.

WAL lets readers run beside the coordinator's writes. Each method is one short transaction
(a list and its total come from the same one) with every cursor fully consumed, so a reader
never holds back a checkpoint. A Reader belongs to one thread (sqlite3's own check enforces
it); the API keeps one per thread. Reads show this node's copy, which on a follower can lag
the leader by the replication delay.

Row dicts: see scheduler0.store.rows. Lists return a Page. Nothing here scans a large table:
lists walk an index from a keyset cursor (`after`, the last id of the previous page) or an
offset; totals come from the counters (scheduler0.store.counters) or are counted up to
TOTAL_CAP and reported as not exact beyond it. Every method raises StoreError when SQLite
fails.
"""

from __future__ import annotations

import copy
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from scheduler0.errors import ForbiddenError
from scheduler0.schedule import ScheduleCache
from scheduler0.store import counters, db, dedup, executions, rows
from scheduler0.vocabulary import FINAL_STATES, ExecutionState

T = TypeVar("T")
TOTAL_CAP = 10_000  # a total past this is answered as TOTAL_CAP, not exact


@dataclass(frozen=True)
class Page:
    """One page of a list: `total` counts every row matching the filters (not just the page);
    `exact` is False when it was capped at TOTAL_CAP; `next_after` is the cursor of the next
    page, None on the last one."""

    rows: list[dict[str, Any]]
    total: int
    exact: bool = True
    next_after: str | None = None


def _capped(conn: sqlite3.Connection, select_one: str, params: Sequence[Any]) -> tuple[int, bool]:
    """(count, exact) of the rows `select_one` (a `SELECT 1 ...`) finds, counting at most
    TOTAL_CAP + 1."""
    (found,) = conn.execute(f"SELECT count(*) FROM ({select_one} LIMIT {TOTAL_CAP + 1})",
                            params).fetchone()
    return (TOTAL_CAP, False) if found > TOTAL_CAP else (int(found), True)


class _Where:
    """AND-ed conditions with their parameters, built from optional filters."""

    def __init__(self) -> None:
        self.terms: list[str] = []
        self.params: list[Any] = []

    def add(self, term: str, value: Any) -> None:
        if value is not None:
            self.terms.append(term)
            self.params.append(value)

    def add_in(self, column: str, values: Sequence[int] | None) -> None:
        """`column IN (values)`; nothing when `values` is None (no restriction)."""
        if values is not None:
            self.terms.append(f"{column} IN ({', '.join('?' * len(values)) or 'NULL'})")
            self.params.extend(values)

    @property
    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.terms)) if self.terms else ""


def out_of_scope(projects: Sequence[int], what: str) -> ForbiddenError:
    """The refusal of a credential limited to `projects` that names an object outside them."""
    return ForbiddenError(f"this credential is limited to projects {sorted(projects)}; {what}; "
                          "use a credential for that project")


class Reader:
    """Read-only view of the node's SQLite file for the calling thread.

    `scoped(projects)` is the same view limited to some projects, for a credential limited to
    them: its lists hold only those projects' rows (filtered in the queries), and reading one
    project or job of another project raises ForbiddenError (403, not None: see
    scheduler0.api.access for why).
    """

    def __init__(self, db_path: str) -> None:
        """Raises StoreError when the file does not exist or is not initialised yet."""
        self._path = db_path
        self._conn = db.open_reader(db_path)
        self._schedules = ScheduleCache()
        self._scope: tuple[int, ...] | None = None  # None: every project

    def scoped(self, projects: Sequence[int] | None) -> Reader:
        """This view (same connection, same thread) limited to `projects`; None: every one."""
        view = copy.copy(self)
        view._scope = None if projects is None else tuple(sorted(set(projects)))
        return view

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

    def _id_page(self, select: str, where: _Where, descending: bool, limit: int, offset: int,
                 after: int | None, convert: Callable[[Any], dict[str, Any]],
                 total: Callable[[sqlite3.Connection], tuple[int, bool]], id_column: str = "id"
                 ) -> Page:
        """A page ordered by an integer id, from `after` (exclusive) or `offset`."""
        keyed = _Where()
        keyed.terms, keyed.params = list(where.terms), list(where.params)
        keyed.add(f"{id_column} {'<' if descending else '>'} ?", after)
        order = f"{id_column} {'DESC' if descending else 'ASC'}"
        with self._read() as conn:
            found = conn.execute(f"{select}{keyed.sql} ORDER BY {order} LIMIT ? OFFSET ?",
                                 (*keyed.params, limit + 1, max(0, offset))).fetchall()
            count, exact = total(conn)
        page = [convert(row) for row in found[:limit]]
        more = len(found) > limit
        return Page(page, count, exact, str(page[-1]["id"]) if more and page else None)

    # -- credentials --------------------------------------------------------------------------

    def credential_by_api_key(self, api_key: str) -> dict[str, Any] | None:
        """The credential with `secret_hash` (for auth), or None."""
        def convert(row: Any) -> dict[str, Any]:
            return {**rows.credential(row[:-1]), "secret_hash": row[-1]}
        return self._one(f"SELECT {rows.CREDENTIAL_COLUMNS}, secret_hash FROM credentials "
                         "WHERE api_key = ?", (api_key,), convert)

    def get_credential(self, credential_id: int) -> dict[str, Any] | None:
        return self._one(f"SELECT {rows.CREDENTIAL_COLUMNS} FROM credentials WHERE id = ?",
                         (credential_id,), rows.credential)

    def list_credentials(self, limit: int = 50, offset: int = 0, after: int | None = None
                         ) -> Page:
        """Newest first."""
        return self._id_page(f"SELECT {rows.CREDENTIAL_COLUMNS} FROM credentials", _Where(),
                             True, limit, offset, after, rows.credential,
                             lambda conn: _capped(conn, "SELECT 1 FROM credentials", ()))

    # -- projects -----------------------------------------------------------------------------

    def get_project(self, project_id: int) -> dict[str, Any] | None:
        if self._scope is not None and project_id not in self._scope:
            raise out_of_scope(self._scope, f"project {project_id} is not one of them")
        return self._one(f"SELECT {rows.PROJECT_COLUMNS} FROM projects WHERE id = ?",
                         (project_id,), rows.project)

    def get_project_signing_secret(self, project_id: int) -> str | None:
        return self._one("SELECT signing_secret FROM projects WHERE id = ?", (project_id,),
                         lambda row: str(row[0]))

    def list_projects(self, limit: int = 50, offset: int = 0, after: int | None = None) -> Page:
        """By id."""
        where = _Where()
        where.add_in("id", self._scope)

        def total(conn: sqlite3.Connection) -> tuple[int, bool]:
            if self._scope is None:
                return self._counter(conn, counters.PROJECTS), True
            return _capped(conn, "SELECT 1 FROM projects" + where.sql, where.params)
        return self._id_page(f"SELECT {rows.PROJECT_COLUMNS} FROM projects", where, False,
                             limit, offset, after, rows.project, total)

    def project_job_count(self, project_id: int) -> int:
        return self._count("SELECT count(*) FROM jobs WHERE project_id = ?", (project_id,))

    def count_projects(self) -> int:
        with self._read() as conn:
            return self._counter(conn, counters.PROJECTS)

    # -- jobs ---------------------------------------------------------------------------------

    def get_job(self, job_id: int) -> dict[str, Any] | None:
        job = self._one(rows.JOB_SELECT + " WHERE j.id = ?", (job_id,), self._job)
        if job is not None and self._scope is not None and job["project_id"] not in self._scope:
            raise out_of_scope(self._scope,
                               f"job {job_id} belongs to project {job['project_id']}")
        return job

    def job_project(self, job_id: int) -> int | None:
        """The project of job `job_id`, or None when there is no such job."""
        return self._one("SELECT project_id FROM jobs WHERE id = ?", (job_id,),
                         lambda row: int(row[0]))

    def list_jobs(self, project_id: int | None = None, paused: bool | None = None,
                  limit: int = 50, offset: int = 0, after: int | None = None,
                  failing: bool | None = None) -> Page:
        """By id; filters are AND-ed, None means any. `failing`: the job's last result was
        failed or missed (True) or not (False)."""
        where = _Where()
        where.add("j.project_id = ?", project_id)
        where.add_in("j.project_id", self._scope)
        if paused is not None:  # a literal, not a parameter: SQLite then uses jobs_paused
            where.terms.append(f"j.paused = {int(paused)}")
        select, id_column = rows.JOB_SELECT, "j.id"
        if failing:
            select, id_column = rows.FAILING_JOB_SELECT, "l.job_id"
            where.terms.append("l.state > 0")
        elif failing is not None:
            where.terms.append("(l.state IS NULL OR l.state = 0)")

        def total(conn: sqlite3.Connection) -> tuple[int, bool]:
            if not where.terms:
                return self._counter(conn, counters.JOBS), True
            return _capped(conn, "SELECT 1 FROM jobs j LEFT JOIN job_last l ON l.job_id = j.id"
                           + where.sql, where.params)
        return self._id_page(select, where, False, limit, offset, after, self._job, total,
                             id_column=id_column)

    def next_job_id(self) -> int:
        """The id the next job created gets, unless another is created first (job.create
        counts the same way: AUTOINCREMENT never reuses an id)."""
        with self._read() as conn:
            row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'jobs'").fetchone()
            (top,) = conn.execute("SELECT max(id) FROM jobs").fetchone()
        return max(row[0] if row else 0, top or 0) + 1

    def count_jobs(self) -> int:
        with self._read() as conn:
            return self._counter(conn, counters.JOBS)

    def _job(self, row: Any) -> dict[str, Any]:
        return rows.job(row, self._schedules)

    # -- executions ---------------------------------------------------------------------------

    def list_executions(self, project_id: int | None = None, job_id: int | None = None,
                        state: str | None = None, since: int | None = None,
                        until: int | None = None, limit: int = 50, offset: int = 0,
                        after: str | None = None) -> Page:
        """Newest scheduled_at first, ties by job id, newest first; `since` inclusive, `until`
        exclusive (epoch s); `after` an execution id: the page starts below it.

        Recorded executions (succeeded, failed, missed); `state="scheduled"` lists the ticks
        planned and not settled yet instead."""
        query = executions.Query(project_id, job_id, state, since, until,
                                 executions.cursor(after), self._scope)
        with self._read() as conn:
            if state == ExecutionState.SCHEDULED.value:
                found, total = executions.pending_page(conn, query, offset, limit + 1)
                exact = True
            else:
                found = executions.recorded_page(conn, query, offset, limit + 1)
                total, exact = executions.total(conn, query, TOTAL_CAP)
        more = len(found) > limit
        found = found[:limit]
        return Page(found, total, exact,
                    found[-1]["execution_id"] if more and found else None)

    def executions_by_state(self) -> dict[str, int]:
        """Executions kept in the history per state, and `scheduled`: ticks in flight."""
        with self._read() as conn:
            kept = counters.read(conn)
        by_state = {state: kept[counters.retained(state)] for state in FINAL_STATES}
        return {ExecutionState.SCHEDULED.value: kept[counters.PENDING], **by_state}

    def counters(self) -> dict[str, int]:
        with self._read() as conn:
            return counters.read(conn)

    def rollups(self, period: str, project_id: int | None = None, since: int | None = None,
                until: int | None = None, limit: int = 1440) -> list[dict[str, Any]]:
        """Counts per minute or hour (`period`), oldest first, summed over projects unless
        one is given."""
        with self._read() as conn:
            return executions.rollups(conn, period, project_id, since, until, limit,
                                      self._scope)

    # -- raft ---------------------------------------------------------------------------------

    def last_applied(self) -> int:
        with self._read() as conn:
            return dedup.last_applied(conn)

    @staticmethod
    def _counter(conn: sqlite3.Connection, name: str) -> int:
        return counters.read(conn)[name]

    def _count(self, sql: str, params: Sequence[Any]) -> int:
        with self._read() as conn:
            (count,) = conn.execute(sql, params).fetchone()
        return int(count)
