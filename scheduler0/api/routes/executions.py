"""/executions and /jobs/{id}/executions: the execution history, newest first."""

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
    ident = validation.path_id(job_id)
    filters = validation.execution_filters(request.args, with_ids=False)
    existing_job(ident)
    return _page({**filters, "job_id": ident})


def _page(filters: dict[str, Any]) -> Response:
    limit, offset = validation.pagination(request.args)
    rows, total = reader().list_executions(**filters, limit=limit, offset=offset)
    return ok(serialize.page("executions", rows, total, limit, offset, serialize.execution))
