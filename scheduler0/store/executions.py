"""Reading the execution history without scanning it (the Reader's history queries).

Rows are ordered newest first by (scheduled_at, job_id, run): `run` is a run-now's number, 0
for a tick (vocabulary.ExecutionKey), so a job's run-nows of a second come before its tick of
that second. A job's rows come from the job index of each history table; otherwise each
project's rows come from the table's primary key (project_id, scheduled_at, job_id), and the
per-project streams (and the two tables, and the run-nows' one stream) are merged lazily: a
page costs one index seek per project and table plus the rows it shows.
"""

from __future__ import annotations

import dataclasses
import heapq
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from scheduler0 import manual as manual_rules
from scheduler0.errors import ValidationError
from scheduler0.store import counters, history, manual, pending
from scheduler0.vocabulary import ExecutionKey, ExecutionState, parse_execution_key

Key = tuple[int, int, int]  # (scheduled_at, job_id, run)
PERIODS = {"minute": ("rollup_minute", history.MINUTE), "hour": ("rollup_hour", history.HOUR)}


@dataclass(frozen=True)
class Query:
    project_id: int | None
    job_id: int | None
    state: str | None  # one state, recorded ones joined by commas ("failed,missed"), or None
    since: int | None
    until: int | None
    below: Key | None  # rows strictly older than this key (the keyset cursor)
    scope: tuple[int, ...] | None = None  # only these projects' rows (None: every project)

    def recorded_states(self) -> list[str]:
        """The recorded states the filter names: every one when it names none."""
        return self.state.split(",") if self.state else list(history.STATE_CODES)

    def state_codes(self) -> list[int] | None:
        """The state codes to filter a table holding every state on; None: no filter."""
        if self.state is None:
            return None
        return sorted(history.STATE_CODES[state] for state in self.recorded_states())

    def tables(self) -> list[tuple[str, int | None]]:
        """(table, state code to filter on or None) to read: runs_ok holds the succeeded
        rows, runs_bad the failed and missed ones (so both of those need no filter)."""
        states = self.recorded_states()
        found: list[tuple[str, int | None]] = []
        if ExecutionState.SUCCEEDED.value in states:
            found.append((history.OK_TABLE, None))
        bad = [history.STATE_CODES[s] for s in states if s != ExecutionState.SUCCEEDED.value]
        if bad:
            found.append((history.BAD_TABLE, bad[0] if len(bad) == 1 else None))
        return found

    def matches(self, tick: int, job_id: int, project_id: int, run: int = 0) -> bool:
        return ((self.project_id is None or project_id == self.project_id)
                and (self.scope is None or project_id in self.scope)
                and (self.job_id is None or job_id == self.job_id)
                and (self.since is None or tick >= self.since)
                and (self.until is None or tick < self.until)
                and (self.below is None or (tick, job_id, run) < self.below))


def cursor(after: str | None) -> Key | None:
    """The key of an `after` execution id; raises ValidationError naming the parameter."""
    if after is None:
        return None
    try:
        key = parse_execution_key(after)
    except ValueError:
        raise ValidationError(f"after: {after!r} is not an execution id; pass the "
                              "execution_id of the last row of the previous page (the page's "
                              "next_after)", code="invalid_after") from None
    return key.scheduled_at, key.job_id, key.run


def _conditions(query: Query, table_state: int | None, project_id: int | None,
                with_cursor: bool) -> tuple[list[str], list[Any]]:
    terms: list[str] = []
    params: list[Any] = []

    def add(term: str, value: Any) -> None:
        terms.append(term)
        params.append(value)

    if query.job_id is not None:
        add("job_id = ?", query.job_id)
    if project_id is not None:
        add("project_id = ?", project_id)
    if table_state is not None:
        add("state = ?", table_state)
    if query.since is not None:
        add("scheduled_at >= ?", query.since)
    below = query.below if with_cursor else None
    # Of an upper bound and the cursor only the tighter is given, so that SQLite ranges its
    # index on it (given both, it ranges on the plain bound and filters the rest row by row).
    if query.until is not None and (below is None or query.until <= below[0]):
        add("scheduled_at < ?", query.until)
        below = None
    if below is not None:
        tick, job, run = below
        # A tick's key is (tick, job, 0): below a run-now's, its own job's tick of that second
        # is too.
        if query.job_id is not None:  # one job: the key is a plain range on scheduled_at
            add("scheduled_at <= ?" if (query.job_id, 0) < (job, run) else "scheduled_at < ?",
                tick)
        else:
            terms.append(f"(scheduled_at, job_id) {'<=' if run else '<'} (?, ?)")
            params += [tick, job]
    return terms, params


def _streams(conn: sqlite3.Connection, query: Query) -> list[Iterator[Any]]:
    """One newest-first row cursor per (table, project) to merge."""
    streams: list[Iterator[Any]] = []
    for table, state in query.tables():
        for project_id in _projects(conn, query):
            terms, params = _conditions(query, state, project_id, with_cursor=True)
            order = ("scheduled_at DESC" if query.job_id is not None
                     else "scheduled_at DESC, job_id DESC")
            streams.append(conn.execute(
                f"SELECT {history.RUN_COLUMNS}, 0 FROM {table} "
                f"WHERE {' AND '.join(terms) or '1'} ORDER BY {order}", params))
    for project_id in _projects(conn, query):  # the run-nows, settled ones only
        terms, params = _manual_conditions(query, project_id, with_cursor=True)
        order = ("scheduled_at DESC, run DESC" if query.job_id is not None
                 else "scheduled_at DESC, job_id DESC, run DESC")
        streams.append(conn.execute(
            f"SELECT {manual.MANUAL_COLUMNS} FROM {history.MANUAL_TABLE} "
            f"WHERE {' AND '.join(terms)} ORDER BY {order}", params))
    return streams


def _manual_conditions(query: Query, project_id: int | None, with_cursor: bool
                       ) -> tuple[list[str], list[Any]]:
    """The ticks' conditions (_conditions) for the run-nows' table, whose key has the run."""
    terms, params = _conditions(dataclasses.replace(query, state=None, below=None), None,
                                project_id, with_cursor=False)
    codes = query.state_codes()
    if codes is None:
        terms.append("state IS NOT NULL")
    else:
        terms.append(f"state IN ({', '.join('?' * len(codes))})")
        params += codes
    if with_cursor and query.below is not None:
        terms.append("(scheduled_at, job_id, run) < (?, ?, ?)")
        params += query.below
    return terms, params


def _execution(row: Any) -> dict[str, Any]:
    """A streamed row: a tick's (its run 0) or a run-now's."""
    return manual.manual_execution(row) if row[manual.RUN] else history.execution_of(
        row[:manual.RUN])


def recorded_page(conn: sqlite3.Connection, query: Query, offset: int,
                  count: int) -> list[dict[str, Any]]:
    streams = _streams(conn, query)
    try:
        merged = heapq.merge(*streams, key=lambda row: (row[1], row[2], row[manual.RUN]),
                             reverse=True)
        page = [_execution(row) for row in islice(merged, offset, offset + count)]
    finally:
        for stream in streams:
            stream.close()  # type: ignore[attr-defined]
    return manual.annotate(conn, page)


def total(conn: sqlite3.Connection, query: Query, cap: int) -> tuple[int, bool]:
    """(rows matching the filters, exact): from the counters when only the state filters,
    else counted up to `cap`."""
    if query.job_id is None and query.project_id is None and query.since is None and (
            query.until is None) and query.scope is None:
        kept = counters.read(conn)
        return sum(kept[counters.retained(s)] for s in query.recorded_states()), True
    found = 0
    for table, state in query.tables():
        for project_id in _projects(conn, query):  # each a range of the primary key
            terms, params = _conditions(query, state, project_id, with_cursor=False)
            (n,) = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE "
                                f"{' AND '.join(terms) or '1'} LIMIT {cap + 1 - found})",
                                params).fetchone()
            found += n
            if found > cap:
                return cap, False
    for project_id in _projects(conn, query):
        terms, params = _manual_conditions(query, project_id, with_cursor=False)
        (n,) = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM {history.MANUAL_TABLE} "
                            f"WHERE {' AND '.join(terms)} LIMIT {cap + 1 - found})",
                            params).fetchone()
        found += n
        if found > cap:
            return cap, False
    return found, True


def _projects(conn: sqlite3.Connection, query: Query) -> list[int | None]:
    """The projects to read one by one: all of them (those of the scope) unless a job or
    project is given; none when the one given is outside the scope."""
    if query.job_id is not None or query.project_id is not None:
        return [query.project_id] if _in_scope(conn, query) else []
    if query.scope is None:
        return [pid for (pid,) in conn.execute("SELECT id FROM projects ORDER BY id")]
    marks = ", ".join("?" * len(query.scope))
    return [pid for (pid,) in conn.execute(
        f"SELECT id FROM projects WHERE id IN ({marks}) ORDER BY id", query.scope)]


def _in_scope(conn: sqlite3.Connection, query: Query) -> bool:
    """Whether the project or job the query names belongs to its scope."""
    if query.scope is None:
        return True
    if query.project_id is not None and query.project_id not in query.scope:
        return False
    if query.job_id is None:
        return True
    row = conn.execute("SELECT project_id FROM jobs WHERE id = ?", (query.job_id,)).fetchone()
    return row is not None and row[0] in query.scope


def pending_page(conn: sqlite3.Connection, query: Query, offset: int,
                 count: int) -> tuple[list[dict[str, Any]], int]:
    """Ticks planned and not settled yet (few: what is in flight), and how many match."""
    rows: list[tuple[int, int, int, int, pending.OpenBatch]] = []
    for batch in pending.all_open(conn):
        run = manual_rules.key_in(batch.batch_id, 0, batch.scheduled_at).run
        for job_id, project_id in batch.unsettled():
            if query.matches(batch.scheduled_at, job_id, project_id, run):
                rows.append((batch.scheduled_at, job_id, run, project_id, batch))
    # A deleted job's ticks stay in their batch until they settle; they are not shown.
    alive = history.existing_jobs(conn, sorted({r[1] for r in rows}))
    rows = [r for r in rows if r[1] in alive]
    rows.sort(key=lambda r: (r[0], r[1], r[2]), reverse=True)
    page = [_scheduled(*row) for row in rows[offset:offset + count]]
    return manual.annotate(conn, page), len(rows)


def _scheduled(tick: int, job_id: int, run: int, project_id: int, batch: pending.OpenBatch
               ) -> dict[str, Any]:
    requested = manual_rules.requested(batch.batch_id)
    # A run-now's or a redelivery's count so far is the store's (manual.annotate).
    redeliveries = None if requested and requested.kind != manual_rules.BACKFILL else 0
    return manual.scheduled_execution(
        ExecutionKey(job_id, tick, run), project_id, batch.batch_id,
        batch.node_id, batch.planned_at_ms, manual_rules.trigger_of(batch.batch_id),
        redeliveries)


def rollups(conn: sqlite3.Connection, period: str, project_id: int | None, since: int | None,
            until: int | None, limit: int, scope: tuple[int, ...] | None = None
            ) -> list[dict[str, Any]]:
    """Counts per period, summed over the projects (of `scope`, when given)."""
    table, _ = PERIODS[period]
    terms: list[str] = ["1"]
    params: list[Any] = []
    for term, value in (("project_id = ?", project_id), ("period >= ?", since),
                        ("period < ?", until)):
        if value is not None:
            terms.append(term)
            params.append(value)
    if scope is not None:
        terms.append(f"project_id IN ({', '.join('?' * len(scope))})")
        params.extend(scope)
    sums = ", ".join(f"sum({c})" for c in history.ROLLUP_COLUMNS)
    found = conn.execute(
        f"SELECT period, {sums} FROM {table} WHERE {' AND '.join(terms)} GROUP BY period "
        "ORDER BY period LIMIT ?", (*params, limit)).fetchall()
    return [{"period_start": row[0], **dict(zip(history.ROLLUP_COLUMNS, row[1:], strict=True))}
            for row in found]
