"""What the job page and the job forms show, worked out from the API's answers. Pure: no I/O,
no clock (`now` is an argument), no Flask.

    fire_times      a preview's fire times with their UTC offsets, the DST jumps marked
    create_body     the POST /jobs body that creates a job like this one
    curl_command    that request as one shell command line, credentials left to variables
    form_values     a job's fields as the form's inputs show them (create, edit, duplicate)
    history_query   the history's filters from the page's query string
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scheduler0.vocabulary import EXECUTION_STATES, JOB_INPUT_FIELDS

# -- fire times and daylight saving -------------------------------------------------------------

_OFFSET = re.compile(r"(?:([+-])(\d\d):(\d\d)(?::(\d\d))?|[zZ])$")


@dataclass(frozen=True)
class FireTime:
    """One fire time of a preview: `jump` is how far the zone's clock moved since the fire
    time before it (seconds, + forward in spring, - back in autumn), 0 when it did not."""

    epoch: int
    utc: str
    local: str
    offset: int  # seconds east of UTC
    jump: int

    @property
    def offset_text(self) -> str:
        return format_offset(self.offset)

    @property
    def jump_text(self) -> str:
        """`clocks +1:00` / `clocks -0:30`; "" without a jump."""
        if not self.jump:
            return ""
        sign = "+" if self.jump > 0 else "-"
        minutes = abs(self.jump) // 60
        return f"clocks {sign}{minutes // 60}:{minutes % 60:02d}"


def offset_of(local: str) -> int:
    """The UTC offset (seconds) at the end of an ISO 8601 time such as 2026-03-08T03:00:00-04:00;
    ValueError when it has none."""
    found = _OFFSET.search(local.strip())
    if found is None:
        raise ValueError(f"{local!r} has no UTC offset")
    sign, hours, minutes, secs = found.groups()
    if sign is None:
        return 0
    total = int(hours) * 3600 + int(minutes) * 60 + int(secs or 0)
    return -total if sign == "-" else total


def format_offset(seconds: int) -> str:
    """+01:00, -04:00, +05:45 (seconds are dropped: no zone has used them since 1972)."""
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def fire_times(times: Sequence[Mapping[str, Any]]) -> list[FireTime]:
    """The preview's times (each `utc`, `local`, `epoch`, and `utc_offset_seconds` when the
    API gives it) with each one's jump from the one before. The first time has no jump: what
    came before it is not in the list."""
    shown: list[FireTime] = []
    previous: int | None = None
    for item in times:
        offset = _offset_of_item(item)
        jump = 0 if previous is None else offset - previous
        shown.append(FireTime(int(item["epoch"]), str(item["utc"]), str(item["local"]), offset,
                              jump))
        previous = offset
    return shown


def _offset_of_item(item: Mapping[str, Any]) -> int:
    given = item.get("utc_offset_seconds")
    if isinstance(given, int) and not isinstance(given, bool):
        return given
    return offset_of(str(item["local"]))


# -- the job as a create request ----------------------------------------------------------------

# The fields a create takes, in the API's order; `run_at` stands for a spec, which the job has.
CREATE_FIELDS = tuple(f.name for f in JOB_INPUT_FIELDS if f.instead_of is None)
_EMPTY: tuple[Any, ...] = (None, "", {}, [])


def create_body(job: Mapping[str, Any]) -> dict[str, Any]:
    """The body of the POST /jobs that creates a job like `job` (an API answer): its writable
    fields as written (the spec with its H, not resolved), none that are empty or null,
    `paused` only when true. Nothing secret is in a job (the signing secret is its project's)."""
    body: dict[str, Any] = {}
    for name in CREATE_FIELDS:
        value = job.get(name)
        if value in _EMPTY or (name == "paused" and value is False):
            continue
        if name == "execution_type" and value == "http":
            continue  # the only kind, and the default
        body[name] = value
    return body


API_KEY_VARIABLE = "SCHEDULER0_API_KEY"
API_SECRET_VARIABLE = "SCHEDULER0_API_SECRET"


def curl_command(job: Mapping[str, Any], base_url: str) -> str:
    """A shell command line (POSIX sh) that sends create_body(job) to the API at `base_url`
    (e.g. http://host:port). The credential is read from two environment variables, so the
    line holds no secret and can be pasted anywhere."""
    url = base_url.rstrip("/") + "/api/v1/jobs"
    data = json.dumps(create_body(job), separators=(",", ":"), ensure_ascii=False)
    parts = ["curl", "-sS", "-X", "POST", shlex.quote(url),
             "-H", shlex.quote("Content-Type: application/json"),
             # Double quotes: the shell expands the variables, and nothing else is in them.
             "-H", f'"x-api-key: ${API_KEY_VARIABLE}"',
             "-H", f'"x-secret-key: ${API_SECRET_VARIABLE}"',
             "--data-raw", shlex.quote(data)]
    return " ".join(parts)


# -- the form's inputs --------------------------------------------------------------------------

FORM_MODES = ("new", "edit", "duplicate")
COPY_SUFFIX = "-copy"


def form_values(job: Mapping[str, Any] | None, mode: str) -> dict[str, str]:
    """Each form input's text for `job` (None: a new job): labels as key=value lines, headers
    as `Name: value` lines, success codes comma-separated, numbers as written, nulls empty.
    A duplicate's name gets COPY_SUFFIX, as names are unique within a project."""
    if mode not in FORM_MODES:
        raise ValueError(f"mode {mode!r}: use one of {', '.join(FORM_MODES)}")
    job = job or {}
    values = {name: _input_text(job.get(name)) for name in CREATE_FIELDS}
    values["labels"] = "\n".join(f"{k}={v}" for k, v in (job.get("labels") or {}).items())
    values["headers"] = "\n".join(f"{k}: {v}" for k, v in (job.get("headers") or {}).items())
    values["success_codes"] = ", ".join(str(code) for code in job.get("success_codes") or ())
    values["paused"] = "true" if job.get("paused") else ""
    if mode == "duplicate" and values["name"]:
        values["name"] += COPY_SUFFIX
    return values


def _input_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- the history's filters ----------------------------------------------------------------------

# `window` presets: how far back `since` goes.
WINDOWS = {"1h": 3600, "24h": 86400, "7d": 7 * 86400}
HISTORY_FILTERS = ("state", "since", "until", "after")


def history_query(args: Mapping[str, str], now: int, limit: int) -> dict[str, str]:
    """The query of GET /jobs/{id}/executions for the page's `args`: state, since, until and
    after as given (the API checks them and words the errors), `window` (1h, 24h, 7d) as a
    since of `now` minus that, unless since is given."""
    query = {name: args[name].strip() for name in HISTORY_FILTERS if args.get(name, "").strip()}
    window = WINDOWS.get(args.get("window", ""))
    if window is not None and "since" not in query:
        query["since"] = str(now - window)
    query["limit"] = str(limit)
    return query


def known_state(state: str | None) -> str:
    """`state` when it is an execution state, else "" (unknown ones are shown plainly)."""
    return state if state in EXECUTION_STATES else ""
