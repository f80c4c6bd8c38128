"""The execution history: final rows written once, the job's last result, rollups, counters.

A tick's final row is written once, when its state is final (RESULT, or PLAN for a missed
tick), into one of two tables of the same shape: `runs_ok` (succeeded) and `runs_bad` (failed
and missed), because the two are kept for different times. Both are WITHOUT ROWID tables keyed
(project_id, scheduled_at, job_id) with one index by (job_id, scheduled_at): about 46 bytes an
execution on disk, indexes included. Times are kept relative to the tick (late_ms: start minus
the tick; took_ms: finish minus start), which keeps them small integers.

In the same transaction the job's last result (`job_last`), the per-minute and per-hour
rollups per project and the counters (scheduler0.store.counters) are updated, so none of them
can disagree with the rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from scheduler0.notifications import Change, change_type
from scheduler0.store import counters
from scheduler0.store import notifications as outbox
from scheduler0.vocabulary import ExecutionState, execution_id

STATE_CODES = {ExecutionState.SUCCEEDED.value: 0, ExecutionState.FAILED.value: 1,
               ExecutionState.MISSED.value: 2}
CODE_STATES = {code: state for state, code in STATE_CODES.items()}
OK_TABLE, BAD_TABLE = "runs_ok", "runs_bad"
# Run-nows (scheduler0.store.manual), their final rows in RUN_COLUMNS too, NULL state until then.
MANUAL_TABLE = "runs_manual"
# Lateness buckets of the rollups, upper bounds in ms (the last bucket is everything above).
LATENESS_BOUNDS_MS = (100, 1000, 10000)
LATENESS_COLUMNS = ("late_100ms", "late_1s", "late_10s", "late_more")
ROLLUP_COLUMNS = ("succeeded", "failed", "missed", *LATENESS_COLUMNS)
MINUTE, HOUR = 60, 3600
ERROR_LIMIT = 500  # characters of an error message kept

RUN_COLUMNS = ("project_id, scheduled_at, job_id, state, attempts, http_status, node_id, "
               "late_ms, took_ms, error")


# A final row is a tuple in RUN_COLUMNS order, as the tables store it (plain tuples: the apply
# thread builds tens of thousands a second).
Row = tuple[Any, ...]
PROJECT, TICK, JOB, STATE, LATE, TOOK = 0, 1, 2, 3, 7, 8  # positions in a Row
SUCCEEDED_CODE = STATE_CODES[ExecutionState.SUCCEEDED.value]


def final(project_id: int, scheduled_at: int, job_id: int, state: str, attempts: int = 0,
          http_status: int | None = None, node_id: int | None = None,
          started_at_ms: int | None = None, finished_at_ms: int | None = None,
          error: str | None = None) -> Row:
    """One tick's final row, with its times relative to the tick."""
    late = None if started_at_ms is None else started_at_ms - scheduled_at * 1000
    took = (None if started_at_ms is None or finished_at_ms is None
            else finished_at_ms - started_at_ms)
    return (project_id, scheduled_at, job_id, STATE_CODES[state], attempts, http_status,
            node_id, late, took, error[:ERROR_LIMIT] if error else None)


def execution_of(row: Sequence[Any]) -> dict[str, Any]:
    """A runs row (RUN_COLUMNS) as the API's execution dict."""
    project_id, scheduled_at, job_id, code, attempts, http_status, node_id, late, took, error = row
    started = None if late is None else scheduled_at * 1000 + late
    finished = None if started is None or took is None else started + took
    return {"execution_id": execution_id(job_id, scheduled_at), "job_id": job_id,
            "project_id": project_id, "scheduled_at": scheduled_at, "state": CODE_STATES[code],
            "attempts": attempts, "http_status": http_status, "node_id": node_id,
            "batch_id": None, "error": error, "planned_at_ms": None, "started_at_ms": started,
            "finished_at_ms": finished}


def rollup_deltas(rows: Iterable[Row]) -> dict[int, dict[tuple[int, int], list[int]]]:
    """Counts per period (MINUTE, HOUR) per (project_id, period start), in ROLLUP_COLUMNS
    order. Pure."""
    minutes: dict[tuple[int, int], list[int]] = {}
    width, bounds = len(ROLLUP_COLUMNS), LATENESS_BOUNDS_MS
    for row in rows:
        tick = row[TICK]
        key = (row[PROJECT], tick - tick % MINUTE)
        counts = minutes.get(key)
        if counts is None:
            counts = minutes[key] = [0] * width
        counts[row[STATE]] += 1  # state codes are the first three columns
        late = row[LATE]
        if late is not None:
            counts[3 + (0 if late <= bounds[0] else 1 if late <= bounds[1]
                        else 2 if late <= bounds[2] else 3)] += 1
    hours: dict[tuple[int, int], list[int]] = {}
    for (project, minute), counts in minutes.items():
        key = (project, minute - minute % HOUR)
        total = hours.get(key)
        if total is None:
            hours[key] = list(counts)
        else:
            for i, n in enumerate(counts):
                total[i] += n
    return {MINUTE: minutes, HOUR: hours}


_ROLLUP_SET = ", ".join(f"{c} = {c} + excluded.{c}" for c in ROLLUP_COLUMNS)
_ROLLUP_UPSERT = {
    period: (f"INSERT INTO {table} (project_id, period, {', '.join(ROLLUP_COLUMNS)}) "
             f"VALUES (?, ?, {', '.join('?' * len(ROLLUP_COLUMNS))}) "
             f"ON CONFLICT (project_id, period) DO UPDATE SET {_ROLLUP_SET}")
    for period, table in ((MINUTE, "rollup_minute"), (HOUR, "rollup_hour"))}
_INSERT_RUN = {table: f"INSERT OR IGNORE INTO {table} ({RUN_COLUMNS}) VALUES "
                      f"({', '.join('?' * 10)})" for table in (OK_TABLE, BAD_TABLE)}
_LAST_UPSERT = (
    "INSERT INTO job_last (job_id, state, http_status, scheduled_at, finished_at_ms) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (job_id) DO UPDATE SET state = excluded.state, "
    "http_status = excluded.http_status, scheduled_at = excluded.scheduled_at, "
    "finished_at_ms = excluded.finished_at_ms WHERE excluded.scheduled_at >= job_last.scheduled_at")


def record(conn: sqlite3.Connection, rows: Sequence[Row], ts_ms: int = 0) -> int:
    """Write final rows (each tick once: a tick already recorded is left alone), the jobs'
    last results, the rollups and the counters; returns how many rows were new. The state
    changes of jobs whose project has a notification_url go to the notification outbox,
    stamped `ts_ms` (the command's time).

    Rows of jobs that no longer exist are dropped (deleting a job deletes its history)."""
    if not rows:
        return 0
    alive = existing_jobs(conn, sorted({row[JOB] for row in rows}))
    ok = [row for row in rows if row[JOB] in alive and row[STATE] == SUCCEEDED_CODE]
    bad = [row for row in rows if row[JOB] in alive and row[STATE] != SUCCEEDED_CODE]
    new = _insert_new(conn, OK_TABLE, ok) + _insert_new(conn, BAD_TABLE, bad)
    if not new:
        return 0
    account(conn, new, ts_ms)
    return len(new)


def account(conn: sqlite3.Connection, new: Sequence[Row], ts_ms: int = 0, *,
            last_results: bool = True, rollups: bool = True) -> None:
    """What rows `new`, just written, change beside themselves: the notification outbox and
    the jobs' last results (unless `last_results` is False), the rollups (unless `rollups` is
    False) and the counters."""
    if last_results:
        # Before job_last moves on: a change is a new result against the one recorded before.
        notifying = outbox.notifying_projects(conn)
        if notifying:
            outbox.add(conn, state_changes(conn, [r for r in new if r[PROJECT] in notifying]),
                       ts_ms)
        _record_last(conn, new)
    if rollups:
        for period, deltas in rollup_deltas(new).items():
            conn.executemany(_ROLLUP_UPSERT[period], [
                (project, start, *counts) for (project, start), counts in sorted(deltas.items())])
    counted: dict[int, int] = {}
    for row in new:
        counted[row[STATE]] = counted.get(row[STATE], 0) + 1
    counters.add(conn, {name: n for code, n in counted.items()
                        for name in (counters.recorded(CODE_STATES[code]),
                                     counters.retained(CODE_STATES[code]))})


def _insert_new(conn: sqlite3.Connection, table: str, group: list[Row]) -> list[Row]:
    """Insert `group`; returns the rows that were not recorded before. All are new in the
    common case (one executemany); otherwise they are inserted again one by one to tell."""
    if not group:
        return []
    conn.execute("SAVEPOINT runs")
    inserted = conn.executemany(_INSERT_RUN[table], group).rowcount
    if inserted != len(group):
        conn.execute("ROLLBACK TO runs")
    conn.execute("RELEASE runs")
    if inserted == len(group):
        return group
    return [row for row in group if conn.execute(_INSERT_RUN[table], row).rowcount]


def _record_last(conn: sqlite3.Connection, new: Sequence[Row]) -> None:
    latest: dict[int, Row] = {}
    for row in new:
        seen = latest.get(row[JOB])
        if seen is None or row[TICK] >= seen[TICK]:
            latest[row[JOB]] = row
    conn.executemany(_LAST_UPSERT, [
        (job, row[STATE], row[5], row[TICK], _finished_ms(row))
        for job, row in sorted(latest.items())])


def state_changes(conn: sqlite3.Connection, new: Sequence[Row]) -> list[Change]:
    """The state changes (scheduler0.notifications.change_type) that rows `new`, not
    recorded yet, make to their jobs, in job and tick order. Each job's rows are taken in tick
    order from its last recorded result; a row older than that result changes nothing (the
    job's last result stays as it is, see _LAST_UPSERT)."""
    if not new:
        return []
    last = _last_results(conn, sorted({row[JOB] for row in new}))
    changes: list[Change] = []
    for row in sorted(new, key=lambda r: (r[JOB], r[TICK])):
        job, tick = row[JOB], row[TICK]
        before = last.get(job)
        if before is not None and tick < before[1]:
            continue
        state = CODE_STATES[row[STATE]]
        previous = None if before is None else CODE_STATES[before[0]]
        kind = change_type(state, previous)
        if kind is not None:
            changes.append(Change(row[PROJECT], job, tick, kind, state, previous, row[4],
                                  row[5], row[9]))
        last[job] = (row[STATE], tick)
    return changes


def _last_results(conn: sqlite3.Connection, job_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Job id -> (state code, scheduled_at) of its last recorded result."""
    found: dict[int, tuple[int, int]] = {}
    for start in range(0, len(job_ids), SQL_VARIABLES):
        part = job_ids[start:start + SQL_VARIABLES]
        for job, code, tick in conn.execute(
                "SELECT job_id, state, scheduled_at FROM job_last "
                f"WHERE job_id IN ({','.join('?' * len(part))})", part):
            found[job] = (code, tick)
    return found


def _finished_ms(row: Row) -> int | None:
    late, took = row[LATE], row[TOOK]
    return None if late is None or took is None else row[TICK] * 1000 + late + took


SQL_VARIABLES = 900  # below SQLite's default limit on bound parameters per statement


def existing_jobs(conn: sqlite3.Connection, job_ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(job_ids), SQL_VARIABLES):
        part = job_ids[start:start + SQL_VARIABLES]
        found.update(row[0] for row in conn.execute(
            f"SELECT id FROM jobs WHERE id IN ({','.join('?' * len(part))})", part))
    return found


def forget_job(conn: sqlite3.Connection, job_id: int) -> None:
    """Delete a job's history rows and last result (its rollups stay: they are counts)."""
    for table in (OK_TABLE, BAD_TABLE, MANUAL_TABLE):
        _forget(conn, table, "job_id = ?", (job_id,))
    conn.execute("DELETE FROM job_last WHERE job_id = ?", (job_id,))


def forget_jobs(conn: sqlite3.Connection, job_ids: Sequence[int]) -> None:
    """forget_job for many jobs, a few hundred per statement (a bulk delete's chunk)."""
    for start in range(0, len(job_ids), SQL_VARIABLES):
        part = job_ids[start:start + SQL_VARIABLES]
        where = f"job_id IN ({', '.join('?' * len(part))})"
        for table in (OK_TABLE, BAD_TABLE, MANUAL_TABLE):
            _forget(conn, table, where, part)
        conn.execute(f"DELETE FROM job_last WHERE {where}", part)


def forget_project(conn: sqlite3.Connection, project_id: int) -> None:
    """Delete a project's history rows, last results and rollups."""
    for table in (OK_TABLE, BAD_TABLE, MANUAL_TABLE):
        _forget(conn, table, "project_id = ?", (project_id,))
    conn.execute("DELETE FROM job_last WHERE job_id IN (SELECT id FROM jobs WHERE project_id = ?)",
                 (project_id,))
    for table in ("rollup_minute", "rollup_hour"):
        conn.execute(f"DELETE FROM {table} WHERE project_id = ?", (project_id,))


def _forget(conn: sqlite3.Connection, table: str, where: str, params: Sequence[Any]) -> None:
    deleted: dict[str, int] = {}
    for (code,) in conn.execute(f"DELETE FROM {table} WHERE {where} RETURNING state", params):
        if code is None:
            continue  # a run-now not settled yet: not counted
        name = counters.retained(CODE_STATES[code])
        deleted[name] = deleted.get(name, 0) - 1
    counters.add(conn, deleted)


def recount_counters(conn: sqlite3.Connection) -> dict[str, int]:
    """The counters as a fresh count of the tables gives them (a migration sets them from
    this; tests compare the two). `recorded_*` cannot be recounted once rows are pruned:
    they start at what is retained."""
    counts = {name: 0 for name in counters.NAMES}
    # The migration to version 2 counts too, before version 4 made the run-nows' table.
    tables = [name for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (?, ?, ?)",
        (OK_TABLE, BAD_TABLE, MANUAL_TABLE))]
    for table in sorted(tables):
        for code, n in conn.execute(f"SELECT state, count(*) FROM {table} "
                                    "WHERE state IS NOT NULL GROUP BY state"):
            state = CODE_STATES[code]
            counts[counters.retained(state)] += n
            counts[counters.recorded(state)] += n
    (counts[counters.PENDING],) = conn.execute(
        "SELECT coalesce(sum(open), 0) FROM pending").fetchone()
    (counts[counters.JOBS],) = conn.execute("SELECT count(*) FROM jobs").fetchone()
    (counts[counters.PROJECTS],) = conn.execute("SELECT count(*) FROM projects").fetchone()
    return counts
