"""What the console's overview and load screens read besides the lists: GET /summary (the
jobs by status and the last day's executions, from counters and indexes) and GET /load (the
upcoming executions per second, from the schedules: scheduler0.schedule.load)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from scheduler0 import clock
from scheduler0.api import serialize, validation
from scheduler0.api.context import ok, reader
from scheduler0.schedule import load

bp = Blueprint("console_reads", __name__)


@bp.get("/summary")
def summary() -> Response:
    """The overview's counts for the projects the caller sees."""
    now = int(clock.now())
    return ok(serialize.summary(reader().summary(now), now))


@bp.get("/load")
def upcoming_load() -> Response:
    """The executions per second over the next `minutes`, the busiest seconds and what
    causes them, computed from the schedules (each schedule's fire times once, times its
    unpaused jobs), not from the jobs."""
    query = validation.load_query(request.args)
    now = int(clock.now())
    seconds = int(query["minutes"]) * 60
    schedules, capped = reader().upcoming_schedules(now + seconds)
    found = load.compute(schedules, now, seconds, query["threshold"])
    return ok(serialize.load(found, int(query["minutes"]), len(schedules), capped))
