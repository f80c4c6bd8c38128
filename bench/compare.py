"""scheduler0 and APScheduler 3 side by side, in one run, on the same workload and machine.

    .venv/bin/python bench/compare.py --jobs 50000 --minutes 3.2

Runs bench/pipeline_bench.py (one scheduler0 node) and then bench/peer_apscheduler.py
(BackgroundScheduler, thread pool, pooled urllib3 client, as its docs recommend), each against
its own bench/receiver.py, one after the other so they never share the CPU. Prints one table
and writes bench/results/compare-<jobs>.json; draws the lateness plot when matplotlib is there.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def run_scheduler0(args: argparse.Namespace) -> dict[str, Any]:
    subprocess.run([sys.executable, str(HERE / "pipeline_bench.py"), "--jobs", str(args.jobs),
                    "--spec", "@every 1m", "--minutes", str(args.minutes), "--batch", "1000",
                    "--out", str(RESULTS)], check=True)
    return dict(json.loads((RESULTS / f"pipeline-{args.jobs}-every1m.json").read_text()))


def run_peer(args: argparse.Namespace) -> dict[str, Any]:
    out, stats = RESULTS / f"peer-{args.jobs}.json", RESULTS / f"peer-{args.jobs}-stats.json"
    subprocess.run([sys.executable, str(HERE / "peer_apscheduler.py"), "--jobs", str(args.jobs),
                    "--seconds", str(args.minutes * 60), "--workers", str(args.workers),
                    "--json", str(out), "--stats-json", str(stats)], check=True)
    return dict(json.loads(out.read_text()))


def row(name: str, r: dict[str, Any], per_tick: str, missed: Any, cpu_pct: Any,
        rss: Any) -> list[str]:
    lat = r.get("lateness") or {}

    def ms(v: Any) -> str:
        return "-" if v is None else f"{float(v) * 1000:.0f} ms"

    return [name, per_tick, str(missed), str(r.get("duplicates")), ms(lat.get("p50")),
            ms(lat.get("p99")), ms(lat.get("max")), f"{cpu_pct} %", f"{rss} MB"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--minutes", type=float, default=3.2)
    parser.add_argument("--workers", type=int, default=20, help="APScheduler's thread pool")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    ours = run_scheduler0(args)
    peer = run_peer(args)
    hits = f"min {ours['min_hits']} / max {ours['max_hits']} per job"
    delivered = [t["delivered"] for t in peer["ticks"]]
    rows = [
        ["", "deliveries", "missed", "duplicates", "late p50", "late p99", "late max",
         "CPU (1 core)", "peak RSS"],
        row("scheduler0 (1 node)", ours, hits, 0, ours["node_cpu_pct_of_one_core"],
            ours["peak_rss_mb"]),
        row(f"APScheduler {peer['apscheduler']}", peer,
            "per tick " + "/".join(map(str, delivered)) + f" of {args.jobs}", peer["missed"],
            peer["cpu_percent_of_one_core"], peer["peak_rss_mb"]),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)))
    out = RESULTS / f"compare-{args.jobs}.json"
    out.write_text(json.dumps({"scheduler0": {k: v for k, v in ours.items() if k != "samples"},
                               "apscheduler": peer}, indent=1))
    print(f"wrote {out}")
    try:
        subprocess.run([sys.executable, str(HERE / "plot.py"),
                        str(RESULTS / f"pipeline-{args.jobs}-every1m.json"),
                        str(RESULTS / f"peer-{args.jobs}-stats.json"), "--label", "scheduler0",
                        "--label", "APScheduler", "-o", str(RESULTS / f"compare-{args.jobs}.png")],
                       check=True)
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        print(f"no plot: {exc}")


if __name__ == "__main__":
    main()
