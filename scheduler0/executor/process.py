"""The executor process: pulls batches from its coordinator, POSTs callbacks, publishes results.

Three threads, each owning what it touches (ZeroMQ sockets are not thread-safe):

    pull thread   PULL <- coordinator PUSH at ipc("batches") (HWM = MaxQueue); takes a batch only
                  while fewer than MaxQueue are held and there is no memory pressure, and hands
                  it to the loop with call_soon_threadsafe
    main thread   the asyncio loop: one task per batch on the process's one Deliverer
                  (scheduler0.delivery.client); results go to the outbox queue as chunks settle.
                  A batch whose id it already holds (a re-dispatch reaching the executor that
                  still delivers it) is dropped: the copy held reports every result
    pub thread    PUB -> coordinator SUB at ipc("results"); sends the outbox, coalesced per
                  batch, and a load report about every second
    lease thread  SUB <- coordinator PUB at ipc("leases"): this node's lease. A batch is POSTed
                  (each attempt) only while the lease it was placed under is this node's and
                  valid; it waits while the lease is not valid (frozen, cut off, no leader
                  yet) and is dropped, unreported, once the lease moved on without it (the
                  leader gave it to another node)

Messages (scheduler0.messages.wire has their fields):

    in   Batch          on the batches socket (messages.BATCHES)
    in   LeaseState     on the leases socket (messages.LEASES); its valid_until is on the
                        monotonic clock, the same on every process of the host
    out  Results        the outcomes of a batch's executions as they settle; final=True marks
                        the last results message of a batch (every execution reported)
    out  ExecutorLoad   about every second

Stop (SIGTERM, the supervisor's stop message, or the supervisor gone): stop pulling, start no
new POST (every held batch whose chunks have not gone out is handed back: the node's last
heartbeat tells the leader it is stopping, and the leader re-sends them elsewhere at once, or
after a restart of the whole cluster, when it reconciles), let POSTs in flight finish for up to
STOP_GRACE seconds, publish what settled, exit 0. A POST made while stopping might not be
recorded (the whole cluster may be stopping), so none is started then.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
from collections.abc import Callable

from scheduler0 import clock, leases, messages, transport
from scheduler0.config import Settings
from scheduler0.delivery.client import BatchRevoked, Deliverer
from scheduler0.delivery.core import Metrics
from scheduler0.errors import TransportError
from scheduler0.lifecycle import Lifecycle

log = logging.getLogger(__name__)

LOAD_REPORT_INTERVAL = 1.0
STOP_GRACE = 5.0  # seconds due batches get to finish on stop (the supervisor kills at 8 s)
PUB_HWM = 1_000_000  # PUB drops silently at its HWM: one message per chunk never gets near it
MAX_RESULTS_PER_MESSAGE = 5000
PULL_POLL = 0.1  # seconds between checks of the stop flag while waiting for a batch
LEASE_POLL = 0.02  # seconds between looks at the lease while a batch waits for it

Outgoing = tuple[str, list[messages.Outcome], bool]  # (batch_id, results, final)


def results_messages(items: list[Outgoing], node_id: int, executor: int,
                     max_results: int = MAX_RESULTS_PER_MESSAGE) -> list[messages.Results]:
    """The results messages for outbox items taken together: one per batch (more if it has
    over `max_results`), `final` on the last message of a batch whose final piece is among
    the items. Pure."""
    merged: dict[str, list[messages.Outcome]] = {}
    finals: set[str] = set()
    for batch_id, results, final in items:
        merged.setdefault(batch_id, []).extend(results)
        if final:
            finals.add(batch_id)
    out = []
    for batch_id, results in merged.items():
        final = batch_id in finals
        slices = [results[i:i + max_results] for i in range(0, len(results), max_results)] or [[]]
        for n, part in enumerate(slices):
            out.append(messages.Results(node_id=node_id, executor=executor, batch_id=batch_id,
                                        results=part, final=final and n == len(slices) - 1))
    return out


class Executor:
    def __init__(self, settings: Settings, lifecycle: Lifecycle, index: int, *,
                 now: Callable[[], float] = clock.now,
                 monotonic: Callable[[], float] = clock.monotonic):
        self.settings = settings
        self.lifecycle = lifecycle
        self.index = index
        self.metrics = Metrics()
        self._now = now
        self._monotonic = monotonic
        self._held = 0  # batches pulled and not finished; written by both threads under the lock
        self._held_lock = threading.Lock()
        self._outbox: queue.Queue[Outgoing | None] = queue.Queue()
        self._tasks: dict[asyncio.Task[None], messages.Batch] = {}
        self._batch_ids: set[str] = set()  # of the batches in _tasks; loop thread only
        self._deliverer: Deliverer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pulling_done: asyncio.Event | None = None
        self._failed = False
        # (current, accepted, valid_until), replaced whole by the lease thread
        self._lease: tuple[messages.LeaseId | None, list[messages.LeaseId], float] = (None, [], 0.0)

    @property
    def held(self) -> int:
        with self._held_lock:
            return self._held

    def run(self) -> int:
        pull = transport.Socket("pull", self.settings.ipc("batches"), bind=False,
                                hwm=self.settings.max_queue, channel=messages.BATCHES)
        try:
            pub = transport.Socket("pub", self.settings.ipc("results"), bind=False, hwm=PUB_HWM)
        except TransportError:
            pull.close()
            raise
        publisher = threading.Thread(target=self._publish_loop, args=(pub,), name="publish")
        publisher.start()
        lease_thread = threading.Thread(target=self._lease_loop, name="lease", daemon=True)
        lease_thread.start()
        try:
            asyncio.run(self._main(pull))
        finally:
            self._outbox.put(None)
            publisher.join(10)
            lease_thread.join(2)
            log.info("executor %d stopped", self.index)
        return 1 if self._failed else 0

    # -- the loop (main thread) -------------------------------------------------------------

    async def _main(self, pull: transport.Socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._pulling_done = asyncio.Event()
        async with Deliverer(self.settings, now=self._now, monotonic=self._monotonic,
                             metrics=self.metrics, gate=self._owned) as deliverer:
            self._deliverer = deliverer
            puller = threading.Thread(target=self._pull_loop, args=(pull,), name="pull")
            puller.start()
            log.info("executor %d ready (max %d batches held)", self.index,
                     self.settings.max_queue)
            await self._pulling_done.wait()
            await self._finish_held()
            puller.join(5)

    def _start_batch(self, batch: messages.Batch) -> None:
        batch_id = batch.batch_id
        if batch_id in self._batch_ids:
            log.info("batch %s: already held here; dropped the re-dispatched copy", batch_id)
            self.metrics.add(duplicate_batches=1)
            self._release_hold()
            return
        self._batch_ids.add(batch_id)
        task = asyncio.get_running_loop().create_task(self._run_batch(batch))
        self._tasks[task] = batch
        task.add_done_callback(self._batch_done)

    async def _run_batch(self, batch: messages.Batch) -> None:
        assert self._deliverer is not None
        batch_id = batch.batch_id

        def on_results(results: list[messages.Outcome], final: bool) -> None:
            self._outbox.put((batch_id, results, final))

        try:
            await self._deliverer.deliver(batch, on_results)
        except asyncio.CancelledError:
            raise
        except BatchRevoked:
            if self.lifecycle.stopping.is_set():
                log.info("batch %s: handed back on stop", batch_id)
                return
            self.metrics.add(revoked_batches=1)
            log.info("batch %s: its lease moved on (the leader gave it to another node); "
                     "not delivered here", batch_id)
        except Exception:
            log.exception("batch %s: delivery failed; the coordinator will re-dispatch it",
                          batch_id)

    def _batch_done(self, task: asyncio.Task[None]) -> None:
        batch = self._tasks.pop(task, None)
        if batch is not None:
            self._batch_ids.discard(batch.batch_id)
        self._release_hold()

    def _release_hold(self) -> None:
        with self._held_lock:
            self._held -= 1

    async def _finish_held(self) -> None:
        """On stop: drop what is not due yet, give what is due (POSTs in flight) STOP_GRACE.

        A batch not due yet would only be handed back at its tick (no POST starts while
        stopping), so waiting for it would only keep the node, and a restart, waiting.
        """
        if not self._tasks:
            return
        now = self._now()
        not_due = [t for t, b in self._tasks.items() if b.fire_at > now]
        for task in not_due:
            task.cancel()
        running = [t for t in self._tasks if t not in not_due]
        log.info("stopping: finishing %d due batches (up to %.0f s), handing back %d not due",
                 len(running), STOP_GRACE, len(not_due))
        if running:
            _done, late = await asyncio.wait(running, timeout=STOP_GRACE)
            for task in late:
                task.cancel()
            if late:
                log.warning("stopping: %d batches did not finish within %.0f s; their unsettled "
                            "executions are re-dispatched by the coordinator", len(late),
                            STOP_GRACE)
        await asyncio.gather(*not_due, *running, return_exceptions=True)

    # -- leases -----------------------------------------------------------------------------

    async def _owned(self, batch: messages.Batch) -> bool:
        """Wait until the batch's lease is this node's and valid (True) or moved on (False)."""
        stamp = batch.lease
        waited = False
        while True:
            if self.lifecycle.stopping.is_set():
                return False  # handed back, not reported: the leader re-sends it
            verdict = leases.verdict(stamp, *self._lease, self._monotonic())
            if verdict != leases.WAIT:
                if waited:
                    log.info("batch %s: lease %s, %s", batch.batch_id, stamp, verdict)
                return verdict == leases.OWN
            if not waited:
                waited = True
                self.metrics.add(lease_waits=1)
                log.info("batch %s waits for its lease %s to be valid", batch.batch_id, stamp)
            await asyncio.sleep(LEASE_POLL)

    def _lease_loop(self) -> None:
        sub = transport.Socket("sub", self.settings.ipc("leases"), bind=False, hwm=1000,
                               channel=messages.LEASES)
        try:
            while not self.lifecycle.stopping.is_set():
                message = sub.recv(timeout=PULL_POLL)
                if message is not None:
                    self._lease = leases.holder_from_state(message)
        finally:
            sub.close()

    # -- the pull thread --------------------------------------------------------------------

    def _pull_loop(self, pull: transport.Socket) -> None:
        assert self._loop is not None and self._pulling_done is not None
        stopping = self.lifecycle.stopping
        try:
            while not stopping.is_set():
                if self.lifecycle.memory_pressure or self.held >= self.settings.max_queue:
                    stopping.wait(PULL_POLL / 2)
                    continue
                message = pull.recv(timeout=PULL_POLL)
                if message is None:  # nothing yet, or unreadable (logged by the channel)
                    continue
                with self._held_lock:
                    self._held += 1
                self._loop.call_soon_threadsafe(self._start_batch, message)
        except Exception:
            log.exception("the pull thread failed; stopping")
            self._failed = True
            stopping.set()
        finally:
            pull.close()
            self._loop.call_soon_threadsafe(self._pulling_done.set)

    # -- the publish thread -----------------------------------------------------------------

    def _publish_loop(self, pub: transport.Socket) -> None:
        next_load = self._monotonic()
        try:
            while True:
                items, done = self._take_outbox(max(0.0, next_load - self._monotonic()))
                for message in results_messages(items, self.settings.node_id, self.index):
                    self._send(pub, message)
                if done or self._monotonic() >= next_load:
                    self._send(pub, self._load_message())
                    next_load = self._monotonic() + LOAD_REPORT_INTERVAL
                if done:
                    return
        finally:
            pub.close()

    def _take_outbox(self, timeout: float) -> tuple[list[Outgoing], bool]:
        """What is in the outbox (waiting up to `timeout` for the first item), and whether the
        stop sentinel came."""
        items: list[Outgoing] = []
        try:
            item = self._outbox.get(timeout=timeout)
            while True:
                if item is None:
                    return items, True
                items.append(item)
                item = self._outbox.get_nowait()
        except queue.Empty:
            return items, False

    def _load_message(self) -> messages.ExecutorLoad:
        return messages.ExecutorLoad(node_id=self.settings.node_id, executor=self.index,
                                     held=self.held, batches=self._held_batch_ids(),
                                     pid=os.getpid(),
                                     pressure=self.lifecycle.memory_pressure,
                                     stopping=self.lifecycle.stopping.is_set(),
                                     metrics=self.metrics.snapshot())

    def _held_batch_ids(self) -> list[str]:
        # Read from the publish thread while the loop thread changes the set: set.copy() runs
        # without releasing the GIL, so it sees the set whole.
        return list(self._batch_ids.copy())

    def _send(self, pub: transport.Socket, message: messages.Message) -> None:
        try:
            pub.send(message)
        except TransportError as exc:
            log.error("cannot publish a %s message: %s", type(message).__name__, exc)


def run(settings: Settings, lifecycle: Lifecycle, index: int = 0) -> int:
    return Executor(settings, lifecycle, index).run()
