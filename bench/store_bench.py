"""Store benchmark: job.create batches, prune, snapshot, and a page read.

    .venv/bin/python bench/store_bench.py [--runs 3] [--dir /tmp/...]

Each figure is the median of --runs runs, each on a fresh SQLite file (WAL, synchronous=NORMAL,
as the coordinator runs it). apply() time is what pysyncobj's tick thread would be blocked for.
The execution rows for the prune are written with raw SQL, because the plan command that
normally writes them is not built yet.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3  # only to seed executions; scheduler0 itself uses sqlite3 inside store/
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import TypeVar

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from scheduler0 import messages
from scheduler0.store import Reader, StateMachine
from scheduler0.store.handlers.retention import MAX_PRUNE

T = TypeVar("T")
TS_MS = 1_700_000_000_000
SPECS = ["*/5 * * * *", "0 9 * * 1-5", "@hourly", "@every 90s", "30 */2 * * *", "0 0 1 * *"]
ZONES = ["UTC", "Europe/Paris", "America/New_York"]


class Node:
    """A StateMachine plus the next Raft index."""

    def __init__(self, path: str) -> None:
        self.machine = StateMachine(path)
        self.index = 0

    def apply(self, command_type: str, body: dict, ts_ms: int = TS_MS) -> tuple[dict, float]:
        self.index += 1
        command = messages.make(command_type, body, now_ms=ts_ms)
        start = time.perf_counter()
        result = self.machine.apply(command, self.index)
        elapsed = time.perf_counter() - start
        assert result["ok"], result
        return result, elapsed


def jobs_body(n: int, project_id: int) -> dict:
    return {"jobs": [{
        "project_id": project_id, "spec": SPECS[i % len(SPECS)], "timezone": ZONES[i % 3],
        "callback_url": f"https://hooks.example.com/{i % 50}", "data": '{"k": "v"}' * 8,
        "execution_type": "http", "start_date": None, "end_date": None, "paused": False,
        "misfire_policy": "run_once", "anchor": None} for i in range(n)]}


def bench_create(workdir: str, n: int, batches: int) -> float:
    """Seconds per job.create of `n` jobs, after (batches - 1) earlier batches of the same."""
    node = Node(os.path.join(workdir, f"create-{n}.db"))
    node.apply(messages.PROJECT_CREATE, {"name": "p", "description": "", "signing_secret": "s"})
    times = [node.apply(messages.JOB_CREATE, jobs_body(n, 1), TS_MS + b * 1000)[1]
             for b in range(batches)]
    node.machine.close()
    return statistics.median(times)


def seed_executions(path: str, old: int, recent: int) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO executions (execution_id, job_id, project_id, scheduled_at, state, "
            "attempts, http_status, node_id, batch_id, planned_at_ms, started_at_ms, "
            "finished_at_ms) VALUES (?, ?, 1, ?, 'succeeded', 1, 200, 1, ?, 0, 0, 0)",
            ((f"{i:032x}", i % 5000 + 1, (0 if i < old else 10**9) + i // 10, f"b{i // 1000}")
             for i in range(old + recent)))
    conn.close()


def bench_prune(workdir: str, n: int) -> tuple[float, float]:
    """(total seconds, slowest command) to prune `n` of 2n executions in MAX_PRUNE commands."""
    path = os.path.join(workdir, "prune.db")
    node = Node(path)
    seed_executions(path, n, n)
    times = []
    deleted = 0
    while deleted < n:
        result, elapsed = node.apply(messages.PRUNE, {"before": 10**9, "limit": MAX_PRUNE})
        deleted += result["data"]["deleted"]
        times.append(elapsed)
    node.machine.close()
    assert deleted == n
    return sum(times), max(times)


def bench_snapshot(workdir: str, jobs: int) -> tuple[float, float, int]:
    node = Node(os.path.join(workdir, "snap.db"))
    node.apply(messages.PROJECT_CREATE, {"name": "p", "description": "", "signing_secret": "s"})
    for b in range(jobs // 10_000):
        node.apply(messages.JOB_CREATE, jobs_body(10_000, 1), TS_MS + b)
    snap = os.path.join(workdir, "snap.dump")
    start = time.perf_counter()
    node.machine.snapshot_to(snap, b"raft")
    write = time.perf_counter() - start
    other = StateMachine(os.path.join(workdir, "restored.db"))
    start = time.perf_counter()
    assert other.restore_from(snap)
    restore = time.perf_counter() - start
    other.close()
    node.machine.close()
    return write, restore, os.path.getsize(snap)


def bench_reads(workdir: str, jobs: int) -> float:
    node = Node(os.path.join(workdir, "reads.db"))
    node.apply(messages.PROJECT_CREATE, {"name": "p", "description": "", "signing_secret": "s"})
    for b in range(jobs // 10_000):
        node.apply(messages.JOB_CREATE, jobs_body(10_000, 1), TS_MS + b)
    reader = Reader(node.machine.db_path)
    start = time.perf_counter()
    for page in range(100):
        reader.list_jobs(project_id=1, limit=50, offset=page * 50)
    elapsed = (time.perf_counter() - start) / 100
    reader.close()
    node.machine.close()
    return elapsed


def fresh_dir(workdir: str, name: str) -> str:
    path = os.path.join(workdir, name)
    os.makedirs(path)
    return path


def runs_of(runs: int, workdir: str, name: str, fn: Callable[[str], T]) -> list[T]:
    """`fn` run `runs` times, each in a fresh directory removed afterwards."""
    values = []
    for r in range(runs):
        sub = fresh_dir(workdir, f"{name}-{r}")
        values.append(fn(sub))
        shutil.rmtree(sub)
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", default=None, help="work directory (default: a temp dir)")
    args = parser.parse_args()
    workdir = args.dir or tempfile.mkdtemp(prefix="store-bench-")
    print(f"sqlite {sqlite3.sqlite_version}, python {sys.version.split()[0]}, "
          f"median of {args.runs} runs, files in {workdir}")
    for n, batches in ((1_000, 10), (10_000, 3)):
        seconds = statistics.median(runs_of(args.runs, workdir, f"create{n}",
                                            lambda d, n=n, b=batches: bench_create(d, n, b)))
        print(f"job.create  {n:>6,} jobs/command: {seconds * 1000:7.1f} ms per apply, "
              f"{n / seconds:>8,.0f} jobs/s")
    prune_n = 100_000
    pruned = runs_of(args.runs, workdir, "prune", lambda d: bench_prune(d, prune_n))
    total = statistics.median(t for t, _ in pruned)
    slowest = statistics.median(s for _, s in pruned)
    print(f"prune       {prune_n:,} of {2 * prune_n:,} executions in {MAX_PRUNE:,}-row commands: "
          f"{total * 1000:.0f} ms, {prune_n / total:,.0f} rows/s, slowest command "
          f"{slowest * 1000:.1f} ms")
    write, restore, size = bench_snapshot(fresh_dir(workdir, "snap"), 100_000)
    print(f"snapshot    100,000 jobs ({size / 1e6:.1f} MB): snapshot_to {write * 1000:.0f} ms, "
          f"restore_from {restore * 1000:.0f} ms")
    page = bench_reads(fresh_dir(workdir, "reads"), 100_000)
    print(f"reads       list_jobs(project_id) page of 50, 100,000 jobs: {page * 1000:.2f} ms")
    if args.dir is None:
        shutil.rmtree(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
