"""A big SQLite state file, made through the state machine, for snapshot benchmarks.

    .venv/bin/python bench/state_file.py --gib 5 --out /tmp/big/scheduler0.db

Jobs carrying `--data-bytes` of data each (distinct per job, so nothing compresses or is
shared), all starting in 2099, so the file is big but adds no tick: a cluster started on it
(bench/cluster_bench.py --state) carries only the load the benchmark gives it. Applied as
job.create commands at consecutive Raft indexes, like a journal replay; prints the size.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from scheduler0 import messages  # noqa: E402
from scheduler0.store import StateMachine  # noqa: E402

START_2099 = 4_070_908_800
PER_COMMAND = 2_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gib", type=float, default=5.0)
    parser.add_argument("--data-bytes", type=int, default=8_000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if os.path.exists(args.out):
        raise SystemExit(f"{args.out} exists; give a new path")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    machine = StateMachine(args.out)
    index, now_ms, started = 0, int(time.time() * 1000), time.perf_counter()

    def apply(body: messages.Body) -> None:
        nonlocal index
        index += 1
        answer = machine.apply(messages.command(body, now_ms=now_ms), index)
        if not answer.get("ok"):
            raise SystemExit(f"{body.TYPE} refused: {answer}")

    apply(messages.ProjectCreate(name="big", signing_secret="s"))
    target, made = args.gib * 2**30, 0
    filler = "x" * (args.data_bytes - 12)
    while os.path.getsize(args.out) + _wal_size(args.out) < target:
        apply(messages.JobCreate(jobs=[
            {"project_id": 1, "spec": "@every 1m", "callback_url": "http://127.0.0.1:9/",
             "start_date": START_2099, "data": f"{made + i:012d}{filler}"}
            for i in range(PER_COMMAND)]))
        made += PER_COMMAND
    machine.close()
    size = os.path.getsize(args.out)
    print(f"{made:,} jobs, {size / 2**30:.2f} GiB in {time.perf_counter() - started:.0f} s: "
          f"{args.out}")


def _wal_size(path: str) -> int:
    wal = path + "-wal"
    return os.path.getsize(wal) if os.path.exists(wal) else 0


if __name__ == "__main__":
    main()
