"""Faults on a 3-node cluster under steady load: lateness, duplicates, lost ticks, history.

    flock /tmp/cpu.lock .venv/bin/python -m bench chaos                  the whole plan, ~12 min
    flock /tmp/cpu.lock .venv/bin/python -m bench chaos --faults kill-leader,stop-follower-10 --settle 15
    flock /tmp/cpu.lock .venv/bin/python -m bench chaos --faults steady   fault-free control, 90 s
    flock /tmp/cpu.lock .venv/bin/python -m bench chaos --jobs-per-minute 250000
    .venv/bin/python bench/chaos_bench.py --list                         the fault plan

Each node runs in its own network namespace (scheduler0.netlab; needs root), so a partition
is real; the receiver (bench/receiver.py) listens on the lab's bridge, the only address the
nodes' callbacks may reach. Without namespaces (or with --loopback) the nodes share loopback
and the partition fault is skipped, saying why.

The load: --fast jobs @every 1s and --slow jobs @every 7s (phases spread over 7 s), plus with
--jobs-per-minute N jobs @every 1m (phases spread over the minute). Every job gets a start date
(its @every anchor), so the ticks each job owes are plain arithmetic: anchor + k * interval.

The plan runs its faults one after the other; each holds for its time, recovers, then settles
(--settle). A fault's figures cover the ticks scheduled from 2 s before it to the end of its
settle: worst and p99 lateness of the first delivery, ticks delivered more than once (and how
many of those were due after the fault start + the lease period), ticks never delivered, and
the Raft terms first seen (elections; each new term is also printed as it is seen, so one that
no fault caused stands out). A tick's jobs arrive in one POST, so one late tick makes many late
(job, tick) pairs, and p99 often equals the worst. The run's figures cover every tick from the
anchors to the end of the last settle, which is left --drain seconds to arrive; then the final
leader's history of every job (with --jobs-per-minute, a sample of them plus all fast and slow
jobs) is compared with the ticks owed. Targets are printed beside the figures, not asserted.
Writes JSON to bench/results/ and stops every process it started by pid, on any exit.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from cluster_bench import Node, agreed_leader, make_cluster  # noqa: E402
from pipeline_bench import Api, create_jobs, start_receiver, tree  # noqa: E402
from receiver import fetch_ticks, parse_instant  # noqa: E402

from scheduler0.leases import LEASE_PERIOD  # noqa: E402
from scheduler0.schedule.every import parse_every  # noqa: E402
from scheduler0.testing import wait_for  # noqa: E402

SUBNET = "10.251.0"  # not the tests' lab subnet: a lab refuses a subnet already in use
BEFORE_FAULT = 2.0  # seconds: ticks due this long before a fault's start count toward it
WARM_UP = 5.0  # seconds from every job's first tick to the first fault
LEADER_WAIT = 30.0  # seconds to wait for the nodes to agree on a leader between faults
FINAL_STATES = ("succeeded", "failed", "missed")
RAFT_TIMING = {"RaftElectionTimeout": 0.5, "RaftHeartbeatTimeout": 0.1}

# Targets printed beside the figures (not asserted).
TARGET_WORST_LATENESS = 3.0  # seconds, per fault; a full restart adds its outage
TARGET_DUPLICATE_SHARE = 0.5  # percent of the ticks owed


@dataclass(frozen=True)
class Fault:
    name: str
    action: str  # none, kill, stop, partition or restart
    target: str  # leader, follower or all
    hold: float  # seconds from the fault's start to its recovery


PLAN = (
    Fault("steady", "none", "all", 60),
    Fault("kill-leader", "kill", "leader", 5),
    Fault("kill-follower", "kill", "follower", 5),
    Fault("stop-leader-10", "stop", "leader", 10),
    Fault("stop-leader-60", "stop", "leader", 60),
    Fault("stop-follower-10", "stop", "follower", 10),
    Fault("stop-follower-60", "stop", "follower", 60),
    Fault("partition-leader-30", "partition", "leader", 30),
    Fault("full-restart", "restart", "all", 0),
)
RESTART_SECONDS = 10.0  # a full restart's usual stop and start, for the time estimate
FAULT_OVERHEAD = 3.0  # seconds per fault spent finding leaders, for the time estimate


@dataclass
class Group:
    """Jobs of one spec; job i's anchor is base + i % spread."""

    name: str
    spec: str
    count: int
    spread: int
    anchors: dict[int, int] = field(default_factory=dict)  # job id -> @every anchor

    @property
    def interval(self) -> int:
        return parse_every(self.spec)


@dataclass
class Event:
    """One fault as it happened (wall times, time.time())."""

    fault: str
    start: float
    end: float = 0.0
    hit: int | None = None  # the node the fault hit (None: all or none)
    leader_before: int | None = None
    leader_during: int | None = None  # agreed by the nodes not hit, during the hold
    leader_elected_s: float | None = None  # from the start to leader_during
    leader_after: int | None = None  # agreed by all after the settle
    note: str = ""

    @property
    def outage(self) -> float:
        return self.end - self.start

    @property
    def skipped(self) -> bool:
        return self.note.startswith("skipped")


# -- node processes ---------------------------------------------------------------------------


def running(nodes: list[Node]) -> list[Node]:
    return [n for n in nodes if n.proc is not None and n.proc.poll() is None]


def signal_tree(node: Node, sig: int, children_first: bool = False) -> None:
    """Send sig to the node's supervisor and all its children, by pid."""
    if node.proc is None:
        return
    procs = tree(node.proc.pid)
    for proc in reversed(procs) if children_first else procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)


def pause(node: Node) -> None:
    # The supervisor first, so it never sees a child stop and acts on it.
    signal_tree(node, signal.SIGSTOP)


def resume(node: Node) -> None:
    # The children first, so the supervisor wakes to running children.
    signal_tree(node, signal.SIGCONT, children_first=True)


def terminate(nodes: list[Node]) -> None:
    """SIGTERM every node at once (a stopped one is resumed to see it), wait, then kill -9
    whatever of their trees is left, orphans included."""
    trees = {n.node_id: tree(n.proc.pid) for n in nodes if n.proc is not None}
    for node in running(nodes):
        resume(node)
        node.proc.send_signal(signal.SIGTERM)
    for node in nodes:
        if node.proc is None:
            continue
        try:
            node.proc.wait(15)
        except subprocess.TimeoutExpired:
            node.kill()
        for proc in trees.get(node.node_id, []):
            with contextlib.suppress(psutil.Error):
                proc.kill()


class TermWatch(threading.Thread):
    """Asks the nodes for their Raft term every second and prints each new term and its
    leader: an election no fault caused (a node starved of CPU, say) shows up here."""

    def __init__(self, nodes: list[Node]):
        super().__init__(name="term-watch", daemon=True)
        self.nodes = nodes
        self.terms: dict[int, dict[str, Any]] = {}  # term -> first seen, leader
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(1.0):
            for node in running(self.nodes):
                self.note(node.health())

    def note(self, health: dict[str, Any] | None) -> None:
        term = ((health or {}).get("raft") or {}).get("term")
        if term is None:
            return
        seen = self.terms.setdefault(term, {"term": term, "seen": time.time(), "leader": None})
        if seen["leader"] is None and health.get("leader_id") is not None:
            seen["leader"] = health["leader_id"]
            show(time.time(), f"term {term}: leader {seen['leader']}")

    def new_terms(self, lo: float, hi: float) -> int:
        """Terms with a leader first seen in [lo, hi], but the start-up election's. (A node cut
        off counts up terms as a candidate alone; those have no leader and are not counted.)"""
        led = [t for t, v in self.terms.items() if v["leader"] is not None]
        first = min(led, default=None)
        return sum(1 for t in led if t != first and lo <= self.terms[t]["seen"] <= hi)

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)


def find_leader(nodes: list[Node], timeout: float = LEADER_WAIT) -> Node | None:
    """The leader all of `nodes` agree on, waiting up to `timeout`; None if they do not."""
    if not nodes:
        return None
    try:
        return wait_for(lambda: agreed_leader(nodes), timeout=timeout, interval=0.1)
    except AssertionError:
        return None


# -- the faults -------------------------------------------------------------------------------


class Chaos:
    def __init__(self, nodes: list[Node], lab: Any, settle: float):
        self.nodes, self.lab, self.settle = nodes, lab, settle

    def run(self, fault: Fault) -> Event:
        leader = find_leader(running(self.nodes))
        event = Event(fault.name, time.time(),
                      leader_before=leader.node_id if leader else None)
        if leader is None and fault.action != "none":
            return self.skip(event, "no agreed leader before the fault")
        if fault.action == "partition" and self.lab is None:
            return self.skip(event, "no network namespaces, so no partition")
        hit = None if fault.target == "all" else (
            leader if fault.target == "leader" else self.follower_of(leader))
        event.hit = hit.node_id if hit else None
        target = "no node" if fault.action == "none" else f"node {event.hit or 'all'}"
        show(event.start, f"{fault.name}: start, {target} hit, leader {event.leader_before}")
        strike, recover = self.moves(fault.action, hit)
        strike()
        if hit is not None:
            self.watch_survivors(event, hit, event.start + fault.hold)
        pause_until(event.start + fault.hold)
        recover()
        event.end = time.time()
        if fault.action == "restart":
            self.watch_restart(event)
        show(event.end, f"{fault.name}: recovered after {event.outage:.1f} s"
                        + (f", leader during {event.leader_during} (agreed at "
                           f"+{event.leader_elected_s} s)" if event.leader_during else ""))
        pause_until(event.end + self.settle)
        after = find_leader(self.nodes)
        event.leader_after = after.node_id if after else None
        show(time.time(), f"{fault.name}: settled, leader {event.leader_after}")
        return event

    def skip(self, event: Event, why: str) -> Event:
        event.end, event.note = event.start, f"skipped: {why}"
        show(event.start, f"{event.fault}: {event.note}")
        return event

    def follower_of(self, leader: Node) -> Node:
        return next(n for n in self.nodes if n is not leader)

    def moves(self, action: str, hit: Node | None) -> tuple[Callable[[], Any], Callable[[], Any]]:
        """How to strike with `action`, and how to recover from it."""
        lab, nodes = self.lab, self.nodes
        return {
            "none": (lambda: None, lambda: None),
            "kill": (lambda: hit.kill(), lambda: hit.start()),
            "stop": (lambda: pause(hit), lambda: resume(hit)),
            "partition": (lambda: lab.partition(hit.node_id), lambda: lab.heal(hit.node_id)),
            "restart": (lambda: terminate(nodes), lambda: [n.start() for n in nodes]),
        }[action]

    def watch_survivors(self, event: Event, hit: Node, deadline: float) -> None:
        """Who the nodes not hit agree leads, within the hold."""
        survivors = [n for n in self.nodes if n is not hit]
        leader = find_leader(survivors, timeout=max(0.0, deadline - time.time()))
        if leader is not None:
            event.leader_during = leader.node_id
            event.leader_elected_s = round(time.time() - event.start, 2)

    def watch_restart(self, event: Event) -> None:
        """After a full restart: who leads, and when, from the SIGTERM."""
        leader = find_leader(self.nodes)
        if leader is not None:
            event.leader_during = leader.node_id
            event.leader_elected_s = round(time.time() - event.start, 2)


def pause_until(deadline: float) -> None:
    time.sleep(max(0.0, deadline - time.time()))


def clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 10) % 10}"


def show(t: float, text: str) -> None:
    print(f"{clock(t)}  {text}", flush=True)


# -- the measurement --------------------------------------------------------------------------


def owed(anchor: int, interval: int, until: int) -> range:
    """The ticks an @every job owes up to `until`: anchor + k * interval, k >= 1."""
    return range(anchor + interval, until + 1, interval)


@dataclass
class Tally:
    """The receiver's (job, tick) rows held against the ticks owed."""

    owed: int = 0
    delivered: int = 0  # ticks owed that arrived at least once
    lateness: dict[int, list[float]] = field(default_factory=dict)  # tick -> first arrivals
    duplicated: list[int] = field(default_factory=list)  # a tick per (job, tick) seen twice+
    extra_deliveries: int = 0  # deliveries beyond the first of each tick
    split: list[tuple[int, int]] = field(default_factory=list)  # (job, tick), two execution ids
    lost: list[tuple[int, int]] = field(default_factory=list)  # (job, tick) never delivered
    unexpected: int = 0  # deliveries of a tick no job owes


def tally(table: dict[str, Any], schedules: dict[int, tuple[int, int]], until: int) -> Tally:
    result = Tally()
    per_job: Counter[int] = Counter()
    for job, tick, count, ids, first in zip(table["job"], table["tick"], table["count"],
                                            table["ids"], table["first"], strict=True):
        schedule = schedules.get(job)
        if schedule is None or tick <= schedule[0] or (tick - schedule[0]) % schedule[1]:
            result.unexpected += count
            continue
        per_job[job] += 1
        result.lateness.setdefault(tick, []).append(first - tick)
        if count > 1:
            result.duplicated.append(tick)
            result.extra_deliveries += count - 1
        if ids > 1:
            result.split.append((job, tick))
    short = []
    for job, (anchor, interval) in schedules.items():
        due = len(owed(anchor, interval, until))
        result.owed += due
        if per_job[job] < due:
            short.append(job)
    result.delivered = sum(per_job.values())
    result.lost = missing_ticks(table, schedules, short, until)
    return result


def missing_ticks(table: dict[str, Any], schedules: dict[int, tuple[int, int]],
                  jobs: list[int], until: int) -> list[tuple[int, int]]:
    """(job, tick) owed by these jobs that the receiver never saw."""
    wanted = set(jobs)
    seen: dict[int, set[int]] = {job: set() for job in jobs}
    for job, tick in zip(table["job"], table["tick"], strict=True):
        if job in wanted:
            seen[job].add(tick)
    return sorted((job, tick) for job in jobs for tick in owed(*schedules[job], until)
                  if tick not in seen[job])


def quantile(ordered: list[float], q: float) -> float | None:
    """The nearest-rank q-quantile of values sorted ascending."""
    if not ordered:
        return None
    rank = math.ceil(round(q * len(ordered), 6))  # round: 0.99 * 100 is 99.00000000000001
    return ordered[min(len(ordered), max(rank, 1)) - 1]


def fault_figures(event: Event, counted: Tally, settle: float,
                  watch: TermWatch) -> dict[str, Any]:
    """The ticks scheduled from BEFORE_FAULT before the fault to the end of its settle."""
    if event.skipped:
        return {"skipped": True}
    lo, hi = event.start - BEFORE_FAULT, event.end + settle
    late = sorted(x for tick, xs in counted.lateness.items() if lo <= tick <= hi for x in xs)
    duplicated = [t for t in counted.duplicated if lo <= t <= hi]
    lost = sum(1 for _, t in counted.lost if lo <= t <= hi)
    target = TARGET_WORST_LATENESS + (event.outage if event.fault == "full-restart" else 0)
    return {"window": [round(lo, 1), round(hi, 1)], "ticks": len(late) + lost,
            "worst_lateness_s": round(late[-1], 3) if late else None,
            "p99_lateness_s": round(quantile(late, 0.99), 3) if late else None,
            "duplicated": len(duplicated),
            "duplicated_after_lease": sum(1 for t in duplicated if t > event.start + LEASE_PERIOD),
            "lost": lost, "new_terms": watch.new_terms(lo, hi),
            "target_worst_s": round(target, 1)}


def run_figures(counted: Tally) -> dict[str, Any]:
    late = sorted(x for xs in counted.lateness.values() for x in xs)
    share = 100 * len(counted.duplicated) / counted.owed if counted.owed else 0.0
    return {"owed": counted.owed, "delivered": counted.delivered, "lost": len(counted.lost),
            "duplicated": len(counted.duplicated), "duplicated_pct": round(share, 4),
            "extra_deliveries": counted.extra_deliveries, "split": len(counted.split),
            "unexpected_deliveries": counted.unexpected,
            "lateness": {"p50": rounded(quantile(late, 0.5)), "p99": rounded(quantile(late, 0.99)),
                         "max": rounded(late[-1] if late else None)},
            "worst_lateness_by_tick": {t: round(max(xs), 3)
                                       for t, xs in sorted(counted.lateness.items())},
            "lost_by_tick": dict(sorted(Counter(t for _, t in counted.lost).items())),
            "duplicated_by_tick": dict(sorted(Counter(counted.duplicated).items())),
            "lost_sample": counted.lost[:50], "split_sample": counted.split[:50]}


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# -- the history ------------------------------------------------------------------------------


def job_history(api: Api, job_id: int, until: int) -> list[dict[str, Any]]:
    """Every row of the job's history scheduled up to `until`, all pages."""
    rows: list[dict[str, Any]] = []
    while True:
        page = api.call("GET", f"/executions?job_id={job_id}&until={until + 1}&limit=1000"
                               f"&offset={len(rows)}", timeout=60)
        rows += page["executions"]
        if not page["executions"] or len(rows) >= page["total"]:
            return rows


PROBLEMS = ("missing", "extra", "doubled", "not_final")


def history_problems(rows: list[dict[str, Any]], due: range) -> list[tuple[str, int]]:
    """(problem, tick) for each way the rows differ from one final row per tick owed."""
    recorded = Counter(parse_instant(r["scheduled_at"]) for r in rows)
    expected = set(due)
    found = [("missing", t) for t in sorted(expected - recorded.keys())]
    for tick, rows_of_tick in recorded.items():
        if tick not in expected:
            found += [("extra", tick)] * rows_of_tick
        elif rows_of_tick > 1:
            found += [("doubled", tick)] * (rows_of_tick - 1)
    found += [("not_final", parse_instant(r["scheduled_at"])) for r in rows
              if r["state"] not in FINAL_STATES]
    return found


def check_history(api: Api, jobs: list[int], schedules: dict[int, tuple[int, int]],
                  until: int) -> dict[str, Any]:
    """Every job's owed ticks recorded once each, in a final state, and nothing else."""
    def one(job: int) -> tuple[Counter[str], list[tuple[str, int]]]:
        rows = job_history(api, job, until)
        return Counter(r["state"] for r in rows), history_problems(rows,
                                                                   owed(*schedules[job], until))

    states: Counter[str] = Counter()
    by_tick: Counter[tuple[str, int]] = Counter()
    inexact = []
    with ThreadPoolExecutor(4) as pool:
        for job, (job_states, found) in zip(jobs, pool.map(one, jobs), strict=True):
            states += job_states
            by_tick.update(found)
            if found:
                inexact.append(job)
    return {"jobs_read": len(jobs), "exact": not inexact, "inexact_jobs": len(inexact),
            "inexact_sample": inexact[:20],
            **{k: sum(n for (kind, _), n in by_tick.items() if kind == k) for k in PROBLEMS},
            "states": dict(sorted(states.items())),
            "problems_by_tick": {k: {t: n for (kind, t), n in sorted(by_tick.items())
                                     if kind == k} for k in PROBLEMS}}


def history_sample(groups: list[Group], sample: int) -> list[int]:
    """All jobs of the small groups; of a group larger than `sample`, a seeded sample."""
    jobs: list[int] = []
    for group in groups:
        ids = sorted(group.anchors)
        jobs += ids if len(ids) <= sample else random.Random(0).sample(ids, sample)
    return jobs


# -- the run ----------------------------------------------------------------------------------


def make_groups(args: argparse.Namespace) -> list[Group]:
    groups = [Group("fast", "@every 1s", args.fast, 1), Group("slow", "@every 7s", args.slow, 7)]
    if args.jobs_per_minute:
        # Created first: the biggest group takes longest, and all share one base.
        groups.insert(0, Group("minute", "@every 1m", args.jobs_per_minute, 60))
    return [g for g in groups if g.count]


def creation_lead(groups: list[Group]) -> int:
    """Seconds from now to the anchors' base, so every job exists before its first tick."""
    return 5 + sum(g.count for g in groups) // 6000


def create_groups(api: Api, groups: list[Group], url: str, batch: int) -> int:
    """Create every group with anchors from one base; returns the base."""
    project = api.call("POST", "/projects", {"name": "chaos"})
    base = int(time.time()) + creation_lead(groups)
    for group in groups:
        created: list[dict[str, Any]] = []
        t0 = time.perf_counter()
        create_jobs(api, project["id"], group.count, group.spec, url, False, batch,
                    group.spread, base, created)
        group.anchors = {job["id"]: parse_instant(job["start_date"]) for job in created}
        print(f"created {group.count} jobs {group.spec} in {time.perf_counter() - t0:.1f} s",
              flush=True)
    if time.time() > base:
        print(f"warning: creation ended {time.time() - base:.1f} s after the anchors' base; "
              "the first ticks are late", flush=True)
    return base


def estimate(plan: list[Fault], groups: list[Group], args: argparse.Namespace) -> float:
    setup = 30 + creation_lead(groups) + max(g.interval for g in groups) + WARM_UP
    faults = sum(f.hold + args.settle + FAULT_OVERHEAD
                 + (RESTART_SECONDS if f.action == "restart" else 0) for f in plan)
    history = sum(min(g.count, args.history_sample) for g in groups) * 0.02
    return setup + faults + args.drain + history


@contextlib.contextmanager
def network(loopback: bool) -> Iterator[Any]:
    """A NetLab of three namespaces, or None (loopback) with the reason printed."""
    reason = "--loopback given" if loopback else None
    if reason is None:
        try:
            from scheduler0.netlab import NetLab

            reason = NetLab.available()
        except ImportError as exc:
            reason = f"scheduler0.netlab is not importable ({exc})"
    if reason is not None:
        print(f"on loopback, without the partition fault: {reason}", flush=True)
        yield None
        return
    with NetLab(3, prefix="s0ch", subnet=SUBNET) as lab:
        yield lab


def stop_receiver(receiver: subprocess.Popen[bytes]) -> None:
    receiver.send_signal(signal.SIGTERM)
    try:
        receiver.wait(15)
    except subprocess.TimeoutExpired:
        receiver.kill()
        receiver.wait(5)


def start_cluster(root: Path, lab: Any, args: argparse.Namespace) -> list[Node]:
    networks = f"{SUBNET}.0/24" if lab else "127.0.0.0/8"
    settings = {"MaxWorkers": args.workers, "MaxQueue": 1000, "MaxMemory": args.max_memory,
                "CallbackAllowedNetworks": networks, **RAFT_TIMING}
    if lab is None:
        return make_cluster(root, 3, settings)
    return make_cluster(root, 3, settings, [lab.address(i) for i in (1, 2, 3)], lab.wrap)


def run(args: argparse.Namespace, plan: list[Fault]) -> dict[str, Any]:
    groups = make_groups(args)
    print(f"plan: {', '.join(f.name for f in plan)}; settle {args.settle} s; estimated "
          f"{estimate(plan, groups, args) / 60:.1f} min", flush=True)
    root = Path(tempfile.mkdtemp(prefix="s0chaos-"))
    with contextlib.ExitStack() as cleanup:
        lab = cleanup.enter_context(network(args.loopback))
        receiver_host = lab.bridge_address if lab else "127.0.0.1"
        receiver, port = start_receiver(receiver_host)
        cleanup.callback(stop_receiver, receiver)
        receiver_url = f"http://{receiver_host}:{port}"
        nodes = start_cluster(root, lab, args)
        cleanup.callback(terminate, nodes)
        for node in nodes:
            node.start()
        leader = find_leader(nodes, timeout=60)
        if leader is None:
            raise SystemExit(f"the nodes agreed on no leader; logs under {root}")
        wait_for(lambda: len((leader.health() or {}).get("nodes", {})) == 3, timeout=15)
        watch = TermWatch(nodes)
        watch.start()
        cleanup.callback(watch.stop)
        follower = next(n for n in nodes if n is not leader)
        base = create_groups(follower.api, groups, receiver_url + "/callback", args.batch)
        # Every group has fired at least once before the first fault.
        pause_until(base + max(g.interval for g in groups) + WARM_UP)
        chaos = Chaos(nodes, lab, args.settle)
        events = [chaos.run(fault) for fault in plan]
        until = int(time.time())
        print(f"measured up to {clock(until)}; {args.drain} s for the last ticks", flush=True)
        time.sleep(args.drain)
        schedules = {job: (anchor, g.interval) for g in groups for job, anchor in g.anchors.items()}
        final = find_leader(nodes)
        history = (check_history(final.api, history_sample(groups, args.history_sample),
                                 schedules, until)
                   if final else {"exact": False, "note": "no agreed leader at the end"})
        # After the history: a tick it records as delivered has reached the receiver by now.
        counted = tally(fetch_ticks(receiver_url, since=base, until=until), schedules, until)
        return {"scenario": vars(args), "network": "netns" if lab else "loopback",
                "workdir": str(root), "base": base, "until": until,
                "groups": [{"name": g.name, "spec": g.spec, "jobs": g.count, "spread": g.spread}
                           for g in groups],
                "lease_period_s": LEASE_PERIOD,
                "faults": [{**asdict(e), "outage_s": round(e.outage, 2),
                            **fault_figures(e, counted, args.settle, watch)} for e in events],
                "run": run_figures(counted), "history": history,
                "terms": sorted(watch.terms.values(), key=lambda v: v["term"]),
                "final_leader": final.node_id if final else None}


# -- the report -------------------------------------------------------------------------------


def report(result: dict[str, Any]) -> None:
    print()
    print("fault timeline")
    for f in result["faults"]:
        leaders = f"{f['leader_before']} -> {f['leader_during'] or '-'} -> {f['leader_after']}"
        print(f"  {f['fault']:<20} {clock(f['start'])} - {clock(f['end'])}  hit "
              f"{f['hit'] or '-':<3} leader before/during/after {leaders}"
              + (f" (elected in {f['leader_elected_s']} s)" if new_leader(f) else "")
              + (f"  {f['note']}" if f["note"] else ""))
    print()
    head = (f"{'fault':<20} {'ticks':>8} {'worst s':>8} {'p99 s':>7} {'target':>8} "
            f"{'dup':>7} {'dup>lease':>9} {'lost':>6} {'terms':>5}")
    print(head)
    print("-" * len(head))
    for f in result["faults"]:
        if f.get("skipped"):
            print(f"{f['fault']:<20} {f['note']}")
            continue
        print(f"{f['fault']:<20} {f['ticks']:>8} {show_num(f['worst_lateness_s']):>8} "
              f"{show_num(f['p99_lateness_s']):>7} {'<= ' + str(f['target_worst_s']):>8} "
              f"{f['duplicated']:>7} {f['duplicated_after_lease']:>9} {f['lost']:>6} "
              f"{f['new_terms']:>5}")
    whole, history = result["run"], result["history"]
    lat = whole["lateness"]
    print()
    rows = [
        ("network", result["network"], ""),
        ("jobs", ", ".join(f"{g['jobs']} {g['spec']}" for g in result["groups"]), ""),
        ("ticks owed", whole["owed"], ""),
        ("delivered (at least once)", whole["delivered"], ""),
        ("lost", whole["lost"], "0"),
        ("duplicated ticks", f"{whole['duplicated']} ({whole['duplicated_pct']} %)",
         f"< {TARGET_DUPLICATE_SHARE} %"),
        ("extra deliveries", whole["extra_deliveries"], ""),
        ("split ids", whole["split"], "0"),
        ("deliveries of ticks not owed", whole["unexpected_deliveries"], "0"),
        ("lateness p50 / p99 / max (s)", f"{lat['p50']} / {lat['p99']} / {lat['max']}", ""),
        ("history", history_line(history), "exact"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"{name:<{width}}  {str(value):<44} {'target ' + target if target else ''}")


def new_leader(fault: dict[str, Any]) -> bool:
    """A leader other than the one before was agreed during the fault (or a restart's)."""
    return fault["leader_during"] is not None and (
        fault["leader_during"] != fault["leader_before"] or fault["fault"] == "full-restart")


def show_num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def history_line(history: dict[str, Any]) -> str:
    if "jobs_read" not in history:
        return f"not read: {history.get('note')}"
    verdict = "exact" if history["exact"] else f"NOT exact ({history['inexact_jobs']} jobs)"
    return (f"{verdict}, {history['jobs_read']} jobs: missing {history['missing']}, extra "
            f"{history['extra']}, doubled {history['doubled']}, not final {history['not_final']}")


def result_path(out: str, args: argparse.Namespace, plan: list[Fault]) -> Path:
    name = "chaos" + (f"-{args.jobs_per_minute}pm" if args.jobs_per_minute else "")
    if len(plan) != len(PLAN):
        name += "-" + "+".join(f.name for f in plan)
    return Path(out, name + ".json")


def choose_plan(names: str) -> list[Fault]:
    if not names:
        return list(PLAN)
    by_name = {f.name: f for f in PLAN}
    unknown = [n for n in names.split(",") if n not in by_name]
    if unknown:
        raise SystemExit(f"unknown faults {unknown}; the plan: {', '.join(by_name)}")
    return [by_name[n] for n in names.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faults", default="", help="comma-separated names (default: all)")
    parser.add_argument("--settle", type=float, default=30, help="seconds after each recovery")
    parser.add_argument("--fast", type=int, default=300, help="jobs @every 1s")
    parser.add_argument("--slow", type=int, default=100, help="jobs @every 7s")
    parser.add_argument("--jobs-per-minute", type=int, default=0, help="jobs @every 1m")
    parser.add_argument("--history-sample", type=int, default=2000,
                        help="history read for at most this many jobs of a group")
    parser.add_argument("--drain", type=float, default=15, help="seconds for the last ticks")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--max-memory", type=int, default=4096)
    parser.add_argument("--loopback", action="store_true", help="no namespaces, no partition")
    parser.add_argument("--list", action="store_true", help="print the fault plan and exit")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    if args.list:
        for f in PLAN:
            print(f"{f.name:<20} {f.action} {f.target}, {f.hold:g} s")
        return
    plan = choose_plan(args.faults)
    # `timeout` and CI stop with SIGTERM: unwind through the cleanup like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    result = run(args, plan)
    report(result)
    os.makedirs(args.out, exist_ok=True)
    out = result_path(args.out, args, plan)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
