"""The intake thread: batches the leader pushed to this node's intake (tcp) go on to this node's
executors (ipc PUSH, round-robin over the connected executors), unless they are copies of a
batch held here or were placed under a lease this node lost. It also takes the leader's lease
acks and publishes this node's lease to its executors (ipc PUB `leases`), which deliver a batch
only while the lease it was placed under is valid.

A batch of a rate-limited project (it carries the project's `rate_limit`) waits at its
project's gate (scheduler0.rationing) until its tick is due and the limit lets it go, then goes
on as any other: still held here while it waits, so the leader waits for it however late.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from scheduler0 import clock, leases, messages, transport
from scheduler0.config import Settings
from scheduler0.coordinator.holdings import Holdings
from scheduler0.coordinator.placement import NodeReports
from scheduler0.coordinator.supervised import SupervisedThread
from scheduler0.rationing import Rationing

log = logging.getLogger(__name__)

LEASES_HWM = 1000  # lease states to executors; only the newest matters


class LeaseKeeper:
    """This node's `leases.Holder`, shared by the heartbeat and intake threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder = leases.Holder()

    def sent(self, seq: int) -> None:
        with self._lock:
            self._holder.sent(seq, clock.monotonic(), clock.now())

    def on_ack(self, ack: messages.LeaseAck) -> bool:
        with self._lock:
            return self._holder.on_ack(ack, clock.now())

    def verdict(self, stamp: messages.LeaseId | None) -> str:
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
        # Read by the status thread too (rate_limit_stats): touched under the lock.
        self.rationing: Rationing[messages.Batch] = Rationing()
        self._rationing_lock = threading.Lock()

    def loop(self) -> None:
        intake = transport.Socket("pull", f"tcp://{self.settings.intake_address}", bind=True,
                                  curve=self.curve, channel=messages.INTAKE)
        to_executors = transport.Socket("push", self.settings.ipc("batches"), bind=True,
                                        hwm=self.settings.max_queue * self.settings.max_workers)
        lease_out = transport.Socket("pub", self.settings.ipc("leases"), bind=True,
                                     hwm=LEASES_HWM)
        next_publish = 0.0
        waiting: deque[messages.Batch] = deque()  # batches the executors had no room for yet
        try:
            while not self.stopping.is_set():
                self.beat()
                if clock.monotonic() >= next_publish:
                    # Again and again, so an executor that (re)started learns it promptly.
                    lease_out.send(self.keeper.snapshot().state(), block=False)
                    next_publish = clock.monotonic() + leases.HEARTBEAT_INTERVAL / 2
                if self.rationing:  # one check a pass while no batch has a rate limit
                    waiting.extend(self.let_through())
                while waiting and to_executors.send(waiting[0], block=False):
                    self.holdings.relayed(waiting.popleft().batch_id, clock.monotonic())
                    self.relayed += 1
                message = intake.recv(timeout=0.01 if waiting or self.rationing else 0.05)
                if message is not None:  # None: nothing yet, or unreadable (logged)
                    self._take(message, waiting, lease_out)
        finally:
            intake.close()
            to_executors.close()
            lease_out.close()

    def _take(self, message: messages.Batch | messages.Heartbeat | messages.LeaseAck,
              waiting: deque[messages.Batch], lease_out: transport.Socket) -> None:
        if isinstance(message, messages.Heartbeat):
            self.reports.put(messages.as_map(message))
        elif isinstance(message, messages.LeaseAck):
            if self._take_ack(message):
                lease_out.send(self.keeper.snapshot().state(), block=False)
        elif self._admit(message):
            # Queued here, never blocking: heartbeats and lease acks share this socket and
            # must be read even while every executor is full. What waits is bounded by what
            # the leader planned (its look-ahead) for this node.
            if message.rate_limit is None or not message.executions:
                waiting.append(message)
            else:
                self.hold_at_limit(message)

    def hold_at_limit(self, batch: messages.Batch) -> None:
        """Queue an admitted batch of a rate-limited project at its project's gate."""
        assert batch.rate_limit is not None
        now, wall = clock.monotonic(), clock.now()
        due = now + max(0.0, batch.fire_at - wall)
        with self._rationing_lock:
            self.rationing.offer(batch.executions[0].project_id, batch.rate_limit, batch,
                                 len(batch.executions), due, now)

    def let_through(self) -> list[messages.Batch]:
        """The gated batches their limits let go now, counted in flight from here on."""
        with self._rationing_lock:
            released = self.rationing.release(clock.monotonic(), self.holdings.in_flight)
        # A batch no longer held was revoked while it waited: the leader re-sent it elsewhere.
        return [batch for project_id, batch, size in released
                if self.holdings.ration(batch.batch_id, project_id, size)]

    def rate_limit_stats(self) -> dict[str, dict[str, float]]:
        """Per rate-limited project seen here (id as text): executions waiting at its limit
        now, and the seconds its ticks waited in all."""
        with self._rationing_lock:
            stats = self.rationing.stats(clock.monotonic())
        return {str(project_id): values for project_id, values in stats.items()}

    def _take_ack(self, ack: messages.LeaseAck) -> bool:
        """Apply the leader's ack for this node; True when the lease changed."""
        if ack.node_id != self.settings.node_id or not self.keeper.on_ack(ack):
            return False
        holder = self.keeper.snapshot()
        gone = self.holdings.revoke(holder.accepted, holder.current)
        log.info("lease %s%s", holder.current,
                 f"; {len(gone)} batches placed under an earlier lease were re-sent by the "
                 "leader and are dropped here" if gone else "")
        return True

    def _admit(self, batch: messages.Batch) -> bool:
        """Whether a batch goes on to the executors (or is dropped, and why)."""
        batch_id = batch.batch_id
        if is_stale(batch, self._current_term()):
            # Fencing: a deposed leader (paused, partitioned) may still send what it
            # planned; its successor re-sends those ticks with the same ids.
            self.stale_dropped += 1
            log.info("dropped batch %s from stale term %s", batch_id, batch.term)
            return False
        stamp = batch.lease
        if self.keeper.verdict(stamp) == leases.REVOKED:
            self.stale_dropped += 1
            log.info("dropped batch %s placed under lease %s, which this node lost", batch_id,
                     stamp)
            return False
        if not self.holdings.take(batch_id, stamp, batch.fire_at, batch.deadline):
            log.info("dropped batch %s: a copy is held or was settled here", batch_id)
            return False
        return True


def is_stale(batch: messages.Batch, current_term: int) -> bool:
    """A batch sent by a leader of an older term than this node knows."""
    return batch.term is not None and batch.term < current_term
