"""When a call is tried again and how long it waits first (`RetryPolicy`, `Attempts`), and
the clock it reads and waits on (`Clock`): the system's, or a test's."""

from __future__ import annotations

import asyncio
import email.utils
import math
import time
from dataclasses import dataclass, field
from datetime import timezone
from typing import Protocol


class Clock(Protocol):
    """Where the client reads time and waits."""

    def monotonic(self) -> float: ...

    def wall(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    async def async_sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    async def async_sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures are tried again and how long to wait.

    A call is retried on the `statuses` (503: the cluster could not commit in time, or is
    electing a leader; 429: too many bulk operations running) and, with
    `retry_transport_errors`, when no answer came at all. It waits what the answer's
    `Retry-After` says, else `first_delay` doubling up to `max_delay`. It gives up after
    `max_attempts` in all, when the next wait would end more than `max_total_seconds` after
    the first attempt, or when `Retry-After` asks for more than `max_delay`; the last error
    is then raised (an ApiError carries `retry_after`). Writes are safe to retry: every
    attempt of a call sends the same Idempotency-Key."""

    max_attempts: int = 5
    max_total_seconds: float = 60.0
    first_delay: float = 0.5
    max_delay: float = 30.0
    statuses: frozenset[int] = frozenset({429, 503})
    retry_transport_errors: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts: at least 1 (1: never retry)")
        if min(self.max_total_seconds, self.first_delay, self.max_delay) < 0:
            raise ValueError("max_total_seconds, first_delay and max_delay: 0 or more seconds")


NO_RETRY = RetryPolicy(max_attempts=1)


@dataclass
class Attempts:
    """The retry budget of one call, spent as its attempts fail."""

    policy: RetryPolicy
    clock: Clock
    started: float = field(init=False)
    failed: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.started = self.clock.monotonic()

    def delay_after_failure(self, retry_after: float | None) -> float | None:
        """Seconds to wait before the next attempt, or None: the budget is spent."""
        self.failed += 1
        if self.failed >= self.policy.max_attempts:
            return None
        if retry_after is not None and retry_after > self.policy.max_delay:
            return None  # the server asks for longer than the caller agreed to wait
        delay = retry_after if retry_after is not None else min(
            self.policy.first_delay * 2 ** (self.failed - 1), self.policy.max_delay)
        if self.clock.monotonic() - self.started + delay > self.policy.max_total_seconds:
            return None
        return delay


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """`Retry-After` as seconds from `now` (epoch seconds): delta-seconds or an HTTP date;
    None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - now
    return max(0.0, seconds) if math.isfinite(seconds) else None
