"""POST /jobs/{id}/run, POST /jobs/{id}/backfill, POST /executions/{id}/redeliver and
GET /executions/{id}: executions asked for rather than planned (scheduler0.manual), and one
execution as it is now.

A run-now works on a paused job too (it was asked for explicitly); the job's schedule is not
touched. What these commit is sent even while the cluster is paused (POST /pause stops the
planning of ticks; these are no ticks to plan).
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from scheduler0 import clock
from scheduler0.api import manual, serialize, validation
from scheduler0.api.context import ok, reader
from scheduler0.api.routes.jobs import existing_job
from scheduler0.errors import NotFoundError

bp = Blueprint("manual", __name__)


@bp.post("/jobs/<job_id>/run")
def run(job_id: str) -> Response:
    """202 with the execution, scheduled: its execution_id <job>-<tick>-m<run>."""
    job = existing_job(validation.path_job(job_id))
    data = manual.run_data(validation.parse_json(request.get_data(), required=False), job)
    return ok(serialize.execution(manual.run_now(job["id"], data)), 202)


@bp.post("/jobs/<job_id>/backfill")
def backfill(job_id: str) -> Response:
    """202 with what it fires; with ?dry_run=true, 200 with what it would fire, and nothing
    committed."""
    checking = validation.query_bool(request.args, "dry_run")
    job = existing_job(validation.path_job(job_id))
    start, end = manual.backfill_range(validation.parse_json(request.get_data()))
    plan = reader().backfill_plan(job["id"], start, end, int(clock.now()))
    if checking:
        return ok(manual.backfill_answer(plan.answer(), dry_run=True), 200)
    return ok(manual.backfill_answer(manual.backfill(job["id"], plan), dry_run=False), 202)


@bp.post("/executions/<execution_id>/redeliver")
def redeliver(execution_id: str) -> Response:
    """202 with the execution, scheduled again (same execution_id); 409 while a delivery of
    it is in flight, 404 when the history does not hold it."""
    key = manual.path_execution(execution_id)
    reader().get_job(key.job_id)  # a job of another project: 403 (a missing one: the apply's 404)
    return ok(serialize.execution(manual.redeliver(key)), 202)


@bp.get("/executions/<execution_id>")
def get_one(execution_id: str) -> Response:
    """The execution as it is now: scheduled while a delivery of it is in flight (a
    redelivery's too), else as recorded."""
    key = manual.path_execution(execution_id)
    found = reader().execution(key)
    if found is None:
        raise NotFoundError(f"execution {key.execution_id} does not exist: job {key.job_id} has "
                            "no execution with that id in flight or in the history (retention "
                            "removes old ones)")
    return ok(serialize.execution(found))
