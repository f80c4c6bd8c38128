"""Execution history: PRUNE (retention). PLAN and RESULT live in handlers/pipeline.py.

Each kind of history has its own cut-off, so a PRUNE deletes, each up to `limit` rows:
succeeded rows scheduled before `succeeded_before`, failed and missed ones before `before`,
the oldest failed and missed ones beyond `bad_rows_cap`, rollups before their cut-offs, and
closed batches the store no longer needs to remember. Open batches planned before
`stale_before` get their ticks of deleted jobs settled (nothing else would settle them).
Every choice is ordered, so every node deletes the same rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from scheduler0.errors import ValidationError
from scheduler0.messages import Prune
from scheduler0.store import counters, history, manual, pending
from scheduler0.store.tx import Tx
from scheduler0.vocabulary import ExecutionState

# Rows per kind per command: a delete costs a few microseconds a row, and an apply blocks
# Raft's only thread; 10,000 rows stay well under the election timeout.
MAX_PRUNE = 10_000


def prune(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    """Returns {"deleted": history rows deleted, "more": True when a limit was reached,
    "succeeded_next_job": the job id the next command's succeeded sweep starts from, None
    once it reached the last job}."""
    body = Prune.decode(data)
    limit = body.limit
    if not 1 <= limit <= MAX_PRUNE:
        raise ValidationError(f"limit must be 1-{MAX_PRUNE}, got {limit}; "
                              "prune in several commands")
    conn = tx.conn
    succeeded_before = body.before if body.succeeded_before is None else body.succeeded_before
    deleted, next_job = _prune_ok(conn, succeeded_before, body.succeeded_from_job or 0, limit)
    more = next_job is not None
    bad = _prune_bad(conn, "scheduled_at < ?", (body.before,), limit)
    # Settled run-nows, by the same windows (few: they need no cap of their own).
    bad += manual.prune(conn, succeeded_before, body.before, limit)
    if body.bad_rows_cap is not None:
        bad += _prune_bad(conn, "1", (), min(limit, _bad_excess(conn, body.bad_rows_cap)))
    more = more or bad >= limit or (body.bad_rows_cap is not None
                                    and _bad_excess(conn, body.bad_rows_cap) > 0)
    for table, before in (("rollup_minute", body.minute_rollups_before),
                          ("rollup_hour", body.hour_rollups_before)):
        if before is not None:
            more = _prune_rollups(conn, table, before, limit) >= limit or more
    forgotten = pending.forget_closed(conn, tx.ts_ms - pending.CLOSED_KEEP_MS, limit)
    if body.stale_before is not None:
        pending.settle_gone(conn, body.stale_before, tx.ts_ms)
    return {"deleted": deleted + bad, "more": more or forgotten >= limit,
            "succeeded_next_job": next_job}


def _prune_ok(conn: sqlite3.Connection, before: int, from_job: int,
              limit: int) -> tuple[int, int | None]:
    """Delete up to `limit` succeeded rows scheduled before `before`, in (job id, tick) order
    from job `from_job`; returns (rows deleted, the job to go on from, None when none is left).

    Job order, because that is the order of the table's job index: deleting in the primary
    key's (project, tick) order touched a different page of that index for every row once the
    jobs' phases are spread over the minute, which made a delete cost about 13 times an
    insert. In job order each index page is written once, and the table's pages nearly so.
    Every due row of the jobs before `from_job` is gone already, and of `from_job` itself
    those up to where the last command stopped, so the rows from there on are the ones due."""
    if before <= Prune.FOREVER:
        return 0, None  # kept forever, or this pass's sweep is over: nothing to read
    last = conn.execute(
        f"SELECT job_id, scheduled_at FROM {history.OK_TABLE} INDEXED BY runs_ok_job "
        "WHERE job_id >= ? AND scheduled_at < ? ORDER BY job_id, scheduled_at "
        "LIMIT 1 OFFSET ?", (from_job, before, limit - 1)).fetchone()
    if last is None:  # fewer than `limit` left: the sweep ends here
        deleted = conn.execute(f"DELETE FROM {history.OK_TABLE} WHERE job_id >= ? "
                               "AND scheduled_at < ?", (from_job, before)).rowcount
        next_job = None
    else:
        next_job, last_tick = last
        deleted = conn.execute(
            f"DELETE FROM {history.OK_TABLE} WHERE job_id >= ? AND job_id <= ? "
            "AND scheduled_at < ? AND (job_id < ? OR scheduled_at <= ?)",
            (from_job, next_job, before, next_job, last_tick)).rowcount
    counters.add(conn, {counters.retained(ExecutionState.SUCCEEDED.value): -deleted})
    return deleted, next_job


def _prune_bad(conn: sqlite3.Connection, where: str, params: tuple[Any, ...], limit: int) -> int:
    if limit <= 0:
        return 0
    return _delete(conn, history.BAD_TABLE,
                   f"{where} ORDER BY scheduled_at, project_id, job_id", params, limit)


def _bad_excess(conn: sqlite3.Connection, cap: int) -> int:
    kept = counters.read(conn)
    return max(0, kept[counters.retained("failed")] + kept[counters.retained("missed")] - cap)


def _delete(conn: sqlite3.Connection, table: str, where_order: str, params: tuple[Any, ...],
            limit: int) -> int:
    gone: dict[str, int] = {}
    for (code,) in conn.execute(
            f"DELETE FROM {table} WHERE (project_id, scheduled_at, job_id) IN "
            f"(SELECT project_id, scheduled_at, job_id FROM {table} WHERE {where_order} "
            "LIMIT ?) RETURNING state", (*params, limit)).fetchall():
        name = counters.retained(history.CODE_STATES[code])
        gone[name] = gone.get(name, 0) - 1
    counters.add(conn, gone)
    return -sum(gone.values())


def _prune_rollups(conn: sqlite3.Connection, table: str, before: int, limit: int) -> int:
    return conn.execute(
        f"DELETE FROM {table} WHERE (project_id, period) IN (SELECT project_id, period FROM "
        f"{table} WHERE period < ? ORDER BY project_id, period LIMIT ?)",
        (before, limit)).rowcount
