"""/schedules/preview: the next N fire times of a spec in a zone, from a given instant."""

from __future__ import annotations

from flask import Blueprint, Response, request

from scheduler0 import clock, schedule
from scheduler0.api import serialize, validation
from scheduler0.api.context import api, ok
from scheduler0.errors import ScheduleError, ValidationError

bp = Blueprint("schedules", __name__)


@bp.get("/schedules/preview")
def preview() -> Response:
    query = validation.preview_query(request.args, int(clock.now()),
                                     api().settings.default_timezone)
    if schedule.has_hash(query["spec"]):
        raise ValidationError("spec: H stands for a value derived from a job's id, which a "
                              "preview has not; POST /jobs?dry_run=true shows the fire times a "
                              "job with this spec would get", code="invalid_spec")
    try:
        times = schedule.preview(query["spec"], query["timezone"], query["from"], query["count"],
                                 anchor=query["from"])
    except ScheduleError as exc:
        raise ValidationError(f"spec: {exc.message}", code="invalid_spec") from None
    except (ValueError, OverflowError) as exc:
        raise ValidationError(f"spec: {exc}", code="invalid_spec") from None
    if not times:
        raise ValidationError(f"spec: {query['spec']!r} never fires after "
                              f"{serialize.instant(query['from'])}; check the day-of-month "
                              "and month fields", code="invalid_spec")
    return ok({"spec": query["spec"], "timezone": query["timezone"],
               "from": serialize.instant(query["from"]), "count": len(times),
               "times": [{"utc": t["utc"], "local": t["local"], "epoch": t["epoch"]}
                         for t in times]})
