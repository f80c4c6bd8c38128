"""The results thread: results the executors publish are committed through Raft as RESULT
commands, in batches; executor load reports are kept for health.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from scheduler0 import clock, messages, transport
from scheduler0.config import Settings
from scheduler0.coordinator.holdings import Holdings
from scheduler0.coordinator.supervised import SupervisedThread
from scheduler0.errors import Scheduler0Error
from scheduler0.vocabulary import DELIVERY_OUTCOMES, ExecutionState

log = logging.getLogger(__name__)

RESULT_FLUSH_INTERVAL = 0.1  # seconds results wait to be committed together
RESULT_COMMAND_ROWS = 1000  # rows per RESULT command (keeps commands well under 64 KiB)
RESULTS_HWM = 1_000_000  # messages; the executors' PUB drops beyond it (reconcile catches it)
MAX_PENDING_ROWS = 50_000  # rows read ahead of their commit: reading pauses there to flush


def _outcome(state: Any) -> str:
    """An executor reports succeeded or failed; anything else it might send counts as failed."""
    return str(state) if state in DELIVERY_OUTCOMES else ExecutionState.FAILED.value


def result_row(node_id: int, result: messages.Outcome, batch_id: str) -> messages.ResultRow:
    """The row a RESULT command carries for one execution."""
    return messages.ResultRow(result.execution_id, _outcome(result.state), result.attempts,
                              result.http_status, result.error or None, node_id,
                              result.started_at_ms, result.finished_at_ms, batch_id)


class ResultCollector(SupervisedThread):
    """Commits executor results through Raft; remembers executor load and counters."""

    def __init__(self, settings: Settings, stopping: threading.Event,
                 submit: Callable[[dict[str, Any], float], dict[str, Any]],
                 holdings: Holdings | None = None):
        super().__init__("results", stopping)
        self.settings = settings
        self._submit = submit
        self.holdings = holdings or Holdings()
        self.loads: dict[int, tuple[messages.ExecutorLoad, float]] = {}  # executor -> (load, seen)
        self.committed = 0
        self._pending: list[messages.ResultRow] = []

    def loop(self) -> None:
        sub = transport.Socket("sub", self.settings.ipc("results"), bind=True, hwm=RESULTS_HWM,
                               channel=messages.RESULTS)
        last_flush = clock.monotonic()
        try:
            while not self.stopping.is_set():
                self.beat()
                if self._read(sub):
                    self.holdings.drained(clock.monotonic())
                if self._pending and clock.monotonic() - last_flush >= RESULT_FLUSH_INTERVAL:
                    self._flush()
                    last_flush = clock.monotonic()
            # Stopping: what already arrived is still committed.
            while (more := sub.recv_nowait()) is not None:
                self._take(more)
            self._flush()
        finally:
            sub.close()

    def _read(self, sub: transport.Socket) -> bool:
        """Take what arrived, waiting up to RESULT_FLUSH_INTERVAL for the first message, until
        MAX_PENDING_ROWS rows wait for their commit. True when the socket ran dry (every
        message sent so far was read), False when reading stopped at the cap to flush first.
        A message is taken as soon as it is received: one received and left aside would be
        lost, and its batch's ticks re-sent (delivered twice)."""
        message = sub.recv(timeout=RESULT_FLUSH_INTERVAL)
        while message is not None:
            self._take(message)
            if len(self._pending) >= MAX_PENDING_ROWS:
                return False
            message = sub.recv_nowait()
        return True

    def _take(self, message: messages.Results | messages.ExecutorLoad) -> None:
        if isinstance(message, messages.Results):
            self._pending.extend(result_row(message.node_id, r, message.batch_id)
                                 for r in message.results)
            if message.final:
                self.holdings.settled(message.batch_id, clock.monotonic())
            self.holdings.results_pending = bool(self._pending)
        else:
            self.loads[message.executor] = (message, clock.monotonic())
            self.holdings.vouch(message.executor, message.pid, message.batches,
                                clock.monotonic())

    def _flush(self) -> None:
        while self._pending:
            rows = self._pending[:RESULT_COMMAND_ROWS]
            try:
                self._submit(messages.command(messages.Result(rows=rows)),
                             self.settings.write_timeout)
            except Scheduler0Error as exc:
                # Not lost: the rows stay pending and the next flush retries them (same rows,
                # and a RESULT only settles ticks still pending, so a retry is harmless).
                log.warning("results not committed yet (%s); retrying", exc)
                return
            del self._pending[:RESULT_COMMAND_ROWS]
            self.committed += len(rows)
        self.holdings.results_pending = False

    def executor_load(self) -> dict[str, Any]:
        now = clock.monotonic()
        fresh = [load for load, seen in self.loads.values() if now - seen < 5.0]
        return {
            "executors": len(fresh),
            "held": sum(load.held for load in fresh),
            "metrics": merge_metrics(load.metrics for load in fresh),
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
