"""The shapes of what the API takes and answers, as TypedDicts (plain dicts at run time, so a
field a newer server adds is kept, not lost), and `Page`, one page of a list.

They follow the node's OpenAPI document (GET /api/v1/openapi.json; the tests compare them).
Inputs are `total=False`: the server checks them and names the field and the fix. Instants
come back as RFC 3339 UTC text (`2030-01-02T15:04:05Z`) or None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypedDict, TypeVar

T = TypeVar("T")

Role = Literal["read", "write", "admin"]
MisfirePolicy = Literal["run_once", "run_all", "skip"]
HttpMethod = Literal["POST", "PUT", "GET"]
ExecutionState = Literal["scheduled", "succeeded", "failed", "missed"]
FinalState = Literal["succeeded", "failed", "missed"]
Trigger = Literal["schedule", "manual", "backfill"]
BulkAction = Literal["pause", "resume", "delete", "set_labels", "run"]
OperationState = Literal["running", "succeeded", "failed"]
NotificationFormat = Literal["json", "slack"]
NotificationDelivery = Literal["pending", "sent", "failed"]
JobStatus = Literal["active", "paused", "completed"]
JobSort = Literal["id", "-id", "name", "-name"]
Period = Literal["minute", "hour"]

# -- what the API takes -----------------------------------------------------------------------


class NewJob(TypedDict, total=False):
    """A job to create: `project_id`, `callback_url` and `spec` (or `run_at`) are required.
    The delivery settings (`method` ... `success_codes`) default to the node's."""

    project_id: int
    spec: str
    run_at: str | int  # a one-off: an instant, or "now"
    timezone: str
    callback_url: str
    data: str
    execution_type: Literal["http"]
    start_date: str | int | None
    end_date: str | int | None
    paused: bool
    misfire_policy: MisfirePolicy
    name: str | None
    description: str | None
    labels: dict[str, str] | None
    method: HttpMethod | None
    headers: dict[str, str] | None
    timeout: float | None
    retries: int | None
    retry_delay: float | None
    success_codes: list[int] | None


class JobChanges(TypedDict, total=False):
    """What `update_job` may change; None clears a name, description, labels, data, dates
    or a delivery setting (back to the node's), and `labels` replaces them all."""

    spec: str
    run_at: str | int
    timezone: str
    callback_url: str
    data: str | None
    start_date: str | int | None
    end_date: str | int | None
    paused: bool
    misfire_policy: MisfirePolicy
    name: str | None
    description: str | None
    labels: dict[str, str] | None
    method: HttpMethod | None
    headers: dict[str, str] | None
    timeout: float | None
    retries: int | None
    retry_delay: float | None
    success_codes: list[int] | None


class RateLimit(TypedDict, total=False):
    """What a project's receivers get at most from the whole cluster."""

    concurrency: int | None  # executions in flight at once
    per_second: float | None  # executions started a second


class ProjectChanges(TypedDict, total=False):
    """What `update_project` may change (None: no more notifications, or no limit)."""

    name: str
    description: str | None
    notification_url: str | None
    notification_format: NotificationFormat
    rate_limit: RateLimit | None


class BulkFilter(TypedDict, total=False):
    """The jobs a bulk operation selects, read as GET /jobs reads these filters: all of
    them must hold."""

    project_id: int
    paused: bool
    labels: str  # a label selector: `team=web,env!=dev`
    name: str  # a prefix of job names
    contains: str  # a part of a job name
    status: JobStatus
    last_state: FinalState
    host: str  # a callback host


# -- what the API answers ---------------------------------------------------------------------


class Job(TypedDict):
    id: int
    project_id: int
    spec: str
    resolved_spec: str  # the spec with its H values filled in
    timezone: str
    callback_url: str
    data: str
    execution_type: str
    start_date: str | None
    end_date: str | None
    paused: bool
    misfire_policy: MisfirePolicy
    name: str | None
    description: str
    labels: dict[str, str]
    method: HttpMethod | None
    headers: dict[str, str] | None
    timeout: float | None
    retries: int | None
    retry_delay: float | None
    success_codes: list[int] | None
    created_at: str
    updated_at: str
    next_execution_at: str | None
    completed: bool
    last_execution_at: str | None
    last_state: FinalState | None
    last_http_status: int | None


class ListedJob(Job):
    """A job as GET /jobs lists it: with what the console's jobs screen shows too."""

    status: JobStatus
    callback_host: str
    last_late_ms: int | None


class DryRunJob(Job):
    """A job as a create would make it now (nothing created), with its next 5 fire times."""

    next_fire_times: list[str]


class _ProjectFields(TypedDict):
    id: int
    name: str
    description: str
    created_at: str
    updated_at: str
    previous_signing_secret_expires_at: str | None
    notification_url: str | None
    notification_format: NotificationFormat
    rate_limit: RateLimit | None


class Project(_ProjectFields, total=False):
    signing_secret: str  # on create and on a rotation only: keep it
    job_count: int  # on reads only


class Credential(TypedDict):
    id: int
    api_key: str
    archived: bool
    role: Role
    projects: list[int] | None  # None: every project
    created_at: str
    updated_at: str


class NewCredential(Credential):
    api_secret: str  # shown once: only its hash is kept


class JobBrief(TypedDict):
    """An execution's job with `include_job=True` (None once the job is deleted)."""

    name: str | None
    timezone: str


class _ExecutionFields(TypedDict):
    execution_id: str  # <job>-<tick>, or <job>-<tick>-m<run> for a run-now
    job_id: int
    project_id: int
    scheduled_at: str | None
    state: ExecutionState
    attempts: int
    http_status: int | None
    node_id: int | None
    batch_id: str | None
    error: str | None
    planned_at: str | None
    started_at: str | None
    finished_at: str | None
    trigger: Trigger
    redeliveries: int


class Execution(_ExecutionFields, total=False):
    job: JobBrief | None  # only with include_job=True


class BackfillSkipped(TypedDict):
    recorded: int
    in_flight: int
    not_yet_planned: int


# "from" is a keyword, so these are spelled as calls.
Backfill = TypedDict("Backfill", {
    "job_id": int, "dry_run": bool, "from": str, "to": str, "count": int, "ticks": int,
    "skipped": BackfillSkipped, "first_ticks": list[str]})
"""What a backfill fires (`count`) of the ticks in its range (`ticks`), what it skips and
why, and the first 10 it fires."""


class Operation(TypedDict):
    """A bulk operation and its progress."""

    id: int
    action: BulkAction
    selection: dict[str, Any]
    labels: dict[str, str | None] | None
    total: int
    done: int
    skipped: int
    skipped_ids: list[int]
    state: OperationState
    errors: list[str]
    projects: list[int] | None
    created_by: str
    node_id: int
    created_at: str
    updated_at: str
    finished_at: str | None


class OperationStarted(Operation):
    operation_id: int


class Notification(TypedDict):
    """A failure notification of a project and how sending it went."""

    id: int
    type: Literal["job.failed", "job.missed", "job.recovered"]
    project_id: int
    job_id: int
    job_name: str | None
    execution_id: str
    state: FinalState
    previous_state: FinalState | None
    scheduled_at: str
    http_status: int | None
    error: str | None
    attempts: int
    created_at: str
    delivery: NotificationDelivery
    delivery_attempts: int
    delivery_status: int | None
    delivery_error: str | None
    settled_at: str | None


class Deleted(TypedDict):
    id: int


class ProjectDeleted(Deleted, total=False):
    jobs_deleted: int  # with cascade=True


class PreviewTime(TypedDict):
    utc: str
    local: str
    epoch: int
    utc_offset: str  # "+01:00"
    utc_offset_seconds: int
    dst_change: bool  # the offset changed since the previous time


Preview = TypedDict("Preview", {
    "spec": str, "resolved_spec": str, "job_id": int | None, "timezone": str,
    "from": str | None, "count": int, "times": list[PreviewTime]})


class Rollup(TypedDict):
    period_start: str | None
    succeeded: int
    failed: int
    missed: int
    late_100ms: int
    late_1s: int
    late_10s: int
    late_more: int


class Rollups(TypedDict):
    period: Period
    rollups: list[Rollup]


class Pause(TypedDict):
    paused: bool
    paused_at: str | None
    paused_by: str | None
    reason: str | None
    resumed_at: str | None
    resumed_by: str | None


class Peer(TypedDict):
    node_id: int
    address: str
    raft_address: str
    connected: bool


class Health(TypedDict):
    """The health check as anyone gets it."""

    node_id: int
    state: Literal["leader", "follower", "candidate"]
    is_leader: bool
    leader_id: int | None
    leader_address: str | None
    healthy: bool
    memory_pressure: bool
    planning_paused: bool | None
    raft: dict[str, Any]  # {"term"}; the detail adds the indexes


class _HealthDetailFields(Health):
    peers: list[Peer]
    has_quorum: bool


class HealthDetail(_HealthDetailFields, total=False):
    """The health check for a credential that sees every project (or the node's auth)."""

    executors: dict[str, Any]
    nodes: dict[str, Any]
    planner: dict[str, Any]
    results_committed: int
    intake: dict[str, Any]
    lease: dict[str, Any]
    leases: dict[str, Any]
    threads: dict[str, Any]
    unhealthy: str
    pause: Pause | None


class Cluster(TypedDict):
    node_id: int
    leader_id: int | None
    is_leader: bool
    term: int | None
    lag: int | None  # entries the leader committed that this node has not applied
    peers: list[Peer]
    nodes: dict[str, Any]
    lease: dict[str, Any] | None


class MemberAdded(TypedDict):
    added: str


class MemberRemoved(TypedDict):
    removed: str


class Summary(TypedDict):
    jobs: dict[str, Any]  # total, paused, failing, completed, and which counts are exact
    last_day: dict[str, Any]  # since, until, succeeded, failed, missed


Load = TypedDict("Load", {
    "from": str | None, "minutes": int, "seconds": int, "bucket_seconds": int,
    "buckets": list[int], "total": int, "mean_per_second": float, "peak": dict[str, Any],
    "threshold": float, "schedules": int, "truncated": bool, "bursts": list[dict[str, Any]]})
"""The upcoming executions per bucket of seconds, the peak, and the bursts with their
causes (spec, zone, jobs, a suggestion)."""


# -- lists ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list. `next_after` is the keyset cursor of the next page (None on the
    last); `total` is exact unless `total_exact` is False (then at least that many match).
    `scan_limited`: a filter's bounded scan stopped before the page was full, so a short or
    empty page is not the last while `next_after` is set."""

    items: list[T]
    total: int
    total_exact: bool
    limit: int
    offset: int
    next_after: str | None
    scan_limited: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def page_of(rows: str) -> Callable[[Any], Page[Any]]:
    """The decoder of a list answer whose rows are under `rows` (`jobs`, `executions`...)."""

    def decode(data: Any) -> Page[Any]:
        cursor = data.get("next_after")
        return Page(items=list(data.get(rows) or ()), total=int(data.get("total") or 0),
                    total_exact=bool(data.get("total_exact", True)),
                    limit=int(data.get("limit") or 0), offset=int(data.get("offset") or 0),
                    next_after=None if cursor is None else str(cursor),
                    scan_limited=bool(data.get("scan_limited", False)), raw=data)

    return decode
