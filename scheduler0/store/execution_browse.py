"""The executions screen's filters on top of the history's (Reader.browse_executions): the
jobs' labels (a selector) and callback host, and the node that delivered.

Jobs first: the jobs a selector or a host names are found through their index (the label
index, jobs_host) up to JOB_SET_CAP of them; that few are read as that many jobs' histories
(each job's rows from the job index of each table, merged as store/executions.py merges
projects): exact, and a page costs an index seek per job and table. More jobs than that, or a
node filter (node_id has no index in the history: a column there would cost every row), are
a bounded scan instead: the history is walked newest first as for the other filters, each
row's job checked (a primary-key read per distinct job, in chunks) and its node compared, for
at most SCAN_LIMIT rows per request. A page not full by then says `scan_limited`, and its
next cursor is the last row scanned, so the next request carries on from there.
"""

from __future__ import annotations

import dataclasses
import heapq
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from scheduler0.labels import Requirement
from scheduler0.store import executions, job_labels, manual
from scheduler0.vocabulary import ExecutionKey, ExecutionState

JOB_SET_CAP = 100  # jobs read as one job's history each, at most
SCAN_LIMIT = 20_000  # history rows one request checks at most (measured: ~40 ms)
TOTAL_CAP = 10_000  # as reads.TOTAL_CAP
_CHUNK = 500  # rows whose jobs are checked in one query
_NODE = 6  # node_id's position in a history row (history.RUN_COLUMNS)


@dataclass(frozen=True)
class JobsOf:
    """The executions screen's own filters (None, (): any)."""

    labels: tuple[Requirement, ...] = ()
    host: str | None = None
    node_id: int | None = None

    @property
    def on_jobs(self) -> bool:
        return bool(self.labels) or self.host is not None


@dataclass(frozen=True)
class Found:
    rows: list[dict[str, Any]]
    total: int
    exact: bool
    next_after: str | None = None
    scan_limited: bool = False


def _job_terms(query: executions.Query, jobs: JobsOf) -> tuple[str, list[str], list[Any]]:
    """(FROM, terms, params) of the jobs `jobs` and `query` (project, job, scope) name."""
    terms: list[str] = []
    params: list[Any] = []
    source = "FROM jobs j"
    checked = list(jobs.labels)
    lead = job_labels.driver(jobs.labels) if jobs.host is None else None
    if lead is not None:
        checked.remove(lead)
        source = ("FROM job_labels x CROSS JOIN jobs j ON j.id BETWEEN x.first_id AND "
                  "x.last_id")
        lead_terms, lead_params = job_labels.driver_terms(lead)
        terms += lead_terms
        params += lead_params
    if jobs.host is not None:
        source = "FROM jobs j INDEXED BY jobs_host"
        terms.append("j.callback_host = ?")
        params.append(jobs.host)
    for column, value in (("j.id", query.job_id), ("j.project_id", query.project_id)):
        if value is not None:
            terms.append(f"{column} = ?")
            params.append(value)
    if query.scope is not None:
        terms.append(f"j.project_id IN ({', '.join('?' * len(query.scope)) or 'NULL'})")
        params += query.scope
    row_sql, row_params = job_labels.row_terms(checked)
    return source, terms + row_sql, params + row_params


def _few_jobs(conn: sqlite3.Connection, query: executions.Query, jobs: JobsOf
              ) -> list[int] | None:
    """The ids of the jobs `jobs` names, when at most JOB_SET_CAP; else None."""
    source, terms, params = _job_terms(query, jobs)
    found = conn.execute(f"SELECT DISTINCT j.id {source} WHERE {' AND '.join(terms) or '1'} "
                         f"LIMIT {JOB_SET_CAP + 1}", params).fetchall()
    return None if len(found) > JOB_SET_CAP else sorted(job_id for (job_id,) in found)


class _JobCheck:
    """Whether a job meets `jobs`' filters, read in chunks and remembered."""

    def __init__(self, conn: sqlite3.Connection, query: executions.Query, jobs: JobsOf) -> None:
        self._conn, self._jobs = conn, jobs
        self._source, self._terms, self._params = _job_terms(
            dataclasses.replace(query, job_id=None, project_id=None, scope=None), jobs)
        self._known: dict[int, bool] = {}

    def learn(self, job_ids: Iterable[int]) -> None:
        unknown = sorted({j for j in job_ids if j not in self._known})
        for start in range(0, len(unknown), _CHUNK):
            chunk = unknown[start:start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            terms = " AND ".join([*self._terms, f"j.id IN ({marks})"])
            met = {job_id for (job_id,) in self._conn.execute(
                f"SELECT DISTINCT j.id {self._source} WHERE {terms}", [*self._params, *chunk])}
            self._known.update((job_id, job_id in met) for job_id in chunk)

    def __call__(self, job_id: int) -> bool:
        return self._known[job_id]


def _merged(conn: sqlite3.Connection, queries: list[executions.Query]
            ) -> tuple[Iterator[Any], list[Iterator[Any]]]:
    streams = [stream for q in queries for stream in executions._streams(conn, q)]
    merged = heapq.merge(*streams, key=lambda row: (row[1], row[2], row[manual.RUN]),
                         reverse=True)
    return merged, streams


def _key_id(row: Any) -> str:
    return ExecutionKey(row[2], row[1], row[manual.RUN]).execution_id


def _scan(merged: Iterator[Any], check: _JobCheck | None, node_id: int | None, wanted: int,
          bounded: bool) -> tuple[list[Any], Any, bool]:
    """(the first `wanted` rows of `merged` that pass, the last row read, whether `merged`
    ran out), reading at most SCAN_LIMIT rows when `bounded`."""
    kept: list[Any] = []
    scanned, last = 0, None
    while len(kept) < wanted and (not bounded or scanned < SCAN_LIMIT):
        room = SCAN_LIMIT - scanned if bounded else wanted - len(kept)
        chunk = list(islice(merged, min(_CHUNK, room)))
        if not chunk:
            return kept, last, True
        scanned += len(chunk)
        if check is not None:
            check.learn(row[2] for row in chunk)
        for row in chunk:
            last = row
            if (check is None or check(row[2])) and (node_id is None or row[_NODE] == node_id):
                kept.append(row)
                if len(kept) == wanted:
                    return kept, last, False
    return kept, last, next(merged, None) is None


def page(conn: sqlite3.Connection, query: executions.Query, jobs: JobsOf, offset: int,
         limit: int) -> Found:
    """One page of recorded executions meeting `query` and `jobs`, newest first."""
    if query.state == ExecutionState.SCHEDULED.value:
        return _pending(conn, query, jobs, offset, limit)
    few = _few_jobs(conn, query, jobs) if jobs.on_jobs else None
    if few is not None:
        queries = [dataclasses.replace(query, job_id=job_id, project_id=None) for job_id in few]
        check = None
    else:
        queries, check = [query], (_JobCheck(conn, query, jobs) if jobs.on_jobs else None)
    bounded = check is not None or jobs.node_id is not None
    merged, streams = _merged(conn, queries) if queries else (iter(()), [])
    try:
        kept, last, exhausted = _scan(merged, check, jobs.node_id, offset + limit + 1, bounded)
    finally:
        for stream in streams:
            stream.close()  # type: ignore[attr-defined]
    shown = manual.annotate(conn, [executions._execution(row) for row in
                                   kept[offset:offset + limit]])
    more = len(kept) > offset + limit and bool(shown)
    if bounded:
        if not more and not exhausted and last is not None:
            return Found(shown, len(kept), False, _key_id(last), scan_limited=True)
        return Found(shown, len(kept), exhausted and query.below is None and offset == 0,
                     shown[-1]["execution_id"] if more else None)
    total, exact = _total(conn, queries)
    return Found(shown, total, exact, shown[-1]["execution_id"] if more else None)


def _total(conn: sqlite3.Connection, queries: list[executions.Query]) -> tuple[int, bool]:
    """The matches of a few jobs' histories, counted up to TOTAL_CAP."""
    found = 0
    for job_query in queries:
        count, exact = executions.total(conn, job_query, TOTAL_CAP - found)
        found += count
        if not exact:
            return TOTAL_CAP, False
    return found, True


def _pending(conn: sqlite3.Connection, query: executions.Query, jobs: JobsOf, offset: int,
             limit: int) -> Found:
    """The ticks in flight (few), filtered on their rows."""
    rows, _ = executions.pending_page(conn, query, 0, 1 << 62)
    if jobs.on_jobs:
        check = _JobCheck(conn, query, jobs)
        check.learn(row["job_id"] for row in rows)
        rows = [row for row in rows if check(row["job_id"])]
    if jobs.node_id is not None:
        rows = [row for row in rows if row["node_id"] == jobs.node_id]
    shown = rows[offset:offset + limit]
    more = len(rows) > offset + limit
    return Found(shown, len(rows), True, shown[-1]["execution_id"] if more and shown else None)
