"""Store rows to API objects: snake_case fields, instants as RFC 3339 UTC strings or null.

Rows name epoch-millisecond times `*_ms` (created_at_ms -> created_at, with milliseconds) and
keep other instants in epoch seconds (start_date, scheduled_at, ...), written without a fraction.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring_ascii
from typing import Any

from scheduler0 import notifications
from scheduler0.schedule import format_rfc3339_utc, format_rfc3339_utc_ms
from scheduler0.schedule.load import Load
from scheduler0.store import hosts
from scheduler0.store.history import ROLLUP_COLUMNS
from scheduler0.store.reads import Page
from scheduler0.vocabulary import DEFAULT_CREDENTIAL_ROLE, JOB_API_FIELDS, JobField, Kind, Trigger

Row = Mapping[str, Any]


# Cached: a page or a batch of jobs shares most of its instants (created_at, next tick).
@functools.lru_cache(maxsize=4096)
def instant(seconds: Any) -> str | None:
    return None if seconds is None else format_rfc3339_utc(seconds)


@functools.lru_cache(maxsize=4096)
def instant_ms(millis: Any) -> str | None:
    return None if millis is None else format_rfc3339_utc_ms(millis)


def credential(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "api_key": row["api_key"],
        "archived": bool(row["archived"]),
        "role": row.get("role") or DEFAULT_CREDENTIAL_ROLE,
        "projects": row.get("projects"),
        "created_at": instant_ms(row.get("created_at_ms")),
        "updated_at": instant_ms(row.get("updated_at_ms")),
    }


def project(row: Row) -> dict[str, Any]:
    result = {
        "id": row["id"],
        "name": row["name"],
        "description": row.get("description") or "",
        "created_at": instant_ms(row.get("created_at_ms")),
        "updated_at": instant_ms(row.get("updated_at_ms")),
        "previous_signing_secret_expires_at": instant(
            row.get("previous_signing_secret_expires_at")),
        "notification_url": row.get("notification_url"),
        "notification_format": row.get("notification_format") or notifications.DEFAULT_FORMAT,
        "rate_limit": row.get("rate_limit"),
    }
    if row.get("signing_secret"):
        result["signing_secret"] = row["signing_secret"]
    return result


def project_counted(row: Row, job_count: int) -> dict[str, Any]:
    """A project as GET /projects and GET /projects/{id} answer it: with its job count (what a
    cascading delete takes with it)."""
    return {**project(row), "job_count": job_count}


def _job_value(field: JobField) -> str:
    """The expression of one field of a reply's job, read from the store row `row` (which
    names a stored field by its column)."""
    value = f"row.get({(field.column or field.name)!r})"
    if field.kind is Kind.INSTANT:
        return f"instant({value})"
    if field.kind is Kind.INSTANT_MS:
        return f"instant_ms({value})"
    if field.kind is Kind.BOOLEAN:
        return f"bool({value})"
    if field.kind in _JSON_KINDS:
        return f"from_json({value})"
    if field.kind is Kind.LABELS:
        return f"labels_of({value})"
    if field.default:  # a row without the value (data stored as NULL) shows the default
        return f"({value} or {field.default!r})"
    return value


# Fields the store keeps as JSON text (a job's headers, its success codes): answered as the
# object or list the text holds.
_JSON_KINDS = frozenset({Kind.HEADERS, Kind.STATUSES})


def from_json(text: str | None) -> Any:
    """The value of a JSON text column (None for NULL)."""
    return None if text is None else json.loads(text)


def labels_of(text: str | None) -> dict[str, str]:
    """A job's labels from their stored text: {} for none (NULL)."""
    return {} if text is None else json.loads(text)


def labels_json(text: str | None) -> str:
    """A job's labels as the reply's JSON: the stored text is already that (compact, sorted
    keys, ASCII: scheduler0.labels.canonical_text), so jobs_json writes it as it is."""
    return "{}" if text is None else text


def _compile_job() -> Callable[[Row], dict[str, Any]]:
    """`job(row)`, written out from vocabulary.JOB_API_FIELDS as one dict display and compiled
    once: that runs 1.7 times as fast as a loop over the table (measured), and the reply to a
    10,000-job POST serialises 10,000 jobs."""
    items = ", ".join(f"{f.name!r}: {_job_value(f)}" for f in JOB_API_FIELDS)
    namespace: dict[str, Any] = {"instant": instant, "instant_ms": instant_ms,
                                 "from_json": from_json, "labels_of": labels_of}
    exec(f"def job(row):\n    return {{{items}}}\n", namespace)  # items: the table's literals
    compiled: Callable[[Row], dict[str, Any]] = namespace["job"]
    compiled.__doc__ = "A store job row as the API answers it: vocabulary.JOB_API_FIELDS."
    return compiled


job = _compile_job()


def job_status(shown: Mapping[str, Any]) -> str:
    """paused, else completed (no tick left), else active: what `GET /jobs?status=` filters."""
    return "paused" if shown["paused"] else "completed" if shown["completed"] else "active"


def listed_job(row: Row) -> dict[str, Any]:
    """A job of GET /jobs: `job`, and what the jobs screen shows besides: its status, its
    callback URL's host, and how late its last result's tick started."""
    shown = job(row)
    shown["status"] = job_status(shown)
    shown["callback_host"] = hosts.callback_host(row["callback_url"])
    shown["last_late_ms"] = row.get("last_late_ms")
    return shown


def _same(value: Any) -> Any:
    return value


def _converter(field: JobField) -> Callable[[Any], Any]:
    """`_job_value` as a function of the stored value."""
    if field.kind is Kind.INSTANT:
        return instant
    if field.kind is Kind.INSTANT_MS:
        return instant_ms
    if field.kind is Kind.BOOLEAN:
        return bool
    if field.kind in _JSON_KINDS:
        return from_json
    if field.kind is Kind.LABELS:
        return labels_json  # written as JSON already: see jobs_json
    if field.default:
        default = field.default
        return lambda value: value or default
    return _same


_JOB_CONVERTERS = tuple((f, f.column or f.name, _converter(f)) for f in JOB_API_FIELDS)
# The app's JSON (scheduler0.api.app: compact, keys in order, ASCII only), so that what is
# written here is byte for byte what jsonify writes.
_JSON = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))


def jobs_json(created: Mapping[str, Any], many: bool) -> list[str]:
    """The created jobs of a job.create result in columns (messages.JobCreate) as JSON, as
    `job` answers each and jsonify writes them: the array when `many`, else the one job. In
    pieces, for the caller to join with the rest of the reply in one copy.

    A value every job shares is converted and written once, and the constant text between the
    values that differ is repeated by C iterators: a 10,000-job POST answers 10,000 jobs, and
    building each as a dict (or a string) first took most of that POST's time in the API
    process (measured).
    """
    count, columns = created["count"], created["columns"]
    constant: list[str] = ["{"]
    between: list[str] = []  # the constant text before each varying value
    varying: list[list[str]] = []
    for i, (field, source, convert) in enumerate(_JOB_CONVERTERS):
        key = ("," if i else "") + encode_basestring_ascii(field.name) + ":"
        column = columns.get(source)
        if isinstance(column, list):
            between.append("".join(constant) + key)
            constant = []
            varying.append(list(map(convert, column)) if convert is labels_json else
                           _json_texts(column if convert is _same else list(map(convert, column))))
        elif convert is labels_json:
            constant.append(key + labels_json(column))
        else:
            constant.append(key + _JSON.encode(convert(column)))
    constant.append("}")
    last = "".join(constant)  # the constant text after the last varying value
    if not varying:
        return ["[", ",".join([last] * count), "]"] if many else [last]
    # Job after job: between[0] v0 between[1] v1 ... last, with a comma between jobs.
    pieces: list[Any] = []
    for text, values in zip(between[1:], varying, strict=False):
        pieces += [values, itertools.repeat(text, count)]
    pieces += [varying[-1], itertools.chain(itertools.repeat(last + "," + between[0], count - 1),
                                            ("",))]
    body = "".join(itertools.chain.from_iterable(zip(*pieces, strict=False)))
    return ["[", between[0], body, last, "]"] if many else [between[0], body, last]


def _json_texts(values: list[Any]) -> list[str]:
    kinds = set(map(type, values))
    if kinds == {str}:
        return list(map(encode_basestring_ascii, values))
    if kinds == {int}:
        return list(map(int.__repr__, values))
    return list(map(_JSON.encode, values))


def execution(row: Row) -> dict[str, Any]:
    return {
        "execution_id": row["execution_id"],
        "job_id": row["job_id"],
        "project_id": row.get("project_id"),
        "scheduled_at": instant(row.get("scheduled_at")),
        "state": row.get("state"),
        "attempts": row.get("attempts") or 0,
        "http_status": row.get("http_status"),
        "node_id": row.get("node_id"),
        "batch_id": row.get("batch_id"),
        "error": row.get("error"),
        "planned_at": instant_ms(row.get("planned_at_ms")),
        "started_at": instant_ms(row.get("started_at_ms")),
        "finished_at": instant_ms(row.get("finished_at_ms")),
        "trigger": row.get("trigger") or Trigger.SCHEDULE.value,
        "redeliveries": row.get("redeliveries") or 0,
    }


def notification(row: Row) -> dict[str, Any]:
    """A notification of the outbox (store/notifications.listed) and how sending it went:
    the fields its JSON body has (`notification_id` as `id`), then delivery (pending, sent
    or failed), the attempts, the receiver's last status and error, and when it settled."""
    shown = notifications.event(row["notification"])
    shown = {"id": shown.pop("notification_id"), **shown}
    return {**shown, "delivery": row["delivery"], "delivery_attempts": row["delivery_attempts"],
            "delivery_status": row["delivery_status"], "delivery_error": row["delivery_error"],
            "settled_at": instant_ms(row["settled_at_ms"])}


def rollup(row: Row) -> dict[str, Any]:
    """One period's counts: the executions recorded per final state and the lateness of
    those that started, in buckets."""
    return {"period_start": instant(row["period_start"]),
            **{name: row[name] for name in ROLLUP_COLUMNS}}


def page(name: str, found: Page, limit: int, offset: int,
         convert: Callable[[Row], dict[str, Any]], *, scans: bool = False) -> dict[str, Any]:
    """A list answer: the original's page shape `{"total", "limit", "offset", name: [...]}`
    plus `total_exact` (False: at least `total` rows match) and `next_after` (the cursor of
    the next page, null on the last); with `scans` (a list whose filters may be a bounded
    scan) also `scan_limited`."""
    answer: dict[str, Any] = {"total": int(found.total), "total_exact": found.exact,
                              "limit": limit, "offset": offset, "next_after": found.next_after}
    if scans:
        answer["scan_limited"] = found.scan_limited
    answer[name] = [convert(row) for row in found.rows]
    return answer


def operation(row: Row) -> dict[str, Any]:
    """A bulk operation and its progress (store/operations.py's row)."""
    return {
        "id": row["id"],
        "action": row["action"],
        "selection": row["selection"],
        "labels": row.get("labels"),
        "total": row["total"],
        "done": row["done"],
        "skipped": row["skipped"],
        "skipped_ids": list(row.get("skipped_ids") or ()),
        "state": row["state"],
        "errors": list(row.get("errors") or ()),
        "projects": row.get("projects"),
        "created_by": row["created_by"],
        "node_id": row["runner_node"],
        "created_at": instant_ms(row["created_at_ms"]),
        "updated_at": instant_ms(row["updated_at_ms"]),
        "finished_at": instant_ms(row.get("finished_at_ms")),
    }


def pause(row: Row) -> dict[str, Any]:
    """Whether planning is paused in the cluster, since when and by whom, and the last resume."""
    return {
        "paused": bool(row["paused"]),
        "paused_at": instant_ms(row.get("paused_at_ms")),
        "paused_by": row.get("paused_by"),
        "reason": row.get("reason"),
        "resumed_at": instant_ms(row.get("resumed_at_ms")),
        "resumed_by": row.get("resumed_by"),
    }


def summary(counts: Row, now: int) -> dict[str, Any]:
    """The overview's counts (store/summary_reads.py)."""
    last_day = counts["last_day"]
    return {"jobs": counts["jobs"], "last_day": {
        "since": instant(last_day["since"]), "until": instant(now),
        "succeeded": last_day["succeeded"], "failed": last_day["failed"],
        "missed": last_day["missed"]}}


def load(found: Load, minutes: int, schedules: int, capped: bool) -> dict[str, Any]:
    """The upcoming load (scheduler0.schedule.load.Load) as GET /load answers it."""
    return {
        "from": instant(found.start), "minutes": minutes, "seconds": found.seconds,
        "bucket_seconds": found.bucket_seconds, "buckets": list(found.buckets),
        "total": found.total, "mean_per_second": round(found.mean_per_second, 3),
        "peak": {"at": instant(found.peak_at), "executions": found.peak},
        "threshold": found.threshold, "schedules": schedules,
        "truncated": bool(found.truncated or capped),
        "bursts": [{"at": instant(burst.at), "epoch": burst.at, "executions": burst.executions,
                    "causes": [{"spec": cause.spec, "timezone": cause.timezone,
                                "jobs": cause.jobs, "suggestion": cause.suggestion}
                               for cause in burst.causes]} for burst in found.bursts],
    }
