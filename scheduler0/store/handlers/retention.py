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

# Rows per kind per command: a delete costs a few microseconds a row, and an apply blocks
# Raft's only thread; 10,000 rows stay well under the election timeout.
MAX_PRUNE = 10_000


def prune(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    """Returns {"deleted": history rows deleted, "more": True when a limit was reached}."""
    body = Prune.decode(data)
    limit = body.limit
    if not 1 <= limit <= MAX_PRUNE:
        raise ValidationError(f"limit must be 1-{MAX_PRUNE}, got {limit}; "
                              "prune in several commands")
    conn = tx.conn
    succeeded_before = body.before if body.succeeded_before is None else body.succeeded_before
    deleted = _prune_ok(conn, succeeded_before, limit)
    more = deleted >= limit
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
    return {"deleted": deleted + bad, "more": more or forgotten >= limit}


def _prune_ok(conn: sqlite3.Connection, before: int, limit: int) -> int:
    """Oldest first within each project, projects in id order."""
    deleted = 0
    for (project_id,) in conn.execute("SELECT id FROM projects ORDER BY id").fetchall():
        if deleted >= limit:
            break
        deleted += _delete(conn, history.OK_TABLE,
                           "project_id = ? AND scheduled_at < ? ORDER BY scheduled_at, job_id",
                           (project_id, before), limit - deleted)
    return deleted


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
