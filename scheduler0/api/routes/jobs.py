"""/jobs: create one or up to 10,000 in one command (or only check them: ?dry_run=true), list,
read, update (pause), delete."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from scheduler0 import clock, messages
from scheduler0.api import dry_run, serialize, validation
from scheduler0.api.context import api, ok, ok_json, reader
from scheduler0.api.writes import submit
from scheduler0.errors import NotFoundError
from scheduler0.schedule import ScheduleCache

bp = Blueprint("jobs", __name__)


def job_rules() -> validation.JobRules:
    ctx = api()
    return validation.JobRules(now=int(clock.now()),
                               default_timezone=ctx.settings.default_timezone,
                               check_host=ctx.guard.problem)


@bp.post("/jobs")
def create() -> Response:
    """One job object -> 201 with the job; an array -> 201 with the array, in order. With
    ?dry_run=true: 200 with each job as it would be and its next fire times, nothing created."""
    checking = validation.query_bool(request.args, "dry_run")
    body = validation.parse_json(request.get_data())
    rules = job_rules()
    count, columns, many = validation.jobs_create_columns(body, rules)
    _check_projects(columns["project_id"], many)
    if checking:
        jobs = dry_run.would_create(count, columns, reader().next_job_id(), rules.now * 1000,
                                    ScheduleCache())
        return ok(jobs if many else jobs[0], 200)
    created = submit(messages.JOB_CREATE, {"count": count, "columns": columns})
    if isinstance(created, list):  # a retry answered with a result stored as row dicts
        jobs = [serialize.job(row) for row in created]
        return ok(jobs if many else jobs[0], 201)
    return ok_json(serialize.jobs_json(created, many), 201)


def _check_projects(project_ids: Any, many: bool) -> None:
    """`project_ids`: the project_id column (one id, or each job's)."""
    ids = project_ids if isinstance(project_ids, list) else [project_ids]
    store = reader()
    for project_id in dict.fromkeys(ids):
        if store.get_project(project_id) is None:
            index = ids.index(project_id)
            path = f"jobs[{index}].project_id" if many else "project_id"
            raise NotFoundError(f"{path}: project {project_id} does not exist; create it with "
                                "POST /projects or use the id of an existing project")


@bp.get("/jobs")
def list_all() -> Response:
    limit, offset = validation.pagination(request.args)
    project_id = validation.query_id(request.args, "project_id", "projectId")
    paused = validation.query_bool(request.args, "paused")
    failing = validation.query_bool(request.args, "failing")
    found = reader().list_jobs(project_id=project_id, paused=paused, failing=failing,
                               limit=limit, offset=offset,
                               after=validation.query_id(request.args, "after"))
    return ok(serialize.page("jobs", found, limit, offset, serialize.job))


@bp.get("/jobs/<job_id>")
def get_one(job_id: str) -> Response:
    return ok(serialize.job(existing_job(validation.path_id(job_id))))


@bp.put("/jobs/<job_id>")
def update(job_id: str) -> Response:
    ident = validation.path_id(job_id)
    body = validation.parse_json(request.get_data())
    current = existing_job(ident)
    changes = validation.job_update(body, current, job_rules())
    return ok(serialize.job(submit(messages.JOB_UPDATE, {"id": ident, "changes": changes})))


@bp.delete("/jobs/<job_id>")
def delete(job_id: str) -> Response:
    return ok(submit(messages.JOB_DELETE, {"id": validation.path_id(job_id)}))


def existing_job(ident: int) -> dict[str, Any]:
    row = reader().get_job(ident)
    if row is None:
        raise NotFoundError(f"job {ident} does not exist")
    return dict(row)
