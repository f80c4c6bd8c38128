"""/executions (the history, newest first, as pages or as CSV), one execution, redelivery,
and /rollups (the history counted per minute or hour)."""

from __future__ import annotations

from typing import Any

from scheduler0_client._request import Call, Instant, path, query
from scheduler0_client.types import Execution, Page, Period, Rollups, page_of


def _filters(project_id: int | None, job_id: int | None, state: str | None,
             since: Instant | None, until: Instant | None, labels: str | None,
             host: str | None, node: int | None) -> dict[str, Any]:
    return {"project_id": project_id, "job_id": job_id, "state": state,
            "since": since, "until": until, "labels": labels, "host": host, "node": node}


def list_executions(*, project_id: int | None = None, job_id: int | None = None,
                    state: str | None = None, since: Instant | None = None,
                    until: Instant | None = None, labels: str | None = None,
                    host: str | None = None, node: int | None = None,
                    include_job: bool = False, limit: int | None = None,
                    offset: int | None = None,
                    after: str | None = None) -> Call[Page[Execution]]:
    """One page of the history, newest first. `state`: scheduled (in flight), or recorded
    states separated by commas ("failed,missed"); `labels`, `host` and `node` select by the
    executions' jobs and the node that delivered them; `include_job`: each with its job's
    name and zone."""
    return Call("GET", "/executions", query(
        **_filters(project_id, job_id, state, since, until, labels, host, node),
        include="job" if include_job else None, limit=limit, offset=offset, after=after),
        decode=page_of("executions"))


def export_executions_csv(*, project_id: int | None = None, job_id: int | None = None,
                          state: str | None = None, since: Instant | None = None,
                          until: Instant | None = None, labels: str | None = None,
                          host: str | None = None, node: int | None = None,
                          limit: int | None = None, after: str | None = None) -> Call[str]:
    """The history as CSV text with a header row: up to `limit` rows (default 10,000, at
    most 100,000) from `after`, with list_executions's filters."""
    return Call("GET", "/executions", query(
        **_filters(project_id, job_id, state, since, until, labels, host, node),
        format="csv", limit=limit, after=after), decode=str, text_answer=True)


def get_execution(execution_id: str) -> Call[Execution]:
    """One execution as it is now: `scheduled` while a delivery of it is in flight."""
    return Call("GET", path("executions", execution_id))


def redeliver_execution(execution_id: str, *,
                        idempotency_key: str | None = None) -> Call[Execution]:
    """Send a recorded execution again with the same id; its result replaces the recorded
    one. 409 while a delivery of it is in flight."""
    return Call("POST", path("executions", execution_id, "redeliver"),
                idempotency_key=idempotency_key)


def rollups(*, period: Period = "minute", project_id: int | None = None,
            since: Instant | None = None, until: Instant | None = None,
            limit: int | None = None) -> Call[Rollups]:
    """Executions counted per minute or per hour, with their lateness in buckets."""
    return Call("GET", "/rollups", query(period=period, project_id=project_id, since=since,
                                         until=until, limit=limit))
