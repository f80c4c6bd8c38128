"""Evaluate a schedule once per distinct (spec, zone, anchor, after), never once per job.

The planner holds up to millions of jobs but few distinct schedules (measured
in bench/schedule_bench.py: per-job croniter costs ~100 µs, grouped ~0). Both helpers here are
memo tables over the pure functions of schedule.py; they do no I/O and read no clock.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from scheduler0.schedule.schedule import Schedule, parse


class ScheduleCache:
    """Parses each distinct (spec, timezone, anchor) once and computes each (schedule, after) once.

    Cron specs ignore the anchor (Schedule drops it), so jobs that differ only by anchor
    share one Schedule and one computation. Each table is cleared when it reaches
    `max_entries`, which bounds memory in a long-running planner whose `after` keeps moving.
    Not locked: use one cache per thread, or accept duplicate work on a race (never a wrong
    answer, since every entry is a pure function of its key).
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self.parses = 0  # how many times parse() ran: the tests assert the grouping with it
        self.computations = 0  # how many times Schedule.next_after ran
        self._by_text: dict[tuple[str, str, int | None], Schedule] = {}
        self._canonical: dict[Schedule, Schedule] = {}
        self._next: dict[tuple[Schedule, int], int] = {}

    def get(self, spec: str, timezone: str, anchor: int | None = None) -> Schedule:
        """The parsed schedule; raises ScheduleError as parse() does (errors are not cached)."""
        key = (spec, timezone, anchor)
        schedule = self._by_text.get(key)
        if schedule is None:
            self.parses += 1
            parsed = parse(spec, timezone, anchor)
            schedule = self._canonical.setdefault(parsed, parsed)
            if len(self._by_text) >= self.max_entries:
                self._by_text.clear()
                self._canonical.clear()
            self._by_text[key] = schedule
        return schedule

    def next_after(self, spec: str, timezone: str, anchor: int | None, after: int) -> int:
        """Schedule.next_after of the cached schedule, memoised."""
        schedule = self.get(spec, timezone, anchor)
        key = (schedule, after)
        t = self._next.get(key)
        if t is None:
            self.computations += 1
            t = schedule.next_after(after)
            if len(self._next) >= self.max_entries:
                self._next.clear()
            self._next[key] = t
        return t

    def clear(self) -> None:
        self._by_text.clear()
        self._canonical.clear()
        self._next.clear()


def group_next_fires(
    items: Iterable[tuple[Hashable, str, str, int | None, int]], cache: ScheduleCache | None = None
) -> dict[Hashable, int]:
    """{job_key: first fire after `after`} for (job_key, spec, timezone, anchor, after) items.

    Each distinct (spec, timezone, anchor, after) is evaluated once; pass a long-lived
    `cache` to also reuse parses and results across calls. Raises ScheduleError for the first
    item with a bad spec or zone (validate jobs when they are created, not here).
    """
    cache = ScheduleCache() if cache is None else cache
    compute = cache.next_after
    memo: dict[tuple[str, str, int | None, int], int] = {}
    lookup = memo.get  # bound once: this loop runs once per job, a million times
    result: dict[Hashable, int] = {}
    for job_key, spec, timezone, anchor, after in items:
        key = (spec, timezone, anchor, after)
        t = lookup(key)
        if t is None:
            t = memo[key] = compute(spec, timezone, anchor, after)
        result[job_key] = t
    return result
