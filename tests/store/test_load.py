"""The upcoming load: the pure computation against a brute-force expansion (every job's
every second), its bursts and H suggestions, and what it is read from (the schedules and their
unpaused jobs) with the indexes that read it."""

from __future__ import annotations

import random

import pytest

from scheduler0 import messages
from scheduler0.schedule import load, parse
from scheduler0.schedule.load import ScheduleLoad
from scheduler0.store import Reader, load_reads
from tests.store.helpers import TS_S, Log, job_input

NOW = 1_900_000_000 - 17  # not on a minute: the window starts mid-minute


def _brute_force(schedules: list[ScheduleLoad], now: int, seconds: int) -> list[int]:
    """Every job on its own, every second of the window asked whether the job fires then."""
    counts = [0] * seconds
    for item in schedules:
        parsed = parse(item.spec, item.timezone, item.anchor)
        for _ in range(item.jobs):
            for offset in range(seconds):
                t = now + 1 + offset
                if parsed.next_or_none(t - 1) == t:
                    counts[offset] += 1
    return counts


SPECS = [("* * * * *", "UTC", 0), ("*/5 * * * *", "Europe/Berlin", 0),
         ("30 */2 * * * *", "UTC", 0), ("@every 7s", "UTC", NOW - 3),
         ("0 * * * *", "America/New_York", 0), ("15,45 * * * * *", "Asia/Kolkata", 0)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_load_is_what_expanding_every_job_gives(seed: int) -> None:
    rng = random.Random(seed)
    schedules = [ScheduleLoad(spec, zone, anchor, rng.randint(0, 4))
                 for spec, zone, anchor in SPECS]
    found = load.compute(schedules, NOW, 600)
    expected = _brute_force(schedules, NOW, 600)
    assert list(found.buckets) == expected and found.bucket_seconds == 1
    assert found.total == sum(expected) and found.peak == max(expected)
    assert found.start == NOW + 1
    # The busiest seconds above the threshold (at most MAX_BURSTS of them), in time order.
    busy = sorted((i for i, c in enumerate(expected) if c > found.threshold),
                  key=lambda i: (-expected[i], i))[:load.MAX_BURSTS]
    assert [b.at for b in found.bursts] == [NOW + 1 + i for i in sorted(busy)]
    assert all(b.executions == expected[b.at - NOW - 1] for b in found.bursts)


def test_bursts_name_their_schedules_and_how_to_spread_them() -> None:
    schedules = [ScheduleLoad("0 * * * *", "UTC", 0, 900), ScheduleLoad("*/5 * * * *", "UTC", 0, 40),
                 ScheduleLoad("@every 10s", "UTC", NOW, 1)]
    found = load.compute(schedules, 1_900_000_000 - 1, 3600)
    top = max(found.bursts, key=lambda b: b.executions)
    assert (top.at, top.executions) == (1_900_000_000 // 3600 * 3600 + 3600, 940)
    assert [c.spec for c in top.causes] == ["0 * * * *", "*/5 * * * *"]
    causes = {c.spec: c for b in found.bursts for c in b.causes}
    assert causes["0 * * * *"].suggestion == "H * * * *"
    assert causes["*/5 * * * *"].suggestion == "H/5 * * * *"
    assert load.suggestion("@every 1m") == "@every 1m H"
    assert load.suggestion("* * * * *") == "H * * * * *"
    assert load.suggestion("* * * * * *") is None  # every second: nothing to spread
    assert load.suggestion("@daily") == "H 0 * * *"
    assert load.suggestion("0 30 9 * * *") == "H 30 9 * * *"
    assert load.suggestion("17-19 * * * *") is None
    assert load.suggestion("@at 2030-01-01T00:00:00Z") is None
    fixed = load.compute(schedules, 1_900_000_000 - 1, 3600, threshold=5000)
    assert fixed.bursts == () and fixed.threshold == 5000


def test_a_long_window_is_bucketed_and_capped() -> None:
    found = load.compute([ScheduleLoad("* * * * * *", "UTC", 0, 2)], NOW, 86_400)
    assert found.bucket_seconds == 24 and len(found.buckets) == 3600
    assert sum(found.buckets) == found.total == 2 * 86_400 and not found.truncated


def test_the_schedules_are_read_with_their_unpaused_jobs(log: Log, reader: Reader) -> None:
    project = log.project("p")["id"]
    log.jobs(*[job_input(project, "* * * * *") for _ in range(3)],
             job_input(project, "* * * * *", paused=True),
             job_input(project, "0 0 1 1 *"))
    found, capped = reader.upcoming_schedules(TS_S + 3600)
    assert not capped
    by_spec = {s.spec: s.jobs for s in found}
    assert by_spec.get("* * * * *") == 3 and "0 0 1 1 *" not in by_spec
    seen: list[str] = []
    reader._conn.set_trace_callback(seen.append)
    try:
        reader.upcoming_schedules(TS_S + 3600)
    finally:
        reader._conn.set_trace_callback(None)
    for sql in (q for q in seen if q.lstrip().startswith("SELECT")):
        steps = [str(r[-1]) for r in reader._conn.execute("EXPLAIN QUERY PLAN " + sql)]
        assert all("INDEX" in step for step in steps if step.startswith(("SCAN", "SEARCH"))), steps


def test_summary_counts_come_from_indexes(log: Log, reader: Reader) -> None:
    a, b = log.project("a")["id"], log.project("b")["id"]
    log.jobs(job_input(a), job_input(a, paused=True), job_input(b))
    tick = TS_S + 300
    log.ok(messages.PLAN, messages.Plan(missed=[messages.PlanMissed(
        scheduled_at=tick, rows=[messages.PlanRow(1, a), messages.PlanRow(3, b)])]).encode())
    whole = reader.summary(tick + 60)
    assert whole["jobs"] == {"total": 3, "paused": 1, "failing": 2, "completed": 0,
                             "exact": dict.fromkeys(("total", "paused", "failing",
                                                     "completed"), True)}
    assert whole["last_day"]["missed"] == 2
    scoped = reader.scoped([b]).summary(tick + 60)
    assert (scoped["jobs"]["total"], scoped["jobs"]["paused"], scoped["jobs"]["failing"],
            scoped["last_day"]["missed"]) == (1, 0, 1, 1)
    assert load_reads.MAX_SCHEDULES > 0
