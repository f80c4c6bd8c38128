"""The read benchmark's fast seed: the history that applying its PLAN and RESULT commands
writes, written with bulk SQL instead.

read_bench.py's apply seed runs each tick through the state machine: PLAN commands open one
pending batch per `batch` jobs, RESULT commands settle every tick of them (1 % fail). That
runs at ~20,000 rows a second at 3M jobs. This writes the same content of every table straight
into the file: the final rows (runs_ok, runs_bad), the per-minute and per-hour rollups, each
job's last result (job_last), the counters, the closed pending batches, and the state
machine's bookkeeping of each command (the last applied Raft index, the result kept under its
request id, the periodic prune of those), as if each command had been applied.
tests/bench/test_read_seed.py seeds a small case both ways and compares every table, so the
two cannot drift apart unnoticed.

Why it is fast: the history tables are WITHOUT ROWID trees keyed (project_id, scheduled_at,
job_id), so rows written project by project, tick by tick, in job order are pure appends; the
secondary indexes are dropped first and built once at the end (a sort instead of 100M random
inserts); the journal is off and nothing is synced while it runs. The file only says what it
holds once the seed is through: an interrupted seed leaves a file to delete, not to use.

It needs a file whose jobs were created (job.create, ids by AUTOINCREMENT) and that has no
history yet, and it relies on the benchmark's workload: every job ticks at every tick.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from scheduler0.messages import ok
from scheduler0.store import counters, dedup, history
from scheduler0.vocabulary import ExecutionState

# The row of a tick, as read_bench._seed_tick makes its ResultRow (node 1, one attempt,
# started j % 97 ms after the tick, 3 ms long; 1 % fail with HTTP 500), in SQL over
# `jobs` j and the bound tick.
_FAILED = "(j.id * 7 + :tick / 60) % 100 = 0"
_STARTED = ":tick * 1000 + j.id % 97"
_FINISHED = f"{_STARTED} + 3"
NODE_ID = 1
RESULT_AFTER_MS = 500  # RESULT commands are stamped this long after their tick

_HISTORY_INDEXES = ("runs_ok_job", "runs_bad_job", "runs_bad_time")


def _insert_rows(table: str, failed: bool) -> str:
    """One tick of one project's jobs into `table`, as history.final turns a result into a
    final row (times relative to the tick)."""
    state = ExecutionState.FAILED.value if failed else ExecutionState.SUCCEEDED.value
    http_status, error = (500, "'HTTP 500'") if failed else (200, "NULL")
    return (f"INSERT INTO {table} ({history.RUN_COLUMNS}) "
            f"SELECT j.project_id, :tick, j.id, {history.STATE_CODES[state]}, 1, {http_status}, "
            f"{NODE_ID}, ({_STARTED}) - :tick * 1000, ({_FINISHED}) - ({_STARTED}), "
            f"substr({error}, 1, {history.ERROR_LIMIT}) "
            f"FROM jobs j WHERE j.project_id = :project AND {'' if failed else 'NOT '}{_FAILED} "
            "ORDER BY j.id")


def _lateness_terms() -> list[str]:
    """The rollups' lateness buckets as SQL conditions, as history.rollup_deltas sorts them."""
    bounds = history.LATENESS_BOUNDS_MS
    terms = [f"late_ms IS NOT NULL AND late_ms <= {bounds[0]}"]
    terms += [f"late_ms > {low} AND late_ms <= {high}"
              for low, high in zip(bounds, bounds[1:], strict=False)]
    terms.append(f"late_ms > {bounds[-1]}")
    return terms


def _add_minute_rollup() -> str:
    """One tick of one project, just written, added to its minute's rollup row."""
    states = [f"state = {history.STATE_CODES[s]}" for s in
              (ExecutionState.SUCCEEDED.value, ExecutionState.FAILED.value,
               ExecutionState.MISSED.value)]
    sums = ", ".join(f"sum(CASE WHEN {term} THEN 1 ELSE 0 END)"
                     for term in (*states, *_lateness_terms()))
    columns = ", ".join(history.ROLLUP_COLUMNS)
    added = ", ".join(f"{c} = {c} + excluded.{c}" for c in history.ROLLUP_COLUMNS)
    slice_of = "WHERE project_id = :project AND scheduled_at = :tick"
    return (f"INSERT INTO rollup_minute (project_id, period, {columns}) "
            f"SELECT :project, :tick - :tick % {history.MINUTE}, {sums} FROM ("
            f"SELECT state, late_ms FROM {history.OK_TABLE} {slice_of} UNION ALL "
            f"SELECT state, late_ms FROM {history.BAD_TABLE} {slice_of}) "
            f"HAVING count(*) > 0 ON CONFLICT (project_id, period) DO UPDATE SET {added}")


def _hour_rollups() -> str:
    """The hour rollups as the sums of their minutes (the file had no rollups before)."""
    columns = ", ".join(history.ROLLUP_COLUMNS)
    sums = ", ".join(f"sum({c})" for c in history.ROLLUP_COLUMNS)
    return (f"INSERT INTO rollup_hour (project_id, period, {columns}) "
            f"SELECT project_id, period - period % {history.HOUR}, {sums} "
            "FROM rollup_minute GROUP BY 1, 2 ORDER BY 1, 2")


def _last_results() -> str:
    """Each job's row of the last tick as its last result (every job ticks every tick)."""
    at_last = "WHERE project_id IN (SELECT id FROM projects) AND scheduled_at = :tick"
    columns = "job_id, state, http_status, scheduled_at, scheduled_at * 1000 + late_ms + took_ms"
    return ("INSERT INTO job_last (job_id, state, http_status, scheduled_at, finished_at_ms) "
            f"SELECT * FROM (SELECT {columns} FROM {history.OK_TABLE} {at_last} UNION ALL "
            f"SELECT {columns} FROM {history.BAD_TABLE} {at_last}) ORDER BY job_id")


def _commands(ticks: Sequence[int], jobs: int, batch: int, per_plan: int,
              result_rows: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """(stamp, result) of each command the apply seed sends, in its order: a tick's PLANs,
    each for `per_plan` batches, then its RESULTs, each for `result_rows` rows."""
    plan_jobs = batch * per_plan
    for tick in ticks:
        for first in range(0, jobs, plan_jobs):
            yield tick * 1000, ok({"scheduled": min(plan_jobs, jobs - first), "missed": 0,
                                   "advanced": 0})
        for first in range(0, jobs, result_rows):
            yield tick * 1000 + RESULT_AFTER_MS, ok({"settled": min(result_rows, jobs - first)})


def _replay_bookkeeping(conn: sqlite3.Connection, commands: Iterable[tuple[int, dict[str, Any]]]
                        ) -> None:
    """What the state machine records of each command beside its effect, with its own code:
    the index applied, the result under the command's request id, the periodic prune."""
    (applied,) = conn.execute("SELECT last_applied FROM raft_meta WHERE id = 1").fetchone()
    for index, (stamp, result) in enumerate(commands, start=applied + 1):
        dedup.record(conn, index, stamp, uuid.uuid4().hex, result)  # a proposer's random id


def _refuse_unless_fresh(conn: sqlite3.Connection) -> None:
    for table in (history.OK_TABLE, history.BAD_TABLE, "job_last", "rollup_minute",
                  "rollup_hour", "pending", "pending_jobs"):
        if conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
            raise SystemExit(f"the fast seed writes a history into a file without one, but "
                             f"{table} has rows; seed into a new folder")


def _closed_batches(ticks: Sequence[int], jobs: int, batch: int) -> list[tuple[Any, ...]]:
    """The `pending` rows of the ticks' batches once their last tick settled (open 0, the
    bitmap emptied, closed at the RESULT's stamp), in the order PLAN opened them."""
    return [(f"{tick}-{b}", tick, NODE_ID, tick * 1000, tick * 1000 + RESULT_AFTER_MS)
            for tick in ticks for b in range(-(-jobs // batch))]


def _seed_rows(conn: sqlite3.Connection, projects: list[int], ticks: Sequence[int],
               say: Callable[[str], None]) -> int:
    """The final rows and their minute rollups, one transaction per project and tick."""
    statements = [_insert_rows(history.OK_TABLE, False), _insert_rows(history.BAD_TABLE, True),
                  _add_minute_rollup()]
    written, started = 0, time.perf_counter()
    for project in projects:
        for tick in ticks:
            conn.execute("BEGIN")
            for sql in statements[:2]:
                written += conn.execute(sql, {"tick": tick, "project": project}).rowcount
            conn.execute(statements[2], {"tick": tick, "project": project})
            conn.execute("COMMIT")
        say(f"project {project}: {written:,} rows, {time.perf_counter() - started:.0f} s")
    return written


def _build_indexes(conn: sqlite3.Connection, definitions: list[str],
                   say: Callable[[str], None]) -> None:
    for sql in definitions:
        started = time.perf_counter()
        conn.execute(sql)
        say(f"{sql.split(' ON ')[0]}: {time.perf_counter() - started:.0f} s")


def _account(conn: sqlite3.Connection, ticks: Sequence[int], jobs: int, batch: int,
             commands: Iterable[tuple[int, dict[str, Any]]]) -> None:
    """Everything beside the rows: rollups by the hour, last results, counters, the closed
    batches and the last applied index."""
    conn.execute("BEGIN")
    conn.execute(_hour_rollups())
    conn.execute(_last_results(), {"tick": max(ticks)})
    totals = conn.execute("SELECT coalesce(sum(succeeded), 0), coalesce(sum(failed), 0), "
                          "coalesce(sum(missed), 0) FROM rollup_minute").fetchone()
    states = (ExecutionState.SUCCEEDED.value, ExecutionState.FAILED.value,
              ExecutionState.MISSED.value)
    counters.add(conn, {name: n for state, n in zip(states, totals, strict=True)
                        for name in (counters.recorded(state), counters.retained(state))})
    conn.executemany("INSERT INTO pending (batch_id, scheduled_at, node_id, planned_at_ms, open, "
                     "settled, closed_at_ms) VALUES (?, ?, ?, ?, 0, x'', ?)",
                     _closed_batches(ticks, jobs, batch))
    # Every PLAN added its ticks and every RESULT took them off again: the counter is back
    # where it was, and there (counters.add would not write the zero; the migration to
    # version 2 writes every counter, so a fresh file has it already).
    conn.execute(f"INSERT INTO counters (name, value) VALUES ('{counters.PENDING}', 0) "
                 "ON CONFLICT (name) DO NOTHING")
    _replay_bookkeeping(conn, commands)
    conn.execute("COMMIT")


def seed_history(db_path: str, ticks: Sequence[int], *, batch: int, per_plan: int,
                 result_rows: int, say: Callable[[str], None] = print) -> int:
    """Write what applying each tick's PLAN and RESULT commands would (see the module
    docstring) into the file at `db_path`, which no StateMachine may hold open. Returns how
    many execution rows it wrote."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        _refuse_unless_fresh(conn)
        (jobs,) = conn.execute("SELECT count(*) FROM jobs").fetchone()
        projects = [p for (p,) in conn.execute("SELECT id FROM projects ORDER BY id")]
        if not jobs or not ticks:
            return 0
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        # 1 GiB: the trees being appended to, and most of each index's sort, stay in memory.
        conn.execute("PRAGMA cache_size = -1048576")
        definitions = [sql for (sql,) in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name IN "
            f"({', '.join('?' * len(_HISTORY_INDEXES))}) ORDER BY rowid", _HISTORY_INDEXES)]
        for name in _HISTORY_INDEXES:
            conn.execute(f"DROP INDEX {name}")
        written = _seed_rows(conn, projects, ticks, say)
        _build_indexes(conn, definitions, say)
        _account(conn, ticks, jobs, batch, _commands(ticks, jobs, batch, per_plan, result_rows))
        conn.execute("PRAGMA journal_mode = WAL")  # as the node keeps it
        return written
    finally:
        conn.close()
