"""Runs bulk operations: the API process that accepted POST /jobs/bulk sends its jobs' ids to
the cluster in OperationStep commands of CHUNK ids, one after the other, from a thread of its
own (CHUNKS for the costlier actions), so the request is answered (202) at once, no Raft entry
is large and no apply holds the state machine for long.

The ids live only in this process: an operation is not resumed elsewhere. What happens when
this process stops in the middle:
- on a clean stop (SIGTERM) each running operation is recorded failed, saying how far it got;
- after a crash, the next API process of this node records its operations failed on start
  ("interrupted"), as their runner token is not its own;
- an operation whose node never comes back is recorded failed by any node's sweep once it has
  made no progress for STALL_SECONDS.
What a failed operation did stays done; the request can be sent again (a filter that the
action changes, such as pause with {"paused": false}, then selects only the rest).

A step that times out is sent again with the same request id, so the state machine applies it
once; a step refused because the operation no longer runs (a sweep stopped it) ends the thread.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from array import array
from collections.abc import Callable
from typing import Any

from scheduler0 import clock, messages
from scheduler0.api.services import NodeServices
from scheduler0.errors import ApiError, RaftError, Scheduler0Error, TransportError
from scheduler0.vocabulary import BulkAction

log = logging.getLogger(__name__)

CHUNK = 2000  # job ids per OperationStep: a pause or resume applies in about 10 ms
# Relabelling costs more per job (the label index's rows change too): about 50 us a job,
# measured, so its chunks are smaller to keep each apply near 25 ms. A run writes a run-now
# and a batch of its own per job: 10 to 20 ms a chunk of 500, measured.
CHUNKS = {BulkAction.SET_LABELS.value: 500, BulkAction.RUN.value: 500}
MAX_RUNNING_HERE = 4  # operations one API process runs at once
RETRY_BUDGET = 60.0  # seconds a step is retried while the cluster cannot commit it
STALL_SECONDS = 120.0  # an operation without progress for this long is recorded failed
SWEEP_INTERVAL = 15.0
STOP_WAIT = 5.0  # seconds a stopping API process gives its operations to record where they are
# This process among the API processes that ever ran: a restarted one has another token, and
# so knows the operations its node's earlier process left running are nobody's.
PROCESS_TOKEN = uuid.uuid4().hex[:16]


class OperationRunner:
    """The bulk operations of one API process (NodeServices `services`, node `node_id`)."""

    def __init__(self, services: NodeServices, node_id: int,
                 stopping: threading.Event | None = None, token: str = PROCESS_TOKEN):
        self.services = services
        self.node_id = node_id
        self.token = token
        self.stopping = stopping or threading.Event()
        self._lock = threading.Lock()
        self._threads: dict[int, threading.Thread] = {}
        self._started: set[int] = set()  # every operation run here, finished ones too

    def running_here(self) -> int:
        with self._lock:
            return sum(t.is_alive() for t in self._threads.values())

    def start(self, operation: dict[str, Any], ids: array[int]) -> bool:
        """Run `operation` (a store row this process created) over `ids` in a thread; False
        when it is not this process's to run, or runs already."""
        operation_id = int(operation["id"])
        with self._lock:
            if operation_id in self._started or operation["runner_token"] != self.token:
                return False
            self._started.add(operation_id)
            chunk = CHUNKS.get(operation["action"], CHUNK)
            thread = threading.Thread(target=self._run, args=(operation_id, ids, chunk),
                                      name=f"operation-{operation_id}", daemon=True)
            self._threads = {k: t for k, t in self._threads.items() if t.is_alive()}
            self._threads[operation_id] = thread
        thread.start()
        return True

    def join(self, operation_id: int, timeout: float | None = None) -> None:
        with self._lock:
            thread = self._threads.get(operation_id)
        if thread is not None:
            thread.join(timeout)

    # -- one operation ----------------------------------------------------------------------

    def _run(self, operation_id: int, ids: array[int], chunk: int) -> None:
        try:
            self._steps(operation_id, ids, chunk)
        except Exception:  # a runner must never die silently: record why it stopped
            log.exception("bulk operation %d failed", operation_id)
            self.fail(operation_id, "stopped by an internal error; see the node's log",
                      runner_token=self.token)

    def _steps(self, operation_id: int, ids: array[int], chunk: int) -> None:
        total = len(ids)
        for number, start in enumerate(range(0, total, chunk)):
            if self.stopping.is_set():
                self.fail(operation_id, f"interrupted: the API process of node {self.node_id} "
                          f"stopped after {start} of {total} jobs; send the request again "
                          "for the rest", runner_token=self.token)
                return
            body = messages.OperationStep(operation_id=operation_id,
                                          ids=ids[start:start + chunk].tolist(),
                                          final=start + chunk >= total)
            problem = self._commit(body, self._request_id(operation_id, number))
            if problem is not None:
                if problem:
                    self.fail(operation_id, f"{problem}; {start} of {total} jobs were done "
                              "(they stay done)", runner_token=self.token)
                return
        log.info("bulk operation %d done: %d jobs", operation_id, total)

    def _request_id(self, operation_id: int, number: int) -> str:
        key = f"operation-step\0{self.token}\0{operation_id}\0{number}"
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    def _commit(self, body: messages.OperationStep, request_id: str) -> str | None:
        """None once committed; "" when the operation no longer runs (nothing to record);
        otherwise why the step could not be applied."""
        command = messages.command(body, request_id=request_id)
        deadline = clock.monotonic() + RETRY_BUDGET
        pause = 0.25
        while True:
            try:
                result = self.services.submit(command, self.services.settings.write_timeout)
            except (ApiError, RaftError, TransportError) as exc:
                if clock.monotonic() + pause > deadline or self.stopping.is_set():
                    return f"the cluster did not commit a chunk within {RETRY_BUDGET:g} s ({exc})"
                self.stopping.wait(pause)
                pause = min(pause * 2, 5.0)
                continue
            if result.get("ok"):
                return None
            error = result.get("error") or {}
            if error.get("status") == 409:
                log.info("bulk operation %d stopped: %s", body.operation_id, error.get("message"))
                return ""
            return f"a chunk was refused ({error.get('message')})"

    # -- recording failures -----------------------------------------------------------------

    def fail(self, operation_id: int, error: str, *, runner_token: str | None = None,
             stalled_before_ms: int | None = None) -> bool:
        """Record the operation failed (if it still runs); False when that did not commit."""
        body = messages.OperationFinish(operation_id=operation_id, error=error,
                                        runner_token=runner_token,
                                        stalled_before_ms=stalled_before_ms)
        try:
            result = self.services.submit(messages.command(body),
                                          self.services.settings.write_timeout)
        except Scheduler0Error as exc:
            log.warning("could not record bulk operation %d failed (%s): %s", operation_id,
                        exc, error)
            return False
        return bool(result.get("ok"))

    def sweep_once(self, now_ms: int | None = None) -> list[int]:
        """Record failed the running operations nobody runs any more: this node's, left by an
        earlier API process, and anyone's without progress for STALL_SECONDS. Returns their
        ids."""
        now_ms = clock.now_ms() if now_ms is None else now_ms
        stopped: list[int] = []
        for operation in self.services.reader().running_operations():
            reason, condition = self._abandoned(operation, now_ms)
            if reason and self.fail(int(operation["id"]), reason, **condition):
                stopped.append(int(operation["id"]))
        return stopped

    def _abandoned(self, operation: dict[str, Any], now_ms: int
                   ) -> tuple[str | None, dict[str, Any]]:
        done = f"{operation['done'] + operation['skipped']} of {operation['total']} jobs were done"
        node = operation["runner_node"]
        with self._lock:
            mine = int(operation["id"]) in self._started
        if node == self.node_id and operation["runner_token"] != self.token and not mine:
            return (f"interrupted: the API process of node {node} that ran it restarted; "
                    f"{done} (they stay done); send the request again for the rest",
                    {"runner_token": operation["runner_token"]})
        idle = (now_ms - int(operation["updated_at_ms"])) / 1000
        if idle > STALL_SECONDS:
            return (f"stalled: no progress for {idle:.0f} s (node {node}, which ran it, may be "
                    f"down); {done} (they stay done); send the request again for the rest",
                    {"stalled_before_ms": int(operation["updated_at_ms"])})
        return None, {}

    def stop_all(self, within: float = STOP_WAIT) -> None:
        """On the way down: each running operation records that it was interrupted (those
        that cannot within `within` seconds are left to the next process's sweep)."""
        self.stopping.set()
        deadline = clock.monotonic() + within
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(max(0.0, deadline - clock.monotonic()))


def sweep_forever(runner: OperationRunner, wait: Callable[[float], bool]) -> None:
    """The sweep every SWEEP_INTERVAL until `wait` says to stop (the API process's thread)."""
    while True:
        try:
            runner.sweep_once()
        except Scheduler0Error as exc:  # the store or the coordinator is not there yet
            log.debug("operation sweep skipped: %s", exc)
        except Exception:
            log.exception("operation sweep failed")
        if wait(SWEEP_INTERVAL):
            return
