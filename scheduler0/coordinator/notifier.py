"""The leader's notifier thread: sends the outbox's failure notifications and commits how it went.

The outbox (scheduler0.store.notifications) is filled by the apply on every node; only the
leader sends. Each round it takes the oldest pending notification of each project that has
none in flight, POSTs it to the project's notification_url with the callbacks' HTTP client and
signature (scheduler0.delivery: the same headers, the previous secret's signature during a
rotation's grace period, the same network policy), retries a failed attempt as a callback's
(JobExecutionRetryMax times, backoff from JobExecutionRetryDelay), and commits the outcomes as
one notification.settle command: `sent`, or `failed` once it gives up. A project's
notifications go one at a time and in order, so a receiver sees a job's `job.failed` before its
`job.recovered`.

At least once: a notification sent by a leader that lost its leadership (or stopped) before
the settle committed is sent again by the next leader, with the same Idempotency-Key.

It never holds up anything else: it runs its own event loop in its own thread, not in Raft's;
at most MAX_IN_FLIGHT notifications are in flight, each attempt bounded by
JobExecutionTimeout, and a receiver that hangs holds only its own project's turn.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from scheduler0 import messages, notifications
from scheduler0.clock import SYSTEM_CLOCK, Clock
from scheduler0.config import Settings
from scheduler0.coordinator.ports import Raft
from scheduler0.coordinator.supervised import SupervisedThread
from scheduler0.delivery import target as callback_target
from scheduler0.delivery.core import Chunk, backoff
from scheduler0.errors import Scheduler0Error
from scheduler0.messages import NotificationOutcome, PreviousSecret
from scheduler0.notifications import Outgoing

if TYPE_CHECKING:
    from scheduler0.delivery.client import Deliverer

log = logging.getLogger(__name__)

ROUND_INTERVAL = 0.25  # seconds between looks at the outbox
MAX_IN_FLIGHT = 32  # notifications being sent at once (one per project)
HEADS_PER_ROUND = 256  # projects' oldest pending notifications read per round


class OutboxReader(Protocol):
    """The notifier's reads (scheduler0.store.notification_reads.NotificationReader)."""

    def next_to_send(self, limit: int, now: int) -> list[Outgoing]: ...

    def close(self) -> None: ...


class Notifier(SupervisedThread):
    def __init__(self, settings: Settings, raft: Raft, stopping: threading.Event,
                 reader_factory: Callable[[], OutboxReader], *, clock: Clock = SYSTEM_CLOCK):
        super().__init__("notifier", stopping, clock)
        self.settings = settings
        self.raft = raft
        self._reader_factory = reader_factory
        self._busy: dict[int, asyncio.Task[NotificationOutcome]] = {}  # project -> its send
        self._done: dict[int, NotificationOutcome] = {}  # project -> outcome not committed
        self.stats: dict[str, int] = {"sent": 0, "given_up": 0, "attempts": 0}

    def loop(self) -> None:
        asyncio.run(self._run())

    def status(self) -> dict[str, int]:
        return {**self.stats, "in_flight": len(self._busy), "to_commit": len(self._done)}

    async def _run(self) -> None:
        # Loaded here, in this thread, not when the coordinator starts: aiohttp takes a while
        # to import, and the coordinator must reach its election quickly.
        from scheduler0.delivery.client import Deliverer

        reader = self._reader_factory()
        deliverer = Deliverer(self.settings, now=self.clock.now, monotonic=self.clock.monotonic)
        await deliverer.start()
        try:
            while not self.stopping.is_set():
                self.beat()
                if self.raft.is_leader:
                    await self._round(reader, deliverer)
                else:
                    await self._forget()
                await asyncio.sleep(ROUND_INTERVAL)
        finally:
            await self._forget()
            await deliverer.close()
            reader.close()

    async def _round(self, reader: OutboxReader, deliverer: Deliverer) -> None:
        """Commit what finished, then start the next notification of each idle project."""
        self._collect()
        if self._done and not await self._commit():
            return
        room = MAX_IN_FLIGHT - len(self._busy)
        if room <= 0:
            return
        for outgoing in reader.next_to_send(HEADS_PER_ROUND, int(self.clock.now())):
            project = outgoing.notification.project_id
            if project in self._busy or project in self._done:
                continue
            self._busy[project] = asyncio.create_task(self._send(deliverer, outgoing))
            room -= 1
            if room == 0:
                break

    def _collect(self) -> None:
        for project, task in list(self._busy.items()):
            if task.done():
                del self._busy[project]
                if not task.cancelled():
                    self._done[project] = task.result()

    async def _commit(self) -> bool:
        """Commit the finished outcomes as one command (only as leader); True when done."""
        rows = sorted(self._done.values(), key=lambda row: row.id)
        command = messages.command(messages.NotificationSettle(rows=rows))
        try:
            result = await asyncio.to_thread(self.raft.submit_as_leader, command,
                                             self.settings.write_timeout)
        except Scheduler0Error as exc:
            # Kept: the next round tries again, or the next leader sends them again.
            log.warning("notification outcomes not committed yet (%s)", exc)
            return False
        if not result.get("ok"):  # a bug: they stay pending, and are sent again
            log.error("notification outcomes refused: %s", result.get("error"))
        for row in rows:
            self.stats["sent" if row.delivery == notifications.SENT else "given_up"] += 1
        self._done.clear()
        return True

    async def _forget(self) -> None:
        """Not leading (or stopping): stop sending; the leader sends what was not committed."""
        tasks = list(self._busy.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._busy.clear()
        self._done.clear()

    async def _send(self, deliverer: Deliverer, outgoing: Outgoing) -> NotificationOutcome:
        """Every attempt at one notification; its outcome (never raises but when cancelled)."""
        notification = outgoing.notification
        problem = await deliverer.problem(outgoing.url)
        if problem is not None:  # the network policy changed since the URL was accepted
            log.warning("notification %d refused: %s", notification.id, problem)
            return NotificationOutcome(notification.id, notifications.GIVEN_UP, 0, None, problem)
        chunk = Chunk(url=outgoing.url, project_id=notification.project_id,
                      execution_ids=(notification.key,),
                      body=notifications.body(notification, outgoing.format),
                      key=notification.key)
        previous = (None if outgoing.previous_secret is None else PreviousSecret(
            secret=outgoing.previous_secret, expires_at=outgoing.previous_expires_at or 0))
        retries = self.settings.job_execution_retry_max
        status: int | None = None
        error: str | None = None
        attempt = 0
        while attempt <= retries:
            attempt += 1
            self.stats["attempts"] += 1
            status, error = await self._attempt(deliverer, chunk, outgoing.secret, previous)
            if error is None:
                return NotificationOutcome(notification.id, notifications.SENT, attempt, status)
            if attempt <= retries:
                await asyncio.sleep(backoff(attempt, self.settings.job_execution_retry_delay))
        log.info("notification %d to %s given up after %d attempts: %s", notification.id,
                 callback_target.redact(outgoing.url), attempt, error)
        return NotificationOutcome(notification.id, notifications.GIVEN_UP, attempt, status,
                                   error)

    async def _attempt(self, deliverer: Deliverer, chunk: Chunk, secret: str,
                       previous: PreviousSecret | None) -> tuple[int | None, str | None]:
        """One signed POST through the callbacks' client (its request, headers and signature,
        timed out after JobExecutionTimeout); (status, None) on a 2xx."""
        try:
            # The one place requests are signed and sent: notifications as callbacks are.
            return await deliverer.send_once(chunk, secret, int(self.clock.now()), previous)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not retry forever nor kill the thread
            log.exception("notification %s could not be sent", chunk.key)
            return None, f"internal error ({type(exc).__name__}); see the coordinator log"
