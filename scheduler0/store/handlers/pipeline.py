"""PLAN and RESULT: the pipeline's commands (steps 2 and 5 of a tick's path).

PLAN records planned ticks as `scheduled` executions (or `missed` ones) and advances due
schedules once per group. RESULT settles executions: only a row still `scheduled` changes, so
each tick is recorded exactly once whatever duplicates or retries arrive.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scheduler0.messages import Plan, Result
from scheduler0.store.tx import Tx
from scheduler0.vocabulary import ExecutionState, execution_id

_INSERT = ("INSERT OR IGNORE INTO executions (execution_id, job_id, project_id, scheduled_at, "
           "state, attempts, node_id, batch_id, planned_at_ms) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)")


def plan(tx: Tx, data: Mapping[str, Any]) -> dict[str, int]:
    """Record a Plan body (scheduler0.messages.Plan).

    Execution ids are vocabulary.execution_id(job_id, scheduled_at); an id already present is
    left alone, so a re-planned tick neither duplicates nor resets a row.
    """
    body = Plan.decode(data)
    scheduled, missed_state, ts_ms = (ExecutionState.SCHEDULED.value,
                                      ExecutionState.MISSED.value, tx.ts_ms)
    recorded = 0
    for entry in body.batches:
        tick, node, batch = entry.scheduled_at, entry.node_id, entry.batch_id
        recorded += tx.conn.executemany(_INSERT, [
            (execution_id(r.job_id, tick), r.job_id, r.project_id, tick, scheduled, node, batch,
             ts_ms) for r in entry.rows]).rowcount
    missed = 0
    for gone in body.missed:
        tick = gone.scheduled_at
        missed += tx.conn.executemany(_INSERT, [
            (execution_id(r.job_id, tick), r.job_id, r.project_id, tick, missed_state, None, None,
             ts_ms) for r in gone.rows]).rowcount
    tx.conn.executemany(
        "UPDATE schedules SET next_fire_at = ?, last_fire_at = ? WHERE id = ?",
        [(a.next_fire_at, a.last_fire_at, a.schedule_id) for a in body.advances])
    return {"scheduled": recorded, "missed": missed, "advanced": len(body.advances)}


def result(tx: Tx, data: Mapping[str, Any]) -> dict[str, int]:
    """Settle the executions of a Result body (scheduler0.messages.Result); returns how many
    it settled."""
    params = [(r.state, r.attempts, r.http_status, r.error[:500] if r.error else None,
               r.node_id, r.started_at_ms, r.finished_at_ms, r.execution_id)
              for r in Result.decode(data).rows]
    cursor = tx.conn.executemany(
        "UPDATE executions SET state = ?, attempts = ?, http_status = ?, error = ?, node_id = ?, "
        "started_at_ms = ?, finished_at_ms = ? WHERE execution_id = ? AND state = 'scheduled'",
        params)
    return {"settled": cursor.rowcount}
