"""One receiver that never answers must not delay the others (scheduler0.delivery.client's FairQueue).

A real Deliverer with its real aiohttp session posts to a real receiver on one port and to a
blackhole on another: a loopback socket that accepts connections and never answers. The
per-host key is host:port, so they are two hosts. Every assertion is about order (the healthy
result settles while every hanging chunk is still pending), never about elapsed time: the
attempt timeout is far longer than any wait here, so no hanging chunk can settle on its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import select
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from scheduler0 import config, messages
from scheduler0.delivery.client import PER_HOST_LIMIT, Deliverer

try:
    from tests.integration.receiver import Receiver
except ImportError:  # pytest's prepend import mode without the repo root on sys.path
    from receiver import Receiver  # type: ignore[no-redef]

pytestmark = pytest.mark.timeout(60)

HANGING_CHUNKS = 300  # more than the old per-batch pool of 256 chunk workers
NEVER = 600.0  # JobExecutionTimeout: no hanging attempt times out while a test runs
WAIT = 20.0  # seconds any one condition below may take


class Blackhole:
    """Listens on 127.0.0.1:<port 0>, accepts every connection and never reads or answers."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.port: int = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name="blackhole", daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._held)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select([self._listener], [], [], 0.05)
            if readable:
                conn, _ = self._listener.accept()
                with self._lock:
                    self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        with self._lock:
            for conn in self._held:
                conn.close()


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    hole = Blackhole()
    try:
        yield hole
    finally:
        hole.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as rx:
        yield rx


@pytest.fixture
def settings(tmp_path) -> config.Settings:
    return config.Settings(data_dir=str(tmp_path), node_id=7,
                           callback_allowed_networks=("127.0.0.0/8",),
                           job_execution_timeout=NEVER, job_execution_retry_delay=0.05,
                           job_execution_retry_max=0)


def execution(n: int, url: str) -> dict[str, Any]:
    return {"execution_id": f"exe-{n:06d}", "id": 1000 + n, "project_id": 1,
            "scheduled_at": 1795784400, "spec": "@every 1m", "timezone": "UTC",
            "data": "payload", "callback_url": url}


def batch_of(batch_id: str, executions: list[dict[str, Any]]) -> messages.Batch:
    """The batch as an executor reads it off its socket."""
    batch = messages.BATCHES.decode_map({
        "v": 1, "type": "batch", "batch_id": batch_id, "fire_at": 0, "deadline": 60,
        "executions": executions, "signing_secrets": {"1": "secret"}})
    assert batch is not None
    return batch


def hanging(hole: Blackhole, count: int, first: int = 0) -> list[dict[str, Any]]:
    """One chunk each: every execution has its own path on the blackhole."""
    return [execution(n, hole.url(f"/hang/{n}")) for n in range(first, first + count)]


class Settled:
    """Every result reported through on_results, in the order they settled."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.results: dict[str, messages.Outcome] = {}

    def __call__(self, results: list[messages.Outcome], final: bool) -> None:
        for result in results:
            self.ids.append(result.execution_id)
            self.results[result.execution_id] = result


async def until(predicate: Callable[[], Any], what: str, timeout: float = WAIT) -> None:
    """Wait for a condition inside the loop; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


async def stop(*tasks: asyncio.Task[Any]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def test_a_hanging_host_does_not_hold_back_a_healthy_one_in_the_same_batch(
        settings, receiver, blackhole):
    # The healthy execution comes last, behind every hanging chunk of its batch.
    healthy = execution(9999, receiver.url("/healthy"))
    batch = batch_of("b-mixed", [*hanging(blackhole, HANGING_CHUNKS), healthy])
    settled = Settled()

    async def go() -> None:
        async with Deliverer(settings) as deliverer:
            task = asyncio.create_task(deliverer.deliver(batch, settled))
            try:
                await until(lambda: healthy["execution_id"] in settled.results,
                            "the healthy chunk's result")
                await until(lambda: blackhole.connections >= PER_HOST_LIMIT,
                            "the hanging host to fill its own slots")
                assert not task.done()
                assert settled.ids == [healthy["execution_id"]]  # no hanging chunk settled
            finally:
                await stop(task)

    asyncio.run(go())
    assert settled.results[healthy["execution_id"]].state == "succeeded"
    assert [r.path for r in receiver.requests] == ["/healthy"]
    assert blackhole.connections == PER_HOST_LIMIT  # its own slots, not one more


def test_a_hanging_host_does_not_hold_back_another_batch(settings, receiver, blackhole):
    stuck = batch_of("b-stuck", hanging(blackhole, HANGING_CHUNKS))
    healthy = execution(9999, receiver.url("/healthy"))
    later = batch_of("b-later", [*hanging(blackhole, 50, first=HANGING_CHUNKS), healthy])
    settled_stuck, settled_later = Settled(), Settled()

    async def go() -> None:
        async with Deliverer(settings) as deliverer:
            first = asyncio.create_task(deliverer.deliver(stuck, settled_stuck))
            second: asyncio.Task[Any] | None = None
            try:
                await until(lambda: blackhole.connections >= PER_HOST_LIMIT,
                            "the first batch to fill the hanging host's slots")
                second = asyncio.create_task(deliverer.deliver(later, settled_later))
                await until(lambda: healthy["execution_id"] in settled_later.results,
                            "the second batch's healthy result")
                assert settled_stuck.ids == [] and settled_later.ids == [healthy["execution_id"]]
                assert not first.done() and not second.done()
            finally:
                await stop(first, *([second] if second else []))

    asyncio.run(go())
    assert settled_later.results[healthy["execution_id"]].state == "succeeded"
    # One host's limit is shared by every batch of the Deliverer.
    assert blackhole.connections == PER_HOST_LIMIT


def test_a_chunk_in_its_retry_backoff_holds_no_slot(settings, receiver):
    # One slot for the host: while /flaky waits out its backoff, /next must get the slot.
    settings = dataclasses.replace(settings, job_execution_timeout=10.0, job_execution_retry_max=1)
    receiver.respond([500], path="/flaky")
    order: list[str] = []
    release = asyncio.Event()

    async def sleep(seconds: float) -> None:  # the backoff: it lasts until /next has settled
        await release.wait()

    def on_results(results: list[messages.Outcome], final: bool) -> None:
        order.extend(r.execution_id for r in results)
        release.set()

    batch = batch_of("b-backoff", [execution(1, receiver.url("/flaky")),
                                   execution(2, receiver.url("/next"))])

    async def go() -> list[messages.Outcome]:
        async with Deliverer(settings, sleep=sleep, per_host_limit=1) as deliverer:
            return await asyncio.wait_for(deliverer.deliver(batch, on_results), WAIT)

    results = {r.execution_id: r for r in asyncio.run(go())}
    assert order == ["exe-000002", "exe-000001"]
    assert [r.path for r in receiver.requests] == ["/flaky", "/next", "/flaky"]
    assert (results["exe-000001"].state, results["exe-000001"].attempts) == ("succeeded", 2)
    assert results["exe-000002"].state == "succeeded"
