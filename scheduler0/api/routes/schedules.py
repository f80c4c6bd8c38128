"""/schedules/preview: the next N fire times of a spec in a zone, from a given instant, each
with the zone's UTC offset then and whether it changed since the previous one (a daylight-
saving jump). A spec with H previews as the job `job_id` would resolve it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, request

from scheduler0 import clock, schedule
from scheduler0.api import serialize, validation
from scheduler0.api.context import api, ok
from scheduler0.errors import ScheduleError, ValidationError
from scheduler0.schedule.zones import get_zone

bp = Blueprint("schedules", __name__)


@bp.get("/schedules/preview")
def preview() -> Response:
    now = int(clock.now())
    query = validation.preview_query(request.args, now, api().settings.default_timezone)
    job_id = validation.query_id(request.args, "job_id", "jobId")
    spec, anchor = query["spec"], query["from"]
    if schedule.has_hash(spec):
        if job_id is None:
            raise ValidationError("job_id: required with a spec holding H, which stands for a "
                                  "value derived from a job's id; add ?job_id=<id> (the fire "
                                  "times that job would get), or POST /jobs?dry_run=true",
                                  code="invalid_job_id")
        try:
            resolved = schedule.resolve_job_spec(spec, job_id, now)
        except ScheduleError as exc:
            raise ValidationError(f"spec: {exc.message}", code="invalid_spec") from None
        spec, anchor = resolved.spec, anchor + resolved.anchor_shift
    try:
        times = schedule.preview(spec, query["timezone"], query["from"], query["count"],
                                 anchor=anchor)
    except ScheduleError as exc:
        raise ValidationError(f"spec: {exc.message}", code="invalid_spec") from None
    except (ValueError, OverflowError) as exc:
        raise ValidationError(f"spec: {exc}", code="invalid_spec") from None
    if not times:
        raise ValidationError(f"spec: {query['spec']!r} never fires after "
                              f"{serialize.instant(query['from'])}; check the day-of-month "
                              "and month fields", code="invalid_spec")
    return ok({"spec": query["spec"], "resolved_spec": spec, "job_id": job_id,
               "timezone": query["timezone"], "from": serialize.instant(query["from"]),
               "count": len(times), "times": _with_offsets(times, query["timezone"],
                                                           query["from"])})


def _with_offsets(times: list[dict[str, Any]], zone: str, start: int) -> list[dict[str, Any]]:
    """Each fire time with the zone's UTC offset at it and whether the offset changed since
    the previous one (for the first: since `start`)."""
    previous = _offset(start, zone)
    shown = []
    for t in times:
        offset = _offset(t["epoch"], zone)
        shown.append({"utc": t["utc"], "local": t["local"], "epoch": t["epoch"],
                      "utc_offset": _offset_text(offset), "utc_offset_seconds": offset,
                      "dst_change": offset != previous})
        previous = offset
    return shown


def _offset(epoch: int, zone: str) -> int:
    delta = datetime.fromtimestamp(epoch, get_zone(zone)).utcoffset()
    return 0 if delta is None else int(delta.total_seconds())


def _offset_text(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours:02d}:{rest // 60:02d}"
