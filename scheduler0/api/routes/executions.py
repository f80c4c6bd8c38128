"""/executions and /jobs/{id}/executions: the execution history, newest first, as JSON pages
or as CSV (format=csv); /rollups: its counts per minute and per hour."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, request, stream_with_context

from scheduler0.api import serialize, validation
from scheduler0.api.context import ok, reader
from scheduler0.api.routes.jobs import existing_job
from scheduler0.store.execution_browse import JobsOf
from scheduler0.store.reads import Page
from scheduler0.vocabulary import parse_execution_key

bp = Blueprint("executions", __name__)
CSV_CHUNK = 1000  # rows read (one short read transaction) and written at a time
CSV_COLUMNS = ("execution_id", "job_id", "project_id", "scheduled_at", "state", "attempts",
               "http_status", "node_id", "batch_id", "error", "planned_at", "started_at",
               "finished_at", "trigger", "redeliveries")
# A spreadsheet runs a cell that starts with one of these as a formula: a receiver's error
# text must not (it is shown with a leading apostrophe instead).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@bp.get("/executions")
def list_all() -> Response:
    return _answer(validation.execution_filters(request.args),
                   validation.execution_jobs(request.args))


@bp.get("/jobs/<job_id>/executions")
def for_job(job_id: str) -> Response:
    ref = validation.path_job(job_id)
    filters = validation.execution_filters(request.args, with_ids=False)
    return _answer({**filters, "job_id": existing_job(ref)["id"]}, None)


def _answer(filters: dict[str, Any], jobs: JobsOf | None) -> Response:
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    if validation.wants_csv(request.args, best):
        return _csv(filters, jobs)
    limit, offset = validation.pagination(request.args)
    with_jobs = validation.execution_includes(request.args)
    found = _fetch(filters, jobs, request.args.get("after") or None, offset, limit)
    show = _with_jobs(found.rows) if with_jobs else serialize.execution
    return ok(serialize.page("executions", found, limit, offset, show, scans=True))


def _with_jobs(rows: Sequence[Mapping[str, Any]]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """serialize.execution plus each row's job (name and zone; null once deleted), read in
    one lookup for the page."""
    briefs = reader().job_briefs([int(row["job_id"]) for row in rows])

    def show(row: Mapping[str, Any]) -> dict[str, Any]:
        return {**serialize.execution(row), "job": briefs.get(int(row["job_id"]))}
    return show


def _fetch(filters: dict[str, Any], jobs: JobsOf | None, after: str | None, offset: int,
           limit: int) -> Page:
    if jobs is None:
        return reader().list_executions(**filters, limit=limit, offset=offset, after=after)
    return reader().browse_executions(jobs, **filters, limit=limit, offset=offset, after=after)


def _csv(filters: dict[str, Any], jobs: JobsOf | None) -> Response:
    """The page of up to `limit` rows (validation.csv_limit) from `after`, as CSV with a header
    row, read and written CSV_CHUNK rows at a time. Its end is found first (a walk of the rows
    that converts only the last), so that the Link header can name the next export's cursor
    before the body is sent."""
    limit = validation.csv_limit(request.args)
    after = request.args.get("after") or None
    last = _fetch(filters, jobs, after, limit - 1, 1)
    if last.rows:  # the export ends at its limit-th row; more follow when there is a next
        end, next_after = last.rows[0]["execution_id"], last.next_after and last.rows[0][
            "execution_id"]
    elif last.scan_limited:  # a bounded scan stopped first: the export ends where it did
        end = next_after = last.next_after
    else:
        end = next_after = None
    headers = {"Content-Disposition": "attachment; filename=executions.csv"}
    if next_after:
        query = [(k, v) for k, v in request.args.items(multi=True) if k != "after"]
        headers["Link"] = (f"<{request.base_url}?{urlencode([*query, ('after', next_after)])}>; "
                           'rel="next"')
    return Response(stream_with_context(_csv_rows(filters, jobs, after, end, limit)),
                    mimetype="text/csv", headers=headers)


def _csv_rows(filters: dict[str, Any], jobs: JobsOf | None, after: str | None,
              end: str | None, limit: int) -> Iterator[str]:
    """The header row, then the rows from `after` down to `end` (inclusive; None: to the
    last), at most `limit`, CSV_CHUNK at a time."""
    stop = None if end is None else _key(end)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield out.getvalue()
    written = 0
    # Each read moves the cursor down by at least one row, or by SCAN_LIMIT rows scanned.
    for _ in range(limit + 2):
        found = _fetch(filters, jobs, after, 0, min(CSV_CHUNK, limit - written))
        out.seek(0)
        out.truncate()
        for row in found.rows:
            if stop is not None and _key(row["execution_id"]) < stop:
                found = Page([], 0)
                break
            writer.writerow(_csv_values(serialize.execution(row)))
            written += 1
        yield out.getvalue()
        after = found.next_after
        if after is None or written >= limit or (
                stop is not None and _key(after) <= stop):
            return


def _key(execution_id: str) -> tuple[int, int, int]:
    """The order of the history (newest first is descending): (tick, job, run)."""
    key = parse_execution_key(execution_id)
    return key.scheduled_at, key.job_id, key.run


def _csv_values(shown: dict[str, Any]) -> list[Any]:
    values = [shown[column] for column in CSV_COLUMNS]
    error = shown["error"]
    if isinstance(error, str) and error.startswith(_FORMULA_STARTS):
        values[CSV_COLUMNS.index("error")] = "'" + error
    return values


@bp.get("/rollups")
def rollups() -> Response:
    """Counts per minute or hour, summed over projects unless project_id is given."""
    query = validation.rollup_query(request.args)
    return ok({"period": query["period"], "rollups": [
        serialize.rollup(row) for row in reader().rollups(**query)]})
