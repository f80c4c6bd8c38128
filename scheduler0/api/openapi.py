"""The OpenAPI 3.1 document of the API, as one Python dict.

`document()` is served at /openapi.json and rendered at /docs; the API tests fuzz every
operation it lists, so a route missing here is a route left untested. The job's schemas are
built from its field table (scheduler0.vocabulary.JOB_FIELDS), which also drives validation.py;
the rest is written here, with limits taken from validation.py, not repeated.
tests/api/test_schema_agreement.py fails when this document and the code disagree.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from scheduler0 import __version__, labels, manual, notifications, schedule, vocabulary
from scheduler0.api import access, bulk, bulk_runner, dry_run
from scheduler0.api import validation as v
from scheduler0.schedule import load
from scheduler0.store import execution_browse, job_browse, load_reads
from scheduler0.store import notifications as store_notifications
from scheduler0.store.operations import MAX_OPERATIONS_KEPT, MAX_SKIPPED_IDS
from scheduler0.vocabulary import JOB_INPUT_FIELDS, JobField, Kind

EXECUTION_STATES = vocabulary.EXECUTION_STATES
MISFIRE_POLICIES = tuple(schedule.MISFIRE_POLICIES)

DESCRIPTION = f"""\
scheduler0 runs cron jobs: every tick of a job's schedule it POSTs the job to its callback URL.

**Envelope.** Every JSON reply is `{{"success": true, "data": ...}}`. Errors are
`{{"success": false, "data": null, "error": {{"code": "...", "message": "..."}}}}`: `code` is
stable and meant for programs, `message` names the field and says how to fix it, e.g.
`jobs[17].spec: minute field: 61 is out of range 0-59`.

**Authentication.** Send `x-api-key` and `x-secret-key` (create a credential with
`POST /credentials` or the CLI; the secret is shown once). Nodes and the CLI may use HTTP Basic
auth with the node's AuthUsername/AuthPassword. Archived credentials are refused. Every auth
failure is the same 401. `GET /healthcheck`, `GET /openapi.json` and `GET /docs` need no auth.

**Roles and projects.** A credential has a role, `read` (GET only), `write` (also creating,
changing and deleting jobs) or `admin` (also projects, credentials and the cluster), and may be
limited to some projects (`POST /credentials {{"role": "read", "projects": [1, 2]}}`); without
them it is admin for every project, as every credential made before roles existed is. Each
operation says the role it needs (`x-required-role`) and whether it needs a credential for every
project (`x-all-projects`). A limited credential's lists show its projects only, and a request
naming another project's job or project is a 403 (`forbidden`) whose message names both scopes.
The node's Basic auth may do everything.

**Reads and writes.** Every write is a Raft command, answered once it is committed and applied
(a write sent to a follower is forwarded to the leader). Reads are served from the node's own
SQLite copy: **a follower's reads can lag the leader by the replication delay** (usually
milliseconds). A 503 (code `unavailable`, header `Retry-After`) means the cluster could not
commit in time (an election, no majority): retry. A write that timed out may still be applied
later; send `Idempotency-Key: <your token>` on writes and a retry with the same key returns the
first result instead of applying twice.

**Formats.** Fields are snake_case; on input the original Go server's camelCase spellings are
accepted too (`projectId`, `callbackUrl`, `executionType`, `startDate`, `endDate`,
`misfirePolicy`), and its read-only fields (`id`, `timezoneOffset`, `dateCreated`,
`lastExecutionDate`, `executionId`, and our own `created_at`, `updated_at`, `resolved_spec`,
`next_execution_at`, `completed`, `last_execution_at`, `last_state`, `last_http_status`) are
ignored so a job read with GET can be sent back with PUT. Instants are RFC 3339 UTC strings
(`2030-01-02T15:04:05Z`) or null; on input an instant may also be epoch seconds. Go's zero
time `0001-01-01T00:00:00Z` means "none".

**Job names and labels.** A job may have a `name` (unique within its project; it starts with a
letter, so it never reads as an id), a `description` and `labels` (`{{"team": "billing"}}`).
Wherever a path holds a job's id it may hold its name: `/jobs/nightly-report?project_id=2`;
without `project_id` the name is looked for in every project the credential sees, and a name
that several of them use is a 409 (`ambiguous_name`). `GET /jobs?labels=team=billing,env!=dev`
selects by labels (Kubernetes' selector grammar) and `GET /jobs?name=nightly` by name prefix,
with the other filters and `after`.

**Lists** take `limit` (1-{v.MAX_LIMIT}, default {v.DEFAULT_LIMIT}) and either `after` (a
keyset cursor: the previous page's `next_after`; cheap at any depth and stable while rows are
added) or `offset` (default 0; costs the rows it skips), and answer `{{"total", "total_exact",
"limit", "offset", "next_after", "<items>": [...]}}`. A filtered total is counted up to 10,000:
beyond, `total` is 10000 and `total_exact` false.

**Error codes.** `bad_request`, `invalid_json` (body is not JSON), `invalid_body` (wrong shape),
`unknown_field`, `invalid_<field>` (e.g. `invalid_spec`, `invalid_callback_url`,
`invalid_timezone`, `invalid_limit`, `invalid_id`), `unauthorized` (401), `forbidden` (403: the
credential's role or projects do not cover the request), `not_found` (404),
`method_not_allowed` (405), `conflict` (409: a project or job name that is taken),
`ambiguous_name` (409: a job name in a path that several projects use: add `project_id`),
`payload_too_large` (413: more than
{v.MAX_JOBS_PER_REQUEST} jobs, or a body over the node's ApiMaxBodyMb, 16 MiB by default, refused
at its headers), `unsupported_media_type` (415: a body that is not `application/json`),
`headers_too_large` (431), `not_implemented` (501: e.g. an unsupported Transfer-Encoding),
`idempotency_key_reused` (422: an Idempotency-Key sent again with a different body or query),
`too_many_operations` (429: too many bulk operations running, with `Retry-After`),
`unavailable` (503),
`internal_error` (500: a bug, please report it). Errors the HTTP server
itself raises before the request reaches the API (400, 413, 431, 501) use the same envelope.
"""

INSTANT = {"type": ["string", "null"], "format": "date-time",
           "description": "RFC 3339 UTC, e.g. 2030-01-02T15:04:05Z", "examples": ["2030-01-02T15:04:05Z"]}
STAMP = {"type": "string", "format": "date-time",
         "description": "RFC 3339 UTC with milliseconds, e.g. 2030-01-02T15:04:05.123Z"}
ID = {"type": "integer", "minimum": 1, "maximum": v.MAX_ID}
CREDENTIAL_ROLE = {"type": "string", "enum": list(vocabulary.CREDENTIAL_ROLES),
                   "description": "read: GET only; write: also jobs; admin: also projects, "
                                  "credentials and the cluster"}
CREDENTIAL_PROJECTS = {"type": ["array", "null"], "items": ID, "minItems": 1,
                       "maxItems": vocabulary.MAX_CREDENTIAL_PROJECTS, "uniqueItems": True,
                       "description": "the projects the credential is limited to; null: every "
                                      "project"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["success", "data"],
            "properties": {"success": {"const": True}, "data": data}}


def _ok(description: str, data: dict[str, Any], status: str = "200") -> dict[str, Any]:
    return {status: {"description": description,
                     "content": {"application/json": {"schema": _envelope(data)}}}}


def _errors(*statuses: int) -> dict[str, Any]:
    names = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
             409: "Conflict", 413: "PayloadTooLarge", 422: "KeyReused", 429: "TooManyRequests",
             503: "Unavailable"}
    return {str(s): {"$ref": f"#/components/responses/{names[s]}"} for s in statuses}


def _param(name: str, where: str, schema: dict[str, Any], description: str,
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "schema": schema, "description": description}


def _path_id(name: str, what: str) -> dict[str, Any]:
    return _param(name, "path", ID, f"the {what}'s id")


def _json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


LIMIT = _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": v.MAX_LIMIT,
                                  "default": v.DEFAULT_LIMIT}, "page size")
OFFSET = _param("offset", "query", {"type": "integer", "minimum": 0, "maximum": v.MAX_OFFSET,
                                    "default": 0}, "items to skip (costs as many rows as it skips: "
                                                   "prefer after)")
AFTER_ID = _param("after", "query", ID, "keyset cursor: the page starts after this id (the "
                                        "previous page's next_after); stable while rows are "
                                        "added")
AFTER_EXECUTION = _param("after", "query", {"type": "string",
                                            "pattern": r"^\d+-\d+(-m\d+)?$"},
                         "keyset cursor: the page starts below this execution id (the previous "
                         "page's next_after); stable while executions are added")
# A job in a path: its id, or its name (labels.NAME_PATTERN: it never reads as an id), looked
# for in `project_id` when given.
JOB_REF = [
    _param("job_id", "path", {"anyOf": [ID, {"type": "string", "pattern": labels.NAME_PATTERN,
                                             "maxLength": labels.MAX_NAME_LENGTH}]},
           "the job's id, or its name"),
    _param("project_id", "query", ID,
           "the project whose job a name in the path is (projectId accepted); without it, the "
           "name is looked for in every project the credential sees, and one that several of "
           "them use is a 409 (ambiguous_name). With an id, the job must be in this project "
           "(404 otherwise)")]
IDEMPOTENCY = _param("Idempotency-Key", "header", {"type": "string", "minLength": 1,
                                                   "maxLength": v.MAX_IDEMPOTENCY_KEY},
                     "makes a retried write return the first result instead of applying twice "
                     "(kept an hour; the same key with a different body or query is refused "
                     "with 422)")
EXECUTION_FILTERS = [
    _param("state", "query", {"type": "string", "examples": ["failed", "failed,missed"]},
           "only executions in this state (one of " + ", ".join(EXECUTION_STATES) + "), or in "
           "any of several recorded ones separated by commas (failed,missed); without it the "
           "recorded ones (succeeded, failed, missed); scheduled lists the ticks planned and "
           "not settled yet, on its own"),
    _param("since", "query", {"type": "string"},
           "only ticks scheduled at or after this instant (RFC 3339 or epoch seconds)"),
    _param("include", "query", {"type": "string", "enum": ["job"]},
           "job: each row carries `job`, its job's name and timezone (null when the job was "
           "deleted since)"),
    _param("until", "query", {"type": "string"},
           "only ticks scheduled before this instant (exclusive; RFC 3339 or epoch seconds)"),
    LIMIT, OFFSET, AFTER_EXECUTION,
]

# GET /executions: the executions screen's filters and the CSV export.
EXECUTION_JOB_FILTERS = [
    _param("labels", "query", {"type": "string", "maxLength": v.MAX_SELECTOR_LENGTH},
           "only executions of jobs whose labels meet this selector (the grammar of GET "
           "/jobs?labels=)"),
    _param("host", "query", {"type": "string", "minLength": 1, "maxLength": v.MAX_HOST_LENGTH},
           "only executions of jobs whose callback URL has this host (as GET /jobs?host=)"),
    _param("node", "query", {"type": "integer", "minimum": 1, "maximum": v.MAX_ID},
           "only executions delivered by the node with this id (node_id); a bounded scan"),
]
EXPORT_FORMAT = _param(
    "format", "query", {"type": "string", "enum": list(v.EXPORT_FORMATS), "default": "json"},
    "csv: the same filtered rows as text/csv (a header row, then one row per execution; "
    f"limit= 1-{v.MAX_CSV_ROWS}, default {v.DEFAULT_CSV_ROWS}, instead of the page size), "
    "streamed, as an attachment (executions.csv); without format, an Accept header that "
    "prefers text/csv to application/json asks for it too")
CSV_DESCRIPTION = ("columns: " + ", ".join(
    ("execution_id", "job_id", "project_id", "scheduled_at", "state", "attempts",
     "http_status", "node_id", "batch_id", "error", "planned_at", "started_at", "finished_at",
     "trigger", "redeliveries")) + " (the Execution's fields; empty for null; RFC 4180 "
    "quoting, CRLF line ends; an error text starting with = + - @ is written with a "
    "leading apostrophe so a spreadsheet does not run it)")
CSV_HEADERS = {
    "Link": {"schema": {"type": "string"},
             "description": 'CSV only: <...&after=<execution id>>; rel="next" when rows follow '
                            "the export (the same query with the next cursor)"},
    "Content-Disposition": {"schema": {"type": "string"},
                            "description": "CSV only: attachment; filename=executions.csv"}}



def _or_csv(answer: dict[str, Any]) -> dict[str, Any]:
    """A 200 answer (_ok) that may also be the CSV export."""
    ok = answer["200"]
    ok["content"]["text/csv"] = {"schema": {"type": "string", "description": CSV_DESCRIPTION}}
    ok["headers"] = CSV_HEADERS
    return answer


# GET /jobs: the jobs screen's filters and sorts (Reader.browse_jobs: store/job_browse.py).
_BOUNDED = (f"; not served by an index unless it drives the walk: checked on at most "
            f"{job_browse.SCAN_LIMIT} jobs per request (a bounded scan: see scan_limited)")
JOB_BROWSE_PARAMETERS = [
    _param("contains", "query", {"type": "string", "minLength": 1,
                                 "maxLength": labels.MAX_NAME_LENGTH},
           "only jobs whose names contain this, in any case of ASCII letters (jobs without a "
           "name never match)" + _BOUNDED),
    _param("status", "query", {"type": "string", "enum": list(job_browse.STATUSES)},
           "paused: paused jobs (indexed); completed: not paused, no tick left (ended, or a "
           "one-off that fired); active: the others" + _BOUNDED),
    _param("last_state", "query", {"type": "string", "enum": list(job_browse.LAST_STATES)},
           "only jobs whose last result is this; failed and missed walk the failing index, "
           "succeeded is checked on the rows" + _BOUNDED),
    _param("host", "query", {"type": "string", "minLength": 1,
                             "maxLength": v.MAX_HOST_LENGTH},
           "only jobs whose callback URL has this host, exactly (no scheme, port or path; "
           "letters in any case; an IPv6 literal with or without brackets). Indexed (jobs_host)"),
    _param("sort", "query", {"type": "string", "enum": list(job_browse.SORTS), "default": "id"},
           "id (oldest first), -id (newest first), name or -name (by name, then project: only "
           "jobs that have a name are listed in a name sort). Every sort pages with after="),
]

# /healthcheck: what anyone gets (Health), then what a caller with credentials gets on top.
HEALTH: dict[str, Any] = {
    "node_id": {"type": "integer"},
    "state": {"type": "string", "enum": ["leader", "follower", "candidate"]},
    "is_leader": {"type": "boolean"},
    "leader_id": {"type": ["integer", "null"], "description": "null while no leader is known"},
    "leader_address": {"type": ["string", "null"], "description": "the leader's API URL"},
    "healthy": {"type": "boolean", "description": "this node knows a leader and sees a "
                                                  "majority: a write sent here can commit"},
    "memory_pressure": {"type": "boolean",
                        "description": "true: over 70% of MaxMemory, new work paused"},
    "planning_paused": {"type": ["boolean", "null"],
                        "description": "true: the cluster is paused (POST /pause), no tick is "
                                       "planned; healthy stays true. null: unknown (the "
                                       "node's state file cannot be read now)"},
}
HEALTH_DETAIL: dict[str, Any] = {
    "peers": {"type": "array", "items": _ref("Peer")},
    "has_quorum": {"type": "boolean"},
    "raft": {"type": "object", "required": ["term", "commit_index", "last_applied", "log_len"],
             "properties": {"term": {"type": "integer"}, "commit_index": {"type": "integer"},
                            "last_applied": {"type": "integer"},
                            "log_len": {"type": "integer"},
                            "leader_commit_index": {"type": ["integer", "null"]},
                            "became_leader": {"type": "integer", "description": "times this "
                                              "node became leader since it started"},
                            "became_candidate": {"type": "integer", "description": "elections "
                                                 "this node started since it started"}}},
    "executors": {"type": "object", "description": "this node's executors: batches held, "
                                                   "processes alive, delivery counters"},
    "nodes": {"type": "object", "description": "node id -> load its executors last reported "
                                               "(held, executors, memory_pressure)"},
    "planner": {"type": "object", "description": "the planner's counters (planned, batches, "
                                                 "missed, redispatched, in_flight, ...)"},
    "results_committed": {"type": "integer"},
    "intake": {"type": "object", "description": "batches relayed, held now, and dropped: "
                                                "from a stale term, copies of a batch held "
                                                "here (duplicates_dropped), placed under a "
                                                "lease this node lost (revoked); per "
                                                "rate-limited project whose batches came "
                                                "here (rate_limited, by project id): "
                                                "executions waiting at its limit now and "
                                                "the seconds its ticks waited in all"},
    "lease": {"type": "object", "description": "this node's execution lease: current "
                                               "[term, epoch], seconds it stays valid "
                                               "(valid_for) and this node's clock offset "
                                               "from the leader's (clock_offset_ms)"},
    "leases": {"type": "object", "description": "on the leader: node id -> its lease (epoch, "
                                                "live, lease_age s, held, clock_offset_ms)"},
    "threads": {"type": "object", "description": "coordinator thread name -> running; a dead "
                                                 "thread makes the node unhealthy"},
    "unhealthy": {"type": "string", "description": "why healthy is false although a leader "
                                                   "and a quorum are known (a dead thread, a "
                                                   "leader whose planner stopped)"},
    "pause": {"oneOf": [_ref("Pause"), {"type": "null"}],
              "description": "the cluster pause: since when, by whom, why, and the last "
                             "resume (null: unknown)"},
}

# -- the job's schemas, from vocabulary.JOB_FIELDS ---------------------------------------------
#
# Names, spellings, types, limits, defaults, what is required, updatable or nullable: all read
# from the table, so the schemas say what api/validation.py (driven by the same table) checks.
# Only the prose and formats are written here.

JOB_INPUT_NOTES: dict[str, dict[str, Any]] = {
    "project_id": {"description": "an existing project (404 otherwise)"},
    "spec": {"description": "cron: 5 fields (min hour dom month dow), 6 fields (seconds first), "
                            "or @yearly @monthly @weekly @daily @hourly @every <duration>, or "
                            "@at <RFC 3339 instant> (a one-off). H in a field is a value derived "
                            "from the job's id (H, H(a-b), H/n, H(a-b)/n), and `@every <d> H` a "
                            "per-job phase: jobs with one spec spread over its period. Send "
                            "either spec or run_at",
             "examples": ["*/5 * * * *", "0 30 9 * * MON-FRI", "@every 90s", "H/15 * * * *",
                          "@every 1m H", "@at 2030-01-02T15:04:05Z"]},
    "run_at": {"description": "a one-off job instead of a spec: it fires once, at this instant "
                              "(\"now\": at once), and then shows completed. The same as the "
                              "spec \"@at <instant>\"; a past instant is a 400. RFC 3339 "
                              "(any offset), epoch seconds, or \"now\". Input only: never "
                              "answered",
               "examples": ["now", "2030-01-02T15:04:05Z"]},
    "timezone": {"description": "IANA zone the fields are matched in; default: the node's "
                                "DefaultTimezone (UTC unless configured)",
                 "examples": ["UTC", "Europe/Berlin"]},
    "callback_url": {"format": "uri",
                     "description": "absolute http(s) URL; must be inside the node's "
                                    "CallbackAllowedNetworks when those are set"},
    "data": {"description": f"opaque string echoed in every callback (at most "
                            f"{vocabulary.JOB_FIELD['data'].max_bytes} bytes of UTF-8, x-maxBytes)"},
    "start_date": {"description": "no tick before it; also the anchor of @every (default: "
                                  "creation)"},
    "end_date": {"description": "no tick after it; must be after start_date and in the future"},
    "paused": {"description": "true pauses, false resumes"},
    "misfire_policy": {"description": "ticks missed while the cluster was down: run_once (the "
                                      "latest once), run_all, skip"},
    "name": {"pattern": labels.NAME_PATTERN,
             "description": "unique within the job's project (409 otherwise); usable instead of "
                            "the id in /jobs/{job_id}. A letter, then letters, digits, '-', '_' "
                            "or '.' (so it never reads as an id); null: none",
             "examples": ["nightly-report"]},
    "description": {"description": "free text about the job"},
    "labels": {"description": "string keys to string values, e.g. {\"team\": \"billing\", "
                              "\"env\": \"prod\"}, that GET /jobs?labels= selects by. Keys "
                              f"are [prefix/]name ({labels.KEY_RULE}); values {labels.VALUE_RULE}; "
                              f"at most {labels.MAX_LABELS} labels. A PUT replaces the whole set; "
                              "{} or null: none",
               "examples": [{"team": "billing", "env": "prod"}]},
    **{name: {"description": text} for name, text in (
        ("method", "how each callback is sent. POST and PUT send the JSON array body; GET "
                   "sends none: one request per execution, named by Idempotency-Key and "
                   "X-Scheduler0-Execution-Id, its signature computed over the execution id "
                   "in place of the body (a job with data cannot use GET); null: POST"),
        ("headers", "extra request headers, name: value. Names are HTTP tokens, "
                    "case-insensitive, never one the server sets ("
                    + ", ".join(vocabulary.SERVER_HEADERS) + ", "
                    + vocabulary.SERVER_HEADER_PREFIX + "*); values are one line of printable "
                    f"ASCII; at most {vocabulary.MAX_JOB_HEADERS} headers and "
                    f"{vocabulary.MAX_HEADERS_BYTES} bytes of names and values in all; {{}} or "
                    "null: none"),
        ("timeout", "seconds per attempt; null: the node's JobExecutionTimeout"),
        ("retries", "retries after the first attempt; null: the node's JobExecutionRetryMax"),
        ("retry_delay", "seconds before the first retry, doubling at each retry (capped at "
                        "300 s); null: the node's JobExecutionRetryDelay"),
        ("success_codes", "the HTTP statuses that count as success (any other is retried, "
                          "then failed; redirects are not followed); null: any 2xx. Answered "
                          "sorted"))},
}
JOB_OUTPUT_NOTES: dict[str, dict[str, Any]] = {
    "callback_url": {"format": "uri"},
    "name": {"description": "unique within the project; null: none"},
    "labels": {"description": "{} when the job has none"},
    "next_execution_at": {"description": "next tick; null when paused or ended"},
    "resolved_spec": {"description": "the spec with this job's H values filled in (for "
                                     "@every <d> H the phase shows in next_execution_at); the "
                                     "spec itself otherwise"},
    "completed": {"description": "no tick is left to plan: a one-off after its tick (its "
                                 "result follows in last_state), a job past its end_date"},
    "last_execution_at": {"description": "tick of the last result recorded"},
    "last_state": {"description": "state of the last result recorded; null before the first"},
    "last_http_status": {"description": "HTTP status the callback answered to the last result "
                                        "(null when none answered)"},
    **{name: {"description": note["description"].replace("; null:", "; null (the default):")}
       for name, note in JOB_INPUT_NOTES.items() if name in vocabulary.JOB_DELIVERY_FIELDS},
}


def _or_null(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` that also takes null."""
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    result = {**schema, "type": [*kinds, "null"]}
    if "enum" in schema:
        result["enum"] = [*schema["enum"], None]
    return result


def _job_input_value(f: JobField) -> dict[str, Any]:
    """What a job body may send for `f` (not null)."""
    if f.kind is Kind.ID:
        return dict(ID)
    if f.kind is Kind.LABELS:
        return _labels_value(f)
    if f.kind in _NUMBERS_AND_COLLECTIONS:
        return _NUMBERS_AND_COLLECTIONS[f.kind](f)
    if f.kind is Kind.BOOLEAN:
        return {"type": "boolean"}
    if f.kind is Kind.CHOICE:
        return {"type": "string", "enum": list(f.choices)}
    if f.kind is Kind.INSTANT:
        # JSON Schema applies maxLength to the text and the bounds to epoch seconds.
        return {"type": ["string", "number"], "maxLength": v.MAX_INSTANT_TEXT, "minimum": 0,
                "maximum": v.MAX_INSTANT,
                "description": "RFC 3339 (any offset) or epoch seconds; Go's zero time "
                               "0001-01-01T00:00:00Z means none",
                "examples": ["2030-01-02T15:04:05Z", 1893553445]}
    schema: dict[str, Any] = {"type": "string"}
    if not f.blank:  # whitespace alone is empty too
        schema.update(minLength=1, pattern=r"\S")
    if f.max_length is not None:
        schema["maxLength"] = f.max_length
    if f.max_bytes is not None:
        # No JSON Schema keyword counts bytes: maxLength counts characters.
        schema["x-maxBytes"] = f.max_bytes
    return schema


# RFC 9110: a header name is a token, a value (here) one line of printable ASCII.
HEADER_NAME_PATTERN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
HEADER_VALUE_PATTERN = r"^[\t -~]*$"


def _bounds(f: JobField) -> dict[str, Any]:
    """minimum and maximum of a number field, as integers where the field is one."""
    whole = int if f.kind in (Kind.INTEGER, Kind.STATUSES) else float
    return {**({} if f.low is None else {"minimum": whole(f.low)}),
            **({} if f.high is None else {"maximum": whole(f.high)})}


def _headers_value(f: JobField) -> dict[str, Any]:
    return {"type": "object", "maxProperties": f.max_items,
            "propertyNames": {"type": "string", "minLength": 1,
                              "maxLength": vocabulary.MAX_HEADER_NAME_LENGTH,
                              "pattern": HEADER_NAME_PATTERN},
            "additionalProperties": {"type": "string", "maxLength": f.max_length,
                                     "pattern": HEADER_VALUE_PATTERN}}


def _statuses_value(f: JobField) -> dict[str, Any]:
    return {"type": "array", "minItems": 1, "maxItems": f.max_items, "uniqueItems": True,
            "items": {"type": "integer", **_bounds(f)}}


_NUMBERS_AND_COLLECTIONS: dict[Kind, Callable[[JobField], dict[str, Any]]] = {
    Kind.INTEGER: lambda f: {"type": "integer", **_bounds(f)},
    Kind.SECONDS: lambda f: {"type": "number", **_bounds(f)},
    Kind.HEADERS: _headers_value, Kind.STATUSES: _statuses_value}


def _labels_value(f: JobField) -> dict[str, Any]:
    return {"type": "object", "maxProperties": f.max_items,
            "propertyNames": {"type": "string", "maxLength": labels.MAX_LABEL_KEY,
                              "pattern": labels.LABEL_KEY_PATTERN},
            "additionalProperties": {"type": "string", "maxLength": labels.MAX_LABEL_VALUE,
                                     "pattern": labels.LABEL_VALUE_PATTERN}}


def _job_input_property(f: JobField, *, update: bool) -> dict[str, Any]:
    schema = _job_input_value(f)
    if f.instead_of is not None:
        # Its own words only (no Go zero time), and never null: a job read back holds none.
        schema.pop("description", None)
    elif (f.clearable if update else not f.required):
        schema = _or_null(schema)
        if not update and f.default is not None:
            schema["default"] = f.default
    notes = dict(JOB_INPUT_NOTES.get(f.name, {}))
    if update and not f.updatable:
        notes["description"] = "may be sent back unchanged; changing it is a 400 (create a new job)"
    elif update and f.clearable and "null:" not in notes.get("description", ""):
        notes["description"] = (notes.get("description", "") + "; null: back to the default"
                                ).lstrip("; ")
    if "description" in notes and "description" in schema:
        notes["description"] = f"{notes['description']}. {schema['description']}"
    return {**schema, **notes}


def _one_of_two(name: str, other: str, required: bool) -> dict[str, Any]:
    if required:
        return {"oneOf": [{"required": [name]}, {"required": [other]}]}
    return {"not": {"required": [name, other]}}


def job_input_schema(*, update: bool) -> dict[str, Any]:
    """JobInput (update=False) or JobUpdate: every input field in either spelling (both at once
    is a 400), the answered-only fields as ignored, anything else a 400."""
    properties: dict[str, Any] = {}
    rules: list[dict[str, Any]] = []
    required: list[str] = []
    alternatives = {f.instead_of: f.name for f in JOB_INPUT_FIELDS if f.instead_of}
    for f in JOB_INPUT_FIELDS:
        properties[f.name] = _job_input_property(f, update=update)
        if f.alias is not None:
            properties[f.alias] = {**properties[f.name], "deprecated": True,
                                   "description": f"the original Go server's spelling of {f.name}"}
        # A field in two spellings (its alias, or another field that stands for it) takes
        # one of the two: exactly one when it is required, else at most one.
        other = f.alias or alternatives.get(f.name)
        if other is not None:
            rules.append(_one_of_two(f.name, other, f.required and not update))
        elif f.required and not update:
            required.append(f.name)
    for name in vocabulary.JOB_IGNORED:
        properties[name] = {"readOnly": True, "description": "answered-only (or the original's "
                                                            "read-only field): ignored"}
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False}
    if update:
        schema.update(minProperties=1, description=(
            "any subset of " + ", ".join(vocabulary.JOB_UPDATABLE) + "; it takes effect from the "
            "next tick. A job read with GET may be sent back (its answered-only fields are "
            "ignored)"))
    else:
        schema["description"] = ("the original's camelCase spellings (" + ", ".join(
            vocabulary.JOB_ALIASES) + ") are accepted; unknown fields are a 400")
    if required:
        schema["required"] = required
    if rules:
        schema["allOf"] = rules
    return {**schema, "properties": properties}


def _job_output_property(f: JobField) -> dict[str, Any]:
    schema: dict[str, Any]
    if f.kind is Kind.INSTANT_MS:
        schema = dict(STAMP)
    elif f.kind is Kind.INSTANT:
        schema = {"type": "string", "format": "date-time",
                  "description": "RFC 3339 UTC, e.g. 2030-01-02T15:04:05Z"}
    elif f.kind is Kind.TEXT:
        schema = {"type": "string"}
    else:
        schema = _job_input_value(f)
    if f.nullable:
        schema = _or_null(schema)
    notes = JOB_OUTPUT_NOTES.get(f.name, {})
    return {**schema, **notes}


def job_output_schema() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False,
            "required": [f.name for f in vocabulary.JOB_API_FIELDS],
            "properties": {f.name: _job_output_property(f) for f in vocabulary.JOB_API_FIELDS}}


def job_listed_schema() -> dict[str, Any]:
    """A Job as GET /jobs lists it: with what the jobs screen shows besides."""
    schema = job_output_schema()
    schema["required"] = [*schema["required"], "status", "callback_host", "last_late_ms"]
    schema["properties"] = {
        **schema["properties"],
        "status": {"type": "string", "enum": list(job_browse.STATUSES),
                   "description": "paused when paused, else completed when no tick is left "
                                  "(completed true), else active: what status= filters"},
        "callback_host": {"type": "string",
                          "description": "the host of callback_url as written (ASCII letters "
                                         "lowered, an IPv6 literal without brackets): what "
                                         "host= matches"},
        "last_late_ms": {"type": ["integer", "null"],
                         "description": "how many ms after its tick the last execution "
                                        "(last_execution_at) started; null when it did not "
                                        "start (missed), for a run-now, or with no result yet"}}
    return schema


def job_dry_run_schema() -> dict[str, Any]:
    """A Job as a create would make it now, and its next fire times."""
    schema = job_output_schema()
    schema["required"] = [*schema["required"], "next_fire_times"]
    schema["properties"] = {
        **schema["properties"],
        "next_fire_times": {"type": "array", "maxItems": dry_run.FIRE_TIMES,
                            "items": {"type": "string", "format": "date-time"},
                            "description": f"its next {dry_run.FIRE_TIMES} ticks (RFC 3339 UTC), "
                                           "fewer when its schedule or end_date has fewer; "
                                           "none while paused"}}
    return schema


NOTIFICATION_URL = {
    "type": ["string", "null"], "format": "uri", "minLength": 1, "maxLength": v.MAX_URL_LENGTH,
    "description": "where failure notifications go: an http(s) URL checked as a callback_url "
                   "is (CallbackAllowedNetworks, CallbackDeniedNetworks); null: none"}
NOTIFICATION_FORMAT = {
    "type": "string", "enum": list(notifications.FORMATS),
    "description": "json: a JSON object per event (NotificationEvent); slack: a Slack "
                   "incoming-webhook message ({\"text\": ..., \"blocks\": [...]})"}
NULLABLE_FORMAT = {**NOTIFICATION_FORMAT, "type": ["string", "null"],
                   "enum": [*notifications.FORMATS, None]}
RATE_LIMIT = {"oneOf": [{"type": "null"}, {
    "type": "object", "additionalProperties": False,
    "properties": {
        "concurrency": {
            "type": ["integer", "null"], "minimum": vocabulary.RATE_CONCURRENCY_RANGE[0],
            "maximum": vocabulary.RATE_CONCURRENCY_RANGE[1],
            "description": "the most executions in flight at once (null: no such limit)"},
        "per_second": {
            "type": ["number", "null"], "minimum": vocabulary.RATE_PER_SECOND_RANGE[0],
            "maximum": vocabulary.RATE_PER_SECOND_RANGE[1],
            "description": "the most executions started a second, with a burst of a tenth "
                           "of a second's worth, at least 1 (null: no such limit)"}}}],
    "description": "what the project's receivers get from the whole cluster: ticks above the "
                   "limit wait (recorded late, never dropped; a request carries one execution "
                   "or more, so requests stay within it too); null: unlimited"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "stable machine code, see the list above",
                     "examples": ["invalid_spec"]},
            "message": {"type": "string", "description": "names the field and the fix"}},
    },
    "ErrorEnvelope": {
        "type": "object", "required": ["success", "data", "error"],
        "properties": {"success": {"const": False}, "data": {"type": "null"},
                       "error": _ref("Error")},
    },
    "Credential": {
        "type": "object",
        "required": ["id", "api_key", "archived", "role", "projects", "created_at", "updated_at"],
        "properties": {"id": ID, "api_key": {"type": "string"},
                       "archived": {"type": "boolean", "description": "archived keys are refused"},
                       "role": CREDENTIAL_ROLE, "projects": CREDENTIAL_PROJECTS,
                       "created_at": STAMP, "updated_at": STAMP},
    },
    "NewCredential": {
        "allOf": [_ref("Credential"), {
            "type": "object", "required": ["api_secret"],
            "properties": {"api_secret": {
                "type": "string",
                "description": "send as x-secret-key; shown only in this reply (only its hash is kept)"}}}],
    },
    "CredentialCreate": {
        "type": "object", "additionalProperties": False,
        "description": "optional; an empty body creates an active credential, admin for every "
                       "project",
        "properties": {"archived": {"type": "boolean", "default": False},
                       "role": {**CREDENTIAL_ROLE, "default": vocabulary.DEFAULT_CREDENTIAL_ROLE},
                       "projects": {**CREDENTIAL_PROJECTS, "default": None}},
    },
    "CredentialUpdate": {
        "type": "object", "additionalProperties": False, "required": ["archived"],
        "properties": {"archived": {"type": "boolean",
                                    "description": "true archives the key, false restores it"}},
    },
    "Project": {
        "type": "object", "required": ["id", "name", "description", "created_at", "updated_at",
                                       "notification_url", "notification_format",
                                       "rate_limit"],
        "properties": {
            "id": ID, "name": {"type": "string"}, "description": {"type": "string"},
            "created_at": STAMP, "updated_at": STAMP,
            "notification_url": {**NOTIFICATION_URL, "description": (
                "where failure notifications go (null: none); see GET "
                "/projects/{project_id}/notifications")},
            "notification_format": NOTIFICATION_FORMAT,
            "rate_limit": RATE_LIMIT,
            "job_count": {"type": "integer", "minimum": 0,
                          "description": "GET /projects and GET /projects/{project_id} only: "
                                         "its jobs, exactly (what DELETE ?cascade=true "
                                         "deletes with it); counted in the project's range "
                                         "of the jobs_project index"},
            "previous_signing_secret_expires_at": {
                **INSTANT,
                "description": "after a rotation: until this instant callbacks also carry "
                               "X-Scheduler0-Signature-Previous, signed with the secret the "
                               "rotation replaced (null: never rotated with a grace period)"},
            "signing_secret": {
                "type": "string",
                "description": "only on creation and rotation: the HMAC-SHA256 key of the "
                               "X-Scheduler0-Signature header on callbacks; keep it"}},
    },
    "ProjectCreate": {
        "type": "object", "additionalProperties": False, "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": v.MAX_NAME_LENGTH,
                     "description": "unique (409 conflict otherwise)"},
            "description": {"type": ["string", "null"], "maxLength": v.MAX_DESCRIPTION_LENGTH},
            "notification_url": {**NOTIFICATION_URL, "default": None},
            "notification_format": {**NULLABLE_FORMAT, "default": notifications.DEFAULT_FORMAT},
            "rate_limit": {**RATE_LIMIT, "default": None}},
    },
    "ProjectUpdate": {
        "type": "object", "additionalProperties": False, "minProperties": 1,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": v.MAX_NAME_LENGTH},
            "description": {"type": ["string", "null"], "maxLength": v.MAX_DESCRIPTION_LENGTH},
            "notification_url": {**NOTIFICATION_URL, "description": (
                "a new URL for failure notifications (pending ones go there); null: no more "
                "notifications, and those not sent yet are given up")},
            "notification_format": {**NULLABLE_FORMAT, "description": "json or slack; null: json"},
            "rate_limit": {**RATE_LIMIT, "description": (
                "a new rate limit, whole (both kinds: one left out is no limit of that kind); "
                "null: unlimited from now on")},
            "rotate_signing_secret": {
                "type": "boolean",
                "description": "true: generate a new signing secret, returned in this reply only"},
            "grace_seconds": {
                "type": "integer", "minimum": 0, "maximum": v.MAX_GRACE_SECONDS,
                "description": "with rotate_signing_secret: how long the replaced secret still "
                               "signs callbacks (X-Scheduler0-Signature-Previous); default the "
                               "node's SigningSecretGraceSeconds (86400), 0 stops it at once"}},
        "dependentRequired": {"grace_seconds": ["rotate_signing_secret"]},
    },
    "ProjectDeleted": {
        "type": "object", "required": ["id"],
        "properties": {"id": ID, "jobs_deleted": {"type": "integer", "minimum": 0}},
    },
    "Deleted": {"type": "object", "required": ["id"], "properties": {"id": ID}},
    "Job": job_output_schema(),
    "JobListed": job_listed_schema(),
    "JobDryRun": job_dry_run_schema(),
    "JobInput": job_input_schema(update=False),
    "JobUpdate": job_input_schema(update=True),
    "Execution": {
        "type": "object",
        "required": ["execution_id", "job_id", "project_id", "scheduled_at", "state",
                     "attempts", "http_status", "node_id", "batch_id", "error", "planned_at",
                     "started_at", "finished_at", "trigger", "redeliveries"],
        "properties": {
            "execution_id": {"type": "string", "pattern": r"^\d+-\d+(-m\d+)?$",
                             "description": "a tick's is <job_id>-<scheduled_at>, a run-now's "
                                            "<job_id>-<scheduled_at>-m<run>; the callback's "
                                            "idempotency key"},
            "job_id": ID, "project_id": ID, "scheduled_at": INSTANT,
            "state": {"type": "string", "enum": list(EXECUTION_STATES)},
            "attempts": {"type": "integer", "minimum": 0},
            "http_status": {"type": ["integer", "null"]},
            "node_id": {"type": ["integer", "null"]}, "batch_id": {"type": ["string", "null"]},
            "error": {"type": ["string", "null"]},
            "planned_at": INSTANT, "started_at": INSTANT, "finished_at": INSTANT,
            "trigger": {"type": "string", "enum": list(vocabulary.TRIGGERS),
                        "description": "schedule: a tick of the job's schedule; manual: a "
                                       "run-now (POST /jobs/{id}/run); backfill: a past tick "
                                       "fired by POST /jobs/{id}/backfill"},
            "redeliveries": {"type": "integer", "minimum": 0,
                             "description": "times it was redelivered (POST /executions/{id}/"
                                            "redeliver); the state, attempts, status and times "
                                            "are the last delivery's"},
            "job": {"type": ["object", "null"],
                    "properties": {"name": {"type": ["string", "null"]},
                                   "timezone": {"type": "string"}},
                    "description": "with include=job only: its job's name and zone; null "
                                   "when the job was deleted since"}},
    },
    "Peer": {
        "type": "object", "required": ["node_id", "address", "raft_address", "connected"],
        "properties": {"node_id": {"type": "integer"},
                       "address": {"type": "string", "description": "its API URL"},
                       "raft_address": {"type": "string", "description": "host:port"},
                       "connected": {"type": "boolean"}},
    },
    "Cluster": {
        "type": "object", "additionalProperties": False,
        "required": ["node_id", "leader_id", "is_leader", "term", "lag", "peers", "nodes",
                     "lease"],
        "properties": {
            "node_id": {"type": "integer"},
            "leader_id": {"type": ["integer", "null"], "description": "null while no leader "
                                                                      "is known"},
            "is_leader": {"type": "boolean"},
            "term": {"type": ["integer", "null"], "description": "the current Raft term"},
            "lag": {"type": ["integer", "null"],
                    "description": "entries the leader committed that this node has not yet "
                                   "applied; null while the leader's commit index is unknown"},
            "peers": {"type": "array", "items": _ref("Peer")},
            "nodes": {"type": "object", "description": "node id -> its executors' last load "
                                                       "report (held, executors, "
                                                       "memory_pressure) and, on the leader, "
                                                       "its lease (epoch, live, lease_age s, "
                                                       "held, clock_offset_ms)"},
            "lease": {"type": ["object", "null"],
                      "description": "this node's execution lease: current [term, epoch], "
                                     "valid_for s, clock_offset_ms (null without a "
                                     "coordinator's executors)"}},
    },
    "MemberAdd": {
        "type": "object", "additionalProperties": False, "required": ["raft_address"],
        "properties": {"raft_address": {"type": "string", "description": "host:port, e.g. "
                                                                         "127.0.0.1:10094"}},
    },
    "MemberAdded": {
        "type": "object", "additionalProperties": False, "required": ["added"],
        "properties": {"added": {"type": "string", "description": "the Raft address added"}},
    },
    "MemberRemoved": {
        "type": "object", "additionalProperties": False, "required": ["removed"],
        "properties": {"removed": {"type": "string",
                                   "description": "the Raft address removed"}},
    },
    "Health": {
        "type": "object", "description": "the answer without credentials",
        "required": [*HEALTH, "raft"], "additionalProperties": False,
        "properties": {**HEALTH, "raft": {
            "type": "object", "required": ["term"], "additionalProperties": False,
            "properties": {"term": {"type": ["integer", "null"],
                                    "description": "the current Raft term: of two nodes "
                                                   "naming different leaders, the higher "
                                                   "term is the newer view"}}}},
    },
    "HealthDetail": {
        "type": "object",
        "description": "the answer with credentials (a credential or the node's Basic auth): "
                       "Health plus peers, Raft indexes and the planner, executor and intake "
                       "counters (these tell how busy the node is, like /metrics)",
        "required": [*HEALTH, "peers", "has_quorum", "raft"],
        "properties": {**HEALTH, **HEALTH_DETAIL},
    },
    "Preview": {
        "type": "object", "required": ["spec", "resolved_spec", "job_id", "timezone", "from",
                                       "count", "times"],
        "properties": {
            "spec": {"type": "string"},
            "resolved_spec": {"type": "string",
                              "description": "the spec the times are of: with H, as job_id "
                                             "resolves it; else the spec"},
            "job_id": {"type": ["integer", "null"],
                       "description": "the job whose id H was resolved with (null: none given)"},
            "timezone": {"type": "string"}, "from": INSTANT,
            "count": {"type": "integer"},
            "times": {"type": "array", "items": {
                "type": "object", "required": ["utc", "local", "epoch", "utc_offset",
                                               "utc_offset_seconds", "dst_change"],
                "properties": {"utc": {"type": "string", "format": "date-time"},
                               "local": {"type": "string", "format": "date-time",
                                         "description": "the same instant with the zone's offset"},
                               "epoch": {"type": "integer"},
                               "utc_offset": {"type": "string", "pattern": r"^[+-]\d\d:\d\d$",
                                              "description": "the zone's offset from UTC at "
                                                             "this fire time, e.g. +02:00"},
                               "utc_offset_seconds": {"type": "integer"},
                               "dst_change": {"type": "boolean",
                                              "description": "true when the zone's offset "
                                                             "changed (a daylight-saving "
                                                             "jump) since the previous fire "
                                                             "time, or for the first since "
                                                             "`from`"}}}}},
    },
}


SCAN_LIMITED = {
    "type": "boolean",
    "description": "true when a filter that no index serves was checked on as many rows as one "
                   "request reads (a bounded scan) before the page was full: the rows shown are "
                   "all the matches among those, next_after is where the scan stopped (pass it "
                   "as after= to carry on), and total counts the matches scanned"}


def _page(name: str, item: str, scans: bool = False) -> dict[str, Any]:
    """A page; with `scans` also scan_limited, which the lists that may scan answer
    (GET /jobs, GET /executions, GET /jobs/{job_id}/executions) and the others leave out."""
    page = _plain_page(name, item)
    if scans:
        page["properties"]["scan_limited"] = SCAN_LIMITED
    return page


def _plain_page(name: str, item: str) -> dict[str, Any]:
    return {"type": "object",
            "required": ["total", "total_exact", "limit", "offset", "next_after", name],
            "properties": {
                "total": {"type": "integer", "description": "rows matching the filters (not "
                                                            "just this page)"},
                "total_exact": {"type": "boolean", "description": "false when total was "
                                                                  "capped: at least that many"},
                "limit": {"type": "integer"}, "offset": {"type": "integer"},
                "next_after": {"type": ["string", "null"],
                               "description": "pass as after= for the next page; null on the "
                                              "last page"},
                name: {"type": "array", "items": _ref(item)}}}


ROLLUP_COUNTS = {
    "succeeded": "executions recorded succeeded", "failed": "recorded failed",
    "missed": "recorded missed", "late_100ms": "started at most 100 ms after their tick",
    "late_1s": "started 100 ms to 1 s late", "late_10s": "started 1 s to 10 s late",
    "late_more": "started more than 10 s late"}


SCHEMAS.update({
    "Rollups": {
        "type": "object", "required": ["period", "rollups"], "additionalProperties": False,
        "properties": {
            "period": {"type": "string", "enum": ["minute", "hour"]},
            "rollups": {"type": "array", "items": {
                "type": "object", "additionalProperties": False,
                "required": ["period_start", *ROLLUP_COUNTS],
                "properties": {"period_start": INSTANT, **{
                    name: {"type": "integer", "description": text}
                    for name, text in ROLLUP_COUNTS.items()}}}}}},
    "CredentialPage": _page("credentials", "Credential"),
    "ProjectPage": _page("projects", "Project"),
    "JobPage": _page("jobs", "JobListed", scans=True),
    "ExecutionPage": _page("executions", "Execution", scans=True),
})


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": _ref("ErrorEnvelope")}}}


RESPONSES = {
    "BadRequest": _error_response("bad input: the message names the field and the fix "
                                  "(invalid_json, invalid_body, unknown_field, invalid_<field>)"),
    "Unauthorized": _error_response("missing, wrong or archived credentials (always the same body)"),
    "Forbidden": _error_response("the credential's role or projects do not cover this request, "
                                 "or it needs the node secrets (forbidden); the message names "
                                 "what is needed"),
    "NotFound": _error_response("no such resource (not_found)"),
    "Conflict": _error_response("the change conflicts with the state (conflict)"),
    "KeyReused": _error_response("this Idempotency-Key was already sent with a different "
                                 "request (another body or query) to this route "
                                 "(idempotency_key_reused): use a new key for a new request"),
    "PayloadTooLarge": _error_response(f"more than {v.MAX_JOBS_PER_REQUEST} jobs, or a body over "
                                       "ApiMaxBodyMb, 16 MiB by default (payload_too_large)"),
    "Unavailable": {**_error_response("the cluster could not answer in time (no leader, "
                                      "election, coordinator down): retry after Retry-After"),
                    "headers": {"Retry-After": {"schema": {"type": "integer"},
                                                "description": "seconds to wait"}}},
}

PATHS: dict[str, Any] = {
    "/credentials": {
        "post": {
            "operationId": "createCredential", "tags": ["credentials"],
            "summary": "Create an API key and secret (the secret is shown once), optionally "
                       "limited to a role and to projects",
            "parameters": [IDEMPOTENCY],
            "requestBody": _json_body(_ref("CredentialCreate"), required=False),
            "responses": {**_ok("created", _ref("NewCredential"), "201"),
                          **_errors(400, 401, 409, 413, 503)},
        },
        "get": {
            "operationId": "listCredentials", "tags": ["credentials"],
            "summary": "List credentials, newest first",
            "parameters": [LIMIT, OFFSET, AFTER_ID],
            "responses": {**_ok("a page of credentials", _ref("CredentialPage")),
                          **_errors(400, 401)},
        },
    },
    "/credentials/{credential_id}": {
        "parameters": [_path_id("credential_id", "credential")],
        "get": {
            "operationId": "getCredential", "tags": ["credentials"], "summary": "Read a credential",
            "responses": {**_ok("the credential", _ref("Credential")), **_errors(400, 401, 404)},
        },
        "put": {
            "operationId": "updateCredential", "tags": ["credentials"],
            "summary": "Archive or restore a credential", "parameters": [IDEMPOTENCY],
            "requestBody": _json_body(_ref("CredentialUpdate")),
            "responses": {**_ok("the credential", _ref("Credential")),
                          **_errors(400, 401, 404, 413, 503)},
        },
        "delete": {
            "operationId": "deleteCredential", "tags": ["credentials"],
            "summary": "Delete a credential", "parameters": [IDEMPOTENCY],
            "responses": {**_ok("deleted", _ref("Deleted")), **_errors(400, 401, 404, 503)},
        },
    },
    "/projects": {
        "post": {
            "operationId": "createProject", "tags": ["projects"],
            "summary": "Create a project (answers its signing secret once)",
            "parameters": [IDEMPOTENCY], "requestBody": _json_body(_ref("ProjectCreate")),
            "responses": {**_ok("created, with signing_secret", _ref("Project"), "201"),
                          **_errors(400, 401, 409, 413, 503)},
        },
        "get": {
            "operationId": "listProjects", "tags": ["projects"], "summary": "List projects",
            "parameters": [LIMIT, OFFSET, AFTER_ID, _param(
                "job_count", "query", {"type": "boolean", "default": True},
                "false: leave each project's job_count out (a count of its jobs, about 25 ms "
                "per million of them), for a list that only names the projects")],
            "responses": {**_ok("a page of projects", _ref("ProjectPage")), **_errors(400, 401)},
        },
    },
    "/projects/{project_id}": {
        "parameters": [_path_id("project_id", "project")],
        "get": {
            "operationId": "getProject", "tags": ["projects"], "summary": "Read a project",
            "responses": {**_ok("the project", _ref("Project")), **_errors(400, 401, 404)},
        },
        "put": {
            "operationId": "updateProject", "tags": ["projects"],
            "summary": "Rename, describe, or rotate the signing secret",
            "parameters": [IDEMPOTENCY], "requestBody": _json_body(_ref("ProjectUpdate")),
            "responses": {**_ok("the project (with signing_secret when rotated)", _ref("Project")),
                          **_errors(400, 401, 404, 409, 413, 503)},
        },
        "patch": {
            "operationId": "patchProject", "tags": ["projects"],
            "summary": "The same as PUT: only the fields given change",
            "parameters": [IDEMPOTENCY], "requestBody": _json_body(_ref("ProjectUpdate")),
            "responses": {**_ok("the project (with signing_secret when rotated)", _ref("Project")),
                          **_errors(400, 401, 404, 409, 413, 503)},
        },
        "delete": {
            "operationId": "deleteProject", "tags": ["projects"],
            "summary": "Delete a project (409 while it has jobs, unless cascade=true)",
            "parameters": [IDEMPOTENCY, _param("cascade", "query", {"type": "boolean",
                                                                    "default": False},
                                               "also delete the project's jobs")],
            "responses": {**_ok("deleted", _ref("ProjectDeleted")),
                          **_errors(400, 401, 404, 409, 503)},
        },
    },
    "/jobs": {
        "post": {
            "operationId": "createJobs", "tags": ["jobs"],
            "summary": f"Create one job, or up to {v.MAX_JOBS_PER_REQUEST} in one all-or-none command",
            "description": "An object answers the created job; an array answers the created jobs "
                           "in the same order. Every job is validated first; an error inside an "
                           "array names its index (jobs[17].spec: ...) and nothing is created. "
                           "With dry_run=true nothing is created either way: the answer (200) "
                           "is each job as it would be, with its next fire times.",
            "parameters": [IDEMPOTENCY, _param(
                "dry_run", "query", {"type": "boolean", "default": False},
                "true: validate exactly as a create does (the same errors) and create nothing "
                "(no Raft command); 200 answers each job as it would be now, with the id it "
                "would get (its H values are that id's) and next_fire_times")],
            "requestBody": _json_body({"oneOf": [
                _ref("JobInput"),
                {"type": "array", "minItems": 1, "maxItems": v.MAX_JOBS_PER_REQUEST,
                 "items": _ref("JobInput")}]}),
            "responses": {
                "201": {"description": "created (an object for an object, an array for an array)",
                        "content": {"application/json": {"schema": _envelope({"oneOf": [
                            _ref("Job"), {"type": "array", "items": _ref("Job")}]})}}},
                **_ok("dry_run=true: nothing created; each job as it would be (an object for "
                      "an object, an array for an array)", {"oneOf": [
                          _ref("JobDryRun"), {"type": "array", "items": _ref("JobDryRun")}]}),
                **_errors(400, 401, 404, 409, 413, 503)},
        },
        "get": {
            "operationId": "listJobs", "tags": ["jobs"],
            "summary": "List jobs, oldest first (or in sort=)",
            "description": "One index drives each page: the failing jobs for failing=true or "
                           "last_state=failed|missed, else (in id order) the label index for a "
                           "selector with an = / in / bare-key requirement, else the host index "
                           "for host=, else the jobs by id (by project, or the paused ones); "
                           "for sort=name|-name the name index. With contains, status, "
                           "last_state, host or sort given, every filter the walk's index does "
                           "not serve is checked on at most "
                           f"{job_browse.SCAN_LIMIT} rows of the walk per request: a page "
                           "that is not full by then answers scan_limited=true with next_after "
                           "where the scan stopped, and total is a lower bound "
                           "(total_exact=false). Each job also carries status, callback_host "
                           "and last_late_ms.",
            "parameters": [
                _param("project_id", "query", ID, "only this project's jobs (projectId accepted)"),
                _param("paused", "query", {"type": "boolean"}, "only paused (true) or active "
                                                               "(false) jobs"),
                _param("failing", "query", {"type": "boolean"}, "only jobs whose last result "
                                                                "failed or was missed (true), "
                                                                "or the others (false)"),
                _param("labels", "query", {"type": "string", "maxLength": v.MAX_SELECTOR_LENGTH},
                       "only jobs whose labels meet this selector (Kubernetes' grammar): "
                       "requirements separated by commas, each met: key=value (or ==), "
                       "key!=value, key in (v1,v2), key notin (v1,v2), key (has it), !key "
                       "(has it not); a job without the key meets !=, notin and !key. E.g. "
                       "team=billing,env!=dev. Served from the label index: a selector with "
                       "an = requirement pages at the same cost at any depth"),
                _param("name", "query", {"type": "string", "maxLength": labels.MAX_NAME_LENGTH,
                                         "pattern": labels.NAME_PATTERN},
                       "only jobs whose names start with this"),
                *JOB_BROWSE_PARAMETERS, LIMIT, OFFSET,
                _param("after", "query", {"type": "string", "maxLength": 2048},
                       "keyset cursor: the previous page's next_after. With sort=id (and "
                       "without the console's filters) a job id, the page starting after it; "
                       "with -id a job id too, the page starting below it; with name or -name "
                       "an opaque token (n.<...>) that only a page of the same sort gives; a "
                       "cursor of another sort is a 400 (invalid_after)")],
            "responses": {**_ok("a page of jobs", _ref("JobPage")), **_errors(400, 401)},
        },
    },
    "/jobs/{job_id}": {
        "parameters": JOB_REF,
        "get": {
            "operationId": "getJob", "tags": ["jobs"], "summary": "Read a job",
            "responses": {**_ok("the job", _ref("Job")), **_errors(400, 401, 404, 409)},
        },
        "put": {
            "operationId": "updateJob", "tags": ["jobs"],
            "summary": "Change a job; {\"paused\": true|false} pauses or resumes it",
            "parameters": [IDEMPOTENCY], "requestBody": _json_body(_ref("JobUpdate")),
            "responses": {**_ok("the job", _ref("Job")),
                          **_errors(400, 401, 404, 409, 413, 503)},
        },
        "delete": {
            "operationId": "deleteJob", "tags": ["jobs"],
            "summary": "Delete a job and its execution history", "parameters": [IDEMPOTENCY],
            "responses": {**_ok("deleted", _ref("Deleted")), **_errors(400, 401, 404, 409, 503)},
        },
    },
    "/jobs/{job_id}/executions": {
        "parameters": JOB_REF,
        "get": {
            "operationId": "listJobExecutions", "tags": ["executions"],
            "summary": "One job's execution history, newest first",
            "parameters": EXECUTION_FILTERS,
            "responses": {**_ok("a page of executions", _ref("ExecutionPage")),
                          **_errors(400, 401, 404, 409)},
        },
    },
    "/executions": {
        "get": {
            "operationId": "listExecutions", "tags": ["executions"],
            "summary": "Execution history, newest first",
            "description": "labels= and host= name jobs: up to "
                           f"{execution_browse.JOB_SET_CAP} of them are read as that many "
                           "jobs' histories (exact); more, or node=, is a bounded scan of the "
                           f"history: at most {execution_browse.SCAN_LIMIT} rows per request, "
                           "after which a page that is not full answers scan_limited=true and "
                           "next_after where the scan stopped. format=csv (or an Accept header "
                           "preferring text/csv) answers the same filtered rows as CSV.",
            "parameters": [_param("project_id", "query", ID, "only this project (projectId "
                                                             "accepted)"),
                           _param("job_id", "query", ID, "only this job (jobId accepted)"),
                           *EXECUTION_JOB_FILTERS, *EXECUTION_FILTERS, EXPORT_FORMAT],
            "responses": {**_or_csv(_ok("a page of executions (or CSV)",
                                        _ref("ExecutionPage"))),
                          **_errors(400, 401)},
        },
    },
    "/rollups": {
        "get": {
            "operationId": "listRollups", "tags": ["executions"],
            "summary": "Executions counted per minute or per hour (kept longer than the rows "
                       "they count), oldest first, summed over projects unless one is given",
            "parameters": [
                _param("period", "query", {"type": "string", "enum": ["minute", "hour"],
                                           "default": "minute"}, "minute or hour"),
                _param("project_id", "query", ID, "only this project (projectId accepted)"),
                _param("since", "query", {"type": "string"},
                       "periods starting at or after this instant"),
                _param("until", "query", {"type": "string"},
                       "periods starting before this instant"),
                _param("limit", "query", {"type": "integer", "minimum": 1,
                                          "maximum": v.MAX_ROLLUPS, "default": 1440},
                       "periods at most")],
            "responses": {**_ok("the counts", _ref("Rollups")), **_errors(400, 401)},
        },
    },
    "/schedules/preview": {
        "get": {
            "operationId": "previewSchedule", "tags": ["schedules"],
            "summary": "The next fire times of a spec in a zone",
            "parameters": [
                _param("spec", "query", {"type": "string", "minLength": 1,
                                         "maxLength": v.MAX_SPEC_LENGTH},
                       "the cron spec (URL-encode spaces)", required=True),
                _param("timezone", "query", {"type": "string"},
                       "IANA zone (default: the node's DefaultTimezone)"),
                _param("from", "query", {"type": "string"},
                       "start instant, RFC 3339 or epoch seconds (default: now); also the "
                       "@every anchor"),
                _param("count", "query", {"type": "integer", "minimum": 1,
                                          "maximum": v.MAX_PREVIEW_COUNT,
                                          "default": v.DEFAULT_PREVIEW_COUNT},
                       "how many fire times"),
                _param("job_id", "query", ID,
                       "resolve the spec's H as for this job (jobId accepted): required with "
                       "H (400 invalid_job_id otherwise); the job need not exist, and one of "
                       "a project outside a limited credential's is a 403")],
            "responses": {**_ok("the fire times", _ref("Preview")), **_errors(400, 401)},
        },
    },
    "/cluster": {
        "get": {
            "operationId": "clusterStatus", "tags": ["cluster"],
            "summary": "Members, leader, Raft term and this node's replication lag (entries "
                       "committed by the leader and not yet applied here); per node its load "
                       "and, on the leader, its lease (age, liveness, clock offset)",
            "responses": {**_ok("cluster", _ref("Cluster")), **_errors(401, 503)},
        },
    },
    "/cluster/members": {
        "post": {
            "operationId": "addMember", "tags": ["cluster"],
            "summary": "Add a node by its Raft address (node Basic auth only). Start the new "
                       "node first, with every current member in its Replicas.",
            "requestBody": _json_body(_ref("MemberAdd")),
            "responses": {**_ok("added", _ref("MemberAdded"), "201"),
                          **_errors(400, 401, 403, 503)},
        },
    },
    "/cluster/members/{raft_address}": {
        "delete": {
            "operationId": "removeMember", "tags": ["cluster"],
            "summary": "Remove a node by its Raft address (node Basic auth only)",
            "parameters": [_param("raft_address", "path", {"type": "string"}, "host:port")],
            "responses": {**_ok("removed", _ref("MemberRemoved")),
                          **_errors(400, 401, 403, 503)},
        },
    },
    "/healthcheck": {
        "get": {
            "operationId": "healthcheck", "tags": ["health"], "security": [],
            "summary": "This node's view of the cluster (no auth; with credentials, the detail)",
            "description": "Without credentials: `Health`, enough for a load balancer or a "
                           "peer. With a credential's headers or the node's Basic auth: "
                           "`HealthDetail`, which adds peers, Raft indexes and the planner, "
                           "executor and intake counters. Credentials that are sent are "
                           "checked: a wrong one is the usual 401.",
            "responses": {**_ok("health (Health without credentials, HealthDetail with)",
                                {"oneOf": [_ref("Health"), _ref("HealthDetail")]}),
                          **_errors(401, 503)},
        },
    },
    "/metrics": {
        "get": {
            "operationId": "metrics", "tags": ["meta"],
            "summary": "Prometheus metrics (text format 0.0.4; auth required: configure the "
                       "scrape with Basic auth or the key headers)",
            "description": "scheduler0_http_requests_total{route,method,status}, "
                           "scheduler0_http_request_duration_seconds (histogram), "
                           "scheduler0_jobs, scheduler0_projects, scheduler0_executions{state}, "
                           "scheduler0_raft_term, scheduler0_raft_commit_index, "
                           "scheduler0_raft_last_applied, scheduler0_is_leader, "
                           "scheduler0_coordinator_up, scheduler0_memory_pressure",
            "responses": {"200": {"description": "metrics",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}},
                          **_errors(401)},
        },
    },
    "/openapi.json": {
        "get": {
            "operationId": "openapi", "tags": ["meta"], "security": [],
            "summary": "This document (no auth)",
            "responses": {"200": {"description": "OpenAPI 3.1",
                                  "content": {"application/json": {"schema": {"type": "object"}}}}},
        },
    },
    "/docs": {
        "get": {
            "operationId": "docs", "tags": ["meta"], "security": [],
            "summary": "This document as a readable page (no auth)",
            "responses": {"200": {"description": "HTML",
                                  "content": {"text/html": {"schema": {"type": "string"}}}}},
        },
    },
}

# -- bulk operations and the cluster pause ----------------------------------------------------

BULK_FILTER = {
    "type": "object", "additionalProperties": False, "minProperties": 1,
    "description": "the jobs matching every field given, read once when the request arrives "
                   "(a snapshot: jobs created or changed to match while it runs are not "
                   "touched); a credential limited to projects selects among its own. name, "
                   "contains, status, last_state and host are read as GET /jobs reads them; "
                   "where finding every match would check more jobs one by one than one "
                   "request checks (GET /jobs's scan limit), the filter is refused (413 "
                   "scan_limited) rather than acting on part of the matches",
    "properties": {
        "project_id": {**ID, "description": "only this project's jobs (404 if it does not "
                                            "exist)"},
        "paused": {"type": "boolean", "description": "only paused (true) or active (false) "
                                                     "jobs"},
        "labels": {"type": "string", "minLength": 1, "maxLength": v.MAX_SELECTOR_LENGTH,
                   "description": "a label selector: key=value, key!=value, key in (a,b), "
                                  "key notin (a,b), key, !key, comma-separated (all must "
                                  "hold)", "examples": ["team=billing,env!=dev"]},
        "name": {"type": "string", "minLength": 1, "description": "the start of a job name, "
                 "as GET /jobs?name= reads it"},
        "contains": {"type": "string", "minLength": 1, "description": "a part of a job name, "
                     "in any case, as GET /jobs?contains="},
        "status": {"enum": ["active", "paused", "completed"],
                   "description": "as GET /jobs?status="},
        "last_state": {"enum": ["succeeded", "failed", "missed"],
                       "description": "the job's last result, as GET /jobs?last_state="},
        "host": {"type": "string", "minLength": 1, "description": "the callback host, as GET "
                 "/jobs?host="}},
}
OPERATION_STAMP = {**STAMP, "type": ["string", "null"]}
SCHEMAS.update({
    "BulkRequest": {
        "type": "object", "additionalProperties": False, "required": ["action"],
        "description": "the action and the jobs: ids or a filter (one of them)",
        "allOf": [{"oneOf": [{"required": ["ids"]}, {"required": ["filter"]}]},
                  # data belongs to run alone
                  {"if": {"properties": {"action": {"const": "run"}}},
                   "else": {"not": {"required": ["data"]}}}],
        "properties": {
            "action": {"type": "string", "enum": list(vocabulary.BULK_ACTIONS),
                       "description": "pause, resume, delete (with its history), set_labels "
                                      "(with labels), or run (a run-now of each job, paused "
                                      "ones too, as POST /jobs/{id}/run; at most "
                                      f"{bulk.MAX_RUN_SELECTED} jobs; its executions: GET "
                                      "/operations/{id}/executions)"},
            "ids": {"type": "array", "items": ID, "minItems": 1, "maxItems": bulk.MAX_IDS,
                    "uniqueItems": True,
                    "description": "these jobs (each must exist and be of the caller's "
                                   "projects)"},
            "filter": BULK_FILTER,
            "labels": {"type": "object", "minProperties": 1, "maxProperties": vocabulary.MAX_JOB_LABELS,
                       "additionalProperties": {"type": ["string", "null"]},
                       "description": "set_labels only: each label given is set, one given as "
                                      "null removed; a job's other labels stay",
                       "examples": [{"team": "billing", "legacy": None}]},
            "data": {"type": ["string", "null"], "x-maxBytes": v.MAX_DATA_BYTES,
                     "description": "run only: delivered by every run-now instead of its job's "
                                    "data (absent or null: each job's own); a job delivered "
                                    "with GET, which sends no body, is then skipped"}},
    },
    "Operation": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "action", "selection", "labels", "total", "done", "skipped",
                     "skipped_ids", "state", "errors", "projects", "created_by", "node_id",
                     "created_at", "updated_at", "finished_at"],
        "properties": {
            "id": ID,
            "action": {"type": "string", "enum": list(vocabulary.BULK_ACTIONS)},
            "selection": {"type": "object", "description": "the request's ids or filter"},
            "labels": {"type": ["object", "null"], "description": "set_labels's labels"},
            "total": {"type": "integer", "minimum": 0,
                      "description": "jobs selected when the request arrived"},
            "done": {"type": "integer", "minimum": 0,
                     "description": "jobs changed so far (run: jobs fired, each a run-now)"},
            "skipped": {"type": "integer", "minimum": 0,
                        "description": "selected jobs it did not change: deleted before their "
                                       "chunk ran, (set_labels) past a job's label limit, or "
                                       "(run with data) delivered with GET"},
            "skipped_ids": {"type": "array", "items": ID, "maxItems": MAX_SKIPPED_IDS,
                            "description": f"the first {MAX_SKIPPED_IDS} skipped"},
            "state": {"type": "string", "enum": list(vocabulary.OPERATION_STATES),
                      "description": "running until done + skipped = total (succeeded) or it "
                                     "stopped (failed: see errors; what it did stays done)"},
            "errors": {"type": "array", "items": {"type": "string"},
                       "description": "what went wrong: why it failed (interrupted, stalled, "
                                      "the cluster unavailable), which jobs it left as they "
                                      "were"},
            "projects": {"type": ["array", "null"], "items": ID,
                         "description": "the projects it concerns (who may read it)"},
            "created_by": {"type": "string", "description": "credential:<id> or node"},
            "node_id": {"type": "integer", "description": "the node whose API process runs it"},
            "created_at": STAMP, "updated_at": STAMP, "finished_at": OPERATION_STAMP},
    },
    "OperationStarted": {
        "allOf": [_ref("Operation"), {
            "type": "object", "required": ["operation_id"],
            "properties": {"operation_id": {**ID, "description": "GET /operations/{id}"}}}],
    },
    "OperationPage": _page("operations", "Operation"),
    "Pause": {
        "type": "object", "additionalProperties": False,
        "required": ["paused", "paused_at", "paused_by", "reason", "resumed_at", "resumed_by"],
        "properties": {
            "paused": {"type": "boolean", "description": "true: the leader plans no tick"},
            "paused_at": OPERATION_STAMP, "paused_by": {"type": ["string", "null"]},
            "reason": {"type": ["string", "null"]},
            "resumed_at": OPERATION_STAMP, "resumed_by": {"type": ["string", "null"]}},
    },
    "PauseRequest": {
        "type": "object", "additionalProperties": False,
        "properties": {"reason": {"type": ["string", "null"],
                                  "maxLength": vocabulary.MAX_PAUSE_REASON,
                                  "description": "shown with the pause"}},
    },
    "ResumeRequest": {"type": "object", "additionalProperties": False, "properties": {}},
})
RESPONSES["TooManyRequests"] = {
    **_error_response("too many bulk operations running (too_many_operations): wait for one "
                      "to finish, or retry after Retry-After"),
    "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}}
PATHS.update({
    "/jobs/bulk": {
        "post": {
            "operationId": "bulkJobs", "tags": ["jobs"],
            "summary": "Pause, resume, delete, relabel or run many jobs, in the background",
            "description": "Answers 202 at once with the operation (Location: "
                           "/operations/{id}); its jobs are changed in chunks of "
                           f"{bulk_runner.CHUNK} ({bulk_runner.CHUNKS['set_labels']} for "
                           f"set_labels, {bulk_runner.CHUNKS['run']} for run; one Raft command "
                           "each) by the API process "
                           "of the node that took the request. A filter is resolved when the "
                           "request arrives: jobs created while it runs are not touched. If "
                           "that process stops, the operation is recorded failed (what it did "
                           "stays done; send the request again for the rest).",
            "parameters": [IDEMPOTENCY], "requestBody": _json_body(_ref("BulkRequest")),
            "responses": {**_ok("started", _ref("OperationStarted"), "202"),
                          **_errors(400, 401, 404, 413, 429, 503)},
        },
    },
    "/operations": {
        "get": {
            "operationId": "listOperations", "tags": ["operations"],
            "summary": f"Bulk operations, newest first (the newest {MAX_OPERATIONS_KEPT} "
                       "finished ones are kept)",
            "parameters": [
                _param("state", "query", {"type": "string",
                                          "enum": list(vocabulary.OPERATION_STATES)},
                       "only operations in this state"),
                LIMIT, OFFSET, AFTER_ID],
            "responses": {**_ok("a page of operations", _ref("OperationPage")),
                          **_errors(400, 401)},
        },
    },
    "/operations/{operation_id}": {
        "parameters": [_path_id("operation_id", "operation")],
        "get": {
            "operationId": "getOperation", "tags": ["operations"],
            "summary": "A bulk operation's progress",
            "responses": {**_ok("the operation", _ref("Operation")), **_errors(400, 401, 404)},
        },
    },
    "/operations/{operation_id}/executions": {
        "parameters": [_path_id("operation_id", "operation")],
        "get": {
            "operationId": "listOperationExecutions", "tags": ["operations"],
            "summary": "The run-nows a bulk run fired, in the order it fired them",
            "description": "Each execution as it is now (scheduled until its result is "
                           "recorded), trigger manual; an operation of another action fired "
                           "none (an empty page). Retention removes them as it removes other "
                           "executions.",
            "parameters": [LIMIT, OFFSET, _param(
                "after", "query", {"type": "string", "pattern": r"^\d+-\d+-m\d+$"},
                "keyset cursor: the page starts after this execution id (the previous "
                "page's next_after)")],
            "responses": {**_ok("a page of executions", _ref("ExecutionPage")),
                          **_errors(400, 401, 404)},
        },
    },
    "/pause": {
        "post": {
            "operationId": "pauseCluster", "tags": ["cluster"],
            "summary": "Stop all planning in the cluster",
            "description": "The leader plans no tick until POST /resume; deliveries already "
                           "dispatched finish (ticks up to PlannerLookAhead seconds ahead may "
                           "still fire). On resume the ticks that fell in the pause follow "
                           "each job's misfire_policy, as after an outage. Shown in "
                           "/healthcheck (planning_paused, pause) and /metrics "
                           "(scheduler0_planning_paused). Pausing again changes nothing.",
            "parameters": [IDEMPOTENCY],
            "requestBody": _json_body(_ref("PauseRequest"), required=False),
            "responses": {**_ok("paused", _ref("Pause")), **_errors(400, 401, 413, 503)},
        },
    },
    "/resume": {
        "post": {
            "operationId": "resumeCluster", "tags": ["cluster"],
            "summary": "Plan again after POST /pause",
            "parameters": [IDEMPOTENCY],
            "requestBody": _json_body(_ref("ResumeRequest"), required=False),
            "responses": {**_ok("resumed", _ref("Pause")), **_errors(400, 401, 413, 503)},
        },
    },
})


# -- failure notifications --------------------------------------------------------------------

NOTIFICATION_EVENT = {
    "type": {"type": "string", "enum": list(notifications.TYPES),
             "description": "job.failed / job.missed: the job's execution ended so while its "
                            "last result was neither (or it had none); job.recovered: it "
                            "succeeded after failing or missing"},
    "project_id": ID, "job_id": ID,
    "job_name": {"type": ["string", "null"], "description": "the job's name when it had one"},
    "execution_id": {"type": "string", "description": "the execution that changed the state"},
    "state": {"type": "string", "enum": list(vocabulary.FINAL_STATES)},
    "previous_state": {"type": ["string", "null"], "enum": [*vocabulary.FINAL_STATES, None],
                       "description": "the job's last result before it (null: none)"},
    "scheduled_at": {"type": "string", "format": "date-time"},
    "http_status": {"type": ["integer", "null"],
                    "description": "the callback's last HTTP status (null: no answer)"},
    "error": {"type": ["string", "null"], "description": "why the execution failed"},
    "attempts": {"type": "integer", "minimum": 0, "description": "the callback's attempts"},
    "created_at": STAMP,
}

SCHEMAS.update({
    "NotificationEvent": {
        "type": "object", "additionalProperties": False,
        "description": "the body POSTed to a project's notification_url in the json format, "
                       "signed as callbacks are",
        "required": ["notification_id", *NOTIFICATION_EVENT],
        "properties": {"notification_id": {
            **ID, "description": "the same at every attempt (Idempotency-Key: "
                                 "notification-<id>): deduplicate on it"}, **NOTIFICATION_EVENT},
    },
    "Notification": {
        "type": "object", "additionalProperties": False,
        "required": ["id", *NOTIFICATION_EVENT, "delivery", "delivery_attempts",
                     "delivery_status", "delivery_error", "settled_at"],
        "properties": {
            "id": {**ID, "description": "notification_id in its body"}, **NOTIFICATION_EVENT,
            "delivery": {"type": "string", "enum": list(notifications.DELIVERY_STATES),
                         "description": "pending: not confirmed sent yet; sent: answered 2xx; "
                                        "failed: given up after its retries (or its URL was "
                                        "removed)"},
            "delivery_attempts": {"type": "integer", "minimum": 0},
            "delivery_status": {"type": ["integer", "null"],
                                "description": "the receiver's last HTTP status"},
            "delivery_error": {"type": ["string", "null"]},
            "settled_at": {**STAMP, "type": ["string", "null"],
                           "description": "when it was sent or given up (null: pending)"}},
    },
    "NotificationPage": _page("notifications", "Notification"),
})

PATHS.update({
    "/projects/{project_id}/notifications": {
        "parameters": [_path_id("project_id", "project")],
        "get": {
            "operationId": "listProjectNotifications", "tags": ["projects"],
            "summary": "The project's recent failure notifications, newest first",
            "description": "One per state change of a job (failed, missed, recovered), with "
                           "how sending it went; the newest "
                           f"{store_notifications.KEEP_SETTLED_PER_PROJECT} sent or given up "
                           "are kept, and every pending one.",
            "parameters": [LIMIT, OFFSET, AFTER_ID, _param(
                "delivery", "query", {"type": "string",
                                      "enum": list(notifications.DELIVERY_STATES)},
                "only those in this delivery state")],
            "responses": {**_ok("a page of notifications", _ref("NotificationPage")),
                          **_errors(400, 401, 404)},
        },
    },
})


# -- manual runs, redelivery and backfill -----------------------------------------------------

BACKFILL_INSTANT = {
    "type": ["string", "number"], "maxLength": v.MAX_INSTANT_TEXT, "minimum": 0,
    "maximum": v.MAX_INSTANT, "examples": ["2026-11-27T00:00:00Z", 1795737600],
    "description": "RFC 3339 (any offset) or epoch seconds; included"}
EXECUTION_ID = _param("execution_id", "path", {
    "type": "string", "pattern": r"^\d+-\d+(-m\d+)?$"},
    "the execution's id as the history shows it: <job_id>-<scheduled_at> for a tick, "
    "<job_id>-<scheduled_at>-m<run> for a run-now")
SCHEMAS.update({
    "RunRequest": {
        "type": "object", "additionalProperties": False,
        "properties": {"data": {
            "type": ["string", "null"], "x-maxBytes": v.MAX_DATA_BYTES,
            "description": "sent instead of the job's data, this once (null or absent: the "
                           "job's data); not for a job delivered with GET, which sends no "
                           "body"}},
    },
    "BackfillRequest": {
        "type": "object", "additionalProperties": False, "required": ["from", "to"],
        "properties": {"from": BACKFILL_INSTANT,
                       "to": {**BACKFILL_INSTANT, "description": "RFC 3339 (any offset) or "
                              "epoch seconds; included; not in the future"}},
    },
    "Backfill": {
        "type": "object", "additionalProperties": False,
        "required": ["job_id", "dry_run", "from", "to", "count", "ticks", "skipped",
                     "first_ticks"],
        "properties": {
            "job_id": ID, "dry_run": {"type": "boolean"}, "from": STAMP, "to": STAMP,
            "count": {"type": "integer", "minimum": 0, "maximum": manual.BACKFILL_CAP,
                      "description": "ticks fired (dry_run: that would be fired), each with "
                                     "its own execution id <job_id>-<scheduled_at>"},
            "ticks": {"type": "integer", "minimum": 0,
                      "description": "ticks of the job's schedule in the range"},
            "skipped": {
                "type": "object", "additionalProperties": False,
                "required": ["recorded", "in_flight", "not_yet_planned"],
                "properties": {
                    "recorded": {"type": "integer", "description": "in the history already "
                                                                   "(any state; redeliver one "
                                                                   "to send it again)"},
                    "in_flight": {"type": "integer", "description": "being delivered now"},
                    "not_yet_planned": {"type": "integer",
                                        "description": "the planner has not reached them "
                                                       "yet (it plans them itself)"}}},
            "first_ticks": {"type": "array", "maxItems": manual.FIRST_TICKS, "items": STAMP,
                            "description": f"the first {manual.FIRST_TICKS} ticks fired"}},
    },
})
PATHS.update({
    "/jobs/{job_id}/run": {
        "parameters": JOB_REF,
        "post": {
            "operationId": "runJob", "tags": ["jobs"], "summary": "Run a job once, now",
            "description": "Commits one execution of the job at this second through Raft, as "
                           "a planned tick is, then answers 202 with it (state scheduled): "
                           "delivered once even if the leader changes after the answer. Its "
                           "execution_id is <job_id>-<scheduled_at>-m<run> (never a tick's) "
                           "and its trigger manual. The job's schedule is not changed, and "
                           "a paused job runs too. Its result shows in the history and the "
                           "rollups, not in the job's last_state (which follows its "
                           "schedule). It runs even while the cluster is paused (POST "
                           "/pause stops the planning of ticks). With the same "
                           "Idempotency-Key a retry answers the same execution and runs "
                           "nothing more.",
            "parameters": [IDEMPOTENCY],
            "requestBody": _json_body(_ref("RunRequest"), required=False),
            "responses": {**_ok("committed; delivered within a planning round",
                                _ref("Execution"), "202"),
                          **_errors(400, 401, 404, 409, 413, 503)},
        },
    },
    "/jobs/{job_id}/backfill": {
        "parameters": JOB_REF,
        "post": {
            "operationId": "backfillJob", "tags": ["jobs"],
            "summary": "Fire the past ticks of a job's schedule that never ran",
            "description": "Every tick of the job's schedule from `from` to `to` (both "
                           "included; at most "
                           f"{manual.BACKFILL_CAP} ticks, a larger range is a 400) that is "
                           "not in the history nor being delivered, and that the planner has "
                           "passed already, is committed (one Raft command) and delivered "
                           "once, with its own execution id <job_id>-<scheduled_at> and "
                           "trigger backfill; the job's start_date, end_date, creation and "
                           "pause do not restrict it. A recorded tick (even missed) is "
                           "skipped: redeliver it to send it again. Only ticks still in the "
                           "history count as recorded: a succeeded tick older than "
                           "SucceededRetentionMinutes is fired again (receivers deduplicate on "
                           "execution_id). A range ending in the future is refused.",
            "parameters": [IDEMPOTENCY, _param(
                "dry_run", "query", {"type": "boolean", "default": False},
                "true: answer 200 with what it would fire, by this node's copy of the store, "
                "and commit nothing")],
            "requestBody": _json_body(_ref("BackfillRequest")),
            "responses": {**_ok("committed; delivered over the next planning rounds",
                                _ref("Backfill"), "202"),
                          **_ok("dry_run=true: nothing committed", _ref("Backfill")),
                          **_errors(400, 401, 404, 409, 413, 503)},
        },
    },
    "/executions/{execution_id}": {
        "parameters": [EXECUTION_ID],
        "get": {
            "operationId": "getExecution", "tags": ["executions"],
            "summary": "One execution as it is now",
            "description": "scheduled while a delivery of it (a redelivery's too) is in "
                           "flight, else as recorded",
            "responses": {**_ok("the execution", _ref("Execution")),
                          **_errors(400, 401, 404)},
        },
    },
    "/executions/{execution_id}/redeliver": {
        "parameters": [EXECUTION_ID],
        "post": {
            "operationId": "redeliverExecution", "tags": ["executions"],
            "summary": "Send a finished execution again, with the same execution id",
            "description": "Commits a new delivery of a recorded execution (any final state) "
                           "and answers 202 with it, scheduled again. Its result replaces the "
                           "recorded one (state, attempts, status, node, times, error) and "
                           "adds 1 to redeliveries; the rollups count the execution once, in "
                           "its new state, in its tick's minute and hour. The callback is the "
                           "job's as it is now (a run-now's own data again). 409 while a "
                           "delivery of it is in flight; 404 when the history does not hold "
                           "it (never ran, or removed by retention).",
            "parameters": [IDEMPOTENCY],
            "responses": {**_ok("committed", _ref("Execution"), "202"),
                          **_errors(400, 401, 404, 409, 503)},
        },
    },
})


def _declare_access(paths: dict[str, Any]) -> None:
    """Each operation's need from scheduler0.api.access.ROUTES (the table the API enforces),
    as x-required-role and x-all-projects, a sentence of its description and its 403."""
    for path, item in paths.items():
        for method, op in item.items():
            if method == "parameters":
                continue
            need = access.ROUTES[f"{method.upper()} {path}"]
            if need.role is None:
                continue
            op["x-required-role"] = need.role
            op["x-all-projects"] = need.all_projects
            sentence = f"Needs {need.describe()}."
            op["description"] = f"{sentence} {op['description']}" if "description" in op else (
                sentence)
            op["responses"].setdefault("403", {"$ref": "#/components/responses/Forbidden"})


# -- the console's reads -----------------------------------------------------------------------

_COUNT = {"type": "integer", "minimum": 0}
_EXACT_FLAGS = {"type": "object", "additionalProperties": False,
                "required": ["total", "paused", "failing", "completed"],
                "properties": {name: {"type": "boolean"} for name in
                               ("total", "paused", "failing", "completed")},
                "description": "false: the count was capped (at least that many)"}
SCHEMAS.update({
    "Summary": {
        "type": "object", "additionalProperties": False, "required": ["jobs", "last_day"],
        "properties": {
            "jobs": {"type": "object", "additionalProperties": False,
                     "required": ["total", "paused", "failing", "completed", "exact"],
                     "properties": {
                         "total": {**_COUNT, "description": "every job (a counter; for a "
                                                            "limited credential its projects', "
                                                            "counted up to 10000)"},
                         "paused": {**_COUNT, "description": "paused (jobs_paused)"},
                         "failing": {**_COUNT, "description": "whose last result failed or "
                                                              "was missed (job_last_failing)"},
                         "completed": {**_COUNT, "description": (
                             "not paused, on a schedule with no fire time left (one-offs "
                             "that fired); a job whose own end_date passed while its "
                             "schedule goes on is not counted: no index holds it")},
                         "exact": _EXACT_FLAGS}},
            "last_day": {"type": "object", "additionalProperties": False,
                         "required": ["since", "until", "succeeded", "failed", "missed"],
                         "properties": {
                             "since": {**INSTANT, "description": "the start of the first hour "
                                                                 "counted: the 24 hourly "
                                                                 "rollups up to now"},
                             "until": INSTANT,
                             "succeeded": _COUNT, "failed": _COUNT,
                             "missed": {**_COUNT, "description": "misfires: ticks recorded "
                                                                 "missed"}}}},
    },
    "Load": {
        "type": "object", "additionalProperties": False,
        "required": ["from", "minutes", "seconds", "bucket_seconds", "buckets", "total",
                     "mean_per_second", "peak", "threshold", "schedules", "truncated",
                     "bursts"],
        "properties": {
            "from": {**INSTANT, "description": "the first second counted (now + 1 s)"},
            "minutes": {"type": "integer"}, "seconds": {"type": "integer"},
            "bucket_seconds": {"type": "integer", "minimum": 1,
                               "description": "seconds per entry of buckets: 1 up to 60 "
                                              "minutes, more beyond (at most "
                                              f"{load.MAX_BUCKETS} entries)"},
            "buckets": {"type": "array", "items": _COUNT,
                        "description": "executions due per bucket, from `from` on"},
            "total": _COUNT,
            "mean_per_second": {"type": "number"},
            "peak": {"type": "object", "additionalProperties": False,
                     "required": ["at", "executions"],
                     "properties": {"at": INSTANT, "executions": _COUNT}},
            "threshold": {"type": "number",
                          "description": "a second above this many executions is a burst "
                                         f"(threshold=, else {load.BURST_FACTOR} times the "
                                         "mean, at least 1)"},
            "schedules": {**_COUNT, "description": "schedules that fire in the window"},
            "truncated": {"type": "boolean",
                          "description": "a cap was reached (more than "
                                         f"{load_reads.MAX_SCHEDULES} schedules, "
                                         f"{load_reads.MAX_PAUSED} paused jobs or "
                                         f"{load.MAX_FIRE_TIMES} fire times): the counts are "
                                         "partial"},
            "bursts": {"type": "array", "maxItems": load.MAX_BURSTS, "items": {
                "type": "object", "additionalProperties": False,
                "required": ["at", "epoch", "executions", "causes"],
                "properties": {
                    "at": INSTANT, "epoch": {"type": "integer"}, "executions": _COUNT,
                    "causes": {"type": "array", "maxItems": load.MAX_CAUSES, "items": {
                        "type": "object", "additionalProperties": False,
                        "required": ["spec", "timezone", "jobs", "suggestion"],
                        "properties": {
                            "spec": {"type": "string",
                                     "description": "the schedule's concrete spec (a job's "
                                                    "H already resolved)"},
                            "timezone": {"type": "string"},
                            "jobs": {**_COUNT, "description": "its unpaused jobs"},
                            "suggestion": {"type": ["string", "null"],
                                           "description": "the spec with H in its finest "
                                                          "fixed field (0 * * * * -> H * * "
                                                          "* *, */5 -> H/5, @every 1m -> "
                                                          "@every 1m H): each job then "
                                                          "fires at its own second; null: "
                                                          "no advice"}}}}}}},
        },
    },
})
PATHS.update({
    "/summary": {
        "get": {
            "operationId": "summary", "tags": ["console"],
            "summary": "The overview's counts: jobs total, paused, failing, completed; the "
                       "last day's executions (misfires: missed)",
            "description": "Each count comes from a counter or an index (capped at 10000), "
                           "for the projects the credential sees.",
            "responses": {**_ok("the counts", _ref("Summary")), **_errors(401)},
        },
    },
    "/load": {
        "get": {
            "operationId": "upcomingLoad", "tags": ["console"],
            "summary": "Executions due per second over the next minutes, the busiest seconds "
                       "and the schedules causing them, with an H spelling that spreads them",
            "description": "Computed from the schedules, not the jobs: each schedule that "
                           "fires in the window (schedules_next_fire) has its fire times "
                           "computed once and counted times its unpaused jobs (jobs_schedule "
                           "index entries, less the paused ones). A job's own start and end "
                           "dates are not read: an upper bound. The whole cluster's, so it "
                           "needs a credential for every project.",
            "parameters": [
                _param("minutes", "query", {"type": "integer", "minimum": 1,
                                            "maximum": v.MAX_LOAD_MINUTES,
                                            "default": v.DEFAULT_LOAD_MINUTES},
                       "how far ahead"),
                _param("threshold", "query", {"type": "integer", "minimum": 1,
                                              "maximum": v.MAX_LOAD_THRESHOLD},
                       "a second above this many executions is a burst (default: "
                       f"{load.BURST_FACTOR} times the mean)")],
            "responses": {**_ok("the load", _ref("Load")), **_errors(400, 401)},
        },
    },
})

_declare_access(PATHS)


def _declare_key_reuse(paths: dict[str, Any]) -> None:
    """Every write that takes an Idempotency-Key may answer 422 idempotency_key_reused."""
    for item in paths.values():
        for operation in item.values():
            if isinstance(operation, dict) and IDEMPOTENCY in operation.get("parameters", []):
                operation["responses"].update(_errors(422))


_declare_key_reuse(PATHS)

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "scheduler0", "version": __version__, "description": DESCRIPTION,
             "license": {"name": "MIT", "identifier": "MIT"}},
    "servers": [{"url": "/api/v1", "description": "this node"},
                {"url": "/v1", "description": "the same routes (the original README's path)"}],
    "security": [{"apiKey": [], "secretKey": []}, {"nodeBasic": []}],
    "tags": [{"name": name} for name in ("credentials", "projects", "jobs", "operations",
                                         "executions", "schedules", "cluster", "health",
                                         "meta", "console")],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "responses": RESPONSES,
        "securitySchemes": {
            "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            "secretKey": {"type": "apiKey", "in": "header", "name": "x-secret-key"},
            "nodeBasic": {"type": "http", "scheme": "basic",
                          "description": "the node secrets' AuthUsername and AuthPassword "
                                         "(CLI and node-to-node calls)"},
        },
    },
}


def document() -> dict[str, Any]:
    """A copy of the document (callers may not change the shared one)."""
    return copy.deepcopy(DOCUMENT)
