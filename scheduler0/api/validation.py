"""Request validation: raw JSON and query strings in, normalised values out.

Every function here either returns a normalised value or raises an ApiError (almost always a
400 ValidationError) whose message starts with the field's path and says what to send instead:

    spec: minute field: 61 is out of range 0-59
    jobs[17].callback_url: 'ftp://x' is not an absolute http(s) URL; send e.g. https://host/path

The machine code is `invalid_<field>` (`invalid_spec`, `invalid_callback_url`, ...), or
`unknown_field`, `invalid_json`, `invalid_body`. Nothing here touches the store, the network or
the clock: the time (`now`) and the callback host check are passed in, and the schedule engine
it calls is pure. The handlers check what needs the store (does project 7 exist?).
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from scheduler0 import labels, messages, notifications, schedule, vocabulary
from scheduler0.config import MAX_SIGNING_SECRET_GRACE
from scheduler0.delivery import target as callback_target
from scheduler0.errors import PayloadTooLargeError, ScheduleError, ValidationError
from scheduler0.store import execution_browse, hosts
from scheduler0.store import job_browse as job_browse_store
from scheduler0.vocabulary import EXECUTION_STATES, JOB_INPUT_FIELDS, ExecutionState, JobField, Kind

MAX_ID = vocabulary.MAX_ID
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_OFFSET = 2**53
MAX_JOBS_PER_REQUEST = 10_000


def _job_limit(name: str, unit: str) -> int:
    limit = getattr(vocabulary.JOB_FIELD[name], unit)
    if not isinstance(limit, int):
        raise TypeError(f"vocabulary.JOB_FIELDS gives {name} no {unit}")
    return limit


# A job's limits are its fields' (vocabulary.JOB_FIELDS), named here for the checks and callers.
MAX_DATA_BYTES = _job_limit("data", "max_bytes")
MAX_URL_LENGTH = _job_limit("callback_url", "max_length")
MAX_SPEC_LENGTH = _job_limit("spec", "max_length")
MAX_TIMEZONE_LENGTH = _job_limit("timezone", "max_length")
MAX_NAME_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 4096
MAX_PREVIEW_COUNT = 1000
DEFAULT_PREVIEW_COUNT = 10
MAX_INSTANT_TEXT = 64  # characters of an instant written as text
# The schedule engine's last instant (9999-12-30): later ones cannot be scheduled.
MAX_INSTANT = schedule.MAX_EPOCH
# What Go's encoding/json writes for an unset time.Time: the original's clients send it for
# startDate/endDate, meaning "none".
GO_ZERO_TIME = "0001-01-01T00:00:00Z"
EXECUTION_TYPES = vocabulary.EXECUTION_TYPES
MAX_IDEMPOTENCY_KEY = 200
MAX_GRACE_SECONDS = MAX_SIGNING_SECRET_GRACE
# Embeddings, overrides, isolates and marks that reorder how text displays (Trojan Source).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                          "\u2066\u2067\u2068\u2069")
DEFAULT_MISFIRE_POLICY = vocabulary.MisfirePolicy.RUN_ONCE.value

# A job body's fields (vocabulary.JOB_FIELDS): what create accepts, what update may change, the
# Go spellings, and fields accepted on input but ignored (the original's read-only or unused
# fields, and our own answered-only fields, so a GET result can be sent back).
JOB_INPUTS = tuple(f.name for f in JOB_INPUT_FIELDS)
JOB_UPDATABLE = vocabulary.JOB_UPDATABLE
JOB_ALIASES = vocabulary.JOB_ALIASES
JOB_IGNORED = vocabulary.JOB_IGNORED

_MISSING: Any = object()


def _show(value: Any, limit: int = 60) -> str:
    """A value quoted for an error message, cut short so a huge input stays out of the reply."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def invalid(path: str, message: str, code_field: str | None = None) -> ValidationError:
    """A 400 whose message starts with the field path and code is `invalid_<field>`."""
    name = code_field or path.rsplit(".", 1)[-1]
    return ValidationError(f"{path}: {message}", code=f"invalid_{name}")


# -- bodies ------------------------------------------------------------------------------------


def parse_json(raw: bytes, *, required: bool = True) -> Any:
    """The request body decoded as JSON; `None` for an empty body when not `required`."""
    if not raw.strip():
        if required:
            raise ValidationError("request body required: send a JSON document with "
                                  "Content-Type: application/json", code="invalid_json")
        return None
    try:
        return _decode_json(raw)
    except (msgspec.MsgspecError, ValueError, RecursionError):
        pass  # json.loads decides, and words the error, as it always has
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValidationError("body: JSON nested too deeply", code="invalid_json") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limit
        raise ValidationError(f"body: malformed JSON ({_first_line(exc)}); send valid JSON",
                              code="invalid_json") from None


# msgspec reads a strict subset of what json.loads reads (no NaN, no number out of a float's
# range, no lone surrogate, UTF-8 only), to the same values, and a 10,000-job body in about
# 40% less time (measured); whatever it refuses goes to json.loads.
_decode_json = msgspec.json.Decoder().decode


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def expect_object(body: Any, what: str = "body") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationError(f"{what}: expected a JSON object, got {labels.json_kind(body)}",
                              code="invalid_body")
    return body


def known_fields(raw: Mapping[str, Any], allowed: Iterable[str], prefix: str = "") -> dict[str, Any]:
    """`raw`, checked to hold only `allowed` fields; 400 on an unknown field."""
    allowed = tuple(allowed)
    return resolve_spellings(raw, {name: name for name in allowed}, allowed, prefix)


def resolve_spellings(raw: Mapping[str, Any], spellings: Mapping[str, str | None],
                      accepted: Iterable[str], prefix: str = "") -> dict[str, Any]:
    """`raw` by canonical names: `spellings` maps each accepted spelling to its field, or to
    None for one ignored on input. 400 on an unknown field or a field given in two spellings."""
    result: dict[str, Any] = {}
    for key, value in raw.items():
        name = spellings.get(key, _MISSING)
        if name is None:
            continue
        if name is _MISSING:
            raise ValidationError(f"{prefix}{_show(key)}: unknown field; accepted fields: "
                                  f"{', '.join(accepted)}", code="unknown_field")
        if name in result:
            raise ValidationError(f"{prefix}{name}: given twice (as {name} and its camelCase "
                                  "spelling); send one of them", code=f"invalid_{name}")
        result[name] = value
    return result



def text(value: Any, path: str, *, max_length: int, allow_empty: bool = False,
         code_field: str | None = None, forbid: Callable[[str], str | None] | None = None
         ) -> str:
    """A JSON string: valid Unicode (no lone surrogates), within `max_length` characters, and
    without a character `forbid` names (it returns what the character is, else None)."""
    if not isinstance(value, str):
        raise invalid(path, f"expected a string, got {labels.json_kind(value)}", code_field)
    if len(value) > max_length:
        raise invalid(path, f"{len(value)} characters is too long; at most {max_length}",
                      code_field)
    if not value.strip() and not allow_empty:
        raise invalid(path, "must not be empty", code_field)
    _check_unicode(value, path, code_field)
    if forbid is not None:
        _check_forbidden(value, path, forbid, code_field)
    return value


def name_text(value: Any, path: str) -> str:
    """A name shown in lists and logs: no control or bidirectional-override characters."""
    return text(value, path, max_length=MAX_NAME_LENGTH, forbid=unsafe_in_name).strip()


def unsafe_in_text(ch: str) -> str | None:
    """NUL truncates text in C tools and logs; bidi controls make text read as other text."""
    if ch == "\0":
        return "a NUL character (U+0000)"
    if ch in BIDI_CONTROLS:
        return f"a bidirectional control character (U+{ord(ch):04X})"
    return None


def unsafe_in_name(ch: str) -> str | None:
    """Names are one line of plain text: no control character at all, beyond unsafe_in_text."""
    found = unsafe_in_text(ch)
    if found is None and unicodedata.category(ch) == "Cc":
        return f"a control character (U+{ord(ch):04X})"
    return found


def _check_forbidden(value: str, path: str, forbid: Callable[[str], str | None],
                     code_field: str | None) -> None:
    for index, ch in enumerate(value):
        if ch.isprintable() and ch not in BIDI_CONTROLS:
            continue  # the common case, cheaply
        found = forbid(ch)
        if found is not None:
            raise invalid(path, f"contains {found} at position {index}; remove it",
                          code_field)


def _check_unicode(value: str, path: str, code_field: str | None = None) -> bytes:
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid(path, "contains a lone UTF-16 surrogate (\\ud800-\\udfff); send valid "
                      "Unicode text", code_field) from None


def boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise invalid(path, f"expected true or false, got {labels.json_kind(value)}")
    return value


def identifier(value: Any, path: str) -> int:
    """A JSON integer usable as a row id (1 .. 2**63-1)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(path, f"expected an integer id, got {labels.json_kind(value)}")
    if not 1 <= value <= MAX_ID:
        raise invalid(path, f"{_show(value)} is out of range; ids are 1-{MAX_ID}")
    return value


def path_id(raw: str, name: str = "id") -> int:
    """An id taken from the URL path."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or not 1 <= int(raw) <= MAX_ID:
        raise ValidationError(f"{name}: {_show(raw)} is not a valid id; use a positive integer "
                              f"up to {MAX_ID}", code="invalid_id")
    return int(raw)


def instant(value: Any, path: str) -> int | None:
    """An instant given as RFC 3339 text or epoch seconds; None for null or Go's zero time."""
    if value is None or value == GO_ZERO_TIME:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise invalid(path, f"expected an RFC 3339 time such as 2030-01-02T15:04:05Z or epoch "
                      f"seconds, got {labels.json_kind(value)}")
    if isinstance(value, str):
        text(value, path, max_length=MAX_INSTANT_TEXT)
        try:
            seconds = schedule.parse_instant(value, path)
        except ScheduleError as exc:
            raise invalid(path, _strip_field(exc.message, path)) from None
    else:
        if isinstance(value, float) and not math.isfinite(value):
            raise invalid(path, "expected a finite number of epoch seconds")
        # The range is checked before the fraction is dropped, as the schema's minimum and
        # maximum say: -0.5 is out of range, not 1970-01-01T00:00:00Z.
        seconds = int(value) if 0 <= value <= MAX_INSTANT else -1
    if not 0 <= seconds <= MAX_INSTANT:
        raise invalid(path, f"{_show(value)} is out of range; use a time between "
                      f"1970-01-01T00:00:00Z and {schedule.format_rfc3339_utc(MAX_INSTANT)}")
    return seconds


def _strip_field(message: str, path: str) -> str:
    """Engine messages may already start with the field name; avoid `x: x: ...`."""
    for head in (path + ": ", path.rsplit(".", 1)[-1] + ": "):
        if message.startswith(head):
            return message[len(head):]
    return message


# -- query strings -----------------------------------------------------------------------------


def query_int(args: Mapping[str, str], name: str, *, default: int | None, low: int,
              high: int) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    raw = raw.strip()
    digits = raw[1:] if raw[:1] in "+-" else raw
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19 or not (
            low <= int(raw) <= high):
        raise ValidationError(f"{name}: {_show(raw)} is not accepted; use an integer "
                              f"{low}-{high}", code=f"invalid_{name}")
    return int(raw)


def query_bool(args: Mapping[str, str], name: str) -> bool | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValidationError(f"{name}: {_show(raw)} is not accepted; use true or false",
                          code=f"invalid_{name}")


def query_id(args: Mapping[str, str], name: str, alias: str | None = None) -> int | None:
    raw = args.get(name)
    if (raw is None or raw == "") and alias:
        raw = args.get(alias)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or not 1 <= int(raw) <= MAX_ID:
        raise ValidationError(f"{name}: {_show(raw)} is not a valid id; use a positive integer",
                              code=f"invalid_{name}")
    return int(raw)


def query_instant(args: Mapping[str, str], name: str) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    stripped = raw.strip()
    if stripped.isascii() and stripped.isdigit() and len(stripped) <= 12:
        value: Any = int(stripped)
    else:
        value = stripped
    return instant(value, name)


def pagination(args: Mapping[str, str]) -> tuple[int, int]:
    """(limit, offset): limit 1-1000 (default 50), offset 0 and up (default 0)."""
    limit = query_int(args, "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
    offset = query_int(args, "offset", default=0, low=0, high=MAX_OFFSET)
    assert limit is not None and offset is not None
    return limit, offset


# -- credentials and projects -----------------------------------------------------------------


def credential_create(body: Any) -> dict[str, Any]:
    """`{}`, an empty body, or any of `{"archived": bool, "role": "read"|"write"|"admin",
    "projects": [id, ...] | null}`; without role or projects, admin for every project."""
    fields = {} if body is None else known_fields(expect_object(body),
                                                  ("archived", "role", "projects"))
    return {"archived": boolean(fields.get("archived", False), "archived"),
            "role": credential_role(fields.get("role", vocabulary.DEFAULT_CREDENTIAL_ROLE)),
            "projects": credential_projects(fields.get("projects"))}


ROLE_MEANINGS = "read (GET only), write (also jobs) or admin (also projects, credentials, cluster)"


def credential_role(value: Any) -> str:
    if not isinstance(value, str):
        raise invalid("role", f"expected a string, got {labels.json_kind(value)}; use {ROLE_MEANINGS}")
    if value not in vocabulary.CREDENTIAL_ROLES:
        raise invalid("role", f"{_show(value)} is not a role; use {ROLE_MEANINGS}")
    return value


def credential_projects(value: Any) -> list[int] | None:
    """The projects a credential is limited to, in the order given; None: every project."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid("projects", f"expected a list of project ids such as [1, 2] (or null for "
                      f"every project), got {labels.json_kind(value)}")
    if not value:
        raise invalid("projects", "must not be empty: list at least one project id, or send "
                      "null (or leave it out) for every project")
    if len(value) > vocabulary.MAX_CREDENTIAL_PROJECTS:
        raise invalid("projects", f"{len(value)} projects is too many; at most "
                      f"{vocabulary.MAX_CREDENTIAL_PROJECTS}")
    seen: set[int] = set()
    for index, item in enumerate(value):
        path = f"projects[{index}]"
        if isinstance(item, bool) or not isinstance(item, int):
            raise invalid(path, f"expected an integer project id, got {labels.json_kind(item)}",
                          "projects")
        if not 1 <= item <= MAX_ID:
            raise invalid(path, f"{_show(item)} is out of range; ids are 1-{MAX_ID}", "projects")
        if item in seen:
            raise invalid(path, f"project {item} is listed twice; list each project once",
                          "projects")
        seen.add(item)
    return list(value)


def credential_update(body: Any) -> dict[str, Any]:
    fields = known_fields(expect_object(body), ("archived",))
    if "archived" not in fields:
        raise invalid("archived", "required; send {\"archived\": true} to archive or false to "
                      "restore the credential")
    return {"archived": boolean(fields["archived"], "archived")}


HostCheck = Callable[[str], str | None]  # the SSRF guard: None when callbacks may go to host
NOTIFICATION_FIELDS = ("notification_url", "notification_format")
RATE_LIMIT_FIELDS = ("concurrency", "per_second")
RATE_LIMIT_EXAMPLE = '{"concurrency": 2, "per_second": 5}'


def project_create(body: Any, check_host: HostCheck | None = None) -> dict[str, Any]:
    """name, description, and the optional notification_url (checked as callback URLs are,
    with `check_host`), notification_format and rate_limit; those only when given (a null or
    empty rate_limit: unlimited, as when absent)."""
    fields = known_fields(expect_object(body), ("name", "description", *NOTIFICATION_FIELDS,
                                                "rate_limit"))
    if "name" not in fields:
        raise invalid("name", "required; send {\"name\": \"my project\"}")
    description = fields.get("description")
    created: dict[str, Any] = {
        "name": name_text(fields["name"], "name"),
        "description": "" if description is None else text(
            description, "description", max_length=MAX_DESCRIPTION_LENGTH, allow_empty=True,
            forbid=unsafe_in_text),
    }
    limit = rate_limit(fields.get("rate_limit"))
    if limit is not None:
        created["rate_limit"] = limit
    return {**created, **_notification_settings(fields, check_host, removable=False)}


def rate_limit(value: Any) -> dict[str, Any] | None:
    """A project's rate limit: {"concurrency": 1-10000 or null, "per_second": 0.01-100000 or
    null}, the kinds given (None: unlimited, for null or neither kind given)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid("rate_limit", f"expected an object such as {RATE_LIMIT_EXAMPLE}, got "
                      f"{labels.json_kind(value)}; or null for no limit")
    given = known_fields(value, RATE_LIMIT_FIELDS, prefix="rate_limit.")
    limit: dict[str, Any] = {}
    if given.get("concurrency") is not None:
        limit["concurrency"] = _concurrency(given["concurrency"])
    if given.get("per_second") is not None:
        limit["per_second"] = _per_second(given["per_second"])
    return limit or None


def _concurrency(value: Any) -> int:
    path = "rate_limit.concurrency"
    low, high = vocabulary.RATE_CONCURRENCY_RANGE
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(path, f"expected a whole number of executions in flight at once such "
                      f"as 2, got {labels.json_kind(value)}; or null for no such limit", "rate_limit")
    if not low <= value <= high:
        raise invalid(path, f"{_show(value)} is out of range; use {low}-{high}", "rate_limit")
    return value


def _per_second(value: Any) -> float:
    path = "rate_limit.per_second"
    low, high = vocabulary.RATE_PER_SECOND_RANGE
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid(path, f"expected a number of executions a second such as 5 or 0.5, got "
                      f"{labels.json_kind(value)}; or null for no limit on the rate", "rate_limit")
    if not (math.isfinite(value) and low <= value <= high):
        raise invalid(path, f"{_show(value)} is out of range; use {low:g}-{high:g} executions "
                      "a second", "rate_limit")
    return float(value)


def _notification_settings(fields: Mapping[str, Any], check_host: HostCheck | None, *,
                           removable: bool) -> dict[str, Any]:
    """The notification fields given, checked; a null URL is kept (as None) only when it
    may be `removable` (an update), and a null format means the default."""
    settings: dict[str, Any] = {}
    if "notification_url" in fields:
        url = notification_url(fields["notification_url"], check_host)
        if url is not None or removable:
            settings["notification_url"] = url
    if "notification_format" in fields:
        settings["notification_format"] = notification_format(fields["notification_format"])
    return settings


def notification_url(value: Any, check_host: HostCheck | None) -> str | None:
    """Where a project's failure notifications go (None: nowhere): an http(s) URL that the
    callbacks' network policy lets the node reach, checked as a job's callback_url is."""
    if value is None:
        return None
    path = "notification_url"
    if not isinstance(value, str):
        raise invalid(path, f"expected a string (or null for no notifications), got "
                      f"{labels.json_kind(value)}; {callback_target.HINT}")
    url = text(value, path, max_length=MAX_URL_LENGTH)
    try:  # the HTTP client's own parser, so the host checked is the host it connects to
        host = callback_target.parse(url).host
    except callback_target.TargetError as exc:
        raise invalid(path, str(exc)) from None
    if check_host is None:
        raise TypeError("a notification_url is checked with the node's host check")
    problem = check_host(host)
    if problem is not None:
        raise invalid(path, f"notifications follow the callbacks' network policy: {problem}")
    return url


def notification_format(value: Any) -> str:
    """json (the default, also for null) or slack."""
    if value is None:
        return notifications.DEFAULT_FORMAT
    if not isinstance(value, str):
        raise invalid("notification_format", f"expected a string, got {labels.json_kind(value)}; "
                      f"use {notifications.FORMAT_MEANINGS}")
    if value not in notifications.FORMATS:
        raise invalid("notification_format", f"{_show(value)} is not a notification format; "
                      f"use {notifications.FORMAT_MEANINGS}")
    return value


def notification_delivery(args: Mapping[str, str]) -> str | None:
    """?delivery= of a notification listing: pending, sent or failed (None: all)."""
    raw = args.get("delivery")
    if not raw:
        return None
    value = raw.strip().lower()
    if value not in notifications.DELIVERY_STATES:
        raise ValidationError(f"delivery: {_show(raw)} is not a delivery state; use one of "
                              f"{', '.join(notifications.DELIVERY_STATES)}",
                              code="invalid_delivery")
    return value


def project_update(body: Any, check_host: HostCheck | None = None) -> dict[str, Any]:
    """Changes: any of name, description, notification_url (null: no more notifications),
    notification_format, rate_limit (null: unlimited); `rotate_signing_secret: true` asks for
    a new secret, and `grace_seconds` with it how long the old one still signs (the node's
    SigningSecretGraceSeconds when not given)."""
    fields = known_fields(expect_object(body), ("name", "description", "rotate_signing_secret",
                                                "grace_seconds", *NOTIFICATION_FIELDS,
                                                "rate_limit"))
    changes: dict[str, Any] = _notification_settings(fields, check_host, removable=True)
    if "rate_limit" in fields:  # None: unlimited from now on
        changes["rate_limit"] = rate_limit(fields["rate_limit"])
    if "name" in fields:
        changes["name"] = name_text(fields["name"], "name")
    if "description" in fields:
        value = fields["description"]
        changes["description"] = "" if value is None else text(
            value, "description", max_length=MAX_DESCRIPTION_LENGTH, allow_empty=True,
            forbid=unsafe_in_text)
    if boolean(fields.get("rotate_signing_secret", False), "rotate_signing_secret"):
        changes["rotate_signing_secret"] = True
    if "grace_seconds" in fields:
        if not changes.get("rotate_signing_secret"):
            raise invalid("grace_seconds", "applies only to a rotation; send it with "
                          "\"rotate_signing_secret\": true")
        changes["grace_seconds"] = grace_seconds(fields["grace_seconds"])
    if not changes:
        raise ValidationError("body: nothing to change; send name, description, "
                              "notification_url, notification_format, rate_limit or "
                              "\"rotate_signing_secret\": true", code="invalid_body")
    return changes


def grace_seconds(value: Any) -> int:
    """How long a replaced signing secret still signs callbacks: 0 (not at all) to 30 days."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid("grace_seconds", f"expected an integer number of seconds, got "
                      f"{labels.json_kind(value)}; e.g. 86400 for a day, 0 to stop the old secret now")
    if not 0 <= value <= MAX_GRACE_SECONDS:
        raise invalid("grace_seconds", f"{_show(value)} is out of range; use 0-"
                      f"{MAX_GRACE_SECONDS} seconds (30 days)")
    return value


# -- jobs --------------------------------------------------------------------------------------
#
# Driven by vocabulary.JOB_FIELDS: which fields a body may hold and in which spellings, which
# are required, their defaults, what PUT may change or clear, and each field's limits. A field's
# value is checked by JOB_CHECKS[field.check or field.kind]; the checks keep the messages and
# codes (`invalid_<field>`) the API has always answered.


@dataclass
class JobRules:
    """What job validation needs from outside, and its per-request caches.

    `check_host(host)` returns None when callbacks may go to `host`, or the reason they may
    not (the SSRF guard; it may resolve names, so it is injected). Batches share specs and
    URLs, so each distinct schedule and host is checked once per request.
    """

    now: int
    default_timezone: str
    check_host: Callable[[str], str | None]
    _zones: dict[str, str | ScheduleError] = field(default_factory=dict)
    _schedules: dict[tuple[Any, ...], tuple[str, str] | None] = field(default_factory=dict)
    _hosts: dict[str, str | None] = field(default_factory=dict)
    _urls: dict[str, str | None] = field(default_factory=dict)
    _instants: dict[str, int | None] = field(default_factory=dict)
    # What create stores for a field left out or null: the table's, and this node's zone.
    defaults: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.defaults = {**_JOB_DEFAULTS, "timezone": self.default_timezone}

    def instant(self, value: Any, path: str) -> int | None:
        """`instant()`, remembering the text of good ones (a batch repeats its dates)."""
        if isinstance(value, str):
            known = self._instants.get(value, _MISSING)
            if known is _MISSING:
                known = self._instants[value] = instant(value, path)
            return known  # type: ignore[no-any-return]
        return instant(value, path)

    def timezone(self, value: Any, path: str) -> str:
        if value is None:
            return self.default_timezone
        name = text(value, path, max_length=MAX_TIMEZONE_LENGTH, code_field="timezone")
        known = self._zones.get(name)
        if known is None:
            try:
                known = schedule.validate_timezone(name)
            except ScheduleError as exc:
                known = exc
            except (ValueError, OSError, KeyError):  # odd names zoneinfo refuses by raising
                known = ScheduleError(f"{_show(name)} is not a known IANA time zone")
            self._zones[name] = known
        if isinstance(known, ScheduleError):
            message = _strip_field(known.message, path)
            if "use" not in message:
                message += "; use an IANA name such as UTC or Europe/Berlin"
            raise invalid(path, message, "timezone")
        return known

    def host_problem(self, host: str) -> str | None:
        if host not in self._hosts:
            self._hosts[host] = self.check_host(host)
        return self._hosts[host]

    def schedule_problem(self, spec: str, zone: str, anchor: int, start: int | None,
                         end: int | None, job_id: int | None = None) -> tuple[str, str] | None:
        """(field, message) when the spec cannot be used, else None. A spec with H is checked
        for job `job_id`, or, before the job has an id, at the lowest and highest H values."""
        key = (spec, zone, anchor, start, end, job_id)
        if key not in self._schedules:
            # preview answers times after its start: step back one second so a tick at
            # start_date itself counts.
            first_from = max(self.now, (start or 0) - 1)
            self._schedules[key] = _schedule_problem(spec, zone, anchor, first_from, end,
                                                     self.now, job_id)
        return self._schedules[key]


def _schedule_problem(spec: str, zone: str, anchor: int, first_from: int, end: int | None,
                      now: int, job_id: int | None) -> tuple[str, str] | None:
    try:
        variants = (schedule.spec_variants(spec, now) if job_id is None
                    else (schedule.resolve_job_spec(spec, job_id, now),))
    except ScheduleError as exc:
        return "spec", _strip_field(exc.message, "spec")
    for extreme, (concrete, shift) in zip(_EXTREMES, variants, strict=False):
        problem = _concrete_problem(concrete, zone, anchor + shift, first_from, end, now)
        if problem is not None and len(variants) > 1:
            # Checked before the job has an id: say which H values the problem comes from.
            return problem[0], (f"with its H values at their {extreme} ({_show(concrete)}), "
                                f"{problem[1]}; narrow the H range")
        if problem is not None:
            return problem
    return None


_EXTREMES = ("lowest", "highest")


def _concrete_problem(spec: str, zone: str, anchor: int, first_from: int, end: int | None,
                      now: int) -> tuple[str, str] | None:
    """_schedule_problem of a spec without H (with the shift its H gave in `anchor`)."""
    try:  # preview parses (schedule.parse) and then looks for the first fire time
        upcoming = schedule.preview(spec, zone, first_from, 1, anchor=anchor)
    except ScheduleError as exc:
        return "spec", _strip_field(exc.message, "spec")
    except (ValueError, OverflowError) as exc:
        return "spec", f"{_first_line(exc)}"
    if not upcoming and schedule.is_at(spec):
        return "spec", _one_off_problem(spec, now)
    if not upcoming:
        return "spec", f"{_show(spec)} never fires; check the day-of-month and month fields"
    if end is not None and upcoming[0]["epoch"] > end:
        return "end_date", (f"the first fire time {upcoming[0]['utc']} is after end_date; "
                            "the job would never run: move end_date later or change the spec")
    return None


def callback_url(value: Any, path: str, rules: JobRules) -> str:
    if isinstance(value, str):  # a batch repeats its URLs: check each distinct one once
        known = rules._urls.get(value, _MISSING)
        if known is None:
            return value
        if known is not _MISSING:
            raise invalid(path, known, "callback_url")
    url = text(value, path, max_length=MAX_URL_LENGTH, code_field="callback_url")
    problem = _url_problem(url, rules)
    rules._urls[url] = problem
    if problem is not None:
        raise invalid(path, problem, "callback_url")
    return url


def _url_problem(url: str, rules: JobRules) -> str | None:
    try:  # the executor's own parser, so the host checked is the host it connects to
        target = callback_target.parse(url)
    except callback_target.TargetError as exc:
        return str(exc)
    return rules.host_problem(target.host)


def job_data(value: Any, path: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid(path, f"expected a string, got {labels.json_kind(value)}; JSON-encode "
                      "structured data into a string", "data")
    if len(value) > MAX_DATA_BYTES:
        raise invalid(path, f"too large; at most {MAX_DATA_BYTES} bytes of UTF-8", "data")
    size = len(_check_unicode(value, path, "data"))
    if size > MAX_DATA_BYTES:
        raise invalid(path, f"{size} bytes is too large; at most {MAX_DATA_BYTES} bytes of UTF-8",
                      "data")
    return value


def execution_type(value: Any, path: str) -> str:
    if value is None:
        return "http"
    if value not in EXECUTION_TYPES:
        raise invalid(path, f"{_show(value)} is not supported; supported: "
                      f"{', '.join(EXECUTION_TYPES)}", "execution_type")
    return str(value)


def misfire_policy(value: Any, path: str) -> str:
    policies = tuple(schedule.MISFIRE_POLICIES)
    if value is None:
        return DEFAULT_MISFIRE_POLICY
    if not isinstance(value, str) or value not in policies:
        raise invalid(path, f"{_show(value)} is not a misfire policy; use one of "
                      f"{', '.join(policies)}", "misfire_policy")
    return value


# -- a job's name, description and labels -------------------------------------------------------
#
# The rules are scheduler0.labels' (the store checks commands with them again). Labels travel as
# the canonical text the column keeps, so a batch whose jobs share a label set carries, checks
# and stores one string.


def job_name(value: Any, path: str) -> str:
    if type(value) is str and labels.is_name(value):  # ASCII, no space: nothing else to check
        return value
    name = text(value, path, max_length=labels.MAX_NAME_LENGTH, code_field="name")
    problem = labels.name_problem(name)
    if problem is not None:
        raise invalid(path, problem, "name")
    return name


def job_labels(value: Any, path: str) -> str | None:
    """A job's labels as the canonical text the store keeps (None for none)."""
    if not isinstance(value, dict):
        raise invalid(path, f'expected an object of label keys to values such as {{"team": '
                      f'"billing", "env": "prod"}}, got {labels.json_kind(value)}; or null for no '
                      "labels", "labels")
    try:
        return labels.canonical_text(labels.checked(value))
    except labels.LabelError as exc:
        raise invalid(path, str(exc), "labels") from None


def path_job(raw: str) -> int | str:
    """A job named in the URL path: its id (a segment that starts with a digit, which no name
    does) or its name."""
    if raw[:1].isascii() and raw[:1].isdigit():
        return path_id(raw)
    if labels.name_problem(raw) is None:
        return raw
    raise ValidationError(f"id: {_show(raw)} is neither a job id (a positive integer up to "
                          f"{MAX_ID}) nor a job name ({labels.NAME_RULE})", code="invalid_id")


MAX_SELECTOR_LENGTH = 4096  # characters of a ?labels= selector


def query_labels(args: Mapping[str, str]) -> tuple[labels.Requirement, ...]:
    """The requirements of `?labels=<selector>`; () when there is none."""
    raw = args.get("labels")
    if not raw:
        return ()
    if len(raw) > MAX_SELECTOR_LENGTH:
        raise ValidationError(f"labels: {len(raw)} characters is too long; at most "
                              f"{MAX_SELECTOR_LENGTH}", code="invalid_labels")
    try:
        return labels.parse_selector(raw)
    except labels.LabelError as exc:
        raise ValidationError(f"labels: {exc} in {_show(raw)}; {labels.GRAMMAR}",
                              code="invalid_labels") from None


def query_name_prefix(args: Mapping[str, str]) -> str | None:
    """`?name=<prefix>`: the start of a job name; None when there is none."""
    raw = args.get("name")
    if not raw:
        return None
    if labels.name_problem(raw) is not None:
        raise ValidationError(f"name: {_show(raw)} is not the start of a job name; names are "
                              f"{labels.NAME_RULE}", code="invalid_name")
    return raw


def _check_batch_names(count: int, project_ids: Any, names: Any) -> None:
    """Refuse a batch (its project_id and name columns, or lists) that gives one name to two
    jobs of a project."""
    if names is None or count < 2:
        return
    if isinstance(names, list) and not isinstance(project_ids, list) and (
            len(set(names)) == count):  # one project, each job its own name (or none)
        return
    first: dict[tuple[Any, Any], int] = {}
    for index, key in enumerate(zip(messages.unfold_column(names, count),
                                    messages.unfold_column(project_ids, count), strict=True)):
        if key[0] is not None and first.setdefault(key, index) != index:
            raise invalid(f"jobs[{index}].name", labels.name_repeated(key[0], first[key], key[1]),
                          "name")


# -- a job's delivery settings ------------------------------------------------------------------
#
# Each is null by default: the node's own setting (named in the messages). headers and
# success_codes are kept as JSON text (the column's), so a batch of jobs sharing them carries,
# checks and stores one string.

NODE_SETTING = {"method": "POST", "headers": "no extra headers",
                "timeout": "the node's JobExecutionTimeout",
                "retries": "the node's JobExecutionRetryMax",
                "retry_delay": "the node's JobExecutionRetryDelay", "success_codes": "any 2xx"}
_GET_NO_BODY = ("GET sends no body, so this job's data would never reach the receiver; send "
                "method POST or PUT, or clear data (\"data\": null)")


def job_headers(value: Any, path: str) -> str | None:
    """A job's extra request headers as the JSON text the store keeps (None for none)."""
    if not isinstance(value, dict):
        raise invalid(path, f"expected an object of header names to values such as "
                      f'{{"Authorization": "Bearer ..."}}, got {labels.json_kind(value)}; or null for '
                      "no extra headers", "headers")
    if len(value) > vocabulary.MAX_JOB_HEADERS:
        raise invalid(path, f"{len(value)} headers is too many; at most "
                      f"{vocabulary.MAX_JOB_HEADERS}", "headers")
    seen: dict[str, str] = {}
    size = 0
    for name, text in value.items():
        problem = vocabulary.header_name_problem(name)
        if problem is not None:
            raise invalid(path, problem, "headers")
        if name.lower() in seen:
            raise invalid(path, f"{name!r} is given twice (as {seen[name.lower()]!r} and "
                          f"{name!r}: header names are case-insensitive); send it once",
                          "headers")
        seen[name.lower()] = name
        if not isinstance(text, str):
            raise invalid(f"{path}.{name}", f"expected a string, got {labels.json_kind(text)}",
                          "headers")
        problem = vocabulary.header_value_problem(text)
        if problem is not None:
            raise invalid(f"{path}.{name}", problem, "headers")
        size += len(name) + len(text)
    if size > vocabulary.MAX_HEADERS_BYTES:
        raise invalid(path, f"{size} bytes of names and values is too large; at most "
                      f"{vocabulary.MAX_HEADERS_BYTES}", "headers")
    return json.dumps(value, separators=(",", ":")) if value else None


def success_codes(value: Any, path: str) -> str:
    """The HTTP statuses that count as a job's success, as the JSON text the store keeps
    (sorted)."""
    low, high = vocabulary.HTTP_STATUS_RANGE
    if not isinstance(value, list):
        raise invalid(path, f"expected a list of HTTP statuses such as [200, 404], got "
                      f"{labels.json_kind(value)}; or null for any 2xx", "success_codes")
    if not value:
        raise invalid(path, "must not be empty: list at least one status, or send null for "
                      "any 2xx", "success_codes")
    if len(value) > vocabulary.MAX_SUCCESS_CODES:
        raise invalid(path, f"{len(value)} statuses is too many; at most "
                      f"{vocabulary.MAX_SUCCESS_CODES}", "success_codes")
    seen: set[int] = set()
    for index, code in enumerate(value):
        where = f"{path}[{index}]"
        if isinstance(code, bool) or not isinstance(code, int):
            raise invalid(where, f"expected an integer HTTP status, got {labels.json_kind(code)}",
                          "success_codes")
        if not low <= code <= high:
            raise invalid(where, f"{_show(code)} is out of range; HTTP statuses are {low}-{high}",
                          "success_codes")
        if code in seen:
            raise invalid(where, f"{code} is listed twice; list each status once",
                          "success_codes")
        seen.add(code)
    return json.dumps(sorted(value), separators=(",", ":"))


def seconds(value: Any, path: str, low: float, high: float, setting: str) -> float:
    """A number of seconds within low-high (a fraction allowed), as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid(path, f"expected a number of seconds such as 5 or 2.5, got "
                      f"{labels.json_kind(value)}; or null for {setting}")
    if not (math.isfinite(value) and low <= value <= high):
        raise invalid(path, f"{_show(value)} is out of range; use {low:g}-{high:g} seconds")
    return float(value)


def bounded_integer(value: Any, path: str, low: int, high: int, setting: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(path, f"expected an integer {low}-{high}, got {labels.json_kind(value)}; or "
                      f"null for {setting}")
    if not low <= value <= high:
        raise invalid(path, f"{_show(value)} is out of range; use {low}-{high}")
    return value


def _check_get_has_no_body(method: Any, data: Any, path: str) -> None:
    """A GET callback sends no body: a job with data may not be delivered by GET."""
    if method == "GET" and data:
        raise invalid(path, _GET_NO_BODY)


# (field, value, path, rules, job) -> the value to store, or raise. On create `value` is never
# null (a field left out or null takes its default unchecked) and `job` holds the fields checked
# before this one; on update `job` is None, and a field that is not clearable gets its null here.
JobCheck = Callable[[JobField, Any, str, JobRules, "dict[str, Any] | None"], Any]


def _check_id(f: JobField, value: Any, path: str, rules: JobRules, job: Any) -> int:
    return identifier(value, path)


def _check_boolean(f: JobField, value: Any, path: str, rules: JobRules, job: Any) -> bool:
    return boolean(value, path)


def _check_instant(f: JobField, value: Any, path: str, rules: JobRules, job: Any) -> int | None:
    return rules.instant(value, path)


def _check_text(f: JobField, value: Any, path: str, rules: JobRules, job: Any) -> str:
    """Any text field without a check of its own: its limits, Unicode, no NUL or bidi."""
    checked = text(value, path, max_length=f.max_length or MAX_DATA_BYTES,
                   allow_empty=f.blank, code_field=f.name, forbid=unsafe_in_text)
    if f.max_bytes is not None and len(checked.encode("utf-8")) > f.max_bytes:
        raise invalid(path, f"too large; at most {f.max_bytes} bytes of UTF-8", f.name)
    return checked


def _check_choice(f: JobField, value: Any, path: str, rules: JobRules, job: Any) -> str:
    if not isinstance(value, str) or value not in f.choices:
        raise invalid(path, f"{_show(value)} is not accepted; use one of {', '.join(f.choices)}",
                      f.name)
    return value


def _check_spec(f: JobField, value: Any, path: str, rules: JobRules, job: Any) -> str:
    # Parsed with the other schedule fields once they are known (JobRules.schedule_problem).
    return text(value, path, max_length=f.max_length or 0, code_field="spec").strip()


def _check_timezone(f: JobField, value: Any, path: str, rules: JobRules, job: Any) -> str:
    if value is None:  # on update; create fills in the node's DefaultTimezone
        raise invalid(path, "must not be null; send an IANA name such as UTC", "timezone")
    return rules.timezone(value, path)


def _check_callback_url(f: JobField, value: Any, path: str, rules: JobRules, job: Any) -> str:
    return callback_url(value, path, rules)


def _check_data(f: JobField, value: Any, path: str, rules: JobRules, job: Any) -> str:
    return job_data(value, path)


def _check_execution_type(f: JobField, value: Any, path: str, rules: JobRules, job: Any) -> str:
    return execution_type(value, path)


def _check_misfire_policy(f: JobField, value: Any, path: str, rules: JobRules, job: Any) -> str:
    return misfire_policy(value, path)


def _check_end_date(f: JobField, value: Any, path: str, rules: JobRules,
                    job: dict[str, Any] | None) -> int | None:
    end = rules.instant(value, path)
    if job is not None:  # on update the window is checked against the stored job
        _check_window(job["start_date"], end, rules.now, path)
    return end


def _check_method(f: JobField, value: Any, path: str, rules: JobRules,
                  job: dict[str, Any] | None) -> str:
    method = _check_choice(f, value, path, rules, job)
    if job is not None:  # on update (and in columns) the data is checked with it later
        _check_get_has_no_body(method, job["data"], path)
    return method


def _check_headers(f: JobField, value: Any, path: str, rules: JobRules, job: Any) -> str | None:
    return job_headers(value, path)


def _check_seconds(f: JobField, value: Any, path: str, rules: JobRules, job: Any) -> float:
    assert f.low is not None and f.high is not None
    return seconds(value, path, f.low, f.high, NODE_SETTING[f.name])


def _check_integer(f: JobField, value: Any, path: str, rules: JobRules, job: Any) -> int:
    assert f.low is not None and f.high is not None
    return bounded_integer(value, path, int(f.low), int(f.high), NODE_SETTING[f.name])


def _check_success_codes(f: JobField, value: Any, path: str, rules: JobRules, job: Any) -> str:
    return success_codes(value, path)


def _check_job_name(f: JobField, value: Any, path: str, rules: JobRules, job: Any) -> str:
    return job_name(value, path)


def _check_labels(f: JobField, value: Any, path: str, rules: JobRules, job: Any) -> str | None:
    return job_labels(value, path)


JOB_CHECKS: dict[str, JobCheck] = {
    Kind.ID: _check_id, Kind.BOOLEAN: _check_boolean, Kind.INSTANT: _check_instant,
    Kind.TEXT: _check_text, Kind.CHOICE: _check_choice, Kind.SECONDS: _check_seconds,
    Kind.INTEGER: _check_integer,
    "spec": _check_spec, "timezone": _check_timezone, "callback_url": _check_callback_url,
    "data": _check_data, "execution_type": _check_execution_type,
    "misfire_policy": _check_misfire_policy, "end_date": _check_end_date,
    "method": _check_method, "headers": _check_headers, "success_codes": _check_success_codes,
    "job_name": _check_job_name, "labels": _check_labels,
}
_JOB_STEPS = tuple((f, JOB_CHECKS[f.check or f.kind]) for f in JOB_INPUT_FIELDS
                   if f.instead_of is None)
_JOB_UPDATES = tuple((f, check) for f, check in _JOB_STEPS if f.updatable)
_JOB_FIXED = tuple((f, check) for f, check in _JOB_STEPS if not f.updatable)
_JOB_REQUIRED = vocabulary.JOB_REQUIRED
_JOB_DEFAULTS = {f.name: f.default for f in JOB_INPUT_FIELDS}
# Every spelling a job body may use -> its field, or None for one ignored on input.
_JOB_SPELLINGS: dict[str, str | None] = {**{name: name for name in JOB_INPUTS}, **JOB_ALIASES,
                                         **dict.fromkeys(JOB_IGNORED)}
_JOB_PLAIN = frozenset(JOB_INPUTS)


def job_fields(raw: Mapping[str, Any], prefix: str = "") -> Mapping[str, Any]:
    """A job body's fields by their snake_case names, ignored ones dropped; 400 on an unknown
    field or on a field given in both spellings."""
    if raw.keys() <= _JOB_PLAIN:  # the usual body: nothing to rename or drop
        return raw
    return resolve_spellings(raw, _JOB_SPELLINGS, JOB_INPUTS, prefix)


def jobs_create(body: Any, rules: JobRules) -> tuple[list[dict[str, Any]], bool]:
    """The job.create inputs for one object or an array of them, and whether it was an array.

    Raises PayloadTooLargeError (413) beyond MAX_JOBS_PER_REQUEST, ValidationError naming
    `jobs[i].<field>` (or `<field>` for a single object) for the first bad job.
    """
    if isinstance(body, list):
        if not body:
            raise ValidationError("body: the array is empty; send at least one job",
                                  code="invalid_body")
        if len(body) > MAX_JOBS_PER_REQUEST:
            raise PayloadTooLargeError(
                f"body: {len(body)} jobs in one request; at most {MAX_JOBS_PER_REQUEST} per "
                "request: split the array into several POSTs")
        jobs = [job_create(item, f"jobs[{i}].", rules) for i, item in enumerate(body)]
        _check_batch_names(len(jobs), [job["project_id"] for job in jobs],
                           [job["name"] for job in jobs])
        return jobs, True
    if isinstance(body, dict):
        return [job_create(body, "", rules)], False
    raise ValidationError(f"body: expected a job object or an array of jobs, got "
                          f"{labels.json_kind(body)}", code="invalid_body")


def job_create(raw: Any, prefix: str, rules: JobRules) -> dict[str, Any]:
    """One job.create input: every input field (checked, or its default) and the anchor."""
    if not isinstance(raw, dict):
        raise ValidationError(f"{prefix.rstrip('.') or 'body'}: expected a job object, got "
                              f"{labels.json_kind(raw)}", code="invalid_body")
    fields, one_off = _spec_of_run_at(job_fields(raw, prefix), prefix, rules)
    for required in _JOB_REQUIRED:
        if fields.get(required) is None:
            raise invalid(prefix + required, _REQUIRED_HINTS.get(required, "required"),
                          required)
    defaults = rules.defaults
    job: dict[str, Any] = {}
    for f, check in _JOB_STEPS:  # runs 10,000 times per batch: keep it lean
        value = fields.get(f.name)
        job[f.name] = defaults[f.name] if value is None else check(f, value, prefix + f.name,
                                                                   rules, job)
    start = job["start_date"]
    anchor = job["anchor"] = start if start is not None else rules.now
    problem = rules.schedule_problem(job["spec"], job["timezone"], anchor, start, job["end_date"])
    if problem is not None:
        field_name = "run_at" if one_off and problem[0] == "spec" else problem[0]
        raise invalid(prefix + field_name, problem[1], field_name)
    return job


_REQUIRED_HINTS = {"spec": 'required: a cron spec such as "*/5 * * * *" or "@every 1m", or '
                           '"run_at" (an RFC 3339 instant, or "now") for a job that runs once'}
_RUN_AT_HINT = ('send an RFC 3339 instant such as "2030-01-02T15:04:05Z", epoch seconds, or '
                '"now" to run the job at once')


def _spec_of_run_at(fields: Mapping[str, Any], prefix: str, rules: JobRules
                    ) -> tuple[Mapping[str, Any], bool]:
    """`fields` with a run_at turned into the spec it stands for (`@at <instant>`, or
    `@at now`, which the store resolves to the second after the job's creation), and whether
    it had one. Refuses run_at with a spec, and a null run_at (it is never answered, so a job
    sent back holds none)."""
    if "run_at" not in fields:
        return fields, False
    value, path = fields["run_at"], prefix + "run_at"
    if value is None:
        raise invalid(path, f"must not be null; {_RUN_AT_HINT}, or send a spec instead")
    if fields.get("spec") is not None:
        raise invalid(prefix + "spec", 'send either spec or run_at, not both: run_at is the '
                      'one-off spec "@at <instant>"', "spec")
    if isinstance(value, str) and value.strip().lower() == "now":
        spec = "@at now"
    else:
        seconds = rules.instant(value, path)
        if seconds is None:  # Go's zero time: "none", which a one-off cannot be
            raise invalid(path, f"{_show(value)} means no time; {_RUN_AT_HINT}")
        spec = schedule.at_spec(seconds)
    rest = {name: given for name, given in fields.items() if name != "run_at"}
    rest["spec"] = spec
    return rest, True


def _one_off_problem(spec: str, now: int) -> str:
    """Why a one-off has no fire time: its instant is past, or before its start date."""
    instant = schedule.parse(spec).next_or_none(-1)
    shown = schedule.format_rfc3339_utc(instant or 0)
    if instant is not None and instant <= now:
        return (f"the instant {shown} is in the past (now is "
                f'{schedule.format_rfc3339_utc(now)}); send a later instant, or "run_at": "now" '
                "to run the job at once")
    return (f"the instant {shown} is before start_date: the job would never run; move "
            "start_date earlier or leave it out")


# A job.create input's fields (what job_create returns), in order: the alternatives are
# folded into the fields they stand for.
JOB_CREATE_INPUTS = (*(name for name in JOB_INPUTS if name not in vocabulary.JOB_ALTERNATIVES),
                     "anchor")


def jobs_create_columns(body: Any, rules: JobRules) -> tuple[int, dict[str, Any], bool]:
    """`jobs_create` in the columns job.create carries (messages.JobCreate): how many jobs,
    each of JOB_CREATE_INPUTS as a list of values or as the one value every job has, and
    whether the body was an array.

    The same rules and the same errors. An array of plain job objects (snake_case fields
    only) is checked a column at a time: each distinct value of a field once, by the field's
    own check (JOB_CHECKS), and the window and the schedule once per distinct combination.
    Anything else, and any batch in which something does not pass, goes through
    `jobs_create`, which names the first bad job's field.
    """
    if isinstance(body, list) and 0 < len(body) <= MAX_JOBS_PER_REQUEST:
        columns = _checked_columns(body, rules)
        if columns is not None:
            _check_batch_names(len(body), columns["project_id"], columns["name"])
            return len(body), columns, True
    inputs, many = jobs_create(body, rules)
    return len(inputs), {name: messages.fold_column([job[name] for job in inputs])
                         for name in JOB_CREATE_INPUTS}, many


_COLUMN_KINDS = frozenset({str, int, bool, type(None)})  # JSON values checked column-wise
_SCHEDULE_INPUTS = ("spec", "timezone", "anchor", "start_date", "end_date")  # schedule_problem's


def _checked_columns(body: list[Any], rules: JobRules) -> dict[str, Any] | None:
    """The columns of a batch every job of which passes, or None."""
    if set(map(type, body)) != {dict}:
        return None
    given = set().union(*body)  # the fields any job gives
    if not given <= _JOB_PLAIN or not given.isdisjoint(vocabulary.JOB_ALTERNATIVES):
        return None
    count = len(body)
    columns: dict[str, Any] = {}
    try:
        for f, check in _JOB_STEPS:
            name = f.name
            if name in given:
                column = _checked_column(f, check, [raw.get(name) for raw in body], rules)
            else:
                column = _MISSING if f.required else rules.defaults[name]
            if column is _MISSING:
                return None
            columns[name] = column
        start, end = columns["start_date"], columns["end_date"]
        for window_start, window_end in _combinations(count, start, end):
            _check_window(window_start, window_end, rules.now, "end_date")
        columns["anchor"] = (
            messages.fold_column([rules.now if s is None else s for s in start])
            if isinstance(start, list) else rules.now if start is None else start)
        for key in _combinations(count, *(columns[name] for name in _SCHEDULE_INPUTS)):
            if rules.schedule_problem(*key) is not None:
                return None
        _check_get_columns(count, columns["method"], columns["data"])
    except ValidationError:
        return None
    return columns


def _check_get_columns(count: int, method: Any, data: Any) -> None:
    """_check_get_has_no_body for every job of a batch in columns."""
    if "GET" in (method if isinstance(method, list) else (method,)):
        for job_method, job_data in _combinations(count, method, data):
            _check_get_has_no_body(job_method, job_data, "method")


def _checked_column(f: JobField, check: JobCheck, values: list[Any], rules: JobRules) -> Any:
    """The column of field `f` (each job's value, None when left out), checked and defaulted
    as job_create does it, or _MISSING when a value does not pass (or might hash like another
    value of another type: true and 1)."""
    if f.kind is Kind.LABELS:  # equal sets written in another key order are one text too
        column = _checked_json_column(f, check, values, rules)
        return messages.fold_column(column) if isinstance(column, list) else column
    if f.kind in _JSON_KINDS:
        return _checked_json_column(f, check, values, rules)
    kinds = set(map(type, values))
    if not kinds <= (_SECONDS_KINDS if f.kind is Kind.SECONDS else _COLUMN_KINDS) or (
            {int, bool} <= kinds or {int, float} <= kinds):
        return _MISSING
    if check is _check_data and kinds == {str} and _plain_data(values):
        return messages.fold_column(values)
    distinct = dict.fromkeys(values)
    if None in distinct and f.required:
        return _MISSING
    default = rules.defaults[f.name]
    # No `job`, as on update: the end date's window is checked once all columns are known.
    normal = {value: default if value is None else check(f, value, f.name, rules, None)
              for value in distinct}
    return messages.map_column(values, normal)


_JSON_KINDS = frozenset({Kind.HEADERS, Kind.STATUSES})  # fields whose values are objects, lists
# A number of seconds, whole or not (each becomes a float). A column holding both 2 and 2.0
# goes job by job: they hash alike, and map_column would keep the 2 of one job as it is.
_SECONDS_KINDS = frozenset({int, float, type(None)})
_json_key = msgspec.json.Encoder().encode


def _checked_json_column(f: JobField, check: JobCheck, values: list[Any], rules: JobRules) -> Any:
    """`_checked_column` of a field whose values are JSON objects or lists, which do not hash:
    each value is told apart by its JSON text (exact: 1, 1.0 and true differ, as the key
    order does), and each distinct one checked once."""
    try:
        keys = [None if value is None else _json_key(value) for value in values]
    except (msgspec.MsgspecError, TypeError, ValueError):  # a lone surrogate, say
        return _MISSING
    default = rules.defaults[f.name]
    normal = {key: default if key is None else check(f, value, f.name, rules, None)
              for key, value in dict(zip(keys, values, strict=True)).items()}
    return messages.map_column(keys, normal)


def _plain_data(values: list[str]) -> bool:
    """Whether job_data takes each of these strings as it is, checked in bulk: in ASCII a
    character is a byte (and no lone surrogate), so the size is the length."""
    return all(map(str.isascii, values)) and max(map(len, values)) <= MAX_DATA_BYTES


def _combinations(count: int, *columns: Any) -> Iterable[tuple[Any, ...]]:
    """The distinct combinations of the columns' values across the jobs, in job order."""
    if not any(isinstance(column, list) for column in columns):
        return (columns,)
    return dict.fromkeys(zip(*(messages.unfold_column(column, count) for column in columns),
                             strict=True))


def _check_window(start: int | None, end: int | None, now: int, path: str) -> None:
    """`path` names end_date (with its jobs[i]. prefix)."""
    if end is None:
        return
    if start is not None and end <= start:
        raise invalid(path, "must be after start_date", "end_date")
    if end <= now:
        raise invalid(path, "is in the past; the job would never run: send a later end_date "
                      "or none", "end_date")


def job_update(body: Any, current: Mapping[str, Any], rules: JobRules) -> dict[str, Any]:
    """The `changes` of a job.update for the job row `current`.

    Read-only fields (id, project_id, execution_type, the timestamps) may be sent back unchanged
    so a GET result can be edited and PUT; changing them is a 400.
    """
    fields, one_off = _spec_of_run_at(job_fields(expect_object(body)), "", rules)
    for f, check in _JOB_FIXED:
        if f.name not in fields:
            continue
        if fields[f.name] != current.get(f.name):
            raise invalid(f.name, f"cannot be changed by PUT (it is "
                          f"{_show(current.get(f.name))}); create a new job instead")
        check(f, fields[f.name], f.name, rules, None)  # equal is not enough: true == 1
    changes: dict[str, Any] = {}
    for f, check in _JOB_UPDATES:
        if f.name in fields:
            value = fields[f.name]
            changes[f.name] = (f.default if value is None and f.clearable
                               else check(f, value, f.name, rules, None))
    if not changes:
        raise ValidationError("body: nothing to change; send any of " + ", ".join(JOB_UPDATABLE),
                              code="invalid_body")
    if "method" in changes or "data" in changes:
        _check_get_has_no_body(changes.get("method", current.get("method")),
                               changes.get("data", current.get("data")),
                               "method" if "method" in changes else "data")
    try:
        _check_updated_schedule(changes, current, rules)
    except ValidationError as exc:
        if one_off and exc.message.startswith("spec: "):
            raise invalid("run_at", exc.message[len("spec: "):]) from None
        raise
    return changes


def _check_updated_schedule(changes: dict[str, Any], current: Mapping[str, Any],
                            rules: JobRules) -> None:
    schedule_fields = ("spec", "timezone", "start_date", "end_date")
    if not any(name in changes for name in schedule_fields):
        return
    merged = {name: changes.get(name, current.get(name)) for name in schedule_fields}
    start, end = merged["start_date"], merged["end_date"]
    created = int(current.get("created_at_ms") or rules.now * 1000) // 1000
    anchor = start if start is not None else created
    if "start_date" in changes:
        # @every counts from the start date, else from creation.
        changes["anchor"] = anchor
    if _same_schedule(merged, current):
        return  # sent back as read: a one-off past its instant stays as it is
    if "end_date" in changes or "start_date" in changes:
        _check_window(start, end, rules.now, "end_date")
    problem = rules.schedule_problem(str(merged["spec"]), str(merged["timezone"]), anchor, start,
                                     end, current.get("id"))
    if problem is not None:
        raise invalid(problem[0], problem[1])


def _same_schedule(merged: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Whether the schedule fields of an update are those the job has (its spec compared as
    the store keeps it, blank runs collapsed)."""
    return all(" ".join(str(merged[name]).split()) == " ".join(str(current.get(name)).split())
               if name == "spec" else merged[name] == current.get(name) for name in merged)


# -- executions and previews --------------------------------------------------------------------


def execution_filters(args: Mapping[str, str], *, with_ids: bool = True) -> dict[str, Any]:
    """Filters for Reader.list_executions (without limit/offset)."""
    filters: dict[str, Any] = {}
    if with_ids:
        filters["project_id"] = query_id(args, "project_id", "projectId")
        filters["job_id"] = query_id(args, "job_id", "jobId")
    filters["state"] = execution_state(args.get("state"))
    filters["since"] = query_instant(args, "since")
    filters["until"] = query_instant(args, "until")
    if filters["since"] is not None and filters["until"] is not None and (
            filters["until"] < filters["since"]):
        raise ValidationError("until: must not be before since", code="invalid_until")
    return filters


def execution_state(raw: str | None) -> str | None:
    """The state filter: one state, or several recorded ones separated by commas
    ("failed,missed", kept in the order of EXECUTION_STATES); None for any recorded one."""
    if not raw or not raw.strip():
        return None
    named = {part.strip().lower() for part in raw.split(",") if part.strip()}
    unknown = sorted(named - set(EXECUTION_STATES))
    if unknown:
        raise ValidationError(f"state: {_show(unknown[0])} is not an execution state; use one "
                              f"of {', '.join(EXECUTION_STATES)}, or several recorded ones "
                              "separated by commas (failed,missed)", code="invalid_state")
    if len(named) > 1 and ExecutionState.SCHEDULED.value in named:
        raise ValidationError("state: scheduled (in flight) cannot be combined with another "
                              "state; ask for it on its own", code="invalid_state")
    return ",".join(state for state in EXECUTION_STATES if state in named)


def execution_includes(args: Mapping[str, str]) -> bool:
    """Whether a list of executions carries each row's job (`include=job`: its name and
    zone, null for a job deleted since), so a screen of them needs no read per job."""
    raw = (args.get("include") or "").strip().lower()
    if raw not in ("", "job"):
        raise invalid("include", f"{_show(raw)} is not accepted; use include=job (each row's "
                      "job name and zone) or leave it out")
    return raw == "job"


ROLLUP_PERIODS = ("minute", "hour")
MAX_ROLLUPS = 10_000


def rollup_query(args: Mapping[str, str]) -> dict[str, Any]:
    """period (minute or hour, default minute), project_id, since, until, limit (1-10000,
    default 1440) for Reader.rollups."""
    period = (args.get("period") or "minute").strip().lower()
    if period not in ROLLUP_PERIODS:
        raise ValidationError(f"period: {_show(period)} is not accepted; use minute or hour",
                              code="invalid_period")
    since, until = query_instant(args, "since"), query_instant(args, "until")
    if since is not None and until is not None and until < since:
        raise ValidationError("until: must not be before since", code="invalid_until")
    return {"period": period, "project_id": query_id(args, "project_id", "projectId"),
            "since": since, "until": until,
            "limit": query_int(args, "limit", default=1440, low=1, high=MAX_ROLLUPS)}


def preview_query(args: Mapping[str, str], now: int, default_timezone: str) -> dict[str, Any]:
    """spec, timezone, from (epoch s) and count for a schedule preview."""
    spec = args.get("spec")
    if not spec or not spec.strip():
        raise invalid("spec", "required; e.g. ?spec=*/5 * * * *&timezone=UTC&count=5")
    if len(spec) > MAX_SPEC_LENGTH:
        raise invalid("spec", f"too long; at most {MAX_SPEC_LENGTH} characters")
    rules = JobRules(now=now, default_timezone=default_timezone, check_host=lambda host: None)
    zone = rules.timezone(args.get("timezone") or None, "timezone")
    start = query_instant(args, "from")
    count = query_int(args, "count", default=DEFAULT_PREVIEW_COUNT, low=1, high=MAX_PREVIEW_COUNT)
    return {"spec": spec.strip(), "timezone": zone, "from": now if start is None else start,
            "count": count}


# -- the console's lists ----------------------------------------------------------------------

MAX_HOST_LENGTH = 253  # characters of a host name (RFC 1035), also enough for an IPv6 literal
BROWSE_PARAMETERS = ("contains", "status", "last_state", "host", "sort")


def query_choice(args: Mapping[str, str], name: str, choices: Iterable[str]) -> str | None:
    """`?name=` as one of `choices` (case-insensitive), None when absent."""
    raw = args.get(name)
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip().lower()
    allowed = tuple(choices)
    if value not in allowed:
        raise ValidationError(f"{name}: {_show(raw)} is not accepted; use one of "
                              f"{', '.join(allowed)}", code=f"invalid_{name}")
    return value


def query_host(args: Mapping[str, str]) -> str | None:
    """`?host=`: a callback host, exactly (letters in any case, an IPv6 literal with or without
    brackets), as store/hosts.py reads hosts from URLs; None when absent."""
    raw = args.get("host")
    if raw is None or raw.strip() == "":
        return None
    host = hosts.wanted_host(raw)
    if len(host) > MAX_HOST_LENGTH or any(ch in host for ch in "/?#@ \t") or not host.isprintable():
        raise ValidationError(f"host: {_show(raw)} is not a host; send the host of a callback "
                              "URL alone, e.g. host=api.example.com (no scheme, port or path)",
                              code="invalid_host")
    return host


def query_contains(args: Mapping[str, str]) -> str | None:
    """`?contains=`: a part of a job name (case-insensitive); None when absent."""
    raw = args.get("contains")
    if raw is None or raw == "":
        return None
    if len(raw) > labels.MAX_NAME_LENGTH or not raw.isprintable():
        raise ValidationError(f"contains: {_show(raw)} is not accepted; send up to "
                              f"{labels.MAX_NAME_LENGTH} printable characters of a job name",
                              code="invalid_contains")
    return raw


def job_browse(args: Mapping[str, str]) -> job_browse_store.Browse | None:
    """The jobs screen's filters and sort (Reader.browse_jobs), or None when the query uses
    none of BROWSE_PARAMETERS (GET /jobs then answers as it always did: Reader.list_jobs)."""
    if not any(args.get(name) for name in BROWSE_PARAMETERS):
        return None
    sort = query_choice(args, "sort", job_browse_store.SORTS) or "id"
    after = args.get("after") or None
    job_browse_store.parse_after(sort, after)  # refuses a cursor of another sort
    if after is not None and sort in ("id", "-id"):
        query_id(args, "after")
    return job_browse_store.Browse(
        project_id=query_id(args, "project_id", "projectId"), paused=query_bool(args, "paused"),
        failing=query_bool(args, "failing"), labels=query_labels(args),
        name_prefix=query_name_prefix(args), contains=query_contains(args),
        status=query_choice(args, "status", job_browse_store.STATUSES),
        last_state=query_choice(args, "last_state", job_browse_store.LAST_STATES),
        host=query_host(args), sort=sort, after=after)


MAX_CSV_ROWS = 100_000  # rows of one CSV export (GET /executions?format=csv)
DEFAULT_CSV_ROWS = 10_000
EXPORT_FORMATS = ("json", "csv")


def execution_jobs(args: Mapping[str, str]) -> execution_browse.JobsOf | None:
    """The executions screen's filters (`labels`, `host`, `node`) for
    Reader.browse_executions, or None when none is given."""
    found = execution_browse.JobsOf(
        labels=query_labels(args), host=query_host(args),
        node_id=query_int(args, "node", default=None, low=1, high=MAX_ID))
    return found if found.on_jobs or found.node_id is not None else None


def wants_csv(args: Mapping[str, str], best_accepted: str | None) -> bool:
    """Whether a list is asked for as CSV: `?format=csv`, or without `format` an Accept
    header that prefers text/csv to application/json (`best_accepted`: the better of the
    two)."""
    raw = args.get("format")
    if raw is None or raw.strip() == "":
        return best_accepted == "text/csv"
    chosen = query_choice(args, "format", EXPORT_FORMATS)
    return chosen == "csv"


def csv_limit(args: Mapping[str, str]) -> int:
    """`?limit=` of a CSV export: 1-MAX_CSV_ROWS rows, default DEFAULT_CSV_ROWS."""
    limit = query_int(args, "limit", default=DEFAULT_CSV_ROWS, low=1, high=MAX_CSV_ROWS)
    assert limit is not None
    return limit


MAX_LOAD_MINUTES = 1440
DEFAULT_LOAD_MINUTES = 60
MAX_LOAD_THRESHOLD = 1_000_000_000


def load_query(args: Mapping[str, str]) -> dict[str, Any]:
    """`minutes` (1-1440, default 60) and `threshold` (executions in a second above which it
    is a burst; default: 5 times the mean) of GET /load."""
    return {"minutes": query_int(args, "minutes", default=DEFAULT_LOAD_MINUTES, low=1,
                                 high=MAX_LOAD_MINUTES),
            "threshold": query_int(args, "threshold", default=None, low=1,
                                   high=MAX_LOAD_THRESHOLD)}
