"""Misfire policies after real downtime: three `@every 1m` jobs (run_once, run_all, skip), the
node stopped for --down minutes, started again, and each job's history printed.

    .venv/bin/python bench/misfire_demo.py --down 3

Loopback only; the node and the receiver are stopped by pid at the end.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from pipeline_bench import Api, healthy, start_node, start_receiver  # noqa: E402

from scheduler0.testing import free_port, wait_for  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--down", type=float, default=3.0, help="minutes the node is stopped")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="s0misfire-"))
    receiver, rport = start_receiver()
    # Fixed Raft and intake ports: a restarted node must come back at the same Raft address.
    settings = {"MaxWorkers": 1, "RaftAddress": f"127.0.0.1:{free_port()}",
                "IntakeAddress": f"127.0.0.1:{free_port()}"}
    node, port = start_node(workdir, settings)
    try:
        wait_for(lambda: (workdir / ".scheduler0").exists(), timeout=20)
        api = Api(f"http://127.0.0.1:{port}/api/v1", workdir)
        wait_for(lambda: healthy(api), timeout=30)
        project = api.call("POST", "/projects", {"name": "misfire"})
        jobs = {policy: api.call("POST", "/jobs", {
            "project_id": project["id"], "spec": "@every 1m", "misfire_policy": policy,
            "callback_url": f"http://127.0.0.1:{rport}/{policy}"})
            for policy in ("run_once", "run_all", "skip")}
        print("created", {p: j["id"] for p, j in jobs.items()}, "- waiting for the first tick",
              flush=True)
        wait_for(lambda: all(api.call("GET", f"/jobs/{j['id']}")["last_execution_at"]
                             for j in jobs.values()), timeout=90, interval=1)
        node.send_signal(signal.SIGTERM)
        node.wait(15)
        stopped = time.time()
        print(f"node stopped at {time.strftime('%H:%M:%S', time.gmtime(stopped))}Z for "
              f"{args.down} min", flush=True)
        time.sleep(args.down * 60)
        node, _ = start_node(workdir, {**settings, "Port": port})
        wait_for(lambda: healthy(api), timeout=30)
        restarted = time.time()
        print(f"node restarted at {time.strftime('%H:%M:%S', time.gmtime(restarted))}Z",
              flush=True)
        time.sleep(75)
        for policy, job in jobs.items():
            rows = api.call("GET", f"/jobs/{job['id']}/executions?limit=100")["executions"]
            print(f"\n{policy} (job {job['id']}):")
            for row in sorted(rows, key=lambda r: r["scheduled_at"]):
                print(f"  {row['scheduled_at']}  {row['state']:<10} started {row['started_at']}")
        stats = json.loads(__import__("urllib.request").request.urlopen(
            f"http://127.0.0.1:{rport}/stats", timeout=30).read())
        print(f"\nreceiver: {stats['executions']} executions, {stats['duplicates']} duplicates")
        print("deliveries per tick:", json.dumps(stats.get("deliveries_per_tick")))
    finally:
        for proc in (node, receiver):
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)


if __name__ == "__main__":
    main()
