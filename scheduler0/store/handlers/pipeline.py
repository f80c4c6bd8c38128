"""PLAN and RESULT: the pipeline's commands (steps 2 and 5 of a tick's path).

PLAN records planned ticks as `scheduled` executions (or `missed` ones) and advances due
schedules once per group. RESULT settles executions: only a row still `scheduled` changes, so
each tick is recorded exactly once whatever duplicates or retries arrive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scheduler0.errors import ValidationError
from scheduler0.store.tx import Tx
from scheduler0.vocabulary import FINAL_STATES, ExecutionState, execution_id

_INSERT = ("INSERT OR IGNORE INTO executions (execution_id, job_id, project_id, scheduled_at, "
           "state, attempts, node_id, batch_id, planned_at_ms) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)")


def _rows(entry: Mapping[str, Any], kind: str) -> Sequence[Sequence[Any]]:
    rows = entry.get("rows")
    if not isinstance(rows, (list, tuple)):
        raise ValidationError(f"{kind} entry lacks its rows")
    return rows


def plan(tx: Tx, data: Mapping[str, Any]) -> dict[str, int]:
    """Body: {"batches": [{"batch_id", "node_id", "scheduled_at", "rows": [[job_id, project_id]]}],
    "missed": [{"scheduled_at", "rows": [...]}], "advances": [[schedule_id, next, last]]}.

    Execution ids are vocabulary.execution_id(job_id, scheduled_at); an id already present is left alone, so a
    re-planned tick neither duplicates nor resets a row.
    """
    recorded = 0
    for entry in data.get("batches") or []:
        tick, node, batch = int(entry["scheduled_at"]), entry.get("node_id"), str(entry["batch_id"])
        params = [(execution_id(j, tick), j, p, tick, ExecutionState.SCHEDULED.value, node, batch, tx.ts_ms)
                  for j, p in _rows(entry, "batch")]
        recorded += tx.conn.executemany(_INSERT, params).rowcount
    missed = 0
    for entry in data.get("missed") or []:
        tick = int(entry["scheduled_at"])
        params = [(execution_id(j, tick), j, p, tick, ExecutionState.MISSED.value, None, None, tx.ts_ms)
                  for j, p in _rows(entry, "missed")]
        missed += tx.conn.executemany(_INSERT, params).rowcount
    advances = data.get("advances") or []
    tx.conn.executemany(
        "UPDATE schedules SET next_fire_at = ?, last_fire_at = ? WHERE id = ?",
        [(nxt, last, int(sid)) for sid, nxt, last in advances])
    return {"scheduled": recorded, "missed": missed, "advanced": len(advances)}


def result(tx: Tx, data: Mapping[str, Any]) -> dict[str, int]:
    """Body: {"rows": [[execution_id, state, attempts, http_status, error, node_id,
    started_at_ms, finished_at_ms]]}. Returns how many executions it settled."""
    params = []
    for row in data.get("rows") or []:
        execution, state, attempts, status, error, node, started, finished = row
        if state not in FINAL_STATES:
            raise ValidationError(f"result state {state!r} is not one of {', '.join(FINAL_STATES)}")
        reason = str(error)[:500] if error else None
        params.append((state, attempts, status, reason, node, started, finished, str(execution)))
    cursor = tx.conn.executemany(
        "UPDATE executions SET state = ?, attempts = ?, http_status = ?, error = ?, node_id = ?, "
        "started_at_ms = ?, finished_at_ms = ? WHERE execution_id = ? AND state = 'scheduled'",
        params)
    return {"settled": cursor.rowcount}
