"""Raft commands: the only way shared state changes.

On the Raft journal (pysyncobj pickles it) and in the API's submit a command is plain data, a dict:

    {"v": 1, "type": "<type>", "request_id": "<uuid4 hex>", "ts": <epoch ms>, "body": {...}}

That dict is the format on disk, so it never changes shape: `Command.encode` writes exactly it
and `Command.decode` reads every command written so far (a missing "v" is version 1). A body
type's `encode` gives the body dict and its `decode` reads one, refusing a malformed body with a
ValidationError (400) that names the field.

The proposer stamps everything that is not deterministic (ids it generates, secrets, the time
`ts`) before proposing; `apply` (scheduler0.store) reads nothing else, so every node reaches the
same SQLite state. A command applied twice with the same `request_id` returns the first result
(client retries after a timeout or a leader change are safe).

Every apply returns a result dict, never raises:
    {"ok": True, "data": <any>}                                   on success (`ok`)
    {"ok": False, "error": {"status": 4xx, "code": str, "message": str}}   when refused (`refused`)

Bodies by type (all times epoch seconds unless named *_ms), and what apply returns as data:
    credential.create  CredentialCreate  -> credential row dict (no secret)
    credential.update  CredentialUpdate  -> credential row
    credential.delete  CredentialDelete  -> {"id": int}
    project.create     ProjectCreate     -> project row (with signing_secret)
    project.update     ProjectUpdate     -> project row (signing_secret only when it was rotated;
                                            the secret replaced signs too for grace_seconds;
                                            removing the notification_url gives up on the
                                            project's pending notifications)
    project.delete     ProjectDelete     -> {"id": int, "jobs_deleted": int}
    job.create         JobCreate         -> [job row, ...] (ids included); for a body in columns,
                                            {"count": n, "columns": {field: column}}, the
                                            rows' fields in the same columns (JobCreate)
    job.update         JobUpdate         -> job row
    job.delete         JobDelete         -> {"id": int}
    plan               Plan              -> {"scheduled": int, "missed": int, "advanced": int,
                                             "settled_before": [batch_id, ...] when any}
    result             Result            -> {"settled": int}
    prune              Prune             -> {"deleted": int, "more": bool}
    lease.revoke       LeaseRevoke       -> {"node_id": int, "term": int, "epoch": int} (the
                                            newest lease revoked for that node)
    operation.create   OperationCreate   -> operation row (store/operations.py)
    operation.step     OperationStep     -> operation row, after one chunk of its jobs
    operation.finish   OperationFinish   -> operation row (failed, unless it had finished)
    cluster.pause      ClusterPause      -> the pause row {"paused": true, ...}
    cluster.resume     ClusterResume     -> the pause row {"paused": false, ...}
    notification.settle NotificationSettle -> {"settled": int}
    job.run            JobRun            -> the run-now's execution, scheduled
    execution.redeliver ExecutionRedeliver -> the execution, scheduled again
    job.backfill       JobBackfill       -> {"job_id", "from", "to", "count", "ticks",
                                             "skipped": {...}, "first_ticks": [...]}
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol, Self

import msgspec

from scheduler0 import clock, notifications
from scheduler0.errors import ApiError, ValidationError
from scheduler0.messages import fields
from scheduler0.messages.wire import RateLimit
from scheduler0.vocabulary import (
    BULK_ACTIONS,
    CREDENTIAL_ROLES,
    DEFAULT_CREDENTIAL_ROLE,
    FINAL_STATES,
    RATE_CONCURRENCY_RANGE,
    RATE_PER_SECOND_RANGE,
    BulkAction,
    ExecutionState,
    execution_id,
)

COMMAND_VERSION = 1

CREDENTIAL_CREATE = "credential.create"
CREDENTIAL_UPDATE = "credential.update"
CREDENTIAL_DELETE = "credential.delete"
PROJECT_CREATE = "project.create"
PROJECT_UPDATE = "project.update"
PROJECT_DELETE = "project.delete"
JOB_CREATE = "job.create"
JOB_UPDATE = "job.update"
JOB_DELETE = "job.delete"
PLAN = "plan"
RESULT = "result"
PRUNE = "prune"
LEASE_REVOKE = "lease.revoke"
OPERATION_CREATE = "operation.create"
OPERATION_STEP = "operation.step"
OPERATION_FINISH = "operation.finish"
CLUSTER_PAUSE = "cluster.pause"
CLUSTER_RESUME = "cluster.resume"
NOTIFICATION_SETTLE = "notification.settle"
JOB_RUN = "job.run"
EXECUTION_REDELIVER = "execution.redeliver"
JOB_BACKFILL = "job.backfill"

TYPES = (
    CREDENTIAL_CREATE, CREDENTIAL_UPDATE, CREDENTIAL_DELETE,
    PROJECT_CREATE, PROJECT_UPDATE, PROJECT_DELETE,
    JOB_CREATE, JOB_UPDATE, JOB_DELETE,
    PLAN, RESULT, PRUNE, LEASE_REVOKE,
    OPERATION_CREATE, OPERATION_STEP, OPERATION_FINISH, CLUSTER_PAUSE, CLUSTER_RESUME,
    NOTIFICATION_SETTLE,
    JOB_RUN, EXECUTION_REDELIVER, JOB_BACKFILL,
)


# -- the envelope -----------------------------------------------------------------------------


class Command(msgspec.Struct, frozen=True, kw_only=True):
    """One command as the state machine reads it; `body` is decoded by its type's handler."""

    type: str
    ts: int  # epoch ms, the proposer's clock
    body: Mapping[str, Any]
    request_id: str | None = None
    v: int = COMMAND_VERSION

    def encode(self) -> dict[str, Any]:
        """The journal's dict (the shape every node and every stored journal holds)."""
        return {"v": self.v, "type": self.type, "request_id": self.request_id, "ts": self.ts,
                "body": self.body}

    @classmethod
    def decode(cls, raw: Any) -> Command:
        """Read a journal dict; raises ApiError (400) naming what is wrong."""
        envelope = fields.mapping(raw, "command")
        version = envelope.get("v", COMMAND_VERSION)
        if version != COMMAND_VERSION:
            raise ApiError(f"command version {version!r} is not supported (this node applies "
                           f"version {COMMAND_VERSION}); upgrade the node",
                           status=400, code="unsupported_version")
        return cls(type=fields.req_str(envelope, "type"),
                   request_id=fields.opt_str(envelope, "request_id", None),
                   ts=fields.req_int(envelope, "ts"),
                   body=fields.mapping(envelope.get("body", {}), "body"))


def make(command_type: str, body: Mapping[str, Any], *, now_ms: int | None = None,
         request_id: str | None = None) -> dict[str, Any]:
    """A command stamped by its proposer with a request id and the time."""
    if command_type not in TYPES:
        raise ValueError(f"unknown command type {command_type!r}")
    return Command(type=command_type, body=body, request_id=request_id or uuid.uuid4().hex,
                   ts=clock.now_ms() if now_ms is None else now_ms).encode()


def command(body: Body, *, now_ms: int | None = None,
            request_id: str | None = None) -> dict[str, Any]:
    """`make` for a typed body: the command of its type."""
    return make(body.TYPE, body.encode(), now_ms=now_ms, request_id=request_id)


# -- results ----------------------------------------------------------------------------------


def ok(data: Any) -> dict[str, Any]:
    return {"ok": True, "data": data}


def refused(status: int, code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"status": status, "code": code, "message": message}}


_RESULT_ENCODER = msgspec.msgpack.Encoder()


def pack_result(result: Mapping[str, Any]) -> bytes:
    """A result as the dedup table stores it: one msgpack map {"v": 1, "result": ...}."""
    return _RESULT_ENCODER.encode({"v": COMMAND_VERSION, "result": result})


def unpack_result(blob: bytes) -> dict[str, Any]:
    """The result `pack_result` stored; raises ValueError for anything else."""
    try:
        stored = msgspec.msgpack.decode(blob)
    except msgspec.DecodeError as exc:
        raise ValueError(f"undecodable stored result: {exc}") from None
    if not isinstance(stored, dict) or stored.get("v") != COMMAND_VERSION:
        raise ValueError("stored result is not a version-1 map")
    result = stored.get("result")
    if not isinstance(result, dict):
        raise ValueError("stored result holds no result map")
    return result


# -- bodies -----------------------------------------------------------------------------------


class Body(msgspec.Struct, frozen=True, kw_only=True):
    """A command body. Subclasses name their command TYPE."""

    TYPE: ClassVar[str]

    def encode(self) -> dict[str, Any]:
        encoded: dict[str, Any] = msgspec.to_builtins(self)
        return encoded

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        """Read a body; raises ValidationError (400) naming the field."""
        try:
            return msgspec.convert(data, cls)
        except msgspec.ValidationError as exc:
            raise ValidationError(f"{cls.TYPE} body: {exc}") from None


class CredentialCreate(Body, frozen=True, kw_only=True):
    """`role` and `projects` (None: every project) bound what the credential may do. A body
    written before they existed has neither, and means what every credential could do then:
    admin, every project."""

    TYPE = CREDENTIAL_CREATE
    api_key: str
    secret_hash: str
    archived: bool = False
    role: str = DEFAULT_CREDENTIAL_ROLE
    projects: list[int] | None = None

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        role = fields.opt_str(data, "role", DEFAULT_CREDENTIAL_ROLE)
        if role not in CREDENTIAL_ROLES:
            raise ValidationError(f"role must be one of {', '.join(CREDENTIAL_ROLES)}, "
                                  f"got {role!r}")
        projects = fields.opt_int_list(data, "projects")
        if projects is not None and not projects:
            raise ValidationError("projects must not be empty; null means every project")
        return cls(api_key=fields.req_str(data, "api_key"),
                   secret_hash=fields.req_str(data, "secret_hash"),
                   archived=fields.opt_bool(data, "archived", False), role=str(role),
                   projects=projects)


class CredentialUpdate(Body, frozen=True, kw_only=True):
    TYPE = CREDENTIAL_UPDATE
    id: int
    archived: bool

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        return cls(id=fields.req_int(data, "id"),
                   archived=fields.as_bool(data.get("archived"), "archived"))


class CredentialDelete(Body, frozen=True, kw_only=True):
    TYPE = CREDENTIAL_DELETE
    id: int

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        return cls(id=fields.req_int(data, "id"))


class ProjectCreate(Body, frozen=True, kw_only=True):
    """`notification_url` (None: no failure notifications), `notification_format`
    (scheduler0.notifications.FORMATS) and `rate_limit` (None: unlimited) are left out of the
    journal while they have their defaults, so a project without them is written as before
    they existed."""

    TYPE = PROJECT_CREATE
    name: str
    signing_secret: str
    description: str = ""
    notification_url: str | None = None
    notification_format: str = notifications.DEFAULT_FORMAT
    rate_limit: RateLimit | None = None

    def encode(self) -> dict[str, Any]:
        encoded = super().encode()
        if self.notification_url is None:
            del encoded["notification_url"]
        if self.notification_format == notifications.DEFAULT_FORMAT:
            del encoded["notification_format"]
        if self.rate_limit is None:
            del encoded["rate_limit"]
        return encoded

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        return cls(name=fields.req_str(data, "name"),
                   description=fields.opt_str(data, "description", "") or "",
                   signing_secret=fields.req_str(data, "signing_secret"),
                   notification_url=fields.opt_str(data, "notification_url", None),
                   notification_format=_notification_format(data) or (
                       notifications.DEFAULT_FORMAT),
                   rate_limit=rate_limit_of(data.get("rate_limit")))


def rate_limit_of(value: Any) -> RateLimit | None:
    """A body's `rate_limit` (None when absent, null or with neither kind of limit)."""
    if value is None:
        return None
    limit = fields.mapping(value, "rate_limit")
    concurrency = fields.opt_int(limit, "concurrency", "rate_limit.")
    per_second = limit.get("per_second")
    if concurrency is not None and not (
            RATE_CONCURRENCY_RANGE[0] <= concurrency <= RATE_CONCURRENCY_RANGE[1]):
        raise ValidationError(f"rate_limit.concurrency must be {RATE_CONCURRENCY_RANGE[0]}-"
                              f"{RATE_CONCURRENCY_RANGE[1]}, got {concurrency}")
    if per_second is not None:
        if isinstance(per_second, bool) or not isinstance(per_second, (int, float)) or not (
                RATE_PER_SECOND_RANGE[0] <= per_second <= RATE_PER_SECOND_RANGE[1]):
            raise ValidationError(f"rate_limit.per_second must be a number "
                                  f"{RATE_PER_SECOND_RANGE[0]}-{RATE_PER_SECOND_RANGE[1]}, "
                                  f"got {per_second!r}")
        per_second = float(per_second)
    if concurrency is None and per_second is None:
        return None
    return RateLimit(concurrency=concurrency, per_second=per_second)


def _notification_format(data: Mapping[str, Any]) -> str | None:
    fmt = fields.opt_str(data, "notification_format", None)
    if fmt is not None and fmt not in notifications.FORMATS:
        raise ValidationError(f"notification_format must be one of "
                              f"{', '.join(notifications.FORMATS)}, got {fmt!r}")
    return fmt


class ProjectUpdate(Body, frozen=True, kw_only=True, omit_defaults=True):
    """Only the fields given change; None (or absent) leaves a field as it is.

    With `signing_secret` (a rotation), the secret it replaces keeps signing callbacks too for
    `grace_seconds` from the command's time. A rotation written before grace periods existed
    has no `grace_seconds`: 0, the old secret stops at once, as it did then.
    """

    TYPE = PROJECT_UPDATE
    id: int
    name: str | None = None
    description: str | None = None
    signing_secret: str | None = None
    grace_seconds: int = 0
    notification_url: str | None = None
    notification_format: str | None = None
    remove_notification_url: bool = False  # no more notifications (the URL becomes NULL)
    rate_limit: RateLimit | None = None
    remove_rate_limit: bool = False  # unlimited again

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        grace = fields.opt_int(data, "grace_seconds") or 0
        if grace < 0:
            raise ValidationError(f"grace_seconds must not be negative, got {grace}")
        url = fields.opt_str(data, "notification_url", None)
        remove = fields.opt_bool(data, "remove_notification_url", False)
        if remove and url is not None:
            raise ValidationError("notification_url and remove_notification_url contradict "
                                  "each other; send one")
        limit = rate_limit_of(data.get("rate_limit"))
        remove_limit = fields.opt_bool(data, "remove_rate_limit", False)
        if remove_limit and limit is not None:
            raise ValidationError("rate_limit and remove_rate_limit contradict each other; "
                                  "send one")
        return cls(id=fields.req_int(data, "id"), name=fields.opt_str(data, "name", None),
                   description=fields.opt_str(data, "description", None),
                   signing_secret=fields.opt_str(data, "signing_secret", None),
                   grace_seconds=grace, notification_url=url,
                   notification_format=_notification_format(data),
                   remove_notification_url=remove, rate_limit=limit,
                   remove_rate_limit=remove_limit)

    def changes(self) -> dict[str, Any]:
        """The columns to change, in a fixed order (notification_url None: removed; the rate
        limit's columns None: unlimited)."""
        given = {"name": self.name, "description": self.description,
                 "signing_secret": self.signing_secret,
                 "notification_url": self.notification_url,
                 "notification_format": self.notification_format}
        changed: dict[str, Any] = {
            name: value for name, value in given.items() if value is not None}
        if self.remove_notification_url:
            changed["notification_url"] = None
        if self.rate_limit is not None or self.remove_rate_limit:
            limit = self.rate_limit or RateLimit()
            changed["rate_concurrency"] = limit.concurrency
            changed["rate_per_second"] = limit.per_second
        return changed


class ProjectDelete(Body, frozen=True, kw_only=True):
    """`cascade` deletes the project's jobs too; without it a project with jobs is refused."""

    TYPE = PROJECT_DELETE
    id: int
    cascade: bool = False

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        return cls(id=fields.req_int(data, "id"),
                   cascade=fields.opt_bool(data, "cascade", False))


class JobCreate(Body, frozen=True, kw_only=True, omit_defaults=True):
    """Job inputs, each {"project_id", "spec", "timezone", "callback_url", "data",
    "execution_type", "start_date", "end_date", "paused", "misfire_policy", "anchor"}, and any
    of the delivery settings (vocabulary.JOB_DELIVERY_FIELDS; headers and success_codes as JSON
    text; absent: the node's): the store checks each field and fills in defaults
    (scheduler0.store.handlers.jobs), since what a valid job is belongs to the schedule rules,
    not to the message.

    Two shapes. `jobs`: a list of job input objects (every journal before the columnar shape).
    `count` jobs in `columns`: per field, a list of `count` values or one value every job has
    (no job field holds a list, so the two cannot be confused); a field left out is null for
    every job. The API sends columns: a batch repeats most of its values (project, spec, zone,
    URL), and each repeated value then crosses the socket, the journal and the apply once
    instead of once per job. The apply answers in the shape it was given (`column_rows`).
    """

    TYPE = JOB_CREATE
    jobs: list[Any] = []
    count: int = 0
    columns: dict[str, Any] | None = None

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        columns = data.get("columns")
        if columns is not None:
            columns = fields.mapping(columns, "columns")
            count = fields.req_int(data, "count")
            if count < 0:
                raise ValidationError(f"count must not be negative, got {count}")
            for name, column in columns.items():
                if isinstance(column, list) and len(column) != count:
                    raise ValidationError(f"columns.{name} holds {len(column)} values for "
                                          f"{count} jobs")
            return cls(count=count, columns=dict(columns))
        jobs = data.get("jobs")
        if not isinstance(jobs, list):
            raise ValidationError("jobs must be a list of job objects")
        return cls(jobs=jobs)


def fold_column(values: Sequence[Any]) -> Any:
    """A column of values as JobCreate carries it: the one value when every value is the same
    (of one type too: true is not 1), else the values as a list. Values must be hashable."""
    if values and len(set(map(type, values))) == 1 and len(set(values)) == 1:
        return values[0]
    return values if isinstance(values, list) else list(values)


def unfold_column(column: Any, count: int) -> list[Any]:
    """The `count` values of a JobCreate-style column (a list, or one value they all share)."""
    return column if isinstance(column, list) else [column] * count


def map_column(column: Any, normal: Mapping[Any, Any]) -> Any:
    """A JobCreate-style column with each value replaced by `normal[value]` (`normal` maps
    every value the column holds): one value when the column holds a single distinct one."""
    if not isinstance(column, list):
        return normal[column]
    if len(normal) == 1:
        return next(iter(normal.values()))
    if all(normal[value] is value for value in normal):
        return column
    return [normal[value] for value in column]


def column_rows(columns: Mapping[str, Any], count: int) -> list[dict[str, Any]]:
    """Columns (JobCreate's) as `count` row dicts, their keys in the columns' order."""
    names = tuple(columns)
    if not names:
        return [{} for _ in range(count)]
    values = [unfold_column(columns[name], count) for name in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]


class JobUpdate(Body, frozen=True, kw_only=True):
    """`changes` maps job fields to new values (checked by the store like a job input's)."""

    TYPE = JOB_UPDATE
    id: int
    changes: Mapping[str, Any]

    def encode(self) -> dict[str, Any]:
        return {"id": self.id, "changes": dict(self.changes)}

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        return cls(id=fields.req_int(data, "id"),
                   changes=fields.mapping(data.get("changes"), "changes"))


class JobDelete(Body, frozen=True, kw_only=True):
    TYPE = JOB_DELETE
    id: int

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        return cls(id=fields.req_int(data, "id"))


class Prune(Body, frozen=True, kw_only=True, omit_defaults=True):
    """Retention, each kind up to `limit` rows: failed and missed executions scheduled before
    `before` (epoch s; succeeded ones too unless `succeeded_before` is given), the oldest
    failed and missed beyond `bad_rows_cap` rows, rollups before their cut-offs; open
    batches planned before `stale_before` get their ticks of deleted jobs settled.

    Succeeded rows go in job id order, from job `succeeded_from_job` on (the previous command's
    `succeeded_next_job`; None: from the first job), so that a pass sweeps the jobs once."""

    TYPE = PRUNE
    FOREVER: ClassVar[int] = 0  # a cut-off before every tick: that kind is kept, not read
    before: int
    limit: int
    succeeded_before: int | None = None
    bad_rows_cap: int | None = None
    minute_rollups_before: int | None = None
    hour_rollups_before: int | None = None
    stale_before: int | None = None
    succeeded_from_job: int | None = None

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        def optional(name: str) -> int | None:
            return None if data.get(name) is None else fields.req_int(data, name)
        return cls(before=fields.req_int(data, "before"), limit=fields.req_int(data, "limit"),
                   succeeded_before=optional("succeeded_before"),
                   bad_rows_cap=optional("bad_rows_cap"),
                   minute_rollups_before=optional("minute_rollups_before"),
                   hour_rollups_before=optional("hour_rollups_before"),
                   stale_before=optional("stale_before"),
                   succeeded_from_job=optional("succeeded_from_job"))


# -- the pipeline's bodies: rows are arrays on the journal, named fields here ------------------


class PlannedJob(Protocol):
    """What a PLAN row needs of a job (scheduler0.schedule.planning.PlannedJob)."""

    @property
    def id(self) -> int: ...
    @property
    def project_id(self) -> int: ...


class PlanRow(msgspec.Struct, frozen=True, array_like=True):
    """One planned execution: [job_id, project_id] on the journal."""

    job_id: int
    project_id: int


class PlanBatch(msgspec.Struct, frozen=True, kw_only=True):
    """A batch's executions, recorded `scheduled` on `node_id`."""

    batch_id: str
    node_id: int | None
    scheduled_at: int
    rows: list[PlanRow]

    @classmethod
    def of(cls, batch_id: str, node_id: int | None, scheduled_at: int,
           jobs: Sequence[PlannedJob]) -> PlanBatch:
        return cls(batch_id=batch_id, node_id=node_id, scheduled_at=scheduled_at,
                   rows=[PlanRow(j.id, j.project_id) for j in jobs])


class PlanMissed(msgspec.Struct, frozen=True, kw_only=True):
    """Executions of one tick recorded `missed`."""

    scheduled_at: int
    rows: list[PlanRow]

    @classmethod
    def of(cls, scheduled_at: int, jobs: Sequence[PlannedJob]) -> PlanMissed:
        return cls(scheduled_at=scheduled_at, rows=[PlanRow(j.id, j.project_id) for j in jobs])


class Advance(msgspec.Struct, frozen=True, array_like=True):
    """A schedule's move past its planned ticks: [schedule_id, next, last] on the journal;
    next_fire_at is None when it can never fire again."""

    schedule_id: int
    next_fire_at: int | None
    last_fire_at: int


class Plan(Body, frozen=True, kw_only=True):
    """Planned ticks: execution ids are vocabulary.execution_id(job_id, scheduled_at)."""

    TYPE = PLAN
    batches: list[PlanBatch] = []
    missed: list[PlanMissed] = []
    advances: list[Advance] = []

    @property
    def rows(self) -> int:
        return sum(len(e.rows) for e in self.batches) + sum(len(e.rows) for e in self.missed)


class ResultRow(msgspec.Struct, frozen=True, array_like=True):
    """One execution's outcome: [execution_id, state, attempts, http_status, error, node_id,
    started_at_ms, finished_at_ms, batch_id] on the journal (rows written before batch_id
    existed end at finished_at_ms)."""

    execution_id: str
    state: str
    attempts: int = 0
    http_status: int | None = None
    error: str | None = None
    node_id: int | None = None
    started_at_ms: int | None = None
    finished_at_ms: int | None = None
    batch_id: str | None = None

    @classmethod
    def missed(cls, job_id: int, fire_at: int, reason: str, batch_id: str) -> ResultRow:
        """A planned tick recorded as missed."""
        return cls(execution_id(job_id, fire_at), ExecutionState.MISSED.value, error=reason,
                   batch_id=batch_id)

    @classmethod
    def failed(cls, job_id: int, fire_at: int, node_id: int, reason: str,
               batch_id: str) -> ResultRow:
        """A tick recorded as failed without a result from an executor."""
        return cls(execution_id(job_id, fire_at), ExecutionState.FAILED.value, error=reason,
                   node_id=node_id, batch_id=batch_id)


class Result(Body, frozen=True, kw_only=True):
    """Execution outcomes; each row's state is final."""

    TYPE = RESULT
    rows: list[ResultRow] = []

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        result = super().decode(data)
        for row in result.rows:
            if row.state not in FINAL_STATES:
                raise ValidationError(f"result state {row.state!r} is not one of "
                                      f"{', '.join(FINAL_STATES)}")
        return result


class LeaseRevoke(Body, frozen=True, kw_only=True):
    """A leader took back the batches of node `node_id` held under lease (term, epoch), or an
    earlier one, to send them to other nodes: no later leader may let the node carry on under
    it (leases.LeaseTable.revoked)."""

    TYPE = LEASE_REVOKE
    node_id: int
    term: int
    epoch: int

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        return cls(node_id=fields.req_int(data, "node_id"), term=fields.req_int(data, "term"),
                   epoch=fields.req_int(data, "epoch"))


# -- bulk operations and the cluster pause ----------------------------------------------------


class OperationCreate(Body, frozen=True, kw_only=True, omit_defaults=True):
    """A bulk operation: `action` on the `total` jobs its proposer selected (`selection`, as the
    request gave it: {"ids": [...]} or {"filter": {...}}), applied by OperationStep commands
    that `runner_token` on node `runner_node` sends. `scope`: the projects the creating
    credential is limited to (None: every one); `projects`: those the operation concerns
    (None: not known, shown only to credentials for every project); `labels`: set_labels's;
    `data`: run's, delivered by each run-now instead of its job's (None: the job's)."""

    TYPE = OPERATION_CREATE
    action: str
    selection: dict[str, Any]
    total: int
    created_by: str
    runner_node: int
    runner_token: str
    labels: dict[str, Any] | None = None
    scope: list[int] | None = None
    projects: list[int] | None = None
    data: str | None = None

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        body = super().decode(data)
        if body.action not in BULK_ACTIONS:
            raise ValidationError(f"action must be one of {', '.join(BULK_ACTIONS)}, "
                                  f"got {body.action!r}")
        if body.total < 0:
            raise ValidationError(f"total must not be negative, got {body.total}")
        if body.data is not None and body.action != BulkAction.RUN.value:
            raise ValidationError(f"data applies only to the action run, not {body.action}")
        return body


class OperationStep(Body, frozen=True, kw_only=True, omit_defaults=True):
    """One chunk of operation `operation_id`: its action on these jobs (those still there);
    `final` on the last chunk, which finishes it."""

    TYPE = OPERATION_STEP
    operation_id: int
    ids: list[int]
    final: bool = False


class OperationFinish(Body, frozen=True, kw_only=True, omit_defaults=True):
    """Stop a running operation as failed, saying why. Only when it still runs, and, when
    given, only if `runner_token` still runs it and it has made no progress since
    `stalled_before_ms` (a sweep must not stop an operation that moved on meanwhile)."""

    TYPE = OPERATION_FINISH
    operation_id: int
    error: str
    runner_token: str | None = None
    stalled_before_ms: int | None = None


class ClusterPause(Body, frozen=True, kw_only=True, omit_defaults=True):
    """Stop all planning in the cluster (already dispatched deliveries finish)."""

    TYPE = CLUSTER_PAUSE
    by: str
    reason: str | None = None


class ClusterResume(Body, frozen=True, kw_only=True):
    """Plan again; ticks that fell in the pause follow their job's misfire policy."""

    TYPE = CLUSTER_RESUME
    by: str


# -- failure notifications --------------------------------------------------------------------


class NotificationOutcome(msgspec.Struct, frozen=True, array_like=True):
    """How sending one notification ended: [id, delivery, attempts, http_status, error] on
    the journal; delivery is "sent" or "failed" (given up)."""

    id: int
    delivery: str
    attempts: int = 0
    http_status: int | None = None
    error: str | None = None


class NotificationSettle(Body, frozen=True, kw_only=True):
    """The leader's notifier sent these outbox notifications, or gave up on them; only those
    still pending change (a second leader's outcome for the same one is ignored)."""

    TYPE = NOTIFICATION_SETTLE
    rows: list[NotificationOutcome] = []

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        body = super().decode(data)
        settled = (notifications.SENT, notifications.GIVEN_UP)
        for row in body.rows:
            if row.delivery not in settled:
                raise ValidationError(f"notification {row.id}: delivery must be one of "
                                      f"{', '.join(settled)}, got {row.delivery!r}")
        return body


# -- manual runs, redelivery and backfill ---------------------------------------------------


class JobRun(Body, frozen=True, kw_only=True, omit_defaults=True):
    """Run job `job_id` once now (scheduler0.manual), delivering `data` instead of the job's
    own when given; the job's schedule is not touched."""

    TYPE = JOB_RUN
    job_id: int
    data: str | None = None


class ExecutionRedeliver(Body, frozen=True, kw_only=True):
    """Send the finished execution `execution_id` again, with the same id."""

    TYPE = EXECUTION_REDELIVER
    execution_id: str


class JobBackfill(Body, frozen=True, kw_only=True):
    """Fire the past ticks of job `job_id`'s schedule from `start` to `end` (epoch s, both
    included) that were never recorded and are not in flight (a dry run is no command: the
    API answers it from its own read)."""

    TYPE = JOB_BACKFILL
    job_id: int
    start: int
    end: int


BODIES: dict[str, type[Body]] = {body.TYPE: body for body in (
    CredentialCreate, CredentialUpdate, CredentialDelete,
    ProjectCreate, ProjectUpdate, ProjectDelete,
    JobCreate, JobUpdate, JobDelete,
    Plan, Result, Prune, LeaseRevoke,
    OperationCreate, OperationStep, OperationFinish, ClusterPause, ClusterResume,
    NotificationSettle, JobRun, ExecutionRedeliver, JobBackfill)}
