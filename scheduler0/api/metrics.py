"""Prometheus text exposition (format 0.0.4) for the API process, without a client library.

Request counters and a latency histogram are kept here per app (label values are bounded:
the route *rule*, not the raw path); gauges (jobs, projects, executions by state, Raft) are
read at scrape time and passed to `render`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Mapping[str, Any]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in pairs.items()) + "}"


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


class Metrics:
    """Request counts by (route, method, status) and latency by (route, method)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = {}
        self._latency: dict[tuple[str, str], list[float]] = {}  # bucket counts, then sum, count

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (route, method, status)
            self._requests[key] = self._requests.get(key, 0) + 1
            series = self._latency.get((route, method))
            if series is None:
                series = self._latency[(route, method)] = [0.0] * (len(LATENCY_BUCKETS) + 2)
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    series[i] += 1
            series[-2] += seconds
            series[-1] += 1

    def render(self, gauges: Iterable[tuple[str, str, str, Mapping[str, Any], float]],
               extra: Iterable[str] = ()) -> str:
        """The exposition text; `gauges` are (name, type, help, labels, value) samples,
        grouped by name; `extra` are ready-made lines (histograms from other processes)."""
        with self._lock:
            requests = sorted(self._requests.items())
            latency = sorted((k, list(v)) for k, v in self._latency.items())
        lines = _request_lines(requests) + _latency_lines(latency)
        seen: set[str] = set()
        for gauge, kind, help_text, labels, value in gauges:
            if gauge not in seen:
                seen.add(gauge)
                lines += [f"# HELP {gauge} {help_text}", f"# TYPE {gauge} {kind}"]
            lines.append(f"{gauge}{_labels(labels)} {_number(value)}")
        lines += list(extra)
        return "\n".join(lines) + "\n"


def histogram_lines(name: str, help_text: str, histogram: Mapping[str, Any]) -> list[str]:
    """A histogram already accumulated elsewhere: {"le": [...], "counts": [cumulative...],
    "sum": float, "count": int} (the executors' lateness)."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
    for bound, count in zip(histogram.get("le") or [], histogram.get("counts") or [], strict=False):
        lines.append(f"{name}_bucket{_labels({'le': _number(bound)})} {_number(count)}")
    lines.append(f"{name}_bucket{_labels({'le': '+Inf'})} {_number(histogram.get('count', 0))}")
    lines.append(f"{name}_sum {histogram.get('sum', 0.0)!r}")
    lines.append(f"{name}_count {_number(histogram.get('count', 0))}")
    return lines


def _request_lines(requests: list[tuple[tuple[str, str, int], int]]) -> list[str]:
    name = "scheduler0_http_requests_total"
    lines = [f"# HELP {name} HTTP requests answered by the API.", f"# TYPE {name} counter"]
    for (route, method, status), count in requests:
        lines.append(f"{name}{_labels({'route': route, 'method': method, 'status': status})} "
                     f"{count}")
    return lines


def _latency_lines(latency: list[tuple[tuple[str, str], list[float]]]) -> list[str]:
    name = "scheduler0_http_request_duration_seconds"
    lines = [f"# HELP {name} Time to answer an API request.", f"# TYPE {name} histogram"]
    for (route, method), series in latency:
        base = {"route": route, "method": method}
        for bound, count in zip(LATENCY_BUCKETS, series, strict=False):
            lines.append(f"{name}_bucket{_labels({**base, 'le': _number(bound)})} "
                         f"{_number(count)}")
        lines.append(f"{name}_bucket{_labels({**base, 'le': '+Inf'})} {_number(series[-1])}")
        lines.append(f"{name}_sum{_labels(base)} {series[-2]!r}")
        lines.append(f"{name}_count{_labels(base)} {_number(series[-1])}")
    return lines
