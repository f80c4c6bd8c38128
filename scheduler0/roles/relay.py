"""Two coordinator threads that move messages between sockets.

- `IntakeRelay`: batches the leader pushed to this node's intake (tcp) go on to this node's
  executors (ipc PUSH, round-robin over the connected executors).
- `ResultCollector`: results the executors publish are committed through Raft as RESULT
  commands, in batches; executor load reports are kept for health and placement.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from scheduler0 import clock, commands, transport
from scheduler0.config import Settings
from scheduler0.errors import Scheduler0Error
from scheduler0.roles.placement import NodeReports

log = logging.getLogger(__name__)

RESULT_FLUSH_INTERVAL = 0.1  # seconds results wait to be committed together
RESULT_COMMAND_ROWS = 1000  # rows per RESULT command (keeps commands well under 64 KiB)
RESULTS_HWM = 1_000_000  # messages; the executors' PUB drops beyond it (reconcile catches it)
REPORT_INTERVAL = 1.0  # seconds between load reports

STATE_CODES = {"succeeded": "succeeded", "failed": "failed"}


class IntakeRelay(threading.Thread):
    def __init__(self, settings: Settings, stopping: threading.Event,
                 curve: transport.CurveKeys | None, reports: NodeReports,
                 current_term: Callable[[], int] = lambda: 0):
        super().__init__(name="intake", daemon=True)
        self.settings = settings
        self.stopping = stopping
        self.curve = curve
        self.reports = reports
        self._current_term = current_term
        self.relayed = 0
        self.stale_dropped = 0

    def run(self) -> None:
        intake = transport.Socket("pull", f"tcp://{self.settings.intake_address}", bind=True,
                                  curve=self.curve)
        to_executors = transport.Socket("push", self.settings.ipc("batches"), bind=True,
                                        hwm=self.settings.max_queue * self.settings.max_workers)
        try:
            while not self.stopping.is_set():
                batch = intake.recv(timeout=0.2)
                if batch is None:
                    continue
                if batch.get("type") == "load_report":
                    self.reports.put(batch)
                    continue
                if is_stale(batch, self._current_term()):
                    # Fencing: a deposed leader (paused, partitioned) may still send what it
                    # planned; its successor re-sends those ticks with the same ids.
                    self.stale_dropped += 1
                    log.info("dropped batch %s from stale term %s", batch.get("batch_id"),
                             batch.get("term"))
                    continue
                # Blocks while every executor holds MaxQueue batches: back-pressure reaches
                # the intake's own queue and, past its HWM, the leader's PUSH.
                while not to_executors.send(batch, block=False):
                    if self.stopping.wait(0.01):
                        return
                self.relayed += 1
        finally:
            intake.close()
            to_executors.close()


def is_stale(batch: dict[str, Any], current_term: int) -> bool:
    """A batch sent by a leader of an older term than this node knows."""
    term = batch.get("term")
    return isinstance(term, int) and term < current_term


class Reporter(threading.Thread):
    """Tells every other node (and this one) this node's load about once a second, over the
    nodes' intakes; the leader places batches by these reports."""

    def __init__(self, settings: Settings, stopping: threading.Event,
                 curve: transport.CurveKeys | None, reports: NodeReports,
                 report: Callable[[], dict[str, Any]]):
        super().__init__(name="reporter", daemon=True)
        self.settings = settings
        self.stopping = stopping
        self.curve = curve
        self.reports = reports
        self._report = report

    def run(self) -> None:
        # Small HWM and non-blocking sends: a report for a dead peer is dropped, never queued.
        peers = [transport.Socket("push", f"tcp://{r.intake_address}", bind=False, hwm=5,
                                  curve=self.curve) for r in self.settings.peers()]
        try:
            while not self.stopping.wait(REPORT_INTERVAL):
                report = {"type": "load_report", "node_id": self.settings.node_id,
                          "address": self.settings.api_address,
                          "raft_address": self.settings.raft_address,
                          "intake_address": self.settings.intake_address, **self._report()}
                self.reports.put(report)
                for sock in peers:
                    sock.send(report, block=False)
        finally:
            for sock in peers:
                sock.close()


def result_row(node_id: int, result: dict[str, Any]) -> list[Any]:
    """The compact row a RESULT command carries for one execution."""
    return [str(result["execution_id"]), STATE_CODES.get(result.get("state", ""), "failed"),
            int(result.get("attempts") or 0), result.get("http_status"),
            (result.get("error") or None), node_id, result.get("started_at_ms"),
            result.get("finished_at_ms")]


class ResultCollector(threading.Thread):
    """Commits executor results through Raft; remembers executor load and counters."""

    def __init__(self, settings: Settings, stopping: threading.Event,
                 submit: Callable[[dict[str, Any], float], dict[str, Any]]):
        super().__init__(name="results", daemon=True)
        self.settings = settings
        self.stopping = stopping
        self._submit = submit
        self.loads: dict[int, dict[str, Any]] = {}
        self.committed = 0
        self._pending: list[list[Any]] = []

    def run(self) -> None:
        sub = transport.Socket("sub", self.settings.ipc("results"), bind=True, hwm=RESULTS_HWM)
        last_flush = clock.monotonic()
        try:
            while not self.stopping.is_set():
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
