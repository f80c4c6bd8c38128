"""/jobs: create one or up to 10,000 in one command (or only check them: ?dry_run=true), list,
read, update (pause), delete.

A job in a path is its id or its name (validation.path_job). A name is unique within its
project, so it is looked for in `?project_id=` when given, else in every project the caller
sees, and refused (409) when several of those have a job of that name.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from scheduler0 import clock, labels, messages
from scheduler0.api import dry_run, serialize, validation
from scheduler0.api.context import api, ok, ok_json, reader
from scheduler0.api.writes import submit
from scheduler0.errors import ConflictError, NotFoundError
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
        # The apply refuses a name that is taken (the create's own check, in the same words).
        _check_names(count, columns["project_id"], columns["name"])
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


def _check_names(count: int, project_ids: Any, names: Any) -> None:
    """Refuse (409) a name a job of its project has, as the apply does."""
    if names is None:
        return
    pairs = list(zip(messages.unfold_column(names, count),
                     messages.unfold_column(project_ids, count), strict=True))
    taken = reader().names_taken([name for name, _ in pairs if name is not None])
    for index, (name, project_id) in enumerate(pairs):
        job_id = taken.get((name, project_id))
        if job_id is not None:
            path = f"jobs[{index}].name" if count > 1 else "name"
            raise ConflictError(f"{path}: {labels.name_taken(name, job_id, project_id)}")


@bp.get("/jobs")
def list_all() -> Response:
    """The console's filters and sorts (contains, status, last_state, host, sort) go to
    Reader.browse_jobs, whose other filters are bounded scans; without them Reader.list_jobs
    answers as it always has."""
    limit, offset = validation.pagination(request.args)
    browse = validation.job_browse(request.args)
    if browse is not None:
        found = reader().browse_jobs(browse, limit, offset)
    else:
        found = reader().list_jobs(
            project_id=validation.query_id(request.args, "project_id", "projectId"),
            paused=validation.query_bool(request.args, "paused"),
            failing=validation.query_bool(request.args, "failing"), limit=limit,
            offset=offset, after=validation.query_id(request.args, "after"),
            labels=validation.query_labels(request.args),
            name_prefix=validation.query_name_prefix(request.args))
        reader().add_lateness(found.rows)
    return ok(serialize.page("jobs", found, limit, offset, serialize.listed_job, scans=True))


@bp.get("/jobs/<job_id>")
def get_one(job_id: str) -> Response:
    return ok(serialize.job(existing_job(validation.path_job(job_id))))


@bp.put("/jobs/<job_id>")
def update(job_id: str) -> Response:
    ref = validation.path_job(job_id)
    body = validation.parse_json(request.get_data())
    current = existing_job(ref)
    changes = validation.job_update(body, current, job_rules())
    return ok(serialize.job(submit(messages.JOB_UPDATE,
                                   {"id": current["id"], "changes": changes})))


@bp.delete("/jobs/<job_id>")
def delete(job_id: str) -> Response:
    ref = validation.path_job(job_id)
    if isinstance(ref, int) and _project_asked() is None:
        return ok(submit(messages.JOB_DELETE, {"id": ref}))  # no read: the apply says 404
    return ok(submit(messages.JOB_DELETE, {"id": existing_job(ref)["id"]}))


def existing_job(ref: int | str) -> dict[str, Any]:
    """The job `ref` (validation.path_job: its id or its name) names, in `?project_id=` when
    the query gives one; 404 when there is none, 409 when a name is ambiguous."""
    project_id = _project_asked()
    ident = ref if isinstance(ref, int) else job_named(ref, project_id)
    row = reader().get_job(ident)
    if row is None:
        raise NotFoundError(f"job {ident} does not exist")
    if project_id is not None and row["project_id"] != project_id:
        raise NotFoundError(f"job {ident} is in project {row['project_id']}, not in project "
                            f"{project_id}; leave project_id out or fix it")
    return dict(row)


def _project_asked() -> int | None:
    return validation.query_id(request.args, "project_id", "projectId")


def job_named(name: str, project_id: int | None) -> int:
    """The id of the job called `name` in `project_id`, or in the one project (of those the
    caller sees) that has a job of that name."""
    found = reader().jobs_named(name, project_id)
    if not found:
        where = f"in project {project_id}" if project_id is not None else "in any project"
        raise NotFoundError(f'no job is named "{name}" {where} this credential sees; check the '
                            "name, or use the job's id")
    if len(found) > 1:
        shown = ", ".join(f"job {job_id} in project {project}" for job_id, project in found)
        raise ConflictError(f'"{name}" names more than one job ({shown}); add ?project_id= '
                            "to say which project's, or use the job's id",
                            code="ambiguous_name")
    return found[0][0]
