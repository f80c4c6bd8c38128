"""One job's page, `/ui/jobs/<id or name>`, and its forms: `/ui/jobs/new`, `/ui/jobs/<id>/edit`
and `/ui/jobs/<id>/duplicate`.

The page is rendered from the REST API (scheduler0.console.rest): the job, its project's rate
limit, its next fire times and one page of its history. What the page does (run now, pause,
backfill, redeliver, delete, the forms' dry runs and submits) the browser asks of the API
itself (static/job_detail.js, static/job_form.js).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

from flask import Response, jsonify, request

from scheduler0 import clock, schedule
from scheduler0.console import jobview, render, rest
from scheduler0.console.blueprint import console
from scheduler0.console.rest import RestError
from scheduler0.errors import ScheduleError
from scheduler0.schedule import words
from scheduler0.vocabulary import EXECUTION_STATES, HTTP_METHODS, MAX_DATA_BYTES, MISFIRE_POLICIES

HISTORY_PAGE = 25  # executions per history page: one page only, whatever the history holds
FIRE_TIMES = 10
DATA_SHOWN = 2000  # characters of a job's data on its page (the edit form has all of it)
TEXT = "text/plain; charset=utf-8"
MAX_WORDS_SPEC = 1000  # characters of a spec /ui/jobs/spec-words describes


def _job_path(ref: str) -> str:
    return "/jobs/" + quote(ref, safe="")


def _project_query() -> dict[str, str | None]:
    return {"project_id": request.args.get("project_id") or None}


@console.get("/jobs/<ref>")
def job_detail(ref: str) -> Response:
    try:
        job = rest.call("GET", _job_path(ref), _project_query())
    except RestError as exc:
        return render.error_page(exc.status, exc.message)
    project, project_error = _attempt(lambda: rest.call("GET", f"/projects/{job['project_id']}"))
    history = _history(job)
    return render.page(
        "job_detail.html", job_title(job), job=job, project=project,
        project_error=project_error, words=spec_words(job["spec"], job["timezone"]),
        fire=_fire_times(job), history=history,
        filters={name: request.args.get(name, "") for name in (
            "state", "window", "since", "until")},
        states=EXECUTION_STATES, windows=tuple(jobview.WINDOWS),
        opened=request.args.get("open", ""), data_shown=DATA_SHOWN,
        backfill_range=_backfill_defaults())


@console.get("/jobs/<ref>/curl")
def job_curl(ref: str) -> Response:
    """The curl command line that creates a job like this one, as text: asked for when the
    page's button is pressed, so a job with 64 KiB of data does not weigh on its page."""
    try:
        job = rest.call("GET", _job_path(ref), _project_query())
    except RestError as exc:
        return Response(exc.message, status=exc.status, content_type=TEXT)
    return Response(jobview.curl_command(job, request.host_url), content_type=TEXT)


def job_title(job: dict[str, Any]) -> str:
    return str(job.get("name") or f"job {job['id']}")


def _attempt(read: Callable[[], Any]) -> tuple[Any, str]:
    """(what `read` returns, "") or (None, the API's message): a panel that cannot be filled
    says why, and the rest of the page still shows."""
    try:
        return read(), ""
    except RestError as exc:
        return None, exc.message


def _fire_times(job: dict[str, Any]) -> dict[str, Any]:
    """The job's next FIRE_TIMES fire times from GET /schedules/preview, each with its UTC
    offset and DST jump, or the API's reason there are none."""
    query: dict[str, Any] = {"spec": job.get("resolved_spec") or job["spec"],
                             "timezone": job["timezone"], "count": FIRE_TIMES,
                             "job_id": job["id"]}
    start = _preview_start(job, query["spec"])
    if start is not None:
        query["from"] = start
    answer, error = _attempt(lambda: rest.call("GET", "/schedules/preview", query))
    if answer is None:
        return {"times": [], "error": error}
    try:
        times = jobview.fire_times(answer.get("times") or [])
    except (ValueError, KeyError, TypeError):
        return {"times": [], "error": "the preview's times have no UTC offset"}
    return {"times": times, "error": ""}


def _preview_start(job: dict[str, Any], spec: str) -> int | None:
    """Where the preview starts so that its first time is the job's next tick: an @every
    job's ticks count from its anchor, which a preview takes to be its `from`, so it starts
    one interval before the next tick (a cron spec does not depend on it: one second
    before). None without a next tick (paused, completed): from now."""
    next_at = job.get("next_execution_at")
    if not next_at:
        return None
    try:
        next_tick = schedule.parse_instant(str(next_at), "next_execution_at")
        interval = schedule.parse(spec, job["timezone"]).interval
    except ScheduleError:
        return None
    return next_tick - (interval or 1)


def _history(job: dict[str, Any]) -> dict[str, Any]:
    """One page of the job's executions, newest first, as the page's filters ask."""
    query = jobview.history_query(request.args, int(clock.now()), HISTORY_PAGE)
    try:
        items, next_after, total = rest.page_of(f"/jobs/{job['id']}/executions", query)
    except RestError as exc:
        return {"items": [], "next_url": None, "first_url": None, "total": 0,
                "error": exc.message}
    kept = {name: request.args[name] for name in ("state", "window", "since", "until",
                                                  "project_id") if request.args.get(name)}
    base = request.path
    next_url = f"{base}?{urlencode({**kept, 'after': next_after})}" if next_after else None
    first_url = (f"{base}?{urlencode(kept)}" if kept else base) if request.args.get(
        "after") else None
    return {"items": items, "next_url": next_url, "first_url": first_url, "total": total,
            "error": ""}


def _backfill_defaults() -> dict[str, str]:
    """The backfill inputs' first values: the last hour, to the second."""
    now = int(clock.now())
    return {"from": schedule.format_rfc3339_utc(now - 3600),
            "to": schedule.format_rfc3339_utc(now)}


def spec_words(spec: str, timezone: str) -> str:
    """The spec in words (scheduler0.schedule.words), "" when it has none better than the
    spec itself."""
    try:
        described = words.spec_in_words(spec, timezone)
    except (ScheduleError, ValueError, TypeError):
        return ""
    return "" if described == " ".join(spec.split()) else described


@console.get("/jobs/spec-words")
def spec_words_json() -> Response:
    """The form's live description of the spec it holds: pure text work, nothing stored."""
    spec = (request.args.get("spec") or "")[:MAX_WORDS_SPEC]
    zone = (request.args.get("timezone") or "UTC")[:MAX_WORDS_SPEC]
    return jsonify({"spec": spec, "words": spec_words(spec, zone) if spec.strip() else ""})


# -- the forms ----------------------------------------------------------------------------------


@console.get("/jobs/new")
def job_new() -> Response:
    values = jobview.form_values(None, "new")
    values["project_id"] = request.args.get("project_id", "")
    return _form("new", None, values)


@console.get("/jobs/<ref>/edit")
def job_edit(ref: str) -> Response:
    return _form_of(ref, "edit")


@console.get("/jobs/<ref>/duplicate")
def job_duplicate(ref: str) -> Response:
    return _form_of(ref, "duplicate")


def _form_of(ref: str, mode: str) -> Response:
    try:
        job = rest.call("GET", _job_path(ref), _project_query())
    except RestError as exc:
        return render.error_page(exc.status, exc.message)
    return _form(mode, job, jobview.form_values(job, mode))


FORM_TITLES = {"new": "New job", "edit": "Edit {}", "duplicate": "Duplicate {}"}


def _form(mode: str, job: dict[str, Any] | None, values: dict[str, str]) -> Response:
    projects, _ = _attempt(lambda: rest.page_of("/projects", {"limit": rest.PROJECT_CHOICES})[0])
    title = FORM_TITLES[mode].format(job_title(job) if job else "")
    return render.page("job_form.html", title, mode=mode, job=job, values=values,
                       projects=projects or [], timezones=timezones(),
                       methods=HTTP_METHODS, misfire_policies=MISFIRE_POLICIES,
                       data_limit=MAX_DATA_BYTES)


@lru_cache(maxsize=1)
def timezones() -> tuple[str, ...]:
    """The zone picker's choices: the tz database's names, sorted."""
    return tuple(sorted(zoneinfo.available_timezones() - {"localtime", "Factory"}))

