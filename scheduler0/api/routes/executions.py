"""/executions and /jobs/{id}/executions: the execution history, newest first; /rollups: its
counts per minute and per hour."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from scheduler0.api import serialize, validation
from scheduler0.api.context import ok, reader
from scheduler0.api.routes.jobs import existing_job

bp = Blueprint("executions", __name__)


@bp.get("/executions")
def list_all() -> Response:
    return _page(validation.execution_filters(request.args))


@bp.get("/jobs/<job_id>/executions")
def for_job(job_id: str) -> Response:
    ref = validation.path_job(job_id)
    filters = validation.execution_filters(request.args, with_ids=False)
    return _page({**filters, "job_id": existing_job(ref)["id"]})


def _page(filters: dict[str, Any]) -> Response:
    limit, offset = validation.pagination(request.args)
    found = reader().list_executions(**filters, limit=limit, offset=offset,
                                     after=request.args.get("after") or None)
    return ok(serialize.page("executions", found, limit, offset, serialize.execution))


@bp.get("/rollups")
def rollups() -> Response:
    """Counts per minute or hour, summed over projects unless project_id is given."""
    query = validation.rollup_query(request.args)
    return ok({"period": query["period"], "rollups": [
        serialize.rollup(row) for row in reader().rollups(**query)]})
