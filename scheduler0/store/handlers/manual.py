"""job.run, execution.redeliver and job.backfill: executions a caller asks for, each committed
as a planned, unfinished batch (scheduler0.store.manual), which the leader dispatches as it
dispatches a planned one, and a new leader's reconcile sends again if it is unfinished."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scheduler0.errors import ValidationError
from scheduler0.messages import ExecutionRedeliver, JobBackfill, JobRun
from scheduler0.store import manual
from scheduler0.store.tx import Tx
from scheduler0.vocabulary import parse_execution_key


def run(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    """A run-now of the job (paused or not: it was asked for); 404 when it does not exist."""
    body = JobRun.decode(data)
    project_id = manual.job_project(tx.conn, body.job_id)
    return manual.start_run(tx, body.job_id, project_id, body.data)


def redeliver(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    body = ExecutionRedeliver.decode(data)
    try:
        key = parse_execution_key(body.execution_id)
    except ValueError as exc:
        raise ValidationError(f"execution_id: {exc}", code="invalid_execution_id") from None
    return manual.start_redelivery(tx, key)


def backfill(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    """The ticks the API planned, planned again at the command's second: what the store holds
    now decides (a tick recorded or planned since the API read is not fired)."""
    body = JobBackfill.decode(data)
    plan = manual.backfill_plan(tx.conn, body.job_id, body.start, body.end, tx.ts_s,
                                tx.schedules)
    manual.start_backfill(tx, plan)
    return plan.answer()
