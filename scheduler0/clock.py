"""The one place that reads the time. Everything else receives `now` as an argument.

SCHEDULER0_TEST_CLOCK_OFFSET (seconds, for tests only) shifts this process's wall clock, so a
test can run a node whose clock disagrees with its peers' on one machine.
"""

from __future__ import annotations

import os
import time

_OFFSET = float(os.environ.get("SCHEDULER0_TEST_CLOCK_OFFSET") or 0.0)


def now() -> float:
    """Wall-clock epoch seconds."""
    return time.time() + _OFFSET


def now_ms() -> int:
    return int(now() * 1000)


def monotonic() -> float:
    """For durations and deadlines: never jumps when the wall clock is set."""
    return time.monotonic()
