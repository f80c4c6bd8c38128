"""Grouping: each distinct schedule is parsed and evaluated once, with per-job results unchanged."""

from __future__ import annotations

import pytest

from scheduler0.errors import ScheduleError
from scheduler0.schedule import ScheduleCache, group_next_fires, parse

AFTER = 1_768_472_430  # 2026-01-15T10:20:30Z
SPECS = [
    ("*/5 * * * *", "UTC", None),
    ("0 9 * * 1-5", "America/New_York", None),
    ("30 */5 * * * *", "Europe/London", None),
    ("@every 90s", "UTC", 1_768_000_000),
    ("@every 90s", "UTC", 1_768_000_001),
    ("30 2 * * *", "Australia/Lord_Howe", None),
]


def jobs(n: int) -> list[tuple[int, str, str, int | None, int]]:
    items = []
    for i in range(n):
        spec, zone, anchor = SPECS[i % len(SPECS)]
        after = AFTER + 3600 * ((i // len(SPECS)) % 3)  # three distinct `after`s per schedule
        items.append((i, spec, zone, anchor, after))
    return items


def test_group_equals_per_job_computation() -> None:
    items = jobs(600)
    grouped = group_next_fires(items)
    assert grouped == {
        key: parse(spec, zone, anchor).next_after(after) for key, spec, zone, anchor, after in items
    }
    assert grouped[0] == 1_768_472_700  # */5 after 10:20:30 -> 10:25:00Z
    assert grouped[1] == 1_768_485_600  # 09:00 EST Thursday = 14:00Z
    assert grouped[7] == 1_768_485_600  # same schedule, after 11:20:30Z: still 14:00Z
    assert grouped[13] == 1_768_485_600  # after 12:20:30Z


def test_each_distinct_schedule_and_after_is_evaluated_once() -> None:
    cache = ScheduleCache()
    group_next_fires(jobs(600), cache)
    assert cache.parses == len(SPECS)
    assert cache.computations == len(SPECS) * 3


def test_cron_jobs_that_differ_only_by_anchor_share_a_schedule() -> None:
    cache = ScheduleCache()
    items = [(i, "0 * * * *", "UTC", 1_700_000_000 + i, AFTER) for i in range(100)]
    result = group_next_fires(items, cache)
    assert set(result.values()) == {1_768_474_800}  # 11:00:00Z
    assert cache.computations == 1
    assert len({cache.get("0 * * * *", "UTC", a) for a in (1, 2, None)}) == 1
    assert cache.get("0 * * * *", "UTC", 1) is cache.get("0 * * * *", "UTC", 2)


def test_cache_next_after_and_bound() -> None:
    cache = ScheduleCache(max_entries=2)
    assert cache.next_after("@hourly", "UTC", None, AFTER) == 1_768_474_800
    for k in range(5):
        cache.next_after("@hourly", "UTC", None, AFTER + k)
    assert len(cache._next) <= 2  # bounded: cleared when full
    cache.clear()
    assert cache.next_after("@hourly", "UTC", None, AFTER) == 1_768_474_800


def test_bad_spec_raises_and_is_not_cached() -> None:
    cache = ScheduleCache()
    with pytest.raises(ScheduleError, match="minute field: 61 is out of range 0-59"):
        group_next_fires([("a", "61 * * * *", "UTC", None, AFTER)], cache)
    with pytest.raises(ScheduleError):
        cache.get("61 * * * *", "UTC")
    assert cache.parses == 2


def test_accepts_any_iterable() -> None:
    items = iter([("x", "@daily", "UTC", None, AFTER), (("tuple", 1), "@daily", "Asia/Tokyo", None, AFTER)])
    assert group_next_fires(items) == {"x": 1_768_521_600, ("tuple", 1): 1_768_489_200}
