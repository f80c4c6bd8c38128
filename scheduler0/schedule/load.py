"""The upcoming load: executions per second over the next minutes, from the schedules (each
schedule's fire times once, times the jobs it has), the busiest seconds, the schedules behind
each, and an `H` spelling (hashed.py) that would spread them.

Pure: no I/O, no clock; `now` is an argument. The caller reads the schedules and their job
counts (store/load_reads.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scheduler0.errors import ScheduleError
from scheduler0.schedule.every import is_every
from scheduler0.schedule.fields import split_spec
from scheduler0.schedule.grouping import ScheduleCache

BURST_FACTOR = 5  # a second is busy above this many times the mean (or above the threshold)
MAX_BURSTS = 50  # busiest seconds reported
MAX_CAUSES = 5  # schedules named per busy second
MAX_BUCKETS = 3600  # entries of the series: seconds for an hour, longer buckets beyond
MAX_FIRE_TIMES = 500_000  # fire times computed at most (then the answer says truncated)


@dataclass(frozen=True)
class ScheduleLoad:
    """A schedule (its concrete spec, zone, anchor) and how many jobs fire with it."""

    spec: str
    timezone: str
    anchor: int
    jobs: int


@dataclass(frozen=True)
class Cause:
    spec: str
    timezone: str
    jobs: int
    suggestion: str | None  # the spec with H where it would spread the jobs; None: no advice


@dataclass(frozen=True)
class Burst:
    at: int  # epoch second
    executions: int
    causes: tuple[Cause, ...]


@dataclass(frozen=True)
class Load:
    start: int  # the first second counted (now + 1)
    seconds: int
    bucket_seconds: int
    buckets: tuple[int, ...]  # executions per bucket, from `start`
    total: int
    mean_per_second: float
    peak: int
    peak_at: int | None
    threshold: float  # above it a second is a burst
    bursts: tuple[Burst, ...]
    truncated: bool  # MAX_FIRE_TIMES was reached: later schedules were not counted


def fire_seconds(schedule: ScheduleLoad, now: int, end: int, cache: ScheduleCache,
                 limit: int) -> list[int]:
    """The schedule's fire times t with now < t <= end, at most `limit`."""
    try:
        parsed = cache.get(schedule.spec, schedule.timezone, schedule.anchor)
    except ScheduleError:
        return []  # a stored schedule always parses; a bad one counts nothing
    return parsed.between(now, end, limit)


def suggestion(spec: str) -> str | None:
    """The spec with its finest fixed field written with H, so that jobs sharing it spread
    over that field's range instead of firing in one second: `0 * * * *` -> `H * * * *`,
    `*/5 * * * *` -> `H/5 * * * *`, `@every 1m` -> `@every 1m H`, `30 0 * * *` -> `H 0 * *
    *`, `* * * * *` (every minute, at second 0) -> `H * * * * *` (at a second of its own);
    None when there is nothing to spread (an @at, a field already spread, every second)."""
    words = spec.split()
    if not words or words[0].lower() == "@at":
        return None
    if is_every(spec):
        return f"{' '.join(words[:2])} H" if len(words) == 2 else None
    try:
        fields = split_spec(spec)
    except ScheduleError:
        return None
    word = fields[0]  # the finest field: seconds in a 6-field spec, else minutes
    if word == "*" and len(fields) == 5:
        return "H " + " ".join(fields)  # every minute at its second 0: spread the seconds
    if word.isdigit():
        fields[0] = "H"
    elif word.startswith("*/") and word[2:].isdigit():
        fields[0] = f"H/{word[2:]}"
    else:
        return None
    return " ".join(fields)


def compute(schedules: Sequence[ScheduleLoad], now: int, seconds: int,
            threshold: float | None = None, cache: ScheduleCache | None = None) -> Load:
    """The load of `schedules` over the `seconds` seconds after `now`. A second is a burst
    when it has more executions than `threshold`, or by default than BURST_FACTOR times the
    mean (and more than one)."""
    cache = cache or ScheduleCache()
    end = now + seconds
    per_second = [0] * seconds
    fired_by: dict[int, list[int]] = {}  # second offset -> indexes of its schedules
    budget, truncated = MAX_FIRE_TIMES, False
    for index, schedule in enumerate(schedules):
        if schedule.jobs <= 0:
            continue
        if budget <= 0:
            truncated = True
            break
        times = fire_seconds(schedule, now, end, cache, min(seconds, budget))
        budget -= len(times)
        for t in times:
            per_second[t - now - 1] += schedule.jobs
            fired_by.setdefault(t - now - 1, []).append(index)
    total = sum(per_second)
    mean = total / seconds if seconds else 0.0
    line = float(threshold) if threshold is not None else max(BURST_FACTOR * mean, 1.0)
    busy = sorted((offset for offset, count in enumerate(per_second) if count > line),
                  key=lambda offset: (-per_second[offset], offset))[:MAX_BURSTS]
    bursts = tuple(Burst(now + 1 + offset, per_second[offset],
                         _causes(schedules, fired_by.get(offset, [])))
                   for offset in sorted(busy))
    peak = max(per_second, default=0)
    bucket = max(1, -(-seconds // MAX_BUCKETS))
    buckets = tuple(sum(per_second[i:i + bucket]) for i in range(0, seconds, bucket))
    return Load(now + 1, seconds, bucket, buckets, total, mean, peak,
                (now + 1 + per_second.index(peak)) if peak else None, line, bursts, truncated)


def _causes(schedules: Sequence[ScheduleLoad], indexes: list[int]) -> tuple[Cause, ...]:
    ranked = sorted(indexes, key=lambda i: (-schedules[i].jobs, i))[:MAX_CAUSES]
    return tuple(Cause(schedules[i].spec, schedules[i].timezone, schedules[i].jobs,
                       suggestion(schedules[i].spec)) for i in ranked)
