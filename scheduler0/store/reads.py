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
import dataclasses
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from scheduler0.errors import ForbiddenError
from scheduler0.labels import Requirement, prefix_bounds
from scheduler0.schedule import ScheduleCache
from scheduler0.schedule.load import ScheduleLoad
from scheduler0.store import (
    counters,
    db,
    dedup,
    execution_browse,
    executions,
    job_browse,
    job_labels,
    load_reads,
    manual,
    notifications,
    operations,
    rows,
    summary_reads,
)
from scheduler0.vocabulary import FINAL_STATES, ExecutionKey, ExecutionState

T = TypeVar("T")
TOTAL_CAP = 10_000  # a total past this is answered as TOTAL_CAP, not exact
_ID_CHUNK = 500  # values per `IN (...)`: well under SQLite's bound-variable limit


@dataclass(frozen=True)
class Page:
    """One page of a list: `total` counts every row matching the filters (not just the page);
    `exact` is False when it was capped at TOTAL_CAP; `next_after` is the cursor of the next
    page, None on the last one."""

    rows: list[dict[str, Any]]
    total: int
    exact: bool = True
    next_after: str | None = None
    # True when a bounded scan stopped before the page was full: next_after is then where it
    # stopped, and the rows after it are still to be looked at (store/job_browse.py).
    scan_limited: bool = False


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


# What list_jobs walks (and counts): the jobs, the label index `x` in front of them, or the
# name index (rows.JOB_SELECT, LABELLED_JOB_SELECT and NAMED_JOB_SELECT without their columns).
_JOBS = "FROM jobs j LEFT JOIN job_last l ON l.job_id = j.id"
_LABELLED = ("FROM job_labels x CROSS JOIN jobs j ON j.id BETWEEN x.first_id AND x.last_id "
             "LEFT JOIN job_last l ON l.job_id = j.id")
_NAMED = "FROM jobs j INDEXED BY jobs_name LEFT JOIN job_last l ON l.job_id = j.id"


@dataclass(frozen=True)
class _JobWalk:
    """How list_jobs walks to the jobs: its SELECT, the id it pages by, what it counts from,
    the requirement that drives it through the label index (and its ORDER BY), and the
    requirements left to check on the rows."""

    select: str
    id_column: str
    source: str
    lead: Requirement | None = None
    order: str | None = None
    checked: tuple[Requirement, ...] = ()

    @classmethod
    def of(cls, failing: bool, requirements: Sequence[Requirement],
           name_prefix: str | None) -> _JobWalk:
        """The failing jobs for failing=true, else the label index for a selector with a
        positive requirement (job_labels.driver), else the name index for a prefix, else the
        jobs (by id, by project, or the paused ones: SQLite chooses)."""
        if failing:
            return cls(rows.FAILING_JOB_SELECT, "l.job_id", _JOBS, checked=tuple(requirements))
        lead = job_labels.driver(requirements)
        if lead is not None:
            # One label's ranges, in first_id order, hold its jobs in id order: no sort.
            return cls(rows.LABELLED_JOB_SELECT, "j.id", _LABELLED, lead,
                       "x.first_id, j.id" if job_labels.ordered(lead) else None,
                       tuple(r for r in requirements if r is not lead))
        if name_prefix:
            return cls(rows.NAMED_JOB_SELECT, "j.id", _NAMED, checked=tuple(requirements))
        return cls(rows.JOB_SELECT, "j.id", _JOBS, checked=tuple(requirements))


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
                 total: Callable[[sqlite3.Connection], tuple[int, bool]], id_column: str = "id",
                 order: str | None = None) -> Page:
        """A page ordered by an integer id, from `after` (exclusive) or `offset`. `order`:
        an ORDER BY that gives the ids in that order (ascending) in fewer steps."""
        keyed = _Where()
        keyed.terms, keyed.params = list(where.terms), list(where.params)
        keyed.add(f"{id_column} {'<' if descending else '>'} ?", after)
        order = order or f"{id_column} {'DESC' if descending else 'ASC'}"
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

    def _require_in_scope(self, project_id: int | None) -> None:
        """ForbiddenError when `project_id` is a project outside the credential's scope."""
        if project_id is not None and self._scope is not None and project_id not in self._scope:
            raise out_of_scope(self._scope, f"project {project_id} is not one of them")

    def get_project(self, project_id: int) -> dict[str, Any] | None:
        self._require_in_scope(project_id)
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

    def project_job_counts(self, project_ids: Sequence[int]) -> dict[int, int]:
        """Project id -> its jobs, exactly: each a count of its range of jobs_project (index
        entries only; measured about 25 ms per million jobs)."""
        with self._read() as conn:
            return {project_id: int(conn.execute(
                "SELECT count(*) FROM jobs INDEXED BY jobs_project WHERE project_id = ?",
                (project_id,)).fetchone()[0]) for project_id in project_ids}

    def count_projects(self) -> int:
        with self._read() as conn:
            return self._counter(conn, counters.PROJECTS)

    def list_notifications(self, project_id: int, delivery: str | None = None, limit: int = 50,
                           offset: int = 0, after: int | None = None) -> Page:
        """A project's failure notifications (store/notifications.py), newest first, with
        their delivery state; `delivery` keeps those in one (pending, sent, failed). Rows:
        notifications.listed."""
        where = _Where()
        where.add("project_id = ?", project_id)
        where.add("delivery = ?", delivery)
        return self._id_page(
            f"SELECT {notifications.LISTED_COLUMNS} FROM notifications", where, True, limit,
            offset, after, notifications.listed,
            lambda conn: _capped(conn, "SELECT 1 FROM notifications" + where.sql, where.params))

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

    def browse_jobs(self, browse: job_browse.Browse, limit: int = 50, offset: int = 0) -> Page:
        """The jobs screen's list: every filter of list_jobs and the console's (contains,
        status, last_state, host), in a sort (id, -id, name, -name), each row with its last
        result's lateness (`last_late_ms`). One index drives the walk; every other filter is
        checked on at most job_browse.SCAN_LIMIT rows of it (store/job_browse.py)."""
        plan = job_browse.plan(browse, self._scope)
        with self._read() as conn:
            found = job_browse.page(conn, plan, limit, offset, self._job)
            job_browse.add_lateness(conn, found.rows)
        return Page(found.rows, found.total, found.exact, found.next_after, found.scan_limited)

    def list_jobs(self, project_id: int | None = None, paused: bool | None = None,
                  limit: int = 50, offset: int = 0, after: int | None = None,
                  failing: bool | None = None, labels: Sequence[Requirement] = (),
                  name_prefix: str | None = None) -> Page:
        """By id; filters are AND-ed, None means any. `failing`: the job's last result was
        failed or missed (True) or not (False); `labels`: a selector's requirements, each of
        which a job meets; `name_prefix`: jobs whose names start with it.

        One index drives the walk (_JobWalk); every other filter is checked on the rows it
        finds. browse_jobs has the console's filters and sorts."""
        where = _Where()
        where.add("j.project_id = ?", project_id)
        where.add_in("j.project_id", self._scope)
        if paused is not None:  # a literal, not a parameter: SQLite then uses jobs_paused
            where.terms.append(f"j.paused = {int(paused)}")
        if failing:
            where.terms.append("l.state > 0")
        elif failing is not None:
            where.terms.append("(l.state IS NULL OR l.state = 0)")
        walk = _JobWalk.of(bool(failing), labels, name_prefix)
        on_jobs = bool(where.terms or walk.checked or name_prefix)  # anything to read jobs for
        terms, params = job_labels.row_terms(walk.checked)
        where.terms += terms
        where.params += params
        if name_prefix:
            where.terms += ["j.name >= ?", "j.name < ?"]
            where.params += list(prefix_bounds(name_prefix))
        counted = _Where()
        counted.terms, counted.params = list(where.terms), list(where.params)
        lead = walk.lead
        if lead is not None:
            for filters, cursor in ((where, after), (counted, None)):
                terms, params = job_labels.driver_terms(lead, cursor)
                filters.terms += terms
                filters.params += params

        def total(conn: sqlite3.Connection) -> tuple[int, bool]:
            if not counted.terms:
                return self._counter(conn, counters.JOBS), True
            if lead is not None and not on_jobs:  # the ranges alone say how many
                found = job_labels.count_ranges(conn, lead, TOTAL_CAP)
                return (TOTAL_CAP, False) if found > TOTAL_CAP else (found, True)
            return _capped(conn, "SELECT 1 " + walk.source + counted.sql, counted.params)
        return self._id_page(walk.select, where, False, limit, offset, after, self._job, total,
                             id_column=walk.id_column, order=walk.order)

    def add_lateness(self, jobs: list[dict[str, Any]]) -> None:
        """Set each of `jobs`' `last_late_ms` (job_browse.add_lateness)."""
        with self._read() as conn:
            job_browse.add_lateness(conn, jobs)

    def names_taken(self, names: Sequence[str]) -> dict[tuple[str, int], int]:
        """(name, project_id) -> job id of the jobs called one of `names`, in every project
        (what job.create checks a new job's name against)."""
        wanted = sorted(set(names))
        taken: dict[tuple[str, int], int] = {}
        with self._read() as conn:
            for start in range(0, len(wanted), _ID_CHUNK):
                chunk = wanted[start:start + _ID_CHUNK]
                marks = ", ".join("?" * len(chunk))
                for name, project_id, job_id in conn.execute(
                        f"SELECT name, project_id, id FROM jobs WHERE name IN ({marks})", chunk):
                    taken[(name, project_id)] = job_id
        return taken

    def jobs_named(self, name: str, project_id: int | None = None) -> list[tuple[int, int]]:
        """(id, project_id) of the jobs called `name` in `project_id`, or in any project this
        view sees, by project: at most one per project, and at most 10."""
        where = _Where()
        where.add("name = ?", name)
        where.add("project_id = ?", project_id)
        where.add_in("project_id", self._scope)
        with self._read() as conn:
            found = conn.execute(f"SELECT id, project_id FROM jobs{where.sql} "
                                 "ORDER BY project_id LIMIT 10", where.params).fetchall()
        return [(int(job_id), int(project)) for job_id, project in found]

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

    # -- bulk operations and the cluster pause ------------------------------------------------

    def job_owners(self, job_ids: Sequence[int]) -> dict[int, int]:
        """Job id -> project of those of `job_ids` that are jobs; ForbiddenError for the first
        (in the order given) of another project than the scope's."""
        with self._read() as conn:
            found = operations.owners(conn, job_ids)
        if self._scope is not None:
            for job_id in job_ids:
                owner = found.get(job_id)
                if owner is not None and owner not in self._scope:
                    raise out_of_scope(self._scope, f"job {job_id} belongs to project {owner}")
        return found

    def job_briefs(self, job_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Job id -> its name and zone, of those of `job_ids` that are jobs of the scope (a
        page of executions names at most its own length of jobs: one IN list)."""
        wanted = sorted(set(job_ids))
        if not wanted:
            return {}
        marks = ", ".join("?" * len(wanted))
        with self._read() as conn:
            rows = conn.execute(f"SELECT id, project_id, name, timezone FROM jobs "
                                f"WHERE id IN ({marks})", wanted).fetchall()
        return {job_id: {"name": name, "timezone": zone} for job_id, project_id, name, zone
                in rows if self._scope is None or project_id in self._scope}

    def select_jobs(self, project_id: int | None = None, paused: bool | None = None,
                    labels: Sequence[Requirement] = (),
                    cap: int = 1_000_000) -> operations.Selection:
        """The ids of the jobs matching every filter (`labels`: a selector's requirements),
        by id, read in one transaction: at most `cap` + 1 of them. A selector with a positive
        requirement walks the label index (job_labels.driver), as list_jobs does."""
        self._require_in_scope(project_id)
        where = _Where()
        where.add("j.project_id = ?", project_id)
        where.add_in("j.project_id", self._scope)
        if paused is not None:
            where.terms.append(f"j.paused = {int(paused)}")
        checked, source = list(labels), operations.JOBS
        lead = job_labels.driver(labels)
        if lead is not None:
            checked.remove(lead)
            terms, params = job_labels.driver_terms(lead)
            where.terms += terms
            where.params += params
            source = operations.LABELLED
        terms, params = job_labels.row_terms(checked)
        with self._read() as conn:
            return operations.select(conn, [*where.terms, *terms], [*where.params, *params],
                                     cap, source)

    def select_browsed_jobs(self, browse: job_browse.Browse, cap: int = 1_000_000
                            ) -> operations.Selection | None:
        """select_jobs for the filters of browse_jobs (read as it reads them, in id order):
        at most `cap` + 1 ids; None when its scan would stop at job_browse.SCAN_LIMIT rows
        before it had checked every job (job_browse.matching_ids). A name prefix walks the
        name index, as browse_jobs's name sort does: only named jobs can match one."""
        self._require_in_scope(browse.project_id)
        if browse.name_prefix:
            browse = dataclasses.replace(browse, sort="name")
        plan = job_browse.plan(browse, self._scope)
        with self._read() as conn:
            found = job_browse.matching_ids(conn, plan, cap)
        if found is None:
            return None
        selection = operations.Selection()
        for job_id, project_id in found:
            selection.ids.append(job_id)
            selection.projects.add(project_id)
        return selection

    def get_operation(self, operation_id: int) -> dict[str, Any] | None:
        """The operation, or None; ForbiddenError when it concerns projects outside the scope
        (or projects not known: only a credential for every project sees it)."""
        with self._read() as conn:
            found = operations.load(conn, operation_id)
        if found is not None and not operations.visible(found, self._scope):
            assert self._scope is not None
            projects = found["projects"]
            what = ("projects not known to it" if projects is None else
                    f"project{'s' if len(projects) > 1 else ''} "
                    + ", ".join(map(str, projects)))
            raise out_of_scope(self._scope, f"operation {operation_id} concerns {what}")
        return found

    def list_operations(self, state: str | None = None, limit: int = 50, offset: int = 0,
                        after: int | None = None) -> Page:
        """Newest first; a scoped view lists those it may see."""
        with self._read() as conn:
            found, total = operations.page(conn, self._scope, state, limit, max(0, offset),
                                           after)
        more = len(found) > limit
        found = found[:limit]
        return Page(found, total, True, str(found[-1]["id"]) if more and found else None)

    def operation_executions(self, operation_id: int, limit: int = 50, offset: int = 0,
                             after_run: int = 0) -> Page:
        """The run-nows bulk run `operation_id` fired (none for another action), in the order
        it fired them; the operation must be one the scope sees (get_operation)."""
        with self._read() as conn:
            found, total = manual.fired_by(conn, operation_id, after_run, max(0, offset),
                                           limit + 1)
        more = len(found) > limit
        found = found[:limit]
        return Page(found, total, True, found[-1]["execution_id"] if more and found else None)

    def running_operations(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            return operations.running(conn)

    def operation_counts(self) -> dict[str, int]:
        """Operations kept, by state."""
        with self._read() as conn:
            return operations.count_by_state(conn)

    def cluster_pause(self) -> dict[str, Any]:
        """Whether planning is paused in the cluster, since when and by whom, and the last
        resume (operations.pause_state)."""
        with self._read() as conn:
            return operations.pause_state(conn)

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

    def browse_executions(self, jobs: execution_browse.JobsOf, project_id: int | None = None,
                          job_id: int | None = None, state: str | None = None,
                          since: int | None = None, until: int | None = None, limit: int = 50,
                          offset: int = 0, after: str | None = None) -> Page:
        """list_executions with the executions screen's filters: the jobs' labels and host,
        and the delivering node (store/execution_browse.py: a few jobs' histories, or a
        bounded scan that may answer scan_limited)."""
        query = executions.Query(project_id, job_id, state, since, until,
                                 executions.cursor(after), self._scope)
        with self._read() as conn:
            found = execution_browse.page(conn, query, jobs, max(0, offset), limit)
        return Page(found.rows, found.total, found.exact, found.next_after, found.scan_limited)

    def execution(self, key: ExecutionKey) -> dict[str, Any] | None:
        """The execution `key` as it is now (store/manual.py: scheduled while a delivery of it
        is in flight, else as recorded), or None; ForbiddenError when its job is of a project
        out of scope."""
        self.get_job(key.job_id)  # refuses another project's job
        with self._read() as conn:
            return manual.find(conn, key)

    def backfill_plan(self, job_id: int, start: int, end: int, now: int) -> manual.BackfillPlan:
        """What a backfill of the job from `start` to `end` would fire now, by this copy of
        the store (the command decides again on apply: manual.backfill_plan)."""
        with self._read() as conn:
            return manual.backfill_plan(conn, job_id, start, end, now, self._schedules)

    def upcoming_schedules(self, end: int) -> tuple[list[ScheduleLoad], bool]:
        """The schedules that fire by `end` and their unpaused jobs (load_reads.upcoming);
        every project's: GET /load needs a credential for every project."""
        with self._read() as conn:
            return load_reads.upcoming(conn, end)

    def summary(self, now: int) -> dict[str, Any]:
        """The overview's counts for the projects this view sees (summary_reads.summary)."""
        with self._read() as conn:
            return summary_reads.summary(conn, now, self._scope)

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
