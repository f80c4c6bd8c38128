"""A local 3-node cluster under load: exactly-once, lateness, who delivered, and failover.

    .venv/bin/python bench/cluster_bench.py --jobs 50000 --minutes 5
    .venv/bin/python bench/cluster_bench.py --jobs 50000 --minutes 5 --kill-leader-every 60
    .venv/bin/python bench/cluster_bench.py --jobs 250000 --minutes 3

Starts bench/receiver.py and three nodes on loopback (one shared secrets file, each its own
data folder), creates the jobs through a follower, runs, and reads the receiver's statistics
for the ticks wholly inside the window. With --kill-leader-every S it kill -9s the leader's
whole process tree every S seconds, measures the time to a new leader and to its first
planning round, and restarts the killed node 5 s later. Writes JSON to bench/results/.

With --state FILE each node starts on a copy of that SQLite state file (for instance one
`python -m bench reads --keep DIR --seed-only` made: 3,000,000 jobs and 100,000,000 execution
rows, 5.6 GB), its Raft log empty, and --snapshot-interval S makes each node snapshot its
state at least every S seconds under the load: the run then reports every snapshot each node
logged (index, seconds) and the elections seen (the Raft terms the nodes reported, sampled
every second).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from pipeline_bench import (  # noqa: E402
    Api,
    cpu_seconds,
    create_jobs,
    rss,
    start_receiver,
    tree,
    whole_ticks_end,
)

from scheduler0.config import env_name  # noqa: E402
from scheduler0.testing import free_port, wait_for  # noqa: E402


class Node:
    def __init__(self, node_id: int, workdir: Path, env: dict[str, str], port: int,
                 host: str = "127.0.0.1",
                 wrap: Callable[[list[str]], list[str]] | None = None):
        self.node_id, self.workdir, self.env, self.port = node_id, workdir, env, port
        self.host = host
        # Applied to the start command, e.g. to run it in a network namespace; it must exec the
        # node (as `ip netns exec` does) so the pid started is the supervisor's.
        self.wrap = wrap or (lambda argv: argv)
        self.proc: subprocess.Popen[bytes] | None = None
        self.api = Api(f"http://{host}:{port}/api/v1", workdir)

    def start(self) -> None:
        log = open(self.workdir / "node.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(self.wrap([sys.executable, "-m", "scheduler0.cli", "start"]),
                                     cwd=self.workdir, env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT)

    def health(self) -> dict[str, Any] | None:
        try:
            return dict(self.api.call("GET", "/healthcheck", timeout=2))
        except (OSError, ValueError, http.client.HTTPException):  # down, starting or stopping
            return None

    def kill(self) -> None:
        if self.proc is not None:
            for p in tree(self.proc.pid):
                try:
                    p.kill()
                except Exception:  # already gone
                    pass
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def delivered(self) -> float:
        text = urllib.request.urlopen(urllib.request.Request(
            self.api.base + "/metrics", headers=self.api.headers), timeout=10).read().decode()
        for line in text.splitlines():
            if line.startswith("scheduler0_callbacks_delivered_total "):
                return float(line.split()[1])
        return 0.0


def make_cluster(root: Path, size: int, settings: dict[str, Any],
                 hosts: list[str] | None = None,
                 wrap: Callable[[int, list[str]], list[str]] | None = None) -> list[Node]:
    """`size` nodes on loopback, or node i on hosts[i - 1] started through wrap(i, argv)."""
    shared = {"SecretKey": secrets.token_hex(16), "AuthUsername": "bench",
              "AuthPassword": secrets.token_hex(8)}
    hosts = hosts or ["127.0.0.1"] * size
    ports = [(free_port(), free_port(), free_port()) for _ in range(size)]
    replicas = [{"NodeId": i + 1, "Address": f"http://{hosts[i]}:{p}",
                 "RaftAddress": f"{hosts[i]}:{r}", "IntakeAddress": f"{hosts[i]}:{k}"}
                for i, (p, r, k) in enumerate(ports)]
    nodes = []
    for i, (port, raft, intake) in enumerate(ports):
        workdir = root / f"node{i + 1}"
        workdir.mkdir()
        (workdir / ".scheduler0").write_text(json.dumps(shared))
        env = dict(os.environ)
        values = {"Host": hosts[i], "Port": port, "NodeId": i + 1,
                  "RaftAddress": f"{hosts[i]}:{raft}", "IntakeAddress": f"{hosts[i]}:{intake}",
                  "Replicas": json.dumps(replicas), "DataDir": str(workdir / "data"),
                  "LogLevel": "WARNING", "CallbackAllowedNetworks": "127.0.0.0/8", **settings}
        for key, value in values.items():
            env[env_name(key)] = str(value)
        nodes.append(Node(i + 1, workdir, env, port, hosts[i],
                          partial(wrap, i + 1) if wrap else None))
    return nodes


def install_state(nodes: list[Node], state: Path) -> None:
    """Each node's state file a copy of `state`, as if its log had been compacted into it:
    nothing applied from this cluster's (empty) Raft log yet."""
    for node in nodes:
        data = node.workdir / "data"
        data.mkdir(exist_ok=True)
        target = data / "scheduler0.db"
        shutil.copyfile(state, target)
        conn = sqlite3.connect(target)
        try:
            conn.execute("UPDATE raft_meta SET last_applied = 0, raft_data = NULL")
            conn.commit()
        finally:
            conn.close()


def snapshots_logged(node: Node) -> list[dict[str, float]]:
    """The Raft snapshots a node's log reports as written: index and seconds."""
    found = []
    for line in (node.workdir / "node.log").read_text(errors="replace").splitlines():
        match = SNAPSHOT_LINE.search(line)
        if match:
            found.append({"index": int(match[1]), "seconds": float(match[2])})
    return found


SNAPSHOT_LINE = re.compile(r"raft snapshot at index (\d+) written in ([\d.]+) s")


def agreed_leader(nodes: list[Node]) -> Node | None:
    views = [n.health() for n in nodes]
    leaders = {v["leader_id"] for v in views if v}
    if all(views) and len(leaders) == 1 and None not in leaders:
        leader_id = leaders.pop()
        return next((n for n in nodes if n.node_id == leader_id), None)
    return None


def failover(nodes: list[Node], leader: Node) -> dict[str, float]:
    """kill -9 the leader; time to an agreed successor and to its first planning round."""
    survivors = [n for n in nodes if n is not leader]
    killed = time.time()
    leader.kill()
    successor = wait_for(lambda: agreed_leader(survivors), timeout=30, interval=0.05)
    elected = time.time() - killed

    def planning_since() -> float | None:
        since = ((successor.health() or {}).get("planner") or {}).get("leading_since")
        return since if since and since >= killed else None

    # The successor's planner has proved its leadership, re-sent what was unfinished and is
    # planning again (the time is its own clock: same machine).
    resumed = wait_for(planning_since, timeout=30, interval=0.05)
    return {"killed_node": leader.node_id, "new_leader": successor.node_id,
            "elected_s": round(elected, 2), "planning_resumed_s": round(resumed - killed, 2)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="s0cluster-"))
    receiver, rport = start_receiver()
    settings: dict[str, Any] = {"MaxWorkers": args.workers, "MaxQueue": 1000,
                                "MaxMemory": args.max_memory}
    if args.snapshot_interval:
        settings.update(RaftSnapshotInterval=args.snapshot_interval, LogLevel="INFO")
    nodes = make_cluster(root, 3, settings)
    failovers: list[dict[str, float]] = []
    terms: set[int] = set()
    try:
        if args.state:
            t0 = time.perf_counter()
            install_state(nodes, Path(args.state))
            print(f"copied {Path(args.state).stat().st_size / 2**30:.2f} GiB of state to each "
                  f"node in {time.perf_counter() - t0:.0f} s", flush=True)
        for node in nodes:
            node.start()
        leader = wait_for(lambda: agreed_leader(nodes), timeout=40, interval=0.2)
        wait_for(lambda: len((leader.health() or {}).get("nodes", {})) == 3, timeout=15)
        follower = next(n for n in nodes if n is not leader)
        project = follower.api.call("POST", "/projects", {"name": "bench"})
        t0 = time.perf_counter()
        create_jobs(follower.api, project["id"], args.jobs, args.spec,
                    f"http://127.0.0.1:{rport}", False, args.batch)
        created = time.perf_counter() - t0
        print(f"created {args.jobs} jobs through node {follower.node_id} in {created:.1f} s",
              flush=True)
        window_start = int(time.time()) + 1
        cpu0 = sum(cpu_seconds(tree(n.proc.pid)) for n in nodes if n.proc)
        peak = 0
        end = time.time() + args.minutes * 60
        next_kill = time.time() + args.kill_leader_every if args.kill_leader_every else None
        while time.time() < end:
            if next_kill and time.time() >= next_kill:
                current = wait_for(lambda: agreed_leader([n for n in nodes if n.proc
                                                          and n.proc.poll() is None]), timeout=30)
                failovers.append(failover(nodes, current))
                print(f"failover: {failovers[-1]}", flush=True)
                time.sleep(5)
                current.start()
                next_kill = time.time() + args.kill_leader_every
            peak = max(peak, sum(rss(tree(n.proc.pid)) for n in nodes if n.proc))
            terms.update(t for n in nodes if (t := ((n.health() or {}).get("raft") or {})
                                              .get("term")) is not None)
            time.sleep(1.0)
        cpu = sum(cpu_seconds(tree(n.proc.pid)) for n in nodes if n.proc) - cpu0
        window_end = whole_ticks_end(window_start, int(time.time()) - args.settle, args.spec)
        time.sleep(args.settle)
        stats = json.loads(urllib.request.urlopen(
            f"http://127.0.0.1:{rport}/stats?from={window_start}&to={window_end}",
            timeout=60).read())
        leader = wait_for(lambda: agreed_leader(nodes), timeout=30)
        per_node = {n.node_id: n.delivered() for n in nodes}
        return {"scenario": vars(args), "jobs_created_s": round(created, 1),
                "window": [window_start, window_end], "executions": stats["executions"],
                "duplicates": stats["duplicates"], "jobs_seen": stats["jobs"],
                "min_hits": stats["min_hits"], "max_hits": stats["max_hits"],
                "hits_histogram": stats["hits_histogram"], "lateness": stats["lateness"],
                "delivered_by_node": per_node, "leader_at_end": leader.node_id,
                "failovers": failovers, "cluster_cpu_s": round(cpu, 1),
                "peak_rss_mb_all_nodes": round(peak / 2**20),
                "deliveries_per_tick": stats.get("deliveries_per_tick"),
                "samples": stats.get("samples"),
                "terms_seen": sorted(terms), "elections_during_run": max(0, len(terms) - 1),
                "snapshots": {n.node_id: snapshots_logged(n) for n in nodes}}
    finally:
        for node in nodes:
            node.stop()
        receiver.send_signal(signal.SIGTERM)
        receiver.wait(15)
        if args.keep_logs:
            os.makedirs(args.keep_logs, exist_ok=True)
            for node in nodes:
                log = node.workdir / "node.log"
                if log.exists():
                    shutil.copyfile(log, Path(args.keep_logs, f"node{node.node_id}.log"))
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--spec", default="@every 1m")
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--kill-leader-every", type=float, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--max-memory", type=int, default=4096)
    parser.add_argument("--settle", type=int, default=20)
    parser.add_argument("--keep-logs", help="copy each node's log into this folder at the end")
    parser.add_argument("--state", help="an SQLite state file every node starts from (copied)")
    parser.add_argument("--snapshot-interval", type=int, default=0,
                        help="RaftSnapshotInterval, seconds (60 or more); 0 keeps the default")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    result = run(args)
    lat = result["lateness"] or {}
    print(f"executions {result['executions']}, duplicates {result['duplicates']}, jobs seen "
          f"{result['jobs_seen']}, hits min/max {result['min_hits']}/{result['max_hits']}")
    print(f"lateness p50 {lat.get('p50')} p99 {lat.get('p99')} max {lat.get('max')} s")
    print(f"delivered by node {result['delivered_by_node']} (leader at end: "
          f"{result['leader_at_end']})")
    print(f"failovers {result['failovers']}")
    print(f"Raft terms seen {result['terms_seen']}: {result['elections_during_run']} elections "
          "during the run")
    for node_id, shots in result["snapshots"].items():
        print(f"node {node_id} snapshots: " + (", ".join(
            f"index {s['index']} in {s['seconds']:.1f} s" for s in shots) or "none"))
    print(f"cluster CPU {result['cluster_cpu_s']} s, peak RSS (3 nodes) "
          f"{result['peak_rss_mb_all_nodes']} MB")
    os.makedirs(args.out, exist_ok=True)
    kill = f"-kill{int(args.kill_leader_every)}" if args.kill_leader_every else ""
    state = "-state" if args.state else ""
    out = Path(args.out, f"cluster-{args.jobs}{kill}{state}.json")
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
