"""The facts every room shares, written once: execution states, misfire policies, credential
roles, execution ids, and the job's fields (names, columns, types and limits).

Pure: no I/O, no clock. The store, the API, the coordinator and the executors import these
rather than spelling the values again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ExecutionState(StrEnum):
    """The life of one execution: `scheduled` when planned, then exactly one final state."""

    SCHEDULED = "scheduled"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    MISSED = "missed"


EXECUTION_STATES = tuple(state.value for state in ExecutionState)
FINAL_STATES = (ExecutionState.SUCCEEDED.value, ExecutionState.FAILED.value,
                ExecutionState.MISSED.value)
DELIVERY_OUTCOMES = (ExecutionState.SUCCEEDED.value, ExecutionState.FAILED.value)


class MisfirePolicy(StrEnum):
    """What a job does with the ticks it missed while no node could plan them."""

    RUN_ONCE = "run_once"
    RUN_ALL = "run_all"
    SKIP = "skip"


MISFIRE_POLICIES = tuple(policy.value for policy in MisfirePolicy)


class CredentialRole(StrEnum):
    """What an API credential may do, each role everything the one before may and more:
    `read` GETs, `write` changes jobs too, `admin` also projects, credentials and the cluster."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


CREDENTIAL_ROLES = tuple(role.value for role in CredentialRole)
# A credential created without a role (and every credential made before roles existed).
DEFAULT_CREDENTIAL_ROLE = CredentialRole.ADMIN.value
MAX_CREDENTIAL_PROJECTS = 1000  # projects one credential may be limited to


def execution_id(job_id: int, scheduled_at: int) -> str:
    """One tick of one job, the same on every node: `<job_id>-<scheduled_at epoch seconds>`."""
    return f"{job_id}-{scheduled_at}"


def parse_execution_id(value: str) -> tuple[int, int]:
    """(job_id, scheduled_at) of an execution id; raises ValueError for anything else."""
    job, sep, tick = value.partition("-")
    if not sep or not job.isdigit() or not tick.isdigit():
        raise ValueError(f"{value!r} is not an execution id (<job_id>-<scheduled_at>)")
    return int(job), int(tick)


# -- the job's fields --------------------------------------------------------------------------
#
# One entry per field of a job, in the order replies list them. The API's validation of create
# and update bodies (api/validation.py), the job in its replies (api/serialize.py), its OpenAPI
# schemas (api/openapi.py) and the store's column lists (store/rows.py, store/handlers/jobs.py)
# are all derived from JOB_FIELDS, so a limit or a spelling is changed here or nowhere.

MAX_ID = 2**63 - 1  # SQLite INTEGER PRIMARY KEY range
MAX_SPEC_LENGTH = 1000  # characters
MAX_TIMEZONE_LENGTH = 100  # characters
MAX_URL_LENGTH = 2048  # characters
MAX_DATA_BYTES = 64 * 1024  # bytes of UTF-8, not characters: what a callback body carries
EXECUTION_TYPES = ("http",)


class Kind(StrEnum):
    """A field's type: its JSON on the API and its SQLite column."""

    ID = "id"  # integer 1 .. MAX_ID
    TEXT = "text"  # string
    CHOICE = "choice"  # one of the field's `choices`
    BOOLEAN = "boolean"  # stored 0 or 1
    INSTANT = "instant"  # epoch seconds; RFC 3339 in replies (epoch seconds accepted on input)
    INSTANT_MS = "instant_ms"  # epoch milliseconds; RFC 3339 with milliseconds in replies
    INTEGER = "integer"  # any integer (answered only)


@dataclass(frozen=True)
class JobField:
    """One field of a job. The defaults describe a field the API neither requires nor changes."""

    name: str  # the API's spelling (snake_case); also the key of a job.create input
    kind: Kind
    column: str | None = None  # its column in `jobs`; None: computed when the job is read
    alias: str | None = None  # the original Go server's camelCase spelling, accepted on input
    api: bool = True  # False: the store's own (neither accepted nor answered by the API)
    writable: bool = True  # sent on create; False: answered only, ignored when sent back
    required: bool = False  # on create; null counts as absent
    default: Any = None  # what create stores when the field is absent or null
    updatable: bool = False  # PUT may change it; a writable field that is not may only be
    # sent back unchanged (so a job read with GET can be edited and PUT)
    clearable: bool = False  # PUT may send null: back to `default`
    nullable: bool = False  # the value may be null (none), in replies too
    blank: bool = False  # text may be empty or whitespace only
    max_length: int | None = None  # characters (Python str length: code points)
    max_bytes: int | None = None  # bytes of its UTF-8 encoding
    choices: tuple[str, ...] = ()
    check: str | None = None  # the API's check of this field by name (api/validation.py
    # JOB_CHECKS), where the kind alone does not say it: spec parsing, the callback policy, ...
    instead_of: str | None = None  # an input only, never answered: another way to give that
    # field (run_at is the spec "@at <instant>"); a body may give one of the two, not both


JOB_FIELDS: tuple[JobField, ...] = (
    JobField("id", Kind.ID, column="id", writable=False),
    JobField("project_id", Kind.ID, column="project_id", alias="projectId", required=True),
    JobField("spec", Kind.TEXT, column="spec", required=True, updatable=True,
             max_length=MAX_SPEC_LENGTH, check="spec"),
    # A one-off job: an instant (or "now"), which the API turns into the spec "@at <instant>".
    JobField("run_at", Kind.INSTANT, updatable=True, instead_of="spec"),
    # The spec with the job's H values filled in (the schedule row's spec); answered only.
    JobField("resolved_spec", Kind.TEXT, writable=False),
    # The API's default is the node's DefaultTimezone setting (whose own default this is).
    JobField("timezone", Kind.TEXT, column="timezone", default="UTC", updatable=True,
             max_length=MAX_TIMEZONE_LENGTH, check="timezone"),
    JobField("callback_url", Kind.TEXT, column="callback_url", alias="callbackUrl",
             required=True, updatable=True, max_length=MAX_URL_LENGTH, check="callback_url"),
    JobField("data", Kind.TEXT, column="data", default="", updatable=True, clearable=True,
             blank=True, max_bytes=MAX_DATA_BYTES, check="data"),
    JobField("execution_type", Kind.CHOICE, column="execution_type", alias="executionType",
             default=EXECUTION_TYPES[0], choices=EXECUTION_TYPES, check="execution_type"),
    JobField("start_date", Kind.INSTANT, column="start_date", alias="startDate", updatable=True,
             clearable=True, nullable=True),
    JobField("end_date", Kind.INSTANT, column="end_date", alias="endDate", updatable=True,
             clearable=True, nullable=True, check="end_date"),
    JobField("paused", Kind.BOOLEAN, column="paused", default=False, updatable=True),
    JobField("misfire_policy", Kind.CHOICE, column="misfire_policy", alias="misfirePolicy",
             default=MisfirePolicy.RUN_ONCE.value, updatable=True, clearable=True,
             choices=MISFIRE_POLICIES, check="misfire_policy"),
    JobField("created_at", Kind.INSTANT_MS, column="created_at_ms", writable=False),
    JobField("updated_at", Kind.INSTANT_MS, column="updated_at_ms", writable=False),
    # From the job's schedule row: null while paused or after the end date.
    JobField("next_execution_at", Kind.INSTANT, writable=False, nullable=True),
    # No tick is left to plan: a one-off after its tick, a job past its end date.
    JobField("completed", Kind.BOOLEAN, writable=False),
    # The job's last result: its tick, its state and the callback's HTTP status.
    JobField("last_execution_at", Kind.INSTANT, writable=False, nullable=True),
    JobField("last_state", Kind.CHOICE, writable=False, nullable=True, choices=FINAL_STATES),
    JobField("last_http_status", Kind.INTEGER, writable=False, nullable=True),
    # The shared schedule row of (spec, timezone, anchor), and the instant @every counts from
    # (the start date, else the creation).
    JobField("schedule_id", Kind.ID, column="schedule_id", api=False, writable=False),
    JobField("anchor", Kind.INSTANT, column="anchor", api=False, writable=False),
)

JOB_FIELD = {f.name: f for f in JOB_FIELDS}
# A job in replies, in this order; and what create accepts.
JOB_API_FIELDS = tuple(f for f in JOB_FIELDS if f.api and f.instead_of is None)
JOB_INPUT_FIELDS = tuple(f for f in JOB_FIELDS if f.api and f.writable)
JOB_UPDATABLE = tuple(f.name for f in JOB_INPUT_FIELDS if f.updatable)
JOB_REQUIRED = tuple(f.name for f in JOB_INPUT_FIELDS if f.required)
JOB_ALIASES = {f.alias: f.name for f in JOB_INPUT_FIELDS if f.alias}
JOB_ALTERNATIVES = {f.name: f.instead_of for f in JOB_INPUT_FIELDS if f.instead_of}
# The original Go server's read-only fields: accepted on input and ignored, as are our own
# answered-only fields, so a job read with GET can be sent back with PUT.
JOB_GO_READ_ONLY = ("timezoneOffset", "timezone_offset", "dateCreated", "lastExecutionDate",
                    "executionId")
JOB_IGNORED = (*(f.name for f in JOB_API_FIELDS if not f.writable), *JOB_GO_READ_ONLY)
JOB_COLUMNS = tuple(f.column for f in JOB_FIELDS if f.column)  # the `jobs` table
