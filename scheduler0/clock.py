"""The one place that reads the time. Everything else receives `now` as an argument."""

from __future__ import annotations

import time


def now() -> float:
    """Wall-clock epoch seconds."""
    return time.time()


def now_ms() -> int:
    return int(time.time() * 1000)


def monotonic() -> float:
    """For durations and deadlines: never jumps when the wall clock is set."""
    return time.monotonic()
