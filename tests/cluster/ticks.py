"""Per-tick accounting for cluster tests: what the receiver got and what the history says, for
each (job id, tick), and the assertions fault tests make over a window of ticks.

    ledger = TickLedger.collect(rx, node, jobs)          # node: one whose history is read
    ledger.assert_delivered_and_recorded_once(start, end)
    ledger.assert_no_duplicate_after(fault_at, end)      # one lease after the fault, no repeat
    ledger.assert_lateness_below(start, end, bound=8)

Lateness is first arrival at the receiver minus the tick's scheduled time. Timing bounds here
are generous sanity checks; the precise figures belong to the benchmarks.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from scheduler0.leases import LEASE_PERIOD
from scheduler0.schedule import parse_instant
from scheduler0.testing import wait_for
from tests.integration.receiver import Receiver

SHOWN = 5  # offenders listed in a failure message
# Seconds; a sanity bound for fault tests (the benchmark has the figure). Well above what a
# takeover takes (one lease, an election, a planning round), and below the 10 s faults, so a
# tick that waited for the faulty node to come back shows as late.
LATENESS_BOUND = 8.0
AFTER_RECOVERY = 5.0  # seconds of ticks past recovery that a fault window covers
# Most seconds to wait for a window's ticks to be settled. A batch lost with its node is sent
# again only once its result deadline passed (about 50 s with the default execution timeout
# and retries), so this covers that, and costs nothing when every tick settles at once.
SETTLE = 60.0


def epoch(text: str) -> int:
    return parse_instant(text, "scheduled_at")


@dataclass(frozen=True)
class Delivery:
    """One element of one callback request."""

    node: str | None  # the delivering node's id, from X-Scheduler0-Node
    element: dict[str, Any]
    arrived_at: float  # epoch seconds, when the receiver read the request


def deliveries(rx: Receiver) -> list[Delivery]:
    return [Delivery(r.header("X-Scheduler0-Node"), e, r.arrived_at)
            for r in rx.requests if r.json for e in r.json]


def delivered(rx: Receiver) -> list[tuple[str | None, dict]]:
    """(delivering node id, element) for every element of every request."""
    return [(d.node, d.element) for d in deliveries(rx)]


def assert_every_tick_once(node, jobs: list[dict], rx: Receiver, until: float) -> None:
    """Per job: the history has each tick of its 1 s sequence exactly once, with no gap, up to
    `until`; every settled tick was delivered at least once.

    The jobs keep ticking while this reads, so the rows are read before the receiver's log: a
    row that succeeded was recorded by the receiver before it answered, never after."""
    rows_by_job = [node.executions(job_id=job["id"]) for job in jobs]
    delivered_ids = {e["execution_id"] for _, e in delivered(rx)}
    for rows in rows_by_job:
        ids = [r["execution_id"] for r in rows]
        assert len(ids) == len(set(ids)), "a tick recorded twice"
        ticks = sorted(epoch(r["scheduled_at"]) for r in rows if epoch(r["scheduled_at"]) <= until)
        assert ticks == list(range(ticks[0], ticks[0] + len(ticks))), f"gap in {ticks}"
        for row in rows:
            if row["state"] == "succeeded":
                assert row["execution_id"] in delivered_ids


@dataclass
class Tick:
    """What happened to one (job, tick)."""

    job_id: int
    tick: int  # scheduled_at, epoch seconds
    arrivals: list[float] = field(default_factory=list)  # receiver arrival times, sorted
    nodes: list[str | None] = field(default_factory=list)  # who delivered, in arrival order
    rows: list[dict[str, Any]] = field(default_factory=list)  # history rows for this tick
    execution_ids: set[str] = field(default_factory=set)  # seen in deliveries and rows

    @property
    def deliveries(self) -> int:
        return len(self.arrivals)

    @property
    def lateness(self) -> float | None:
        """First arrival minus the scheduled time; None when never delivered."""
        return self.arrivals[0] - self.tick if self.arrivals else None

    @property
    def recorded_once_succeeded(self) -> bool:
        """One history row, succeeded, and one execution id wherever the tick appeared (a
        repeated delivery must be the same execution, so the receiver can drop it)."""
        return (len(self.rows) == 1 and self.rows[0]["state"] == "succeeded"
                and len(self.execution_ids) == 1)

    def describe(self) -> str:
        late = "never" if self.lateness is None else f"{self.lateness:.2f} s late"
        states = ",".join(r["state"] for r in self.rows) or "no row"
        ids = f", {len(self.execution_ids)} execution ids" if len(self.execution_ids) > 1 else ""
        return (f"job {self.job_id} tick {self.tick}: delivered {self.deliveries}x "
                f"(by {','.join(str(n) for n in self.nodes) or '-'}), {late}, "
                f"history [{states}]{ids}")


class TickLedger:
    """Every expected (job, tick) of `@every 1s` jobs, with its deliveries and history."""

    def __init__(self, jobs: Iterable[dict], items: list[Delivery],
                 rows_by_job: dict[int, list[dict]]):
        self.job_ids = [int(j["id"]) for j in jobs]
        self.ticks: dict[tuple[int, int], Tick] = {}
        for item in sorted(items, key=lambda d: d.arrived_at):
            tick = self._tick(int(item.element["id"]), epoch(item.element["scheduled_at"]))
            tick.arrivals.append(item.arrived_at)
            tick.nodes.append(item.node)
            tick.execution_ids.add(item.element["execution_id"])
        for job_id, rows in rows_by_job.items():
            for row in rows:
                tick = self._tick(job_id, epoch(row["scheduled_at"]))
                tick.rows.append(row)
                tick.execution_ids.add(row["execution_id"])

    @classmethod
    def collect(cls, rx: Receiver, node, jobs: list[dict]) -> TickLedger:
        """The receiver's deliveries and `node`'s history for `jobs`, read now."""
        rows = {int(j["id"]): node.executions(job_id=j["id"]) for j in jobs}
        return cls(jobs, deliveries(rx), rows)

    def _tick(self, job_id: int, tick: int) -> Tick:
        key = (job_id, tick)
        if key not in self.ticks:
            self.ticks[key] = Tick(job_id, tick)
        return self.ticks[key]

    def window(self, start: float, end: float) -> list[Tick]:
        """Every job's tick in [start, end], including those nothing is known of (lost)."""
        seconds = range(math.ceil(start), math.floor(end) + 1)
        return [self.ticks.get((job, s)) or Tick(job, s) for job in self.job_ids for s in seconds]

    # -- figures ------------------------------------------------------------------------------

    def duplicates(self, start: float, end: float) -> list[Tick]:
        return [t for t in self.window(start, end) if t.deliveries > 1]

    def worst_lateness(self, start: float, end: float) -> float | None:
        late = [t.lateness for t in self.window(start, end) if t.lateness is not None]
        return max(late) if late else None

    def summary(self, start: float, end: float) -> str:
        """One line of figures for the window, for failure messages and reports."""
        ticks = self.window(start, end)
        counts = Counter(min(t.deliveries, 3) for t in ticks)
        worst = self.worst_lateness(start, end)
        shown = "-" if worst is None else f"{worst:.2f} s"
        return (f"{len(ticks)} ticks in [{start:.0f}, {end:.0f}]: {counts[0]} never delivered, "
                f"{counts[1]} once, {counts[2]} twice, {counts[3]} 3+ times; "
                f"{sum(not t.recorded_once_succeeded for t in ticks)} not recorded once as "
                f"succeeded; worst first-delivery lateness {shown}")

    # -- assertions ---------------------------------------------------------------------------

    def assert_delivered_and_recorded_once(self, start: float, end: float) -> None:
        """Every tick in the window reached the receiver and has exactly one succeeded row."""
        bad = [t for t in self.window(start, end)
               if t.deliveries == 0 or not t.recorded_once_succeeded]
        _fail_with(bad, "not delivered, or not recorded exactly once as succeeded",
                   self.summary(start, end))

    def assert_no_duplicate_after(self, fault_at: float, end: float) -> None:
        """No tick due more than one lease after the fault was delivered twice: by then the
        faulty node's lease has run out and only one node may own a batch."""
        start = fault_at + LEASE_PERIOD
        _fail_with(self.duplicates(start, end),
                   f"delivered more than once though due over {LEASE_PERIOD} s after the fault",
                   self.summary(start, end))

    def assert_lateness_below(self, start: float, end: float, bound: float) -> None:
        late = sorted((t for t in self.window(start, end)
                       if t.lateness is not None and t.lateness >= bound),
                      key=lambda t: -(t.lateness or 0))
        _fail_with(late, f"first delivered {bound} s or more after it was due",
                   self.summary(start, end))


    def assert_fault_outcome(self, start: float, end: float, fault_at: float,
                             lateness_bound: float) -> None:
        """All three checks of a fault test over [start, end]; a failure reports every check
        that failed, not only the first, so one run shows the whole picture."""
        checks = (lambda: self.assert_delivered_and_recorded_once(start, end),
                  lambda: self.assert_no_duplicate_after(fault_at, end),
                  lambda: self.assert_lateness_below(start, end, lateness_bound))
        failures = []
        for check in checks:
            try:
                check()
            except AssertionError as exc:
                failures.append(str(exc))
        if failures:
            raise AssertionError("\n\n".join(failures))


def _fail_with(offenders: list[Tick], what: str, summary: str) -> None:
    if offenders:
        listed = "\n  ".join(t.describe() for t in offenders[:SHOWN])
        more = f"\n  ... and {len(offenders) - SHOWN} more" if len(offenders) > SHOWN else ""
        raise AssertionError(f"{len(offenders)} ticks {what}:\n  {listed}{more}\n{summary}")


def settled_ledger(collect: Callable[[], TickLedger], start: float, end: float,
                   timeout: float = 30.0) -> TickLedger:
    """The ledger once every tick in [start, end] is delivered and recorded once as succeeded,
    or the latest one after `timeout` s (the assertions then say what is missing)."""
    deadline = time.monotonic() + timeout
    while True:
        ledger = collect()
        done = all(t.deliveries and t.recorded_once_succeeded for t in ledger.window(start, end))
        if done or time.monotonic() > deadline:
            return ledger
        time.sleep(0.5)


def check_fault_window(cluster, rx: Receiver, jobs: list[dict], start: float, fault_at: float,
                       recovered_at: float, lateness_bound: float = LATENESS_BOUND) -> TickLedger:
    """After a fault: wait until the window [start, recovered_at + AFTER_RECOVERY] is due and
    settled, print its figures, then make every fault check (assert_fault_outcome)."""
    end = recovered_at + AFTER_RECOVERY
    # The window's last tick must be due before it can settle.
    wait_for(lambda: time.time() > end + 1, timeout=AFTER_RECOVERY + 10, interval=0.1,
             message="the window's last tick to be due")
    reader = cluster.leader()
    ledger = settled_ledger(lambda: TickLedger.collect(rx, reader, jobs), start, end,
                            timeout=SETTLE)
    print(ledger.summary(start, end))  # shown with -s, and with a failure
    ledger.assert_fault_outcome(start, end, fault_at, lateness_bound)
    return ledger
