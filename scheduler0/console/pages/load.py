"""`/ui/load`: the executions the schedules will fire in the next hour, per second, drawn on the
server as one inline SVG path (no chart library, no script), the bursts flagged with the
schedules that cause them and the `H` spreading the API suggests, and the totals per minute.

The counts come from the API's upcoming-load route (found in its OpenAPI document); a node
whose API has none says so instead of a chart.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Response

from scheduler0.api import openapi
from scheduler0.console import render, rest
from scheduler0.console.blueprint import console
from scheduler0.console.rest import RestError

MINUTES = 60
CHART_HEIGHT = 600  # user units; the chart is CHART_WIDTH (one per second) by this
AXIS_HEIGHT = 60
LOAD_PATHS = ("/load",)  # where the API serves it (absent on older nodes)


@dataclass
class Burst:
    """A second that fires many more executions than the rest, and the schedules behind it
    (the API's causes: spec, timezone, jobs, suggestion)."""

    at: int  # epoch seconds
    count: int
    causes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Load:
    start: int  # epoch seconds of the first second
    counts: list[int]  # executions per second from `start`
    bursts: list[Burst]
    threshold: float | None = None  # above it a second is a burst
    truncated: bool = False  # the API stopped counting before the end


@dataclass
class BurstGroup:
    """Bursts with the same schedules behind them (a `* * * * *` crowd bursts every minute):
    shown once, with their seconds."""

    causes: list[dict[str, Any]]
    seconds: list[int] = field(default_factory=list)
    peak: int = 0


# -- the chart ----------------------------------------------------------------------------------


def bar_height(count: int, peak: int, height: int) -> int:
    """A bar's height in user units: 0 for none, at least 1 for any."""
    if count <= 0 or peak <= 0:
        return 0
    return max(1, round(count * height / peak))


def outline_path(counts: Sequence[int], peak: int, height: int) -> str:
    """The bars of `counts` (one a unit wide, from x=0) as one closed SVG path: the outline
    from the baseline up and along each bar's top, equal neighbours merged."""
    parts = [f"M0 {height}"]
    index = 0
    while index < len(counts):
        top = height - bar_height(counts[index], peak, height)
        run = 1
        while index + run < len(counts) and (
                bar_height(counts[index + run], peak, height) == height - top):
            run += 1
        parts.append(f"V{top}h{run}")
        index += run
    parts.append(f"V{height}Z")
    return "".join(parts)


MARK_WIDTH = 7  # user units (seconds) a burst's mark spans: one second is too thin to see


def marks_path(offsets: Iterable[int], height: int) -> str:
    """A full-height band around each offset (the bursts), as one path."""
    half = MARK_WIDTH // 2
    return "".join(f"M{max(0, offset - half)} 0V{height}h{MARK_WIDTH}V0Z"
                   for offset in sorted(set(offsets)))


def axis_ticks(start: int, seconds: int, every: int = 600) -> list[dict[str, Any]]:
    """Where the time axis is labelled: each `every` seconds from the first whole one."""
    first = -start % every
    return [{"x": offset, "label": time.strftime("%H:%M UTC", time.gmtime(start + offset))}
            for offset in range(first, seconds + 1, every)]


def per_minute(load: Load) -> list[dict[str, Any]]:
    """Each minute's total, its busiest second, and whether a burst falls in it."""
    burst_minutes = {(b.at - load.start) // 60 for b in load.bursts}
    rows = []
    for minute in range((len(load.counts) + 59) // 60):
        counts = load.counts[minute * 60:(minute + 1) * 60]
        rows.append({"at": load.start + minute * 60, "total": sum(counts),
                     "peak": max(counts, default=0), "burst": minute in burst_minutes})
    return rows


def chart(load: Load) -> dict[str, Any]:
    """What the template draws."""
    peak = max(load.counts, default=0)
    seconds = len(load.counts)
    return {"width": max(seconds, 1), "height": CHART_HEIGHT, "axis": AXIS_HEIGHT,
            "peak": peak, "bars": outline_path(load.counts, peak, CHART_HEIGHT),
            "marks": marks_path((b.at - load.start for b in load.bursts
                                 if 0 <= b.at - load.start < seconds), CHART_HEIGHT),
            "ticks": axis_ticks(load.start, seconds)}


# -- the API's answer ---------------------------------------------------------------------------


def group_bursts(bursts: Iterable[Burst]) -> list[BurstGroup]:
    """The bursts by the schedules causing them, in the order of their first second."""
    groups: dict[tuple[tuple[str, str], ...], BurstGroup] = {}
    for burst in sorted(bursts, key=lambda b: b.at):
        key = tuple((str(c.get("spec")), str(c.get("timezone"))) for c in burst.causes)
        group = groups.setdefault(key, BurstGroup(burst.causes))
        group.seconds.append(burst.at)
        group.peak = max(group.peak, burst.count)
    return list(groups.values())


def load_path() -> str | None:
    """The API's upcoming-load route, when its OpenAPI document has one."""
    return next((path for path in LOAD_PATHS if "get" in openapi.PATHS.get(path, {})), None)


def read_load(path: str) -> Load:
    return load_of(rest.call("GET", path, {"minutes": MINUTES}))


def load_of(data: Mapping[str, Any]) -> Load:
    """GET /load's answer as a Load: one count per second (its buckets are seconds for an
    hour; longer buckets are spread evenly over their seconds)."""
    bucket = int(data.get("bucket_seconds") or 1)
    counts: list[int] = []
    for value in data.get("buckets") or ():
        counts += [int(value) // bucket] * bucket
    bursts = [Burst(int(b.get("epoch") or _epoch(b.get("at"))), int(b.get("executions") or 0),
                    list(b.get("causes") or ())) for b in data.get("bursts") or ()]
    return Load(_epoch(data.get("from")), counts, bursts, data.get("threshold"),
                bool(data.get("truncated")))


def _epoch(value: Any) -> int:
    moment = render.to_datetime(value)
    return 0 if moment is None else int(moment.timestamp())


@console.get("/load")
def load_page() -> Response:
    path = load_path()
    if path is None:
        return render.page("load.html", "Upcoming load", load=None, chart=None, minutes=[],
                           groups=[], unavailable="this node's API has no upcoming-load route")
    try:
        load = read_load(path)
    except RestError as exc:
        return render.error_page(exc.status, exc.message)
    return render.page("load.html", "Upcoming load", load=load, chart=chart(load),
                       minutes=per_minute(load), groups=group_bursts(load.bursts),
                       unavailable="")
