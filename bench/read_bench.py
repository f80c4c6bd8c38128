"""Read latency at scale: list and metric answers over a big history.

    .venv/bin/python -m bench reads                          3,000,000 jobs, 100,000,000 rows
    .venv/bin/python -m bench reads --jobs 30000 --rows 1000000 --keep /tmp/small
    .venv/bin/python -m bench reads --seed-only --keep DIR   seed now ...
    .venv/bin/python -m bench reads --keep DIR               ... measure later (same sizes)

Seeds a node's SQLite file: jobs through the state machine (job.create), then a history of
ticks (every job ticks once a minute, 1 % of the ticks fail) either by applying PLAN and RESULT
commands as the pipeline writes them (`--apply-seed`, ~20,000 rows a second at 3M jobs) or by
writing what they would write straight into the file with bulk SQL (`--fast-seed`,
bench/history_seed.py, ~650,000 rows a second; the default from 10,000,000 rows, where applying
would take most of an hour). Then it starts a single node on that file (a real pysyncobj node
over the StateMachine, in this process) and times each API answer through the Flask app with
the node's Basic auth: the median and the slowest of `--repeat` calls. Prints the table,
writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench import history_seed  # noqa: E402
from scheduler0 import messages  # noqa: E402
from scheduler0.store import StateMachine  # noqa: E402
from scheduler0.testing import LocalServices, node_settings  # noqa: E402
from scheduler0.vocabulary import execution_id  # noqa: E402

T0 = 1_800_000_000 - 1_800_000_000 % 60
PROJECTS = 3
CREATE_BATCH = 10_000
BATCH = 1000  # jobs per dispatched batch, as the planner makes them
PLAN_BATCHES = 10  # batches per PLAN command
RESULT_ROWS = 10_000
FAST_SEED_FROM_ROWS = 10_000_000
NODE_AUTH = ("bench", "bench-password")


class Seeder:
    """Applies commands to a StateMachine at consecutive Raft indexes."""

    def __init__(self, machine: StateMachine) -> None:
        self.machine = machine
        self.index = machine.last_applied()

    def apply(self, body: messages.Body, ts_ms: int) -> Any:
        self.index += 1
        answer = self.machine.apply(messages.command(body, now_ms=ts_ms), self.index)
        if not answer.get("ok"):
            raise SystemExit(f"{body.TYPE} refused: {answer}")
        return answer["data"]


def seed(db_path: str, jobs: int, rows: int, fast: bool) -> dict[str, Any]:
    machine = StateMachine(db_path)
    seeder = Seeder(machine)
    started = time.perf_counter()
    for p in range(PROJECTS):
        seeder.apply(messages.ProjectCreate(name=f"p{p}", signing_secret="s"), T0 * 1000)
    for first in range(0, jobs, CREATE_BATCH):
        seeder.apply(messages.JobCreate(jobs=[
            {"project_id": 1 + (first + i) % PROJECTS, "spec": "@every 1m",
             "callback_url": "http://127.0.0.1:9/hook", "timezone": "UTC"}
            for i in range(min(CREATE_BATCH, jobs - first))]), T0 * 1000)
    created = time.perf_counter() - started
    print(f"created {jobs:,} jobs in {created:.1f} s", flush=True)
    ticks = [T0 + 60 * (t + 1) for t in range(max(1, rows // jobs))]
    started = time.perf_counter()
    if fast:
        machine.close()  # the fast seed writes the file itself
        history_seed.seed_history(db_path, ticks, batch=BATCH, per_plan=PLAN_BATCHES,
                                  result_rows=RESULT_ROWS,
                                  say=lambda line: print(line, flush=True))
    else:
        _apply_ticks(seeder, ticks, jobs)
        machine.close()
    seeded = time.perf_counter() - started
    return {"method": "fast" if fast else "apply", "jobs": jobs,
            "jobs_created_s": round(created, 1), "rows_seeded_s": round(seeded, 1),
            "rows": len(ticks) * jobs, "rows_per_s": round(len(ticks) * jobs / seeded)}


def _apply_ticks(seeder: Seeder, ticks: list[int], jobs: int) -> None:
    job_project = [(j, 1 + (j - 1) % PROJECTS) for j in range(1, jobs + 1)]
    started = time.perf_counter()
    for t, tick in enumerate(ticks):
        _seed_tick(seeder, tick, job_project)
        print(f"tick {t + 1}/{len(ticks)}: {(t + 1) * jobs:,} rows, "
              f"{time.perf_counter() - started:.0f} s", flush=True)


def _seed_tick(seeder: Seeder, tick: int, job_project: list[tuple[int, int]]) -> None:
    batches = [job_project[i:i + BATCH] for i in range(0, len(job_project), BATCH)]
    node = history_seed.NODE_ID
    for start in range(0, len(batches), PLAN_BATCHES):
        seeder.apply(messages.Plan(batches=[
            messages.PlanBatch(batch_id=f"{tick}-{start + k}", node_id=node, scheduled_at=tick,
                               rows=[messages.PlanRow(j, p) for j, p in group])
            for k, group in enumerate(batches[start:start + PLAN_BATCHES])]), tick * 1000)
    results: list[messages.ResultRow] = []
    stamp = tick * 1000 + history_seed.RESULT_AFTER_MS
    for b, group in enumerate(batches):
        for j, _ in group:
            # bench/history_seed.py writes these rows in SQL: change both or neither.
            failed = (j * 7 + tick // 60) % 100 == 0
            started = tick * 1000 + (j % 97)
            results.append(messages.ResultRow(
                execution_id(j, tick), "failed" if failed else "succeeded", 1,
                500 if failed else 200, "HTTP 500" if failed else None, node, started,
                started + 3, f"{tick}-{b}"))
            if len(results) == RESULT_ROWS:
                seeder.apply(messages.Result(rows=results), stamp)
                results = []
    if results:
        seeder.apply(messages.Result(rows=results), stamp)


def timed(call: Callable[[], Any], repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"median_ms": round(times[len(times) // 2], 2), "max_ms": round(times[-1], 2)}


def measure(workdir: Path, jobs: int, ticks: int, repeat: int) -> dict[str, dict[str, float]]:
    # Here, not at the top: seeding (and its test) needs the store, not the API.
    from scheduler0.api import create_app

    settings = node_settings(workdir)
    services = LocalServices(settings).start()
    try:
        client = create_app(settings, services, node_auth=NODE_AUTH).test_client()
        token = base64.b64encode(":".join(NODE_AUTH).encode()).decode()
        headers = {"Authorization": "Basic " + token}

        def get(path: str) -> Callable[[], Any]:
            def call() -> Any:
                response = client.get("/api/v1" + path, headers=headers)
                if response.status_code != 200:
                    raise SystemExit(f"GET {path}: {response.status_code} {response.data[:300]!r}")
                return response
            return call

        middle, last_tick = jobs // 2, T0 + 60 * ticks
        deep = get("/executions?limit=50").__call__().json["data"]["next_after"]
        queries = {
            "list jobs, first page": "/jobs?limit=50",
            "list jobs, keyset page deep in": f"/jobs?limit=50&after={jobs - 100}",
            "list jobs of a project": "/jobs?project_id=2&limit=50",
            "list jobs failing now": "/jobs?failing=true&limit=50",
            "job page: the job": f"/jobs/{middle}",
            "job page: its executions": f"/jobs/{middle}/executions?limit=50",
            "list executions, newest": "/executions?limit=50",
            "list executions, next keyset page": f"/executions?limit=50&after={deep}",
            "list executions by job": f"/executions?job_id={middle}&limit=50",
            "list executions by state (failed)": "/executions?state=failed&limit=50",
            # The minute of a tick in the middle of the history (ticks fall on whole minutes).
            "list executions by time (one minute)":
                f"/executions?since={last_tick - 60 * (ticks // 2)}"
                f"&until={last_tick - 60 * (ticks // 2) + 60}&limit=50",
            "list executions of a project": "/executions?project_id=3&limit=50",
            "rollups, per minute, a day": "/rollups?period=minute&limit=1440",
            "metrics": "/metrics",
        }
        return {name: timed(get(path), repeat) for name, path in queries.items()}
    finally:
        services.stop()


def kept_seed(workdir: Path, jobs: int, rows: int) -> dict[str, Any]:
    """What seeded the kept folder; refuses a folder whose seed did not finish (seed.json is
    written last) or was for another size (the queries aim at its jobs and ticks)."""
    path = Path(workdir, "seed.json")
    if not path.exists():
        raise SystemExit(f"{workdir} holds a database but no seed.json: its seed did not "
                         "finish; delete the folder and seed again")
    seeded: dict[str, Any] = json.loads(path.read_text())
    ticks = max(1, rows // jobs)
    if seeded.get("jobs", jobs) != jobs or seeded["rows"] != ticks * jobs:
        raise SystemExit(f"{workdir} was seeded with {seeded.get('jobs', '?')} jobs and "
                         f"{seeded['rows']} rows; pass the same --jobs and --rows")
    return seeded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=3_000_000)
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--keep", default=None,
                        help="keep the seeded node folder here (reused when it exists)")
    parser.add_argument("--seed-only", action="store_true",
                        help="seed the --keep folder and stop (measure later, alone on the "
                             "machine)")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--fast-seed", dest="fast", action="store_true", default=None,
                     help="write the history with bulk SQL (the default from "
                          f"{FAST_SEED_FROM_ROWS:,} rows)")
    how.add_argument("--apply-seed", dest="fast", action="store_false",
                     help="apply every PLAN and RESULT through the state machine (~20,000 "
                          "rows a second: the default below that)")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    if args.seed_only and not args.keep:
        parser.error("--seed-only needs --keep")
    fast = args.rows >= FAST_SEED_FROM_ROWS if args.fast is None else args.fast
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="s0reads-"))
    settings = node_settings(workdir)
    seeded: dict[str, Any] = {}
    try:
        if not os.path.exists(settings.db_path):
            os.makedirs(settings.data_dir, exist_ok=True)
            seeded = seed(settings.db_path, args.jobs, args.rows, fast)
            Path(workdir, "seed.json").write_text(json.dumps(seeded))
        else:
            seeded = kept_seed(workdir, args.jobs, args.rows)
        if args.seed_only:
            return
        size = os.path.getsize(settings.db_path)
        ticks = max(1, args.rows // args.jobs)
        latency = measure(workdir, args.jobs, ticks, args.repeat)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    result = {"jobs": args.jobs, "rows": ticks * args.jobs, "seed": seeded,
              "file_bytes": size, "file_bytes_per_row": round(size / (ticks * args.jobs), 1),
              "latency": latency}
    width = max(map(len, latency))
    print(f"{args.jobs:,} jobs, {ticks * args.jobs:,} execution rows, file {size / 2**30:.2f} GiB"
          f" ({result['file_bytes_per_row']} bytes a row, jobs included)")
    for name, figures in latency.items():
        print(f"{name:<{width}}  median {figures['median_ms']:>8.2f} ms   "
              f"max {figures['max_ms']:>8.2f} ms")
    os.makedirs(args.out, exist_ok=True)
    out = Path(args.out, f"reads-{args.jobs}-{ticks * args.jobs}.json")
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
