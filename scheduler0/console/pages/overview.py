"""The overview, /ui/: the cluster, the last hour per minute, the jobs, the last day's misfires.

Each panel is one or a few REST calls made as the viewer; a panel the viewer may not read (the
cluster needs an admin credential for every project) shows the API's message instead, and
the rest of the page still renders. The chart is an SVG drawn here: no script, no library.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Response

from scheduler0 import clock
from scheduler0.console.blueprint import console
from scheduler0.console.render import page, to_datetime
from scheduler0.console.rest import RestError, call

MINUTES = 60
# The rollups' lateness buckets (store/history.py LATENESS_COLUMNS) and how to say each bound.
LATENESS = (("late_100ms", "≤ 100 ms"), ("late_1s", "≤ 1 s"), ("late_10s", "≤ 10 s"),
            ("late_more", "> 10 s"))
CHART_WIDTH, CHART_HEIGHT, CHART_TOP, CHART_BOTTOM = 720, 180, 12, 22


@dataclass
class Panel:
    """One panel's data, or the API's message when the viewer may not read it."""

    data: Any = None
    error: str = ""
    status: int = 0


@dataclass
class Minute:
    start: int
    succeeded: int = 0
    failed: int = 0
    missed: int = 0
    lateness: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.succeeded + self.failed + self.missed


def fetch(read: Callable[[], Any]) -> Panel:
    try:
        return Panel(data=read())
    except RestError as exc:
        return Panel(error=exc.message, status=exc.status)


@console.get("/")
def overview() -> Response:
    now = int(clock.now())
    minutes = fetch(lambda: last_hour(now))
    return page("overview.html", "Overview",
                health=fetch(lambda: call("GET", "/healthcheck")),
                cluster=fetch(lambda: call("GET", "/cluster")),
                minutes=minutes,
                hour=None if minutes.data is None else hour_summary(minutes.data),
                chart=None if minutes.data is None else chart(minutes.data),
                jobs=fetch(job_counts),
                misfires=fetch(lambda: last_day_misfires(now)))


def last_hour(now: int) -> list[Minute]:
    """The last MINUTES minutes, oldest first, the current one included; minutes without
    executions are zeros."""
    first = (now // 60 - (MINUTES - 1)) * 60
    rows = call("GET", "/rollups", {"period": "minute", "since": first, "limit": MINUTES + 5})
    by_start = {start: Minute(start) for start in range(first, first + MINUTES * 60, 60)}
    for row in rows.get("rollups") or []:
        moment = to_datetime(row.get("period_start"))
        minute = None if moment is None else by_start.get(int(moment.timestamp()))
        if minute is None:
            continue
        minute.succeeded += int(row.get("succeeded") or 0)
        minute.failed += int(row.get("failed") or 0)
        minute.missed += int(row.get("missed") or 0)
        for column, _ in LATENESS:
            minute.lateness[column] = minute.lateness.get(column, 0) + int(row.get(column) or 0)
    return list(by_start.values())


def percentile_bucket(lateness: dict[str, int], fraction: float) -> str:
    """The bucket the `fraction` quantile of lateness falls in ("–" without any start): the
    rollups keep counts per bucket, so this is a bound, not a measured value."""
    counts = [(label, lateness.get(column, 0)) for column, label in LATENESS]
    total = sum(count for _, count in counts)
    if total == 0:
        return "–"
    seen = 0
    for label, count in counts:
        seen += count
        if seen >= fraction * total:
            return label
    return counts[-1][0]


def hour_summary(minutes: list[Minute]) -> dict[str, Any]:
    lateness: dict[str, int] = {}
    for minute in minutes:
        for column, count in minute.lateness.items():
            lateness[column] = lateness.get(column, 0) + count
    active = [minute for minute in reversed(minutes) if minute.total]
    return {"succeeded": sum(m.succeeded for m in minutes),
            "failed": sum(m.failed for m in minutes),
            "missed": sum(m.missed for m in minutes),
            "p50": percentile_bucket(lateness, 0.5), "p99": percentile_bucket(lateness, 0.99),
            "rows": [{"minute": m, "p50": percentile_bucket(m.lateness, 0.5),
                      "p99": percentile_bucket(m.lateness, 0.99)} for m in active]}


def chart(minutes: list[Minute]) -> dict[str, Any]:
    """Stacked bars per minute (succeeded, failed, missed), in SVG user units."""
    peak = max([minute.total for minute in minutes] + [1])
    plot = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    step = CHART_WIDTH / len(minutes)
    bars = []
    for index, minute in enumerate(minutes):
        base: float = CHART_TOP + plot
        parts = []
        for kind, count in (("ok", minute.succeeded), ("failed", minute.failed),
                            ("missed", minute.missed)):
            height = plot * count / peak
            if count:
                parts.append({"kind": kind, "y": round(base - height, 2),
                              "height": round(height, 2)})
            base -= height
        bars.append({"x": round(index * step + 1, 2), "width": round(max(step - 2, 1), 2),
                     "minute": minute, "parts": parts})
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "bars": bars, "peak": peak,
            "axis_y": CHART_TOP + plot, "top": CHART_TOP,
            "label_y": CHART_HEIGHT - 6, "middle": CHART_WIDTH / 2}


def job_counts() -> dict[str, Any]:
    """Jobs total, paused and failing, from the jobs list's totals (capped by the API:
    `exact` False means "at least")."""
    counts: dict[str, Any] = {}
    for name, query in (("total", {}), ("paused", {"paused": True}),
                        ("failing", {"failing": True})):
        data = call("GET", "/jobs", {"limit": 1, **query})
        counts[name] = {"count": int(data.get("total") or 0),
                        "exact": bool(data.get("total_exact", True))}
    return counts


def last_day_misfires(now: int) -> dict[str, Any]:
    """Missed executions in the last 24 hours (hourly rollups), and the hours they were in."""
    first = (now // 3600 - 23) * 3600
    rows = call("GET", "/rollups", {"period": "hour", "since": first, "limit": 30})
    hours = [(row.get("period_start"), int(row.get("missed") or 0))
             for row in rows.get("rollups") or []]
    return {"missed": sum(count for _, count in hours),
            "hours": sorted([hour for hour in hours if hour[1]], reverse=True)}

