"""The coordinator threads that move messages between sockets.

- `IntakeRelay`: batches the leader pushed to this node's intake (tcp) go on to this node's
  executors (ipc PUSH, round-robin over the connected executors), unless they are copies of a
  batch held here or were placed under a lease this node lost. It also takes the leader's
  lease acks and publishes this node's lease to its executors (ipc PUB `leases`), which
  deliver a batch only while the lease it was placed under is valid.
- `Heartbeat`: this node's heartbeat to every node about four times a second: its lease, the
  batches it holds or is settling, its load and its wall clock.
- `ResultCollector`: results the executors publish are committed through Raft as RESULT
  commands, in batches; executor load reports are kept for health.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from scheduler0 import clock, commands, leases, transport
from scheduler0.config import Settings
from scheduler0.errors import Scheduler0Error
from scheduler0.roles.holdings import Holdings
from scheduler0.roles.placement import NodeReports
from scheduler0.roles.supervised import SupervisedThread

log = logging.getLogger(__name__)

RESULT_FLUSH_INTERVAL = 0.1  # seconds results wait to be committed together
RESULT_COMMAND_ROWS = 1000  # rows per RESULT command (keeps commands well under 64 KiB)
RESULTS_HWM = 1_000_000  # messages; the executors' PUB drops beyond it (reconcile catches it)
LEASES_HWM = 1000  # lease states to executors; only the newest matters

STATE_CODES = {"succeeded": "succeeded", "failed": "failed"}


class LeaseKeeper:
    """This node's `leases.Holder`, shared by the heartbeat and intake threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder = leases.Holder()

    def sent(self, seq: int) -> None:
        with self._lock:
            self._holder.sent(seq, clock.monotonic(), clock.now())

    def on_ack(self, ack: dict[str, Any]) -> bool:
        with self._lock:
            return self._holder.on_ack(ack, clock.now())

    def verdict(self, stamp: leases.LeaseId | None) -> str:
        with self._lock:
            return self._holder.verdict(stamp, clock.monotonic())

    def snapshot(self) -> leases.Holder:
        with self._lock:
            holder = self._holder
            return leases.Holder(holder.current, list(holder.accepted), holder.valid_until,
                                 holder.clock_offset)


class IntakeRelay(SupervisedThread):
    def __init__(self, settings: Settings, stopping: threading.Event,
                 curve: transport.CurveKeys | None, reports: NodeReports,
                 current_term: Callable[[], int] = lambda: 0,
                 holdings: Holdings | None = None, keeper: LeaseKeeper | None = None):
        super().__init__("intake", stopping)
        self.settings = settings
        self.curve = curve
        self.reports = reports
        self._current_term = current_term
        self.holdings = holdings or Holdings()
        self.keeper = keeper or LeaseKeeper()
        self.relayed = 0
        self.stale_dropped = 0

    def loop(self) -> None:
        intake = transport.Socket("pull", f"tcp://{self.settings.intake_address}", bind=True,
                                  curve=self.curve)
        to_executors = transport.Socket("push", self.settings.ipc("batches"), bind=True,
                                        hwm=self.settings.max_queue * self.settings.max_workers)
        lease_out = transport.Socket("pub", self.settings.ipc("leases"), bind=True,
                                     hwm=LEASES_HWM)
        next_publish = 0.0
        waiting: deque[dict[str, Any]] = deque()  # batches the executors had no room for yet
        try:
            while not self.stopping.is_set():
                self.beat()
                if clock.monotonic() >= next_publish:
                    # Again and again, so an executor that (re)started learns it promptly.
                    lease_out.send(self.keeper.snapshot().state(), block=False)
                    next_publish = clock.monotonic() + leases.HEARTBEAT_INTERVAL / 2
                while waiting and to_executors.send(waiting[0], block=False):
                    waiting.popleft()
                    self.relayed += 1
                message = intake.recv(timeout=0.01 if waiting else 0.05)
                if message is None:
                    continue
                kind = message.get("type")
                if kind == "load_report":
                    self.reports.put(message)
                elif kind == "lease":
                    if self._take_ack(message):
                        lease_out.send(self.keeper.snapshot().state(), block=False)
                elif self._admit(message):
                    # Queued here, never blocking: heartbeats and lease acks share this
                    # socket and must be read even while every executor is full. What waits
                    # is bounded by what the leader planned (its look-ahead) for this node.
                    waiting.append(message)
        finally:
            intake.close()
            to_executors.close()
            lease_out.close()

    def _take_ack(self, ack: dict[str, Any]) -> bool:
        """Apply the leader's ack for this node; True when the lease changed."""
        if ack.get("node_id") != self.settings.node_id or not self.keeper.on_ack(ack):
            return False
        holder = self.keeper.snapshot()
        gone = self.holdings.revoke(holder.accepted, holder.current)
        log.info("lease %s%s", holder.current,
                 f"; {len(gone)} batches placed under an earlier lease were re-sent by the "
                 "leader and are dropped here" if gone else "")
        return True

    def _admit(self, batch: dict[str, Any]) -> bool:
        """Whether a batch goes on to the executors (or is dropped, and why)."""
        batch_id = str(batch.get("batch_id"))
        if is_stale(batch, self._current_term()):
            # Fencing: a deposed leader (paused, partitioned) may still send what it
            # planned; its successor re-sends those ticks with the same ids.
            self.stale_dropped += 1
            log.info("dropped batch %s from stale term %s", batch_id, batch.get("term"))
            return False
        stamp = leases.lease_id(batch.get("lease"))
        if self.keeper.verdict(stamp) == leases.REVOKED:
            self.stale_dropped += 1
            log.info("dropped batch %s placed under lease %s, which this node lost", batch_id,
                     stamp)
            return False
        if not self.holdings.take(batch_id, stamp, _number(batch.get("fire_at")),
                                  _number(batch.get("deadline"))):
            log.info("dropped batch %s: a copy is held or was settled here", batch_id)
            return False
        return True


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


def is_stale(batch: dict[str, Any], current_term: int) -> bool:
    """A batch sent by a leader of an older term than this node knows."""
    term = batch.get("term")
    return isinstance(term, int) and term < current_term


class Heartbeat(SupervisedThread):
    """Tells every node (this one too) about four times a second what this node holds and
    how loaded it is, over the nodes' intakes. The leader renews this node's lease by it and
    places batches by it."""

    def __init__(self, settings: Settings, stopping: threading.Event,
                 curve: transport.CurveKeys | None, reports: NodeReports,
                 report: Callable[[], dict[str, Any]], holdings: Holdings,
                 keeper: LeaseKeeper):
        super().__init__("heartbeat", stopping)
        self.settings = settings
        self.curve = curve
        self.reports = reports
        self._report = report
        self.holdings = holdings
        self.keeper = keeper
        self.seq = 0
        self.boot = secrets.token_hex(8)  # this process's incarnation, new at each start

    def loop(self) -> None:
        sockets: dict[str, transport.Socket] = {}
        try:
            while not self.stopping.wait(leases.HEARTBEAT_INTERVAL):
                self.beat()
                message = self.message()
                self._send(sockets, message)
            # The last word: the leader takes this node's batches back at once rather than
            # when its lease lapses (the executors hand back all they had not started).
            self._send(sockets, {**self.message(), "stopping": True})
        finally:
            for sock in sockets.values():
                sock.close()

    def _send(self, sockets: dict[str, transport.Socket], message: dict[str, Any]) -> None:
        for address in self.targets():
            if address not in sockets:
                # Small HWM, non-blocking sends: a heartbeat for a dead peer is dropped, never
                # queued.
                sockets[address] = transport.Socket(
                    "push", f"tcp://{address}", bind=False, hwm=5, curve=self.curve)
            sockets[address].send(message, block=False)

    def targets(self) -> set[str]:
        """Every node's intake: this node's (the leader's ack comes back through it), the
        configured peers', and those of nodes added at run time, known by their heartbeats."""
        known = {str(r.get("intake_address")) for r in self.reports.latest().values()
                 if r.get("intake_address")}
        return {self.settings.intake_address, *(r.intake_address for r in self.settings.peers()),
                *known}

    def message(self) -> dict[str, Any]:
        self.seq += 1
        held, settling = self.holdings.report(clock.monotonic(), clock.now())
        holder = self.keeper.snapshot()
        self.keeper.sent(self.seq)
        return {"type": "load_report", "node_id": self.settings.node_id,
                "address": self.settings.api_address,
                "raft_address": self.settings.raft_address,
                "intake_address": self.settings.intake_address, **self._report(),
                "seq": self.seq, "boot": self.boot, "wall": clock.now(),
                "lease": list(holder.current) if holder.current else None,
                "held": len(held), "held_batches": held, "settling": settling,
                "clock_offset": holder.clock_offset}


def result_row(node_id: int, result: dict[str, Any]) -> list[Any]:
    """The compact row a RESULT command carries for one execution."""
    return [str(result["execution_id"]), STATE_CODES.get(result.get("state", ""), "failed"),
            int(result.get("attempts") or 0), result.get("http_status"),
            (result.get("error") or None), node_id, result.get("started_at_ms"),
            result.get("finished_at_ms")]


class ResultCollector(SupervisedThread):
    """Commits executor results through Raft; remembers executor load and counters."""

    def __init__(self, settings: Settings, stopping: threading.Event,
                 submit: Callable[[dict[str, Any], float], dict[str, Any]],
                 holdings: Holdings | None = None):
        super().__init__("results", stopping)
        self.settings = settings
        self._submit = submit
        self.holdings = holdings or Holdings()
        self.loads: dict[int, dict[str, Any]] = {}
        self.committed = 0
        self._pending: list[list[Any]] = []

    def loop(self) -> None:
        sub = transport.Socket("sub", self.settings.ipc("results"), bind=True, hwm=RESULTS_HWM)
        last_flush = clock.monotonic()
        try:
            while not self.stopping.is_set():
                self.beat()
                message = sub.recv(timeout=RESULT_FLUSH_INTERVAL)
                if message is not None:
                    self._take(message)
                    while (more := sub.recv_nowait()) is not None and len(self._pending) < 50_000:
                        self._take(more)
                if self._pending and clock.monotonic() - last_flush >= RESULT_FLUSH_INTERVAL:
                    self._flush()
                    last_flush = clock.monotonic()
            # Stopping: what already arrived is still committed.
            while (more := sub.recv_nowait()) is not None:
                self._take(more)
            self._flush()
        finally:
            sub.close()

    def _take(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "results":
            node_id = int(message.get("node_id", self.settings.node_id))
            self._pending.extend(result_row(node_id, r) for r in message.get("results", []))
            if message.get("final"):
                self.holdings.settled(str(message.get("batch_id")), clock.monotonic())
            self.holdings.results_pending = bool(self._pending)
        elif kind == "load":
            self.loads[int(message.get("executor", 0))] = {**message, "seen": clock.monotonic()}

    def _flush(self) -> None:
        while self._pending:
            rows = self._pending[:RESULT_COMMAND_ROWS]
            try:
                self._submit(commands.make(commands.RESULT, {"rows": rows}),
                             self.settings.write_timeout)
            except Scheduler0Error as exc:
                # Not lost: the rows stay pending and the next flush retries them (same rows,
                # and a RESULT only changes executions still 'scheduled', so a retry is harmless).
                log.warning("results not committed yet (%s); retrying", exc)
                return
            del self._pending[:RESULT_COMMAND_ROWS]
            self.committed += len(rows)
        self.holdings.results_pending = False

    def executor_load(self) -> dict[str, Any]:
        now = clock.monotonic()
        fresh = {i: m for i, m in self.loads.items() if now - m["seen"] < 5.0}
        return {
            "executors": len(fresh),
            "held": sum(int(m.get("held", 0)) for m in fresh.values()),
            "metrics": merge_metrics(m.get("metrics") or {} for m in fresh.values()),
        }


def merge_metrics(parts: Any) -> dict[str, Any]:
    """Sum executor counters: numbers, and dicts of numbers or lists such as a histogram's
    cumulative bucket counts (which add element-wise; bucket bounds `le` are the same)."""
    total: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict):
                bucket = total.setdefault(key, {})
                for k, v in value.items():
                    bucket[k] = _add(bucket.get(k), v, same=(k == "le"))
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                total[key] = total.get(key, 0) + value
    return total


def _add(current: Any, value: Any, same: bool) -> Any:
    if current is None or same:
        return value
    if isinstance(value, list) and isinstance(current, list):
        return [a + b for a, b in zip(current, value, strict=False)]
    if isinstance(value, (int, float)) and isinstance(current, (int, float)):
        return current + value
    return current
