"""The facts every room shares, written once: execution states, misfire policies, credential
roles, execution ids, and the job's fields (names, columns, types and limits).

Pure: no I/O, no clock. The store, the API, the coordinator and the executors import these
rather than spelling the values again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple


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


class BulkAction(StrEnum):
    """What POST /jobs/bulk does to every job it selects (run: a run-now of each)."""

    PAUSE = "pause"
    RESUME = "resume"
    DELETE = "delete"
    SET_LABELS = "set_labels"
    RUN = "run"


BULK_ACTIONS = tuple(action.value for action in BulkAction)


class OperationState(StrEnum):
    """A bulk operation runs until every chunk is applied (succeeded) or it stops (failed)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


OPERATION_STATES = tuple(state.value for state in OperationState)
MAX_PAUSE_REASON = 200  # characters of the reason POST /pause may give
# A project's rate limit (its `rate_limit`): executions in flight at once, started per second.
RATE_CONCURRENCY_RANGE = (1, 10_000)
RATE_PER_SECOND_RANGE = (0.01, 100_000.0)


def execution_id(job_id: int, scheduled_at: int) -> str:
    """One tick of one job, the same on every node: `<job_id>-<scheduled_at epoch seconds>`."""
    return f"{job_id}-{scheduled_at}"


def parse_execution_id(value: str) -> tuple[int, int]:
    """(job_id, scheduled_at) of an execution id; raises ValueError for anything else."""
    job, sep, tick = value.partition("-")
    if not sep or not job.isdigit() or not tick.isdigit():
        raise ValueError(f"{value!r} is not an execution id (<job_id>-<scheduled_at>)")
    return int(job), int(tick)


# -- manual runs, redelivery and backfill --


class Trigger(StrEnum):
    """What made an execution: a tick of its job's schedule, a run-now (POST /jobs/{id}/run),
    or a backfill of a past tick (POST /jobs/{id}/backfill). A redelivery keeps its
    execution's trigger."""

    SCHEDULE = "schedule"
    MANUAL = "manual"
    BACKFILL = "backfill"


TRIGGERS = tuple(trigger.value for trigger in Trigger)
MANUAL_MARK = "m"  # before a run-now's number in its execution id


def manual_execution_id(job_id: int, scheduled_at: int, run: int) -> str:
    """One run-now of a job: `<job_id>-<scheduled_at>-m<run>`, `run` its number in the cluster
    (never reused). A tick's id has no third part, so the two can never be equal, whatever
    second a run-now falls on."""
    return f"{job_id}-{scheduled_at}-{MANUAL_MARK}{run}"


class ExecutionKey(NamedTuple):
    """What an execution id names: a job, a second, and for a run-now its number (0 for a
    tick of the schedule, scheduled or backfilled). Executions sort by this key."""

    job_id: int
    scheduled_at: int
    run: int = 0

    @property
    def execution_id(self) -> str:
        if self.run:
            return manual_execution_id(self.job_id, self.scheduled_at, self.run)
        return execution_id(self.job_id, self.scheduled_at)


def parse_execution_key(value: str) -> ExecutionKey:
    """The key of a tick's id or a run-now's, each number within SQLite's integers; raises
    ValueError for anything else."""
    head, sep, run = value.rpartition(f"-{MANUAL_MARK}")
    try:
        if sep and run.isdigit():
            key = ExecutionKey(*parse_execution_id(head), int(run))
        else:
            key = ExecutionKey(*parse_execution_id(value))
    except ValueError:
        key = ExecutionKey(0, 0)
    if not key.job_id or max(key) > MAX_ID or (sep and run.isdigit() and not key.run):
        raise ValueError(f"{value[:60]!r} is not an execution id (<job_id>-<scheduled_at>, "
                         "or <job_id>-<scheduled_at>-m<run> for a run-now)")
    return key


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
MAX_JOB_NAME_LENGTH = 128  # characters (scheduler0.labels has the rules)
MAX_JOB_DESCRIPTION_LENGTH = 4096  # characters
MAX_JOB_LABELS = 64  # labels one job may have

# -- a job's own delivery settings (each null: the node's setting of the same purpose) --
HTTP_METHODS = ("POST", "PUT", "GET")  # GET sends no body (see the README's Callbacks)
DEFAULT_HTTP_METHOD = HTTP_METHODS[0]
MAX_JOB_HEADERS = 20  # extra request headers one job may send
MAX_HEADER_NAME_LENGTH = 64  # characters
MAX_HEADER_VALUE_LENGTH = 1024  # characters (printable ASCII: bytes too)
MAX_HEADERS_BYTES = 4096  # names and values of one job's headers together
# The bounds of the node's JobExecutionTimeout, JobExecutionRetryMax and JobExecutionRetryDelay
# keys (scheduler0.config): a job may choose what a node may be configured with, no more.
TIMEOUT_RANGE = (0.1, 3600.0)  # seconds per attempt
RETRIES_RANGE = (0, 20)  # attempts after the first
RETRY_DELAY_RANGE = (0.0, 3600.0)  # seconds before the first retry (doubling each retry)
MAX_SUCCESS_CODES = 50
HTTP_STATUS_RANGE = (100, 599)
# Headers the server sets on every callback, or that belong to the connection rather than to
# the request: a job may not send its own (names are case-insensitive), nor any name starting
# with SERVER_HEADER_PREFIX, so no job can forge or hide a signature.
SERVER_HEADERS = ("Content-Type", "Content-Length", "Content-Encoding", "Transfer-Encoding",
                  "Host", "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
                  "Upgrade", "Expect", "User-Agent", "Idempotency-Key", "X-Payload-Chunk-Id")
SERVER_HEADER_PREFIX = "X-Scheduler0-"
_SERVER_HEADERS_LOWER = frozenset(name.lower() for name in SERVER_HEADERS)
# RFC 9110 token characters: what a header name is made of.
_TOKEN_CHARACTERS = frozenset("!#$%&'*+-.^_`|~0123456789"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def is_server_header(name: str) -> bool:
    """Whether a header of this name is the server's to set (case-insensitive)."""
    lowered = name.lower()
    return lowered in _SERVER_HEADERS_LOWER or lowered.startswith(SERVER_HEADER_PREFIX.lower())


def header_name_problem(name: str) -> str | None:
    """Why `name` cannot be a job's header name (None: it can)."""
    if not name:
        return "a header name must not be empty"
    if len(name) > MAX_HEADER_NAME_LENGTH:
        return (f"the header name {name[:20]!r}... is {len(name)} characters long; at most "
                f"{MAX_HEADER_NAME_LENGTH}")
    if not _TOKEN_CHARACTERS.issuperset(name):
        return (f"{name!r} is not a valid header name; use letters, digits and "
                "!#$%&'*+-.^_`|~ only (no spaces, colons or line breaks)")
    if is_server_header(name):
        return (f"{name!r} is set by the server and cannot be sent by a job (the server sets "
                f"{', '.join(SERVER_HEADERS)} and every {SERVER_HEADER_PREFIX}* header, such "
                "as the signature); remove it")
    return None


def header_value_problem(value: str) -> str | None:
    """Why `value` cannot be a header value (None: it can): one line of printable ASCII."""
    if len(value) > MAX_HEADER_VALUE_LENGTH:
        return f"{len(value)} characters is too long; at most {MAX_HEADER_VALUE_LENGTH}"
    for index, ch in enumerate(value):
        if " " <= ch <= "~" or ch == "\t":
            continue
        if ch in "\r\n":
            return (f"contains a line break (CR or LF) at position {index}; a header value "
                    "is one line")
        return (f"contains {ch!r} (U+{ord(ch):04X}) at position {index}; a header value is "
                "printable ASCII (space to ~, and tab)")
    return None


class Kind(StrEnum):
    """A field's type: its JSON on the API and its SQLite column."""

    ID = "id"  # integer 1 .. MAX_ID
    TEXT = "text"  # string
    CHOICE = "choice"  # one of the field's `choices`
    BOOLEAN = "boolean"  # stored 0 or 1
    INSTANT = "instant"  # epoch seconds; RFC 3339 in replies (epoch seconds accepted on input)
    INSTANT_MS = "instant_ms"  # epoch milliseconds; RFC 3339 with milliseconds in replies
    INTEGER = "integer"  # an integer (within the field's low-high on input)
    SECONDS = "seconds"  # a number of seconds, a fraction allowed, within the field's low-high
    HEADERS = "headers"  # an object of HTTP header names to values; JSON text in the store
    STATUSES = "statuses"  # a list of HTTP statuses (low-high); JSON text in the store
    LABELS = "labels"  # an object of label keys to values (scheduler0.labels); JSON text in
    # the store, null when there are none, and {} in replies then


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
    low: float | None = None  # the least number accepted (of each item, for STATUSES)
    high: float | None = None  # the greatest
    max_items: int | None = None  # entries of an object or list at most


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
    # -- names, descriptions and labels --
    # A name is unique within the job's project and usable in paths instead of the id (it
    # starts with a letter, so it never reads as one); labels are what lists select by.
    JobField("name", Kind.TEXT, column="name", updatable=True, clearable=True, nullable=True,
             max_length=MAX_JOB_NAME_LENGTH, check="job_name"),
    JobField("description", Kind.TEXT, column="description", default="", updatable=True,
             clearable=True, blank=True, max_length=MAX_JOB_DESCRIPTION_LENGTH),
    JobField("labels", Kind.LABELS, column="labels", updatable=True, clearable=True,
             max_items=MAX_JOB_LABELS, check="labels"),
    # -- delivery settings per job --
    # How the job's callbacks are sent. Null (the default, and what a PUT of null goes back
    # to): the node's own setting, so a change of the node's config reaches the job.
    JobField("method", Kind.CHOICE, column="method", updatable=True, clearable=True,
             nullable=True, choices=HTTP_METHODS, check="method"),
    JobField("headers", Kind.HEADERS, column="headers", updatable=True, clearable=True,
             nullable=True, max_items=MAX_JOB_HEADERS, max_length=MAX_HEADER_VALUE_LENGTH,
             max_bytes=MAX_HEADERS_BYTES, check="headers"),
    JobField("timeout", Kind.SECONDS, column="timeout", updatable=True, clearable=True,
             nullable=True, low=TIMEOUT_RANGE[0], high=TIMEOUT_RANGE[1]),
    JobField("retries", Kind.INTEGER, column="retries", updatable=True, clearable=True,
             nullable=True, low=RETRIES_RANGE[0], high=RETRIES_RANGE[1]),
    JobField("retry_delay", Kind.SECONDS, column="retry_delay", updatable=True, clearable=True,
             nullable=True, low=RETRY_DELAY_RANGE[0], high=RETRY_DELAY_RANGE[1]),
    JobField("success_codes", Kind.STATUSES, column="success_codes", updatable=True,
             clearable=True, nullable=True, max_items=MAX_SUCCESS_CODES,
             low=HTTP_STATUS_RANGE[0], high=HTTP_STATUS_RANGE[1], check="success_codes"),
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
# A job's delivery settings, in this order wherever they travel together (the planner's read,
# messages.Delivery); each is also the name of its column.
JOB_DELIVERY_FIELDS = ("method", "headers", "timeout", "retries", "retry_delay", "success_codes")

# How a project's failure notifications are written (scheduler0.notifications): a JSON object
# per event, or a Slack incoming-webhook message.
NOTIFICATION_FORMATS = ("json", "slack")
