"""PLAN and RESULT: the pipeline's commands (steps 2 and 5 of a tick's path).

PLAN records each dispatched batch as pending (scheduler0.store.pending), records missed ticks
as final rows, and advances due schedules once per group. RESULT settles ticks: only a tick
still pending in its batch gets its final row (scheduler0.store.history), so each tick is
recorded exactly once whatever duplicates or retries arrive. The ticks of a requested batch (a
run-now, a redelivery, a backfill) are recorded by its kind (scheduler0.store.manual).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scheduler0 import manual
from scheduler0.messages import Plan, Result, ResultRow
from scheduler0.store import history, pending
from scheduler0.store import manual as manual_runs
from scheduler0.store.tx import Tx
from scheduler0.vocabulary import ExecutionState, parse_execution_id, parse_execution_key


def plan(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    """Record a Plan body (scheduler0.messages.Plan).

    A batch planned before is left as it is; `settled_before` lists those whose ticks are all
    settled already (the planner must not send them again).
    """
    body = Plan.decode(data)
    conn = tx.conn
    recorded = 0
    settled_before: list[str] = []
    for entry in body.batches:
        jobs = {r.job_id: r.project_id for r in entry.rows}
        new = pending.open_batch(conn, entry.batch_id, entry.scheduled_at, entry.node_id,
                                 tx.ts_ms, jobs)
        recorded += new
        if not new and jobs and pending.load(conn, entry.batch_id) is None:
            settled_before.append(entry.batch_id)
    missed = history.record(conn, [
        history.final(r.project_id, gone.scheduled_at, r.job_id, ExecutionState.MISSED.value)
        for gone in body.missed for r in gone.rows], tx.ts_ms)
    conn.executemany(
        "UPDATE schedules SET next_fire_at = ?, last_fire_at = ? WHERE id = ?",
        [(a.next_fire_at, a.last_fire_at, a.schedule_id) for a in body.advances])
    answer: dict[str, Any] = {"scheduled": recorded, "missed": missed,
                              "advanced": len(body.advances)}
    if settled_before:
        answer["settled_before"] = settled_before
    return answer


class _Batches:
    """The open batches one RESULT touches, loaded once each."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.by_id: dict[str, pending.OpenBatch | None] = {}
        self.by_tick: dict[int, list[pending.OpenBatch]] = {}
        self.newly: dict[str, int] = {}
        self.runs: dict[str, int | None] = {}  # batch id -> its run-now (0: none), None: planned

    def run_of(self, batch_id: str) -> int | None:
        """Of a requested batch, its run-now's number (0: none); None for a planned batch."""
        if batch_id not in self.runs:
            found = manual.requested(batch_id)
            self.runs[batch_id] = None if found is None else found.run
        return self.runs[batch_id]

    def holding(self, row: ResultRow, job_id: int, tick: int, run: int
                ) -> tuple[pending.OpenBatch, int] | None:
        """The open batch and position of an unsettled tick (of run-now `run`, 0: a tick of
        the schedule), or None."""
        if row.batch_id is not None:
            batch = self.by_id.get(row.batch_id) or self._by_id(row.batch_id)
            candidates: list[pending.OpenBatch | None] = [batch]
        else:  # a result written before results named their batch (none was requested)
            candidates = [b for b in self._at(tick) if not manual.is_requested(b.batch_id)]
        for batch in candidates:
            if batch is None or batch.scheduled_at != tick:
                continue
            if (self.run_of(batch.batch_id) or 0) != run:
                continue  # a run-now's id and a tick's never settle each other
            position = batch.position(job_id)
            if position is not None and not batch.is_settled(position):
                return batch, position
        return None

    def settle(self, batch: pending.OpenBatch, position: int) -> None:
        batch.settle(position)
        self.newly[batch.batch_id] = self.newly.get(batch.batch_id, 0) + 1

    def save(self) -> None:
        loaded = {b.batch_id: b for b in self.by_id.values() if b is not None}
        loaded.update((b.batch_id, b) for group in self.by_tick.values() for b in group)
        for batch_id, count in sorted(self.newly.items()):
            pending.save(self.tx.conn, loaded[batch_id], count, self.tx.ts_ms)

    def _by_id(self, batch_id: str) -> pending.OpenBatch | None:
        if batch_id not in self.by_id:
            self.by_id[batch_id] = pending.load(self.tx.conn, batch_id)
        return self.by_id[batch_id]

    def _at(self, tick: int) -> list[pending.OpenBatch]:
        if tick not in self.by_tick:
            self.by_tick[tick] = pending.open_at(self.tx.conn, tick)
        return self.by_tick[tick]


def result(tx: Tx, data: Mapping[str, Any]) -> dict[str, int]:
    """Settle the ticks of a Result body (scheduler0.messages.Result); returns how many it
    settled."""
    batches = _Batches(tx)
    finals: list[history.Row] = []
    requested: list[tuple[str, history.Row]] = []  # run-nows, redeliveries, backfills
    final = history.final
    for row in Result.decode(data).rows:
        try:
            job_id, tick = parse_execution_id(row.execution_id)  # a tick's: the common case
            run = 0
        except ValueError:
            try:
                job_id, tick, run = parse_execution_key(row.execution_id)
            except ValueError:
                continue  # not a tick of ours: nothing to settle
        found = batches.holding(row, job_id, tick, run)
        if found is None:
            continue  # settled before, or never planned
        batch, position = found
        batches.settle(batch, position)
        settled = final(batch.project_ids[position], tick, job_id, row.state, row.attempts,
                        row.http_status, row.node_id, row.started_at_ms, row.finished_at_ms,
                        row.error)
        if batches.run_of(batch.batch_id) is not None:
            requested.append((batch.batch_id, settled))
        else:
            finals.append(settled)
    batches.save()
    history.record(tx.conn, finals, tx.ts_ms)
    manual_runs.record_settled(tx.conn, requested, tx.ts_ms)
    return {"settled": len(finals) + len(requested)}
