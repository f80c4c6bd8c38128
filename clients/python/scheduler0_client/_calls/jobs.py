"""/jobs: create (one, a list of up to 10,000, or a dry run), read, list, change, delete, run
now, backfill, and a job's executions."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from scheduler0_client._request import (
    Call,
    Instant,
    JobRef,
    fields,
    instant,
    path,
    query,
)
from scheduler0_client.types import (
    Backfill,
    Deleted,
    DryRunJob,
    Execution,
    FinalState,
    Job,
    JobChanges,
    JobSort,
    JobStatus,
    ListedJob,
    NewJob,
    Page,
    page_of,
)

MAX_JOBS_PER_REQUEST = 10_000  # the server refuses a longer list in one POST /jobs
MAX_BODY_BYTES = 16 * 1024 * 1024  # the server's default ApiMaxBodyMb


def create_job(job: NewJob, *, idempotency_key: str | None = None) -> Call[Job]:
    return Call("POST", "/jobs", body=dict(job), idempotency_key=idempotency_key)


def create_jobs(jobs: Sequence[NewJob], *,
                idempotency_key: str | None = None) -> Call[list[Job]]:
    """Create 1 to 10,000 jobs in one request: one Raft command, so all of them or none,
    answered in order (`bulk_create` takes a longer list)."""
    _check_count(jobs)
    return Call("POST", "/jobs", body=[dict(job) for job in jobs], decode=list,
                idempotency_key=idempotency_key)


def dry_run_job(job: NewJob) -> Call[DryRunJob]:
    """Check a job exactly as creating it would, and show it as it would be, with its next
    fire times; nothing is created."""
    return Call("POST", "/jobs", query(dry_run=True), body=dict(job))


def dry_run_jobs(jobs: Sequence[NewJob]) -> Call[list[DryRunJob]]:
    _check_count(jobs)
    return Call("POST", "/jobs", query(dry_run=True), body=[dict(job) for job in jobs],
                decode=list)


def _check_count(jobs: Sequence[NewJob]) -> None:
    if not 0 < len(jobs) <= MAX_JOBS_PER_REQUEST:
        raise ValueError(f"jobs: {len(jobs)} jobs; one request takes 1-{MAX_JOBS_PER_REQUEST} "
                         "(bulk_create splits a longer list)")


def get_job(job: JobRef, *, project_id: int | None = None) -> Call[Job]:
    return Call("GET", path("jobs", job), query(project_id=project_id))


def list_jobs(*, project_id: int | None = None, paused: bool | None = None,
              failing: bool | None = None, labels: str | None = None, name: str | None = None,
              contains: str | None = None, status: JobStatus | None = None,
              last_state: FinalState | None = None, host: str | None = None,
              sort: JobSort | None = None, limit: int | None = None, offset: int | None = None,
              after: str | int | None = None) -> Call[Page[ListedJob]]:
    """One page of jobs, by id unless `sort` says otherwise. `labels` is a label selector
    (`team=billing,env!=dev`), `name` a prefix of names, `contains` a part of one, `host`
    a callback host; `failing`: the last result failed or was missed."""
    return Call("GET", "/jobs", query(
        project_id=project_id, paused=paused, failing=failing, labels=labels, name=name,
        contains=contains, status=status, last_state=last_state, host=host, sort=sort,
        limit=limit, offset=offset, after=after), decode=page_of("jobs"))


def update_job(job: JobRef, changes: JobChanges, *, project_id: int | None = None,
               idempotency_key: str | None = None) -> Call[Job]:
    """Change the fields given; the others keep their values."""
    return Call("PUT", path("jobs", job), query(project_id=project_id), body=dict(changes),
                idempotency_key=idempotency_key)


def pause_job(job: JobRef, *, project_id: int | None = None,
              idempotency_key: str | None = None) -> Call[Job]:
    """Stop planning the job's ticks (a run-now still runs it)."""
    return update_job(job, {"paused": True}, project_id=project_id,
                      idempotency_key=idempotency_key)


def resume_job(job: JobRef, *, project_id: int | None = None,
               idempotency_key: str | None = None) -> Call[Job]:
    return update_job(job, {"paused": False}, project_id=project_id,
                      idempotency_key=idempotency_key)


def delete_job(job: JobRef, *, project_id: int | None = None,
               idempotency_key: str | None = None) -> Call[Deleted]:
    """Delete a job and its history."""
    return Call("DELETE", path("jobs", job), query(project_id=project_id),
                idempotency_key=idempotency_key)


def run_job(job: JobRef, *, data: str | None = None, project_id: int | None = None,
            idempotency_key: str | None = None) -> Call[Execution]:
    """Run the job once now (a paused one too), with `data` instead of its own this once.
    The answer is its execution, scheduled, with the id `<job>-<second>-m<run>`."""
    return Call("POST", path("jobs", job, "run"), query(project_id=project_id),
                body=fields(data=data) or None, idempotency_key=idempotency_key)


def backfill_job(job: JobRef, start: Instant, end: Instant, *, dry_run: bool = False,
                 project_id: int | None = None,
                 idempotency_key: str | None = None) -> Call[Backfill]:
    """Fire the ticks of the job's schedule from `start` to `end` (both included, at most
    1,000) that the planner passed and that never ran; `dry_run`: only say which."""
    return Call("POST", path("jobs", job, "backfill"),
                query(dry_run=dry_run or None, project_id=project_id),
                body={"from": instant(start), "to": instant(end)},
                idempotency_key=idempotency_key)


def list_job_executions(job: JobRef, *, project_id: int | None = None,
                        state: str | None = None,
                        since: Instant | None = None, until: Instant | None = None,
                        include_job: bool = False, limit: int | None = None,
                        offset: int | None = None,
                        after: str | None = None) -> Call[Page[Execution]]:
    """One page of the job's executions, newest first (`state`: one, or recorded ones
    separated by commas, "failed,missed")."""
    return Call("GET", path("jobs", job, "executions"), query(
        project_id=project_id, state=state, since=since,
        until=until, include="job" if include_job else None, limit=limit,
        offset=offset, after=after), decode=page_of("executions"))


def batches(jobs: Sequence[NewJob], size: int = MAX_JOBS_PER_REQUEST,
            max_body_bytes: int = MAX_BODY_BYTES) -> Iterator[list[NewJob]]:
    """`jobs` in order, in runs of at most `size` whose JSON body stays within
    `max_body_bytes`, so that the server takes each run as one request."""
    if not 0 < size <= MAX_JOBS_PER_REQUEST:
        raise ValueError(f"batch_size: {size}; use 1-{MAX_JOBS_PER_REQUEST}")
    run: list[NewJob] = []
    body_bytes = 2  # the brackets
    for job in jobs:
        job_bytes = len(json.dumps(job, separators=(",", ":")).encode()) + 1  # and a comma
        if run and (len(run) == size or body_bytes + job_bytes > max_body_bytes):
            yield run
            run, body_bytes = [], 2
        run.append(job)
        body_bytes += job_bytes
    if run:
        yield run
