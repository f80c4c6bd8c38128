"""`/ui/jobs`: the jobs list, one keyset page at a time, with bulk operations on a selection.

Every filter lives in the URL (a GET form), so a view can be bookmarked and shared, and the
form works without JavaScript. The rows come from GET /jobs (in-process, with the viewer's own
credential: the list is exactly what the API lets that viewer see); the page renders only one
page of it (PAGE_SIZE rows) and the API's capped total, never the whole list.

The bulk operations (static/jobs.js) go to POST /jobs/bulk from the browser: by ids for the
rows ticked, or by a filter for "all N matching": the bulk filter takes the list's filters
(`bulk_filter`), read as GET /jobs reads them. Where the list's scan stopped short
(scan_limited), the API would refuse that filter, so only ticked rows can be acted on.

Filters the node's API does not document (an older node: contains, status, last_state, host,
sort) are left out of the form rather than ignored silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Response, request

from scheduler0 import clock
from scheduler0.api import openapi
from scheduler0.console import render, rest
from scheduler0.console.blueprint import console
from scheduler0.console.rest import RestError
from scheduler0.schedule.words import spec_in_words

PAGE_SIZE = 50
FILTERS = ("project_id", "name", "contains", "labels", "status", "last_state", "host", "sort")
# Filters the API gained with the console: offered only when its OpenAPI document has them.
OPTIONAL_FILTERS = ("contains", "status", "last_state", "host", "sort")
STATUS_CHOICES = (("", "any"), ("active", "active"), ("paused", "paused"),
                  ("completed", "completed"))
LAST_STATE_CHOICES = (("", "any"), ("succeeded", "succeeded"), ("failed", "failed"),
                      ("missed", "missed"))
SORT_CHOICES = (("", "id, oldest first"), ("-id", "id, newest first"), ("name", "name, A to Z"),
                ("-name", "name, Z to A"))


# -- the filters --------------------------------------------------------------------------------


def offered_filters() -> frozenset[str]:
    """The filters of FILTERS the node's API documents for GET /jobs."""
    operation = openapi.PATHS.get("/jobs", {}).get("get", {})
    documented = {p["name"] for p in operation.get("parameters", ()) if p.get("in") == "query"}
    return frozenset(name for name in FILTERS if name in documented)


def form_values(args: Mapping[str, str], offered: frozenset[str]) -> dict[str, str]:
    """The filters as the form shows them (the URL's, trimmed); "" for one not offered."""
    return {name: (args.get(name) or "").strip() if name in offered else "" for name in FILTERS}


def api_query(values: Mapping[str, str], after: str | None) -> dict[str, Any]:
    """The GET /jobs query of the form's `values`: the API checks each and names a bad one.
    status=paused is sent as paused=true, which means the same and, with no other console
    filter, takes the API's older (indexed) list instead of its bounded scan."""
    query: dict[str, Any] = {name: value for name, value in values.items() if value}
    if query.get("status", "").lower() == "paused":
        del query["status"]
        query["paused"] = "true"
    query["limit"] = PAGE_SIZE
    if after:
        query["after"] = after
    return query


def bulk_filter_fields() -> frozenset[str]:
    """The fields the node's POST /jobs/bulk documents for its filter."""
    request = openapi.SCHEMAS.get("BulkRequest", {})
    chosen = request.get("properties", {}).get("filter", {})
    return frozenset(chosen.get("properties", {}))


def bulk_filter(values: Mapping[str, str], accepted: frozenset[str] | None = None
                ) -> dict[str, Any] | None:
    """The POST /jobs/bulk filter that selects exactly the jobs the page's filters match, or
    None when the bulk API does not take one of them (an older node: `accepted`, by default
    from its OpenAPI document) or they say nothing (the API refuses an empty filter, so
    "every job" is not one). The sort changes no selection and is left out."""
    accepted = bulk_filter_fields() if accepted is None else accepted
    chosen: dict[str, Any] = {name: values[name] for name in FILTERS
                              if name != "sort" and values.get(name)}
    if chosen.get("status") == "paused":  # as api_query sends it: the indexed selection
        del chosen["status"]
        chosen["paused"] = True
    if any(name not in accepted for name in chosen):
        return None
    if "project_id" in chosen:
        project = chosen["project_id"]
        if not (project.isascii() and project.isdigit()):
            return None
        chosen["project_id"] = int(project)
    return chosen or None


def page_url(values: Mapping[str, str], after: str | None = None, **changes: str) -> str:
    """This page's URL with `values` (and `changes`), at the page `after` (None: the first)."""
    merged = {**values, **changes}
    pairs = [(name, merged[name]) for name in FILTERS if merged.get(name)]
    if after:
        pairs.append(("after", after))
    return "/ui/jobs" + ("?" + urlencode(pairs) if pairs else "")


def with_label(selector: str, key: str, value: str) -> str:
    """`selector` with the requirement key=value added (as it is, when it has it already)."""
    wanted = f"{key}={value}"
    parts = [part.strip() for part in selector.split(",") if part.strip()] if selector else []
    return selector if wanted in parts else ",".join([*parts, wanted])


# -- the rows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chip:
    text: str
    url: str


@dataclass(frozen=True)
class JobRow:
    """One job as the list shows it."""

    id: int
    name: str
    named: bool
    href: str
    chips: list[Chip]
    words: str
    spec: str
    timezone: str
    status: str
    last_state: str
    last_http_status: int | None
    lateness: str
    last_at: str | None
    last_age: str
    next_at: str | None
    host: str


def job_row(job: Mapping[str, Any], values: Mapping[str, str], now: int) -> JobRow:
    zone = str(job.get("timezone") or "UTC")
    spec = str(job.get("spec") or "")
    labels = job.get("labels") or {}
    chips = [Chip(f"{key}={value}", page_url(values, labels=with_label(values.get("labels", ""),
                                                                     key, str(value))))
             for key, value in sorted(labels.items())]
    last_at = job.get("last_execution_at")
    return JobRow(
        id=int(job["id"]), name=str(job.get("name") or f"job {job['id']}"),
        named=bool(job.get("name")), href=f"/ui/jobs/{int(job['id'])}", chips=chips,
        words=spec_in_words(spec, zone), spec=spec, timezone=zone,
        status=str(job.get("status") or ("paused" if job.get("paused") else "active")),
        last_state=str(job.get("last_state") or ""),
        last_http_status=job.get("last_http_status"),
        lateness=lateness_text(job.get("last_late_ms")),
        last_at=last_at, last_age=age_text(last_at, now),
        next_at=job.get("next_execution_at"), host=str(job.get("callback_host") or ""))


def lateness_text(late_ms: Any) -> str:
    """How late the last result's tick started: `120 ms late`, `3.5 s late`; "" unknown."""
    if not isinstance(late_ms, int) or isinstance(late_ms, bool):
        return ""
    if late_ms < 1000:
        return f"{max(late_ms, 0)} ms late"
    if late_ms < 60_000:
        return f"{late_ms / 1000:.1f} s late"
    return f"{late_ms / 60_000:.1f} min late"


def age_text(instant: Any, now: int) -> str:
    """`5 min ago` for an instant as the API writes it; "" for none."""
    moment = render.to_datetime(instant)
    if moment is None:
        return ""
    seconds = now - int(moment.timestamp())
    if seconds < 0:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def count_text(answer: Mapping[str, Any]) -> str:
    """The total as the API gives it: `N`, or `N+` when it is a lower bound (capped at
    10,000, or counted within the rows a bounded scan read)."""
    total = int(answer.get("total") or 0)
    exact = answer.get("total_exact", True) and not answer.get("scan_limited")
    return f"{total}" if exact else f"{total}+"


# -- the page -----------------------------------------------------------------------------------




@console.get("/jobs")
def jobs_page() -> Response:
    offered = offered_filters()
    values = form_values(request.args, offered)
    after = (request.args.get("after") or "").strip() or None
    projects, all_projects = rest.project_choices()
    context: dict[str, Any] = {
        "values": values, "offered": offered, "projects": projects,
        "all_projects": all_projects, "status_choices": STATUS_CHOICES,
        "last_state_choices": LAST_STATE_CHOICES, "sort_choices": SORT_CHOICES,
        "missing_filters": [n for n in OPTIONAL_FILTERS if n not in offered],
        "reset_url": page_url({})}
    try:
        answer = rest.call("GET", "/jobs", api_query(values, after))
    except RestError as exc:
        if exc.status != 400:
            return render.error_page(exc.status, exc.message)
        return render.page("jobs.html", "Jobs", status=400, problem=exc.message, rows=[],
                           **context)
    now = int(clock.now())
    rows = [job_row(job, values, now) for job in answer.get("jobs") or ()]
    next_after = answer.get("next_after")
    scan_limited = bool(answer.get("scan_limited"))
    chosen = None if scan_limited else bulk_filter(values)
    page_data = {"filter": chosen, "count": count_text(answer), "page_ids": [r.id for r in rows],
                 "filter_words": filter_words(values)}
    return render.page(
        "jobs.html", "Jobs", problem=None, rows=rows, count=count_text(answer),
        scan_limited=scan_limited,
        next_url=page_url(values, str(next_after)) if next_after else None,
        first_url=page_url(values) if after else None, page_data=page_data,
        **context)


def filter_words(values: Mapping[str, str]) -> str:
    """The filters in a line, for a confirmation: `labels team=web, status paused`."""
    shown = [f"{name.replace('_', ' ')} {values[name]}" for name in FILTERS
             if values.get(name) and name != "sort"]
    return ", ".join(shown) or "no filter"
