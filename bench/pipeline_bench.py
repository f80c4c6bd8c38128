"""End-to-end firing precision on one node: N jobs, a fast loopback receiver, M minutes.

    .venv/bin/python bench/pipeline_bench.py --jobs 50000 --spec "@every 1m" --minutes 5
    .venv/bin/python bench/pipeline_bench.py --jobs 30000 --spec "@every 10s" --per-job-urls --minutes 2

Starts bench/receiver.py and a node (`scheduler0 start`, own data folder, loopback ports,
callbacks restricted to 127.0.0.0/8), creates one project and the jobs in POSTs of 10,000,
lets it run, then reads the receiver's statistics for the ticks that fell wholly inside the
measured window. Prints a table and writes JSON to bench/results/. Stops both by pid.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from scheduler0.config import env_name  # noqa: E402
from scheduler0.testing import free_port, wait_for  # noqa: E402

SPREAD_DELAY = 15  # seconds from the start of creation to the spread jobs' start dates


def start_receiver(host: str = "127.0.0.1") -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen([sys.executable, str(HERE / "receiver.py"), "--port", "0",
                             "--host", host], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, port


def start_node(workdir: Path, settings: dict[str, Any]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = dict(os.environ)
    base = {"Port": port, "DataDir": str(workdir / "data"), "LogLevel": "WARNING",
            "RaftAddress": f"127.0.0.1:{free_port()}", "IntakeAddress": f"127.0.0.1:{free_port()}",
            "CallbackAllowedNetworks": "127.0.0.0/8", **settings}
    for key, value in base.items():
        env[env_name(key)] = str(value)
    log = open(workdir / "node.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "scheduler0.cli", "start"], cwd=workdir,
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, port


class Api:
    def __init__(self, base: str, workdir: Path):
        self.base = base
        secrets = json.loads((workdir / ".scheduler0").read_text())
        token = base64.b64encode(f"{secrets['AuthUsername']}:{secrets['AuthPassword']}".encode())
        self.headers = {"Authorization": "Basic " + token.decode(),
                        "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None, timeout: float = 120) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers=self.headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())["data"]


def healthy(api: Api) -> bool:
    try:
        return bool(api.call("GET", "/healthcheck", timeout=3)["is_leader"])
    except OSError:
        return False


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def rss(procs: list[psutil.Process]) -> int:
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def disk_bytes(data_dir: Path) -> int:
    """Every file under the node's data folder: SQLite file, WAL, Raft journal, snapshots."""
    total = 0
    for path in data_dir.rglob("*"):
        try:
            if path.is_file():
                total += path.stat().st_size
        except OSError:
            pass
    return total


def history_counters(db_path: Path) -> dict[str, int]:
    """The store's counters, read from the node's file (read-only)."""
    import sqlite3

    conn = sqlite3.connect(db_path.absolute().as_uri() + "?mode=ro", uri=True, timeout=30)
    try:
        return dict(conn.execute("SELECT name, value FROM counters").fetchall())
    finally:
        conn.close()


def history_layout_bytes(db_path: Path) -> dict[str, int]:
    """Bytes of the history tables and their indexes (SQLite's dbstat), read-only."""
    import sqlite3

    conn = sqlite3.connect(db_path.absolute().as_uri() + "?mode=ro", uri=True, timeout=30)
    try:
        return dict(conn.execute(
            "SELECT name, sum(pgsize) FROM dbstat WHERE name LIKE 'runs_%' GROUP BY name"))
    finally:
        conn.close()


def whole_ticks_end(start: int, latest: int, spec: str) -> int:
    """The window's end, so that it spans a whole number of the spec's periods: every job then
    has the same number of ticks inside it, and min = max hits means exactly once."""
    from scheduler0.schedule import parse

    period = parse(spec, "UTC", 0).interval or 60
    return start + (latest - start) // period * period - 1


def create_jobs(api: Api, project_id: int, count: int, spec: str, url: str,
                per_job_urls: bool, batch: int, spread: int = 0, base: int = 0,
                created: list[dict[str, Any]] | None = None) -> list[float]:
    """POST the jobs in batches; with `spread`, job i's @every phase is anchored on a start
    date i % spread seconds later, so the load is even over each period instead of bursting
    at the seconds the batches were created. `created` receives the jobs as the API returned
    them (ids, start dates)."""
    times = []
    for start in range(0, count, batch):
        jobs = [{"project_id": project_id, "spec": spec, "data": json.dumps({"n": i}),
                 "callback_url": f"{url}/job/{i}" if per_job_urls else f"{url}/callback",
                 **({"start_date": base + i % spread} if spread else {})}
                for i in range(start, min(count, start + batch))]
        t = time.perf_counter()
        answer = api.call("POST", "/jobs", jobs)
        times.append(time.perf_counter() - t)
        if created is not None:
            created.extend(answer)
    return times


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="s0bench-"))
    receiver, rport = start_receiver()
    settings = {"MaxWorkers": args.workers, "MaxQueue": 1000,
                "PlannerLookAhead": args.look_ahead, "MaxMemory": args.max_memory}
    if args.succeeded_retention_minutes is not None:
        settings["SucceededRetentionMinutes"] = args.succeeded_retention_minutes
    node, port = start_node(workdir, settings)
    data_dir = workdir / "data"
    try:
        wait_for(lambda: (workdir / ".scheduler0").exists(), timeout=20)
        api = Api(f"http://127.0.0.1:{port}/api/v1", workdir)
        wait_for(lambda: healthy(api), timeout=30, message="node leader")
        project = api.call("POST", "/projects", {"name": "bench"})
        t0 = time.perf_counter()
        base = int(time.time()) + SPREAD_DELAY  # spread jobs start after creation is done
        post_times = create_jobs(api, project["id"], args.jobs, args.spec,
                                 f"http://127.0.0.1:{rport}", args.per_job_urls, args.batch,
                                 args.spread, base)
        created_in = time.perf_counter() - t0
        print(f"created {args.jobs} jobs in {created_in:.1f} s "
              f"(median POST {sorted(post_times)[len(post_times) // 2] * 1000:.0f} ms)", flush=True)
        # Measure whole ticks only: from the first tick after all jobs exist.
        # From the first tick of every job: spread jobs fire first at base + period + offset.
        window_start = base + args.spread if args.spread else int(time.time()) + 1
        procs = tree(node.pid)
        cpu0 = cpu_seconds(procs)
        peak = 0
        started = time.time()
        end = started + args.minutes * 60
        samples: list[dict[str, Any]] = []
        next_sample = started + 60
        while time.time() < end:
            procs = tree(node.pid)
            now_rss = rss(procs)
            peak = max(peak, now_rss)
            if time.time() >= next_sample:
                next_sample += 60
                kept = history_counters(data_dir / "scheduler0.db")
                sample = {"minute": round((time.time() - started) / 60),
                          "disk_mb": round(disk_bytes(data_dir) / 2**20, 1),
                          "rss_mb": round(now_rss / 2**20),
                          "rows": kept.get("retained_succeeded", 0)
                          + kept.get("retained_failed", 0) + kept.get("retained_missed", 0),
                          "recorded": kept.get("recorded_succeeded", 0)}
                samples.append(sample)
                print(f"minute {sample['minute']:>3}: disk {sample['disk_mb']:>9,.1f} MB  "
                      f"RSS {sample['rss_mb']:>6,} MB  history rows {sample['rows']:>12,}  "
                      f"recorded {sample['recorded']:>12,}", flush=True)
            time.sleep(1.0)
        cpu = cpu_seconds(tree(node.pid)) - cpu0
        window_end = whole_ticks_end(window_start, int(time.time()) - args.settle, args.spec)
        time.sleep(args.settle)
        stats = json.loads(urllib.request.urlopen(
            f"http://127.0.0.1:{rport}/stats?from={window_start}&to={window_end}",
            timeout=60).read())
        health = api.call("GET", "/healthcheck")
        history = api.call("GET", "/executions?limit=1&state=failed")["total"]
        kept = history_counters(data_dir / "scheduler0.db")
        rows = sum(kept.get(f"retained_{s}", 0) for s in ("succeeded", "failed", "missed"))
        layout = history_layout_bytes(data_dir / "scheduler0.db")
        return {
            "disk_bytes": disk_bytes(data_dir), "history_rows": rows,
            "history_bytes_per_execution": round(sum(layout.values()) / rows, 1) if rows else None,
            "file_bytes_per_execution": round(
                (data_dir / "scheduler0.db").stat().st_size / rows, 1) if rows else None,
            "history_layout_bytes": layout, "minute_samples": samples,
            "scenario": vars(args), "jobs_created_s": round(created_in, 2),
            "median_post_ms": round(sorted(post_times)[len(post_times) // 2] * 1000, 1),
            "window": [window_start, window_end], "executions": stats["executions"],
            "duplicates": stats["duplicates"], "jobs_seen": stats["jobs"],
            "min_hits": stats["min_hits"], "max_hits": stats["max_hits"],
            "hits_histogram": stats["hits_histogram"], "lateness": stats["lateness"],
            "posts": stats["posts"], "node_cpu_s": round(cpu, 1),
            "node_cpu_pct_of_one_core": round(100 * cpu / (args.minutes * 60), 1),
            "peak_rss_mb": round(peak / 2**20), "failed_executions": history,
            "planner": health.get("planner"), "intake": health.get("intake"),
            "deliveries_per_tick": stats.get("deliveries_per_tick"),
            "samples": stats.get("samples"), "ticks": stats.get("ticks"),
        }
    finally:
        for proc in (node, receiver):
            proc.send_signal(signal.SIGTERM)
        for proc in (node, receiver):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                for p in tree(proc.pid):
                    p.kill()
        shutil.rmtree(workdir, ignore_errors=True)  # a million jobs leave gigabytes


def report(result: dict[str, Any]) -> None:
    lat = result["lateness"] or {}
    rows = [
        ("jobs", result["scenario"]["jobs"]), ("spec", result["scenario"]["spec"]),
        ("job creation (s)", result["jobs_created_s"]),
        ("median POST of a batch (ms)", result["median_post_ms"]),
        ("executions in window", result["executions"]), ("duplicates", result["duplicates"]),
        ("jobs seen", result["jobs_seen"]),
        ("hits per job min / max", f"{result['min_hits']} / {result['max_hits']}"),
        ("lateness p50 / p99 / max (s)",
         f"{lat.get('p50')} / {lat.get('p99')} / {lat.get('max')}"),
        ("POSTs", result["posts"]), ("node CPU (% of one core)", result["node_cpu_pct_of_one_core"]),
        ("peak RSS (MB)", result["peak_rss_mb"]), ("failed executions", result["failed_executions"]),
        ("history rows kept", result["history_rows"]),
        ("history bytes per execution (tables + indexes)", result["history_bytes_per_execution"]),
        ("SQLite file bytes per execution", result["file_bytes_per_execution"]),
        ("data folder at the end (MB)", round(result["disk_bytes"] / 2**20, 1)),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--spec", default="@every 1m")
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--per-job-urls", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--look-ahead", type=float, default=5.0)
    parser.add_argument("--max-memory", type=int, default=4096)
    parser.add_argument("--spread", type=int, default=0,
                        help="spread @every phases evenly over this many seconds")
    parser.add_argument("--settle", type=int, default=15, help="seconds left for the last ticks")
    parser.add_argument("--succeeded-retention-minutes", type=int, default=None,
                        help="the node's SucceededRetentionMinutes (default: the node's own)")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    result = run(args)
    report(result)
    os.makedirs(args.out, exist_ok=True)
    name = f"pipeline-{args.jobs}-{args.spec.replace(' ', '').replace('@', '')}" + (
        "-urls" if args.per_job_urls else "") + (f"-spread{args.spread}" if args.spread else "") + ".json"
    Path(args.out, name).write_text(json.dumps(result, indent=1))
    print(f"wrote {Path(args.out, name)}")


if __name__ == "__main__":
    main()
