"""One entry point for every benchmark: `python -m bench SCENARIO [extra args]`.

    python -m bench list                 the scenarios and what each runs
    python -m bench seed                 50,000 jobs @every 1m on one node, 5 minutes
    python -m bench seed --minutes 2     extra arguments go to the script

Each scenario prints a table and (where it measures a run) writes JSON under bench/results/;
each bounds its own run time and stops every process it started.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

SCENARIOS: dict[str, tuple[str, list[str], str]] = {
    "schedule": ("schedule_bench.py", [], "next-fire cost; 1M jobs over 1,000 schedules"),
    "store": ("store_bench.py", [], "applying job.create, pruning, snapshots"),
    "create": ("api_bench.py", ["--node", "--clients", "2"],
               "job creation through the API of a real node (50x1,000; 1M from 2 clients)"),
    "http": ("http_bench.py", [], "callback delivery: one URL in chunks; 3,000 URLs"),
    "seed": ("pipeline_bench.py", ["--jobs", "50000", "--spec", "@every 1m", "--minutes", "5"],
             "50,000 jobs @every 1m on one node"),
    "moonshot": ("pipeline_bench.py", ["--jobs", "1000000", "--spec", "@every 1m",
                                       "--spread", "60", "--minutes", "5", "--settle", "20"],
                 "1,000,000 jobs @every 1m on one node, phases spread over the minute"),
    "soak": ("pipeline_bench.py", ["--jobs", "1000000", "--spec", "@every 1m",
                                   "--spread", "60", "--minutes", "25", "--settle", "20",
                                   "--succeeded-retention-minutes", "5"],
             "1,000,000 jobs @every 1m for 25 minutes, succeeded rows kept 5 minutes: disk "
             "and RSS every minute"),
    "reads": ("read_bench.py", [], "list and metric answers at 3,000,000 jobs and "
                                   "100,000,000 execution rows (jobs through the state machine, the "
                                   "history with bulk SQL from 10M rows: --apply-seed to apply it)"),
    "ui": ("ui_bench.py", [], "console page weights and p95 server times at 1,000,000 jobs "
                              "and 100,000,000 execution rows (--keep reuses a `reads` seed)"),
    "urls": ("pipeline_bench.py", ["--jobs", "30000", "--spec", "@every 10s", "--per-job-urls",
                                   "--spread", "10", "--minutes", "3"],
             "30,000 jobs, own URL each, @every 10s, phases spread: 3,000 POSTs/s"),
    "cluster": ("cluster_bench.py", ["--jobs", "50000", "--minutes", "5"],
                "50,000 jobs @every 1m on a local 3-node cluster"),
    "failover": ("cluster_bench.py", ["--jobs", "50000", "--minutes", "5",
                                      "--kill-leader-every", "60"],
                 "the same, kill -9 of the leader every minute"),
    "chaos": ("chaos_bench.py", [],
              "faults (kill -9, SIGSTOP, partition, restart) on 3 nodes in namespaces, under "
              "300 jobs @every 1s + 100 @every 7s; --jobs-per-minute 250000 adds @every 1m"),
    "peer": ("peer_apscheduler.py", ["--jobs", "50000", "--seconds", "190"],
             "APScheduler 3 on the same workload"),
    "compare": ("compare.py", ["--jobs", "50000"],
                "scheduler0 then APScheduler 3, one run, side by side"),
    "misfire": ("misfire_demo.py", ["--down", "3"], "misfire policies after 3 minutes down"),
    "plot": ("plot.py", [], "PNG from receiver statistics JSON"),
    "hostile": ("hostile_bench.py", [], "the security review's attacks on one node"),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("list", "-h", "--help"):
        width = max(map(len, SCENARIOS))
        for name, (script, args, what) in SCENARIOS.items():
            print(f"{name:<{width}}  {what}\n{'':<{width}}  bench/{script} {' '.join(args)}")
        return 0
    name, extra = argv[0], argv[1:]
    if name not in SCENARIOS:
        print(f"unknown scenario {name!r}; run `python -m bench list`", file=sys.stderr)
        return 2
    script, args, _ = SCENARIOS[name]
    sys.argv = [str(HERE / script), *args, *extra]
    sys.path.insert(0, str(HERE))
    runpy.run_path(str(HERE / script), run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
