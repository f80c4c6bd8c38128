"""The one place that reads the time. Everything else receives `now` as an argument, or a
`Clock`: the coordinator's threads read the time and wait through one, so tests can drive them
on a fake clock (scheduler0.testing.FakeClock) instead of waiting for the real one.

SCHEDULER0_TEST_CLOCK_OFFSET (seconds, for tests only) shifts this process's wall clock, so a
test can run a node whose clock disagrees with its peers' on one machine.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Protocol

_OFFSET = float(os.environ.get("SCHEDULER0_TEST_CLOCK_OFFSET") or 0.0)


def now() -> float:
    """Wall-clock epoch seconds."""
    return time.time() + _OFFSET


def now_ms() -> int:
    return int(now() * 1000)


def monotonic() -> float:
    """For durations and deadlines: never jumps when the wall clock is set."""
    return time.monotonic()


class Clock(Protocol):
    """The time as a coordinator thread reads it, and its pause between rounds."""

    def now(self) -> float:
        """Wall-clock epoch seconds."""
        ...

    def monotonic(self) -> float:
        """For durations and deadlines."""
        ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Pause up to `seconds`, returning at once when `event` (a stop flag) is set; True
        when it is set."""
        ...


class SystemClock:
    """The real clock: the functions above, and Event.wait, which a stop interrupts."""

    def now(self) -> float:
        return now()

    def monotonic(self) -> float:
        return monotonic()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(seconds)


SYSTEM_CLOCK: Clock = SystemClock()
