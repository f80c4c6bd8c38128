"""The node and the cluster: health, membership, the cluster pause, schedules previews, the
console's counts, /metrics and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from scheduler0_client._request import Call, Instant, fields, path, query
from scheduler0_client.types import (
    Cluster,
    HealthDetail,
    Load,
    MemberAdded,
    MemberRemoved,
    Pause,
    Preview,
    Summary,
)


def health() -> Call[HealthDetail]:
    """The health check. Anyone gets the keys of `Health`; a caller that sees every project
    (or the node's auth) gets the detail too."""
    return Call("GET", "/healthcheck")


def preview_schedule(spec: str, *, timezone: str | None = None, start: Instant | None = None,
                     count: int | None = None, job_id: int | None = None) -> Call[Preview]:
    """The next `count` fire times of `spec` in `timezone` from `start` (default now), in
    UTC and local time; a spec with H needs `job_id`, the job whose values it takes."""
    return Call("GET", "/schedules/preview", query(
        spec=spec, timezone=timezone, from_=start, count=count,
        job_id=job_id))


def cluster() -> Call[Cluster]:
    """Members, leader, term, this node's replication lag and each node's lease."""
    return Call("GET", "/cluster")


def add_member(raft_address: str) -> Call[MemberAdded]:
    """Add a started node by its Raft address (the node's basic_auth only)."""
    return Call("POST", "/cluster/members", body={"raft_address": raft_address})


def remove_member(raft_address: str) -> Call[MemberRemoved]:
    return Call("DELETE", path("cluster", "members", raft_address))


def pause_cluster(*, reason: str | None = None,
                  idempotency_key: str | None = None) -> Call[Pause]:
    """Stop all planning in the cluster (admin of every project). Run-nows, redeliveries and
    backfills still go."""
    return Call("POST", "/pause", body=fields(reason=reason), idempotency_key=idempotency_key)


def resume_cluster(*, idempotency_key: str | None = None) -> Call[Pause]:
    return Call("POST", "/resume", idempotency_key=idempotency_key)


def summary() -> Call[Summary]:
    """The jobs by status and the last day's executions, for the projects the caller sees."""
    return Call("GET", "/summary")


def load(*, minutes: int | None = None, threshold: int | None = None) -> Call[Load]:
    """The upcoming executions per second over the next `minutes`, and the bursts."""
    return Call("GET", "/load", query(minutes=minutes, threshold=threshold))


def metrics() -> Call[str]:
    """The Prometheus text of /metrics."""
    return Call("GET", "/metrics", decode=str, text_answer=True)


def openapi() -> Call[dict[str, Any]]:
    """The OpenAPI document the node serves."""
    return Call("GET", "/openapi.json")
