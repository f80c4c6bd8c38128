"""The API's part of run-now, redelivery and backfill (scheduler0.manual): the checks of their
inputs, the answers, and `run_now`, which commits a run-now.

Each is one Raft command that commits the executions as planned, unfinished batches, so the
request's answer (202) comes once they are committed: a leader change after it does not lose
them. The same Idempotency-Key on a retry returns the first answer and fires nothing more (the
state machine answers a command's request id once).
"""

from __future__ import annotations

from typing import Any

from scheduler0 import messages
from scheduler0.api import serialize, validation
from scheduler0.api.writes import submit
from scheduler0.errors import ValidationError
from scheduler0.store.manual import BackfillPlan
from scheduler0.vocabulary import ExecutionKey, parse_execution_key

RUN_FIELDS = ("data",)
BACKFILL_FIELDS = ("from", "to")
_RANGE_HINT = "send an RFC 3339 time such as 2030-01-02T15:04:05Z, or epoch seconds"


def run_now(job_id: int, data: str | None = None) -> dict[str, Any]:
    """Commit one run-now of job `job_id` (it must exist), delivering `data` instead of the
    job's own when given; returns the execution, scheduled (its execution_id
    <job>-<tick>-m<run>). Within a request, whose Idempotency-Key makes a retry safe."""
    body = messages.JobRun(job_id=job_id, data=data)
    answer: dict[str, Any] = submit(messages.JOB_RUN, body.encode())
    return answer


def run_data(body: Any, job: dict[str, Any]) -> str | None:
    """The data a run-now of `job` delivers instead of its own, from the request's body
    (none, `{}` or `{"data": null}`: the job's own)."""
    if body is None:
        return None
    fields = validation.known_fields(validation.expect_object(body), RUN_FIELDS)
    if fields.get("data") is None:
        return None
    data = validation.job_data(fields["data"], "data")
    if data and job.get("method") == "GET":
        raise validation.invalid("data", f"job {job['id']} is delivered with GET, which sends "
                                 "no body, so this data would never reach its receiver; leave "
                                 "data out, or change the job's method")
    return data


def backfill_range(body: Any) -> tuple[int, int]:
    """(from, to) of a backfill's body, epoch seconds; both are required."""
    fields = validation.known_fields(validation.expect_object(body), BACKFILL_FIELDS)
    found: list[int] = []
    for name in BACKFILL_FIELDS:
        value = validation.instant(fields.get(name), name)
        if value is None:
            raise validation.invalid(name, f"required: the range's {'first' if name == 'from' else 'last'} "
                                     f"instant (included); {_RANGE_HINT}")
        found.append(value)
    return found[0], found[1]


def backfill_answer(answer: dict[str, Any], *, dry_run: bool) -> dict[str, Any]:
    """A backfill's answer (BackfillPlan.answer, or the command's) as the API shows it."""
    return {"job_id": answer["job_id"], "dry_run": dry_run,
            "from": serialize.instant(answer["from"]), "to": serialize.instant(answer["to"]),
            "count": answer["count"], "ticks": answer["ticks"], "skipped": answer["skipped"],
            "first_ticks": [serialize.instant(t) for t in answer["first_ticks"]]}


def backfill(job_id: int, plan: BackfillPlan) -> dict[str, Any]:
    """Commit the backfill `plan` was made for (the apply plans it again against what the
    store holds then); returns the command's answer."""
    body = messages.JobBackfill(job_id=job_id, start=plan.start, end=plan.end)
    answer: dict[str, Any] = submit(messages.JOB_BACKFILL, body.encode())
    return answer


def redeliver(key: ExecutionKey) -> dict[str, Any]:
    """Commit a redelivery of the finished execution `key`; returns it, scheduled again."""
    body = messages.ExecutionRedeliver(execution_id=key.execution_id)
    answer: dict[str, Any] = submit(messages.EXECUTION_REDELIVER, body.encode())
    return answer


def path_execution(raw: str) -> ExecutionKey:
    """An execution id from the URL path, written as the history shows it."""
    try:
        key = parse_execution_key(raw)
    except ValueError as exc:
        raise ValidationError(f"execution_id: {exc}", code="invalid_execution_id") from None
    if key.execution_id != raw:
        raise ValidationError(f"execution_id: {raw[:60]!r} is not written as the history "
                              f"writes it; use {key.execution_id!r}",
                              code="invalid_execution_id")
    return key
