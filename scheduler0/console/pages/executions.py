"""`/ui/executions`: the execution history across every job the viewer sees, one keyset page
at a time, failed and missed ones of the last 24 hours unless the URL says otherwise.

The filters live in the URL (a GET form), so a view can be bookmarked and shared; a filter left
out of the URL takes its default (state: failed or missed, since: 24 h ago), one sent empty
means "any". `since` and `until` take what the API takes (RFC 3339, epoch seconds) and also a
duration back from now such as `24h` or `30m`, which the page turns into an instant before it
asks the API (so a bookmark of "the last 24 hours" stays the last 24 hours).

Rows come from one GET /executions (`include=job`: each row with its job's name and zone,
`state=failed,missed`: several states read as one). The filters the node's API does not take
(older nodes: labels, callback host, node, CSV) are left out of the form rather than ignored
silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from flask import Response, request

from scheduler0 import clock
from scheduler0.api import openapi
from scheduler0.console import render, rest
from scheduler0.console.blueprint import console
from scheduler0.console.rest import RestError

PAGE_SIZE = 50
DEFAULT_STATE = "failed,missed"
DEFAULT_SINCE = "24h"
FILTERS = ("project_id", "job", "labels", "host", "node", "state", "since", "until")
# Filters the API gained with the console: offered only when the node's API documents them.
OPTIONAL_FILTERS = {"labels": "labels", "host": "host", "node": "node"}
STATE_CHOICES = (("failed,missed", "failed or missed"), ("failed", "failed"),
                 ("missed", "missed"), ("succeeded", "succeeded"), ("", "any recorded"),
                 ("scheduled", "scheduled (in flight)"))
_DURATION = re.compile(r"^(\d{1,7})\s*([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


# -- what the node's API takes ------------------------------------------------------------------


def api_parameters(path: str) -> frozenset[str]:
    """The query parameters the API documents for GET `path` (its OpenAPI document)."""
    operation = openapi.PATHS.get(path, {}).get("get", {})
    return frozenset(p["name"] for p in operation.get("parameters", ()) if p.get("in") == "query")


def csv_supported() -> bool:
    """Whether GET /executions answers format=csv."""
    return "format" in api_parameters("/executions")


# -- the filters --------------------------------------------------------------------------------


def form_values(args: Mapping[str, str]) -> dict[str, str]:
    """The filters as the form shows them: the URL's, the defaults for those it leaves out."""
    values = {name: (args.get(name) or "").strip() for name in FILTERS}
    if "state" not in args:
        values["state"] = DEFAULT_STATE
    if "since" not in args:
        values["since"] = DEFAULT_SINCE
    return values


def instant_text(text: str, now: int) -> str | None:
    """A since/until value for the API: a duration back from `now` ("24h") as epoch seconds,
    anything else as it is (the API checks it and names the parameter when it is wrong)."""
    if not text:
        return None
    match = _DURATION.match(text.lower())
    if match is None:
        return text
    return str(now - int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def api_query(values: Mapping[str, str], job_id: int | None, now: int,
              offered: frozenset[str]) -> dict[str, Any]:
    """The GET /executions query for the form's `values` (without state, limit and after),
    with `job_id` resolved from the job filter and only the `offered` optional filters."""
    query: dict[str, Any] = {"project_id": values["project_id"] or None, "job_id": job_id,
                             "since": instant_text(values["since"], now),
                             "until": instant_text(values["until"], now)}
    for name in OPTIONAL_FILTERS:
        if name in offered and values[name]:
            query[name] = values[name]
    return query


def states_of(state: str) -> list[str]:
    """The states a filter value names ("failed,missed": both); [""]: every recorded one."""
    return [part.strip().lower() for part in state.split(",") if part.strip()] or [""]


# -- one page of rows ---------------------------------------------------------------------------


@dataclass
class Found:
    """One page of the history: its rows, the next page's cursor, the total (a lower bound
    when not `exact`), and whether a bounded scan stopped it before it was full."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    next_after: str | None = None
    total: int = 0
    exact: bool = True
    scan_limited: bool = False


def read_one(query: Mapping[str, Any]) -> Found:
    data = rest.call("GET", "/executions", query)
    after = data.get("next_after")
    return Found(list(data.get("executions") or ()), str(after) if after else None,
                 int(data.get("total") or 0), bool(data.get("total_exact", True)),
                 bool(data.get("scan_limited", False)))


def read_page(query: Mapping[str, Any], state: str, after: str | None) -> Found:
    """One page of executions in `state` (a filter value: one state, several, or any), each
    row with its job's name and zone."""
    return read_one({**query, "state": ",".join(s for s in states_of(state) if s) or None,
                     "limit": PAGE_SIZE, "after": after, "include": "job"})


def lateness_seconds(execution: Mapping[str, Any]) -> float | None:
    """How long after its tick an execution started (None: it never started)."""
    started = render.to_datetime(execution.get("started_at"))
    scheduled = render.to_datetime(execution.get("scheduled_at"))
    if started is None or scheduled is None:
        return None
    return max(0.0, (started - scheduled).total_seconds())


def duration_text(seconds: float | None) -> str:
    """"0.42 s", "12 s", "3 min 5 s", "2 h 10 min"; "" for None."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.2f} s"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def table_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What each row of the table shows (`job`: what include=job gave, None for a job
    deleted since)."""
    shown = []
    for row in rows:
        job = row.get("job")
        shown.append({**row, "zone": (job or {}).get("timezone") or "UTC",
                      "job_label": _job_label(int(row["job_id"]), job),
                      "job_missing": job is None,
                      "lateness": duration_text(lateness_seconds(row))})
    return shown


def _job_label(job_id: int, job: Mapping[str, Any] | None) -> str:
    if job is None:
        return f"job {job_id}"
    return str(job.get("name") or f"job {job_id}")


# -- the page -----------------------------------------------------------------------------------


def _resolve_job(values: Mapping[str, str]) -> int | None:
    """The job filter as an id: an id as it is, a name looked up (in the project filter's
    project when there is one); RestError when no job has that name."""
    text = values["job"]
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return int(text)
    job = rest.call("GET", "/jobs/" + quote(text, safe=""),
                    {"project_id": values["project_id"] or None})
    return int(job["id"])


def page_url(values: Mapping[str, str], after: str | None = None) -> str:
    """This page with these filters (every filter written, so defaults stay what they were)."""
    pairs = [(name, values[name]) for name in FILTERS]
    if after:
        pairs.append(("after", after))
    return "/ui/executions?" + urlencode(pairs)


def csv_links(query: Mapping[str, Any], state: str) -> list[tuple[str, str]]:
    """(label, URL) of the API's CSV of the same executions; none when the API writes no
    CSV."""
    if not csv_supported():
        return []
    return [("Export CSV", _csv_url(query, ",".join(s for s in states_of(state) if s)))]


def _csv_url(query: Mapping[str, Any], state: str) -> str:
    pairs = [(k, str(v)) for k, v in query.items() if v is not None]
    if state:
        pairs.append(("state", state))
    pairs.append(("format", "csv"))
    return "/api/v1/executions?" + urlencode(pairs)


@console.get("/executions")
def executions_page() -> Response:
    values = form_values(request.args)
    offered = api_parameters("/executions")
    now = int(clock.now())
    projects, all_projects = rest.project_choices()
    context: dict[str, Any] = {
        "values": values, "states": STATE_CHOICES, "projects": projects,
        "all_projects": all_projects, "offered": offered, "found": Found(), "rows": [],
        "problem": "", "next_url": None, "first_url": None, "csv_links": [],
        "missing_filters": [name for name in OPTIONAL_FILTERS
                            if name not in offered and values[name]]}
    try:
        query = api_query(values, _resolve_job(values), now, offered)
        found = read_page(query, values["state"], request.args.get("after") or None)
    except RestError as exc:
        if exc.status in (401, 403):
            return render.error_page(exc.status, exc.message)
        context["problem"] = exc.message
        return render.page("executions.html", "Executions", status=exc.status, **context)
    context.update(
        found=found, rows=table_rows(found.rows),
        next_url=page_url(values, found.next_after) if found.next_after else None,
        first_url=page_url(values) if request.args.get("after") else None,
        csv_links=csv_links(query, values["state"]))
    return render.page("executions.html", "Executions", **context)
