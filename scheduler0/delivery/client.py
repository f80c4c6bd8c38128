"""HTTP callback delivery with aiohttp (imported nowhere else): one pooled session per process.

`Deliverer.deliver(batch)` holds a batch until its `fire_at`, POSTs its chunks concurrently
(see delivery_core for the body, headers and keys), retries with doubling backoff and settles
every execution as succeeded or failed:

    2xx (or one of the job's success_codes)  succeeded
    other status, timeout, network error     retried up to JobExecutionRetryMax times (or the
                                             job's retries), then failed
    URL refused before sending               failed at once, attempts 0 (not http(s), no host,
                                             or outside CallbackAllowedNetworks)

A job's own delivery settings (the batch's `deliveries`) replace the node's for its chunks:
method, extra headers (under the server's own), timeout, retries, retry delay, success codes.

Attempts share the process's slots fairly (delivery_core.FairQueue): at most POOL_LIMIT in
flight, at most PER_HOST_LIMIT to one host:port, and a chunk is taken only when its host has a
free slot, round robin over hosts and across every batch the Deliverer is delivering. A receiver
that hangs holds its own host's slots and no others, so the other hosts of the same tick go on
being delivered. A chunk waiting out its retry backoff holds no slot.

Timeouts are per attempt (JobExecutionTimeout, or the job's timeout) and start once a
connection slot is free, so a long queue behind a slow receiver does not count against the
receiver that comes next.
Redirects are not followed and cookies are never kept (one session serves every project).
Logs name a callback by callback_target.redact (no userinfo, no query).
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from scheduler0 import __version__, clock
from scheduler0.config import Settings
from scheduler0.delivery import target as callback_target
from scheduler0.delivery.core import (
    EXECUTION_ID_HEADER,
    PREVIOUS_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
    Chunk,
    FairQueue,
    Metrics,
    backoff,
    chunk_key,
    group_by_destination,
    is_success,
    outcome,
    plan_chunks,
    request_headers,
    sign,
    split_chunks,
)
from scheduler0.delivery.target import CallbackGuard, NetworkPolicy
from scheduler0.messages import Batch, Delivery, Outcome, PreviousSecret

__all__ = ["Deliverer", "Metrics", "backoff", "chunk_key", "group_by_destination",
           "plan_chunks", "sign", "split_chunks"]

log = logging.getLogger(__name__)

POOL_LIMIT = 256  # connections (and attempts in flight) per process
PER_HOST_LIMIT = 64  # of which to one host:port
RESPONSE_READ_LIMIT = 64 * 1024  # bytes of a response read to keep the connection; more: close

ResultsCallback = Callable[[list[Outcome], bool], None]


class _OutsideNetworks(OSError):
    """Raised by the guarded resolver: the address aiohttp would connect to is not allowed."""


class _GuardedResolver(AbstractResolver):
    """Checks the addresses aiohttp actually connects to (a name may re-resolve elsewhere
    between the pre-check and the connection: DNS rebinding)."""

    def __init__(self, policy: NetworkPolicy):
        self._inner = DefaultResolver()
        self._policy = policy

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        infos = await self._inner.resolve(host, port, family)
        problem = self._policy.addresses_problem(host, (info["host"] for info in infos))
        if problem is not None:
            raise _OutsideNetworks(problem)
        return infos

    async def close(self) -> None:
        await self._inner.close()


def describe_error(exc: BaseException, timeout: float) -> str:
    """A short reason for a failed attempt, as stored in the execution history."""
    if isinstance(exc, TimeoutError):
        return f"timeout after {timeout:g} s"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        if isinstance(exc.os_error, _OutsideNetworks):
            return str(exc.os_error)
        return f"cannot resolve host {exc.host}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        if exc.os_error.errno == errno.ECONNREFUSED:
            return "connection refused"
        return f"cannot connect to {exc.host}:{exc.port}: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server disconnected without a response"
    if isinstance(exc, aiohttp.InvalidURL):
        return "invalid callback URL"
    if isinstance(exc, aiohttp.ClientOSError):
        return f"connection error: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"[:200]


@functools.lru_cache(maxsize=256)
def _client_timeout(seconds: float) -> aiohttp.ClientTimeout:
    """The timeout of one attempt: JobExecutionTimeout (the session's), or a job's own."""
    return aiohttp.ClientTimeout(total=seconds)


@functools.lru_cache(maxsize=4096)
def _host_port(url: str) -> str:
    """The connection slot key of a URL that passed `Deliverer.problem`."""
    return callback_target.parse(url).host_port


async def _resolve(host: str) -> list[str]:
    """The guard's resolver here: the event loop's, so a lookup does not block deliveries."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class _Delivery:
    """One deliver() call: its chunks left to settle, the tasks working on them, its outcome."""

    __slots__ = ("cancelled", "done", "emit", "left", "owned", "tasks")

    def __init__(self, emit: _Emitter, chunks: int, done: asyncio.Future[None],
                 owned: Callable[[], Awaitable[bool]] | None = None):
        self.emit = emit
        self.left = chunks
        self.done = done
        self.owned = owned
        self.tasks: set[asyncio.Task[None]] = set()
        self.cancelled = False

    def settle(self, results: list[Outcome]) -> None:
        self.emit(results)
        self.left -= 1
        if self.left == 0 and not self.done.done():
            self.done.set_result(None)

    def fail(self, exc: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(exc)

    def cancel(self) -> None:
        """Stop: its queued chunks are skipped when their turn comes, its tasks cancelled."""
        self.cancelled = True
        for task in list(self.tasks):
            task.cancel()


class _Send:
    """A chunk on its way: where it goes, for which delivery, and its attempts so far."""

    __slots__ = ("attempts", "chunk", "delivery", "previous", "secret", "started_ms")

    def __init__(self, chunk: Chunk, secret: str | None, delivery: _Delivery,
                 previous: PreviousSecret | None = None):
        self.chunk = chunk
        self.secret = secret
        self.previous = previous  # the project's secret before its rotation, in its grace
        self.delivery = delivery
        self.attempts = 0
        self.started_ms = 0


class BatchRevoked(Exception):
    """The batch was placed under a lease this node no longer holds: the leader gave it to
    another node, which delivers it; this one must not."""


class Deliverer:
    """Delivers batches over one aiohttp session. Use inside a running loop:

        async with Deliverer(settings) as deliverer:
            results = await deliverer.deliver(batch, on_results)

    `now` (epoch seconds) and `sleep` are injectable for tests; `metrics` counts everything
    delivered by this instance.
    """

    def __init__(self, settings: Settings, *, now: Callable[[], float] = clock.now,
                 monotonic: Callable[[], float] = clock.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 metrics: Metrics | None = None, pool_limit: int = POOL_LIMIT,
                 per_host_limit: int = PER_HOST_LIMIT,
                 gate: Callable[[Batch], Awaitable[bool]] | None = None):
        self.settings = settings
        self._gate = gate
        self.metrics = metrics or Metrics()
        self._now = now
        self._monotonic = monotonic
        self._sleep = sleep
        self._timeout = settings.job_execution_timeout
        self._max_bytes = max(1, int(settings.http_executor_payload_max_size_mb * 1024 * 1024))
        self._node = str(settings.node_id)
        self._policy = NetworkPolicy.of(settings.callback_allowed_networks,
                                        settings.callback_denied_networks)
        self._pool_limit = pool_limit
        self._per_host_limit = per_host_limit
        self._session: aiohttp.ClientSession | None = None
        self._queue: FairQueue[_Send] = FairQueue(pool_limit, per_host_limit)
        self._deliveries: set[_Delivery] = set()  # deliver() calls with chunks not settled
        self._closed = False
        self._guard = CallbackGuard(self._policy, refuse_unresolved=False, monotonic=monotonic)
        self._unsigned_projects: set[int] = set()

    async def __aenter__(self) -> Deliverer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._pool_limit, limit_per_host=self._per_host_limit, ttl_dns_cache=10,
            resolver=_GuardedResolver(self._policy) if self._policy.restricted else None)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=self._timeout),
            cookie_jar=aiohttp.DummyCookieJar(), trust_env=False,
            headers={"User-Agent": f"scheduler0/{__version__}"})
        self._closed = False

    async def close(self) -> None:
        """Close the session; a deliver() still running raises RuntimeError (a misuse, as with
        a closed aiohttp session)."""
        self._closed = True  # nothing queued starts any more
        for delivery in list(self._deliveries):
            delivery.fail(RuntimeError("the Deliverer was closed during delivery"))
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- a batch ----------------------------------------------------------------------------

    async def deliver(self, batch: Batch,
                      on_results: ResultsCallback | None = None) -> list[Outcome]:
        """Deliver every execution of `batch` no earlier than its `fire_at`; return one result
        per execution (an execution the batch's decoder could not read is reported failed).

        `on_results(results, final)` is called as pieces settle (refusals first, then one call
        per chunk); the last call has final=True. Cancelling the task stops delivery; pieces
        already reported stay reported.
        """
        emit = _Emitter(on_results)
        gate = self._gate
        owned = (lambda: gate(batch)) if gate is not None else None
        unusable = self._unreadable(batch)
        chunks = plan_chunks(batch.executions, self._max_bytes, batch.deliveries)
        refused, chunks = await self._refuse(chunks)
        early = unusable + refused
        emit.expect(len(chunks) + (1 if early or not chunks else 0))
        if early or not chunks:
            emit(early)
        await self._wait_until(batch.fire_at)
        if not chunks:
            return emit.all
        if self._closed:
            raise RuntimeError("the Deliverer is closed")
        if owned is not None and not await owned():
            raise BatchRevoked(batch.batch_id)
        await self._send_all(batch, chunks, _Delivery(
            emit, len(chunks), asyncio.get_running_loop().create_future(), owned))
        return emit.all

    async def _send_all(self, batch: Batch, chunks: list[Chunk], delivery: _Delivery) -> None:
        """Queue every chunk of one batch and wait until the last one settled."""
        for chunk in chunks:
            secret = self._secret(batch.signing_secrets, chunk.project_id)
            previous = batch.previous_secrets.get(str(chunk.project_id))
            self._queue.put(_host_port(chunk.url), _Send(chunk, secret, delivery, previous))
        self._deliveries.add(delivery)
        self._start_sends()
        try:
            await delivery.done
        except BaseException:
            delivery.cancel()
            raise
        finally:
            self._deliveries.discard(delivery)

    def _unreadable(self, batch: Batch) -> list[Outcome]:
        if not batch.unreadable:
            return []
        now_ms = self._now_ms()
        bad = [outcome(u.execution_id, succeeded=False, attempts=0, http_status=None,
                       error=u.reason, started_at_ms=now_ms, finished_at_ms=now_ms)
               for u in batch.unreadable]
        self.metrics.add(failed=len(bad), refused=len(bad))
        return bad

    async def _refuse(self, chunks: list[Chunk]) -> tuple[list[Outcome], list[Chunk]]:
        problems = {url: await self.problem(url) for url in {c.url for c in chunks}}
        if not any(problems.values()) and not any(c.problem for c in chunks):
            return [], chunks
        refused, kept = [], []
        now_ms = self._now_ms()
        for chunk in chunks:
            reason = chunk.problem or problems[chunk.url]
            if reason is None:
                kept.append(chunk)
                continue
            refused += [outcome(eid, succeeded=False, attempts=0, http_status=None, error=reason,
                                started_at_ms=now_ms, finished_at_ms=now_ms)
                        for eid in chunk.execution_ids]
        log.warning("refused %d executions: %s", len(refused), "; ".join(sorted(
            {p for p in (*problems.values(), *(c.problem for c in chunks)) if p})))
        self.metrics.add(failed=len(refused), refused=len(refused))
        return refused, kept

    async def problem(self, url: str) -> str | None:
        """Why callbacks to `url` must not be sent (None: they may), by the guard the API
        applied when the job was written (scheduler0.delivery.target.CallbackGuard). A name
        that does not resolve is let through, so the attempt fails (and is retried) as a DNS
        error."""
        try:
            host = callback_target.parse(url).host
        except callback_target.TargetError as exc:
            return f"invalid callback URL: {exc}"
        return await self._guard.problem_async(host, _resolve)

    def _secret(self, secrets: dict[Any, str], project_id: int) -> str | None:
        secret = secrets.get(str(project_id)) or secrets.get(project_id)
        if secret is None and project_id not in self._unsigned_projects:
            self._unsigned_projects.add(project_id)
            log.warning("no signing secret for project %s: its callbacks go unsigned", project_id)
        return secret

    async def _wait_until(self, at: float) -> None:
        """Never early: sleep again if the loop woke us a hair before `at`."""
        while (delay := at - self._now()) > 0:
            await self._sleep(delay)

    # -- a chunk ----------------------------------------------------------------------------

    def _start_sends(self) -> None:
        """Start an attempt for every chunk that may go now (its host has a free slot)."""
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        while (taken := self._queue.take()) is not None:
            host, send = taken
            if send.delivery.cancelled:
                self._queue.release(host)
                continue
            task = loop.create_task(self._send(host, send))
            send.delivery.tasks.add(task)
            task.add_done_callback(send.delivery.tasks.discard)

    async def _send(self, host: str, send: _Send) -> None:
        """One attempt of a chunk (its slot already held), then its backoff and requeue or its
        outcome. A bug here fails the whole delivery rather than leaving it waiting."""
        try:
            try:
                if send.delivery.owned is not None and not await send.delivery.owned():
                    send.delivery.fail(BatchRevoked("its lease moved on"))
                    return
                status, error = await self._attempt_once(send)
            finally:
                self._queue.release(host)
                self._start_sends()
            self.metrics.add(posts=1)
            delivery = send.chunk.delivery
            if error is not None and send.attempts <= self._retry_max(delivery):
                self.metrics.add(retries=1)
                await self._sleep(backoff(send.attempts, self._retry_delay(delivery)))
                self._queue.put(host, send, first=True)
                self._start_sends()
                return
            send.delivery.settle(self._outcomes(send, status, error))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            send.delivery.fail(exc)

    async def _attempt_once(self, send: _Send) -> tuple[int | None, str | None]:
        send.attempts += 1
        sent_at = self._now()
        if send.attempts == 1:
            send.started_ms = int(sent_at * 1000)
            for scheduled_at, count in send.chunk.ticks:
                self.metrics.observe_lateness(sent_at - scheduled_at, count)
        return await self.send_once(send.chunk, send.secret, int(sent_at), send.previous)

    def _outcomes(self, send: _Send, status: int | None,
                  error: str | None) -> list[Outcome]:
        chunk = send.chunk
        finished_ms = self._now_ms()
        n = len(chunk.execution_ids)
        self.metrics.add(chunks=1, **({"delivered": n} if error is None else {"failed": n}))
        if error is not None:
            log.info("chunk %s to %s failed after %d attempts: %s", chunk.key,
                     callback_target.redact(chunk.url), send.attempts, error)
        return [outcome(eid, succeeded=error is None, attempts=send.attempts, http_status=status,
                        error=error, started_at_ms=send.started_ms, finished_at_ms=finished_ms)
                for eid in chunk.execution_ids]

    async def send_once(self, chunk: Chunk, secret: str | None, timestamp: int,
                        previous: PreviousSecret | None = None) -> tuple[int | None, str | None]:
        """Send `chunk` in one request, with no retry: (status, None) on success (2xx, or the
        job's success codes), else (status or None, the reason).

        The request is signed with `secret` at `timestamp` (epoch s; None: unsigned), and
        with `previous` too while its grace period lasts. When the network policy restricts
        callbacks, the session's resolver checks every address it connects to against it
        (SSRF; checked at connect, so a name that re-resolves elsewhere cannot slip past
        `problem`, the pre-check) and the attempt fails naming the refused address. Retries,
        backoff and metrics are the caller's (deliver's, or the notifier's)."""
        assert self._session is not None, "Deliverer.start() was not awaited"
        delivery = chunk.delivery
        if delivery is None:  # the usual chunk: the node's settings, a POST
            return await self._request("POST", chunk, self._headers(chunk, secret, timestamp,
                                                                    previous), None, None)
        headers = {**request_headers(delivery),
                   **self._headers(chunk, secret, timestamp, previous)}
        if chunk.method == "GET":  # no body: the execution is named by a header
            del headers["Content-Type"]
            headers[EXECUTION_ID_HEADER] = chunk.key
        return await self._request(chunk.method, chunk, headers, delivery.timeout, delivery)

    def _headers(self, chunk: Chunk, secret: str | None, timestamp: int,
                 previous: PreviousSecret | None) -> dict[str, str]:
        """The headers the server sets on every request of `chunk` (they win over a job's)."""
        headers = {"Content-Type": "application/json", "Idempotency-Key": chunk.key,
                   "X-Payload-Chunk-Id": chunk.key, "X-Scheduler0-Node": self._node,
                   "X-Scheduler0-Timestamp": str(timestamp)}
        if secret is not None:
            signed = chunk.signed
            headers[SIGNATURE_HEADER] = sign(secret, timestamp, signed)
            # During a rotation's grace period a receiver may still hold only the old secret.
            if previous is not None and timestamp < previous.expires_at:
                headers[PREVIOUS_SIGNATURE_HEADER] = sign(previous.secret, timestamp, signed)
        return headers

    async def _request(self, method: str, chunk: Chunk, headers: dict[str, str],
                       timeout: float | None, delivery: Delivery | None
                       ) -> tuple[int | None, str | None]:
        assert self._session is not None
        limit = self._timeout if timeout is None else timeout
        try:
            async with self._session.request(
                    method, chunk.url, data=chunk.body if method != "GET" else None,
                    headers=headers, allow_redirects=False,
                    timeout=_client_timeout(limit)) as response:
                status = response.status
                await _discard_body(response)
        except (TimeoutError, aiohttp.ClientError) as exc:
            return None, describe_error(exc, limit)
        except (OSError, ValueError) as exc:  # odd URLs and sockets aiohttp does not wrap
            return None, describe_error(exc, limit)
        if is_success(status, delivery):
            return status, None
        if delivery is not None and delivery.success_codes is not None and 200 <= status < 300:
            return status, f"HTTP {status} (not one of the job's success_codes)"
        return status, f"HTTP {status}"

    def _retry_max(self, delivery: Delivery | None) -> int:
        if delivery is None or delivery.retries is None:
            return self.settings.job_execution_retry_max
        return delivery.retries

    def _retry_delay(self, delivery: Delivery | None) -> float:
        if delivery is None or delivery.retry_delay is None:
            return self.settings.job_execution_retry_delay
        return delivery.retry_delay

    def _now_ms(self) -> int:
        return int(self._now() * 1000)


async def _discard_body(response: aiohttp.ClientResponse) -> None:
    """Read a small body so the connection goes back to the pool; drop it if the body is big.
    The status has arrived, so a failure here does not make the attempt a failure."""
    remaining = RESPONSE_READ_LIMIT
    try:
        while remaining > 0:
            data = await response.content.read(remaining)
            if not data:
                return
            remaining -= len(data)
    except (TimeoutError, aiohttp.ClientError, OSError):
        pass
    response.close()


class _Emitter:
    """Calls on_results for each settled piece, flagging the last one final; keeps them all."""

    def __init__(self, on_results: ResultsCallback | None):
        self._on_results = on_results
        self._left = 0
        self.all: list[Outcome] = []

    def expect(self, pieces: int) -> None:
        self._left = pieces

    def __call__(self, results: list[Outcome]) -> None:
        self._left -= 1
        self.all += results
        if self._on_results is not None:
            self._on_results(results, self._left <= 0)
