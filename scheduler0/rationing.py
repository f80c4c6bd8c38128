"""Per-project rate limits, the pure half: how big a limited project's batches are, and the
gate a node holds them in until the limit lets them go on to its executors.

A project's `rate_limit` bounds what its receivers get from the whole cluster: `concurrency`
executions in flight at once and `per_second` executions started per second (either may be
absent). The leader puts a limited project's executions in batches of their own, at most
`batch_limit` each, and sends all of them to one node; that node's intake offers each to its
`Rationing`, which lets a batch go only when

    - its tick is due (a batch let through early would start at its tick with others),
    - the project's executions in flight on the node plus the batch's stay within
      `concurrency` (in flight: let through and not settled yet; the caller counts them),
    - the project's token bucket has a token for each of the batch's executions.

A request carries one execution or more, so requests are bounded as executions are. A batch
bigger than the limit allows (planned before the limit was lowered) still goes, alone: when
nothing of its project is in flight, and once the bucket is full (its tokens then go below
zero, so what follows waits for them): late, never stuck.

The bucket holds BURST_SECONDS worth of `per_second`, and at least one execution: any
one-second window then sees at most per_second + burst starts. A bucket of a whole second
would let a window that straddles a full bucket see twice the rate; a smaller one would make
a high rate's batches tiny.

No I/O and no clock: `now` (monotonic seconds) is an argument.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

BURST_SECONDS = 0.1

T = TypeVar("T")


class Limit(Protocol):
    """A project's rate limit (scheduler0.messages.RateLimit); None: no limit of that kind."""

    @property
    def concurrency(self) -> int | None: ...

    @property
    def per_second(self) -> float | None: ...


def burst(per_second: float) -> float:
    """The bucket's size: executions that may start at once after a pause."""
    return max(1.0, per_second * BURST_SECONDS)


def batch_limit(limit: Limit, most: int) -> int:
    """The most executions one batch of a project with `limit` holds (at most `most`): no more
    than may be in flight at once, nor than the bucket holds, so a batch can always go whole."""
    size = most
    if limit.concurrency is not None:
        size = min(size, limit.concurrency)
    if limit.per_second is not None:
        size = min(size, int(burst(limit.per_second)))
    return max(1, size)


def queue_allowance(limit: Limit, ahead: int, attempt_seconds: float) -> float:
    """How much longer than usual a batch may take when `ahead` executions of its project go
    before it through the limit: `per_second` lets them start at its rate, `concurrency` a
    few at a time, each taking up to `attempt_seconds`. The leader adds it to the batch's
    result deadline, so a long queue at the limit is not checked on as overdue batch after
    batch (its node still lists it held, so it would be waited for anyway)."""
    wait = 0.0
    if limit.per_second is not None:
        wait = ahead / limit.per_second
    if limit.concurrency is not None:
        wait = max(wait, ahead / limit.concurrency * attempt_seconds)
    return wait


class TokenBucket:
    """`per_second` tokens a second, at most `burst(per_second)` kept; starts full."""

    def __init__(self, per_second: float, now: float):
        self.rate = per_second
        self.capacity = burst(per_second)
        self.tokens = self.capacity
        self.updated = now

    def refill(self, now: float) -> None:
        if now > self.updated:  # the clock is monotonic, but a caller's `now` may lag
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def allows(self, count: int, now: float) -> bool:
        """Whether `count` executions may start now (a count bigger than the bucket: once it
        is full)."""
        self.refill(now)
        return self.tokens >= min(count, self.capacity)

    def take(self, count: int) -> None:
        self.tokens -= count

    def full(self, now: float) -> bool:
        self.refill(now)
        return self.tokens >= self.capacity

    def retune(self, per_second: float, now: float) -> None:
        """The project's limit changed: the new rate from now on."""
        self.refill(now)
        self.rate = per_second
        self.capacity = burst(per_second)
        self.tokens = min(self.tokens, self.capacity)


@dataclass
class Waiting(Generic[T]):
    item: T
    size: int  # executions
    due: float  # monotonic, when its tick is due


@dataclass
class ProjectGate(Generic[T]):
    """One project's batches held back, earliest due first, and its bucket."""

    limit: Limit
    bucket: TokenBucket | None
    queue: list[Waiting[T]] = field(default_factory=list)

    def admits(self, head: Waiting[T], in_flight: int, now: float) -> bool:
        if head.due > now:
            return False
        concurrency = self.limit.concurrency
        if concurrency is not None and in_flight and in_flight + head.size > concurrency:
            return False
        return self.bucket is None or self.bucket.allows(head.size, now)

    def idle(self, now: float) -> bool:
        """Nothing waits and the bucket is full again: forgetting the gate changes nothing."""
        return not self.queue and (self.bucket is None or self.bucket.full(now))


class Rationing(Generic[T]):
    """The gates of the limited projects whose batches a node holds, and how long ticks
    waited at them (`wait_seconds`: per project, the seconds each execution waited past its
    tick, summed)."""

    def __init__(self) -> None:
        self._gates: dict[int, ProjectGate[T]] = {}
        self.wait_seconds: dict[int, float] = {}

    def __bool__(self) -> bool:
        """Whether any gate is open (holds batches, or its bucket is refilling)."""
        return bool(self._gates)

    def offer(self, project_id: int, limit: Limit, item: T, size: int, due: float,
              now: float) -> None:
        """Hold `item` (`size` executions of project `project_id`, due at `due`) at the
        project's gate; `limit` is the project's newest (it may have changed)."""
        gate = self._gates.get(project_id)
        if gate is None:
            bucket = None if limit.per_second is None else TokenBucket(limit.per_second, now)
            gate = self._gates[project_id] = ProjectGate(limit, bucket)
        elif gate.limit != limit:
            gate.limit = limit
            if limit.per_second is None:
                gate.bucket = None
            elif gate.bucket is None:
                gate.bucket = TokenBucket(limit.per_second, now)
            else:
                gate.bucket.retune(limit.per_second, now)
        bisect.insort(gate.queue, Waiting(item, size, due), key=lambda w: w.due)
        self.wait_seconds.setdefault(project_id, 0.0)

    def release(self, now: float, in_flight: Callable[[int], int]) -> list[tuple[int, T, int]]:
        """(project id, item, size) of every batch the limits let go now, in due order per
        project; `in_flight(project_id)` is how many of the project's executions are in
        flight (what this call lets go counts from here on: the caller adds it)."""
        released: list[tuple[int, T, int]] = []
        for project_id in list(self._gates):
            gate = self._gates[project_id]
            flying = in_flight(project_id) if gate.queue else 0
            while gate.queue and gate.admits(gate.queue[0], flying, now):
                head = gate.queue.pop(0)
                if gate.bucket is not None:
                    gate.bucket.take(head.size)
                flying += head.size
                self.wait_seconds[project_id] += head.size * max(0.0, now - head.due)
                released.append((project_id, head.item, head.size))
            if gate.idle(now):
                del self._gates[project_id]
        return released

    def waiting(self, now: float) -> dict[int, int]:
        """Per project with a gate: its executions due and held back at the limit now."""
        return {project_id: sum(w.size for w in gate.queue if w.due <= now)
                for project_id, gate in self._gates.items()}

    def stats(self, now: float) -> dict[int, dict[str, float]]:
        """Per project seen: executions waiting at the limit now and the wait so far."""
        waiting = self.waiting(now)
        return {project_id: {"waiting": waiting.get(project_id, 0),
                             "wait_seconds": round(seconds, 3)}
                for project_id, seconds in sorted(self.wait_seconds.items())}
