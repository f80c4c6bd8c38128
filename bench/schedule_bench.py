"""Cost of the schedule engine (scheduler0.schedule) against naive croniter.

    .venv/bin/python bench/schedule_bench.py [--runs 3] [--jobs 1000000]

Prints:
  1. parse cost and per-call cost of Schedule.next_after for representative specs (µs/call),
     both iterating (after = previous fire) and from a spread of instants;
  2. group_next_fires for N jobs over 1,000 distinct (spec, zone) pairs on one core: a fresh
     cache (parses included) and a warm ScheduleCache (the planner's steady state); goal < 0.5 s;
  3. naive croniter per job (construct + get_next) on a 10,000-job
     sample, extrapolated to N.
Each figure is the median of --runs runs; the runs are shown.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from croniter import croniter  # noqa: E402

from scheduler0.schedule import ScheduleCache, group_next_fires, parse  # noqa: E402

NOW = 1_772_900_000  # 2026-03-07T16:13:20Z, a day before New York springs forward
ZONES = ("UTC", "America/New_York", "Europe/London", "Asia/Kathmandu")

PER_CALL = [
    ("*/5 * * * *", "UTC", None),
    ("0 9 * * 1-5", "America/New_York", None),
    ("30 */5 * * * *", "UTC", None),
    ("@every 90s", "UTC", NOW),
    ("30 2 * * *", "America/New_York", None),
    ("*/15 * * * *", "Australia/Lord_Howe", None),
    ("0 0 29 2 *", "Europe/London", None),
]


def timed(fn: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    results = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        fn()
        results.append(time.perf_counter() - start)
    return statistics.median(results), results


def per_call(runs: int) -> None:
    print("1. per call (µs): parse | next_after iterating | next_after from spread instants")
    for spec, zone, anchor in PER_CALL:
        n_parse = 2000
        parse_s, _ = timed(lambda: [parse(spec, zone, anchor) for _ in range(n_parse)], runs)
        schedule = parse(spec, zone, anchor)
        n = 1_000 if "29 2" in spec else 20_000  # Feb 29 only: 1,000 fires already span 4,000 years

        def iterate() -> None:
            t = NOW
            for _ in range(n):
                t = schedule.next_after(t)

        spread = [NOW + 7919 * i for i in range(n)]  # ~5 years of instants, every zone chunk warm after run 1

        def scattered() -> None:
            for after in spread:
                schedule.next_after(after)

        iterate()
        scattered()  # warm the zone tables, as a long-running planner has them
        it_s, _ = timed(iterate, runs)
        sc_s, _ = timed(scattered, runs)
        label = f"{spec!r} {zone}"
        print(f"   {label:<44} {parse_s / n_parse * 1e6:7.1f} | {it_s / n * 1e6:6.2f} | {sc_s / n * 1e6:6.2f}")


def distinct_pairs() -> list[tuple[str, str]]:
    """250 distinct specs x 4 zones = 1,000 distinct (spec, zone) pairs; (m, h) is unique per i."""
    specs = []
    for i in range(250):
        m, h = i % 60, i // 60
        specs.append(
            (
                f"{m} {h} * * *",
                f"{m} {h} * * 1-5",
                f"{m} */{h + 1} * * *",
                f"{m} {h} {1 + i % 28} * *",
                f"{m},{(m + 30) % 60} {h}-{h + 12} * * *",
            )[i % 5]
        )
    return [(spec, zone) for spec in specs for zone in ZONES]


def grouping(jobs: int, runs: int) -> None:
    pairs = distinct_pairs()
    assert len(set(pairs)) == 1000
    items = [(job, *pairs[job % 1000], None, NOW) for job in range(jobs)]
    print(f"2. group_next_fires, {jobs:,} jobs over {len(pairs):,} distinct (spec, zone), one `after`")
    cold, cold_runs = timed(lambda: group_next_fires(items), runs)
    cache = ScheduleCache()
    group_next_fires(items, cache)
    warm_parse = ScheduleCache()
    for spec, zone in pairs:
        warm_parse.get(spec, zone)

    def warm_run() -> None:
        warm_parse._next.clear()  # keep the parses, recompute the 1,000 fire times
        group_next_fires(items, warm_parse)

    warm, warm_runs = timed(warm_run, runs)
    hot, hot_runs = timed(lambda: group_next_fires(items, cache), runs)
    compute, compute_runs = timed(lambda: [parse(s, z).next_after(NOW) for s, z in pairs], runs)
    print(f"   fresh cache (1,000 parses + 1,000 next_after + map): {cold:.3f} s  runs {_fmt(cold_runs)}")
    print(f"   parses cached, 1,000 next_after + map:            {warm:.3f} s  runs {_fmt(warm_runs)}")
    print(f"   results cached too (the per-job map alone):        {hot:.3f} s  runs {_fmt(hot_runs)}")
    print(f"   1,000 x (parse + next_after), no jobs:             {compute:.3f} s  runs {_fmt(compute_runs)}")
    sample = items[:: max(1, jobs // 1000)]
    result = group_next_fires(items)
    assert all(result[k] == parse(s, z).next_after(a) for k, s, z, _, a in sample), "grouping is wrong"


def naive_croniter(jobs: int, runs: int) -> None:
    pairs = distinct_pairs()
    zones = {z: ZoneInfo(z) for z in ZONES}
    sample = 10_000

    def run() -> None:
        for job in range(sample):
            spec, zone = pairs[job % 1000]
            croniter(spec, datetime.fromtimestamp(NOW, zones[zone])).get_next(float)

    median, results = timed(run, runs)
    print(f"3. naive croniter per job: {median / sample * 1e6:.1f} µs/job on {sample:,} jobs, "
          f"x{jobs:,} = {median / sample * jobs:.1f} s  runs {_fmt(results)}")
    mismatches = sum(
        int(croniter(s, datetime.fromtimestamp(NOW, zones[z])).get_next(float)) != parse(s, z).next_after(NOW)
        for s, z in pairs
    )
    print(f"   croniter and the engine disagree on {mismatches} of {len(pairs)} pairs at this instant")


def _fmt(values: list[float]) -> str:
    return " / ".join(f"{v:.3f}" for v in values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, one core, median of {args.runs} runs")
    per_call(args.runs)
    grouping(args.jobs, args.runs)
    naive_croniter(args.jobs, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
