"""The asyncio flavour against the real node: the same calls awaited, the iterators async,
a job created, walked, run and seen delivered, bulk_create split, a bulk operation
followed, calls run concurrently on one loop. Loopback only."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from scheduler0_client import ApiError, AsyncClient, verify_signature

from tests.client.helpers import RecordingTransport, far_job, unique
from tests.integration.receiver import Receiver

T = TypeVar("T")


async def eventually(read: Callable[[], Awaitable[T | None]], timeout: float,
                     what: str) -> T:
    """The first truthy value `read` gives within `timeout` seconds, polled every 50 ms."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await read()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


def test_a_job_made_walked_run_and_delivered_with_the_async_client(
        base_url: str, credential: dict[str, str], receiver: Receiver) -> None:
    async def scenario() -> None:
        client = AsyncClient(base_url, **credential)
        project = await client.create_project(unique("async"))
        job = await client.create_job({"project_id": project["id"], "spec": "0 0 1 1 *",
                                       "callback_url": receiver.url("/async"), "data": "own"})
        others = await client.create_jobs([far_job(project["id"])] * 4)
        walked = [j["id"] async for j in client.iter_jobs(project_id=project["id"], limit=2)]
        assert walked == [job["id"], *(j["id"] for j in others)]
        run = await client.run_job(job["id"], data="now")

        async def succeeded() -> dict[str, Any] | None:
            found = await client.get_execution(run["execution_id"])
            return dict(found) if found["state"] == "succeeded" else None

        done = await eventually(succeeded, 30, "the run-now to succeed")
        assert (done["trigger"], done["attempts"]) == ("manual", 1)
        history = [e["execution_id"] async for e in client.iter_job_executions(job["id"])]
        assert history == [run["execution_id"]]
        delivery = receiver.requests[0]
        assert delivery.json[0]["data"] == "now"
        assert verify_signature(project["signing_secret"], delivery.headers, delivery.body)
        with pytest.raises(ApiError) as missing:
            await client.get_job(987_654_321)
        assert missing.value.status == 404

    asyncio.run(scenario())


def test_bulk_create_and_a_bulk_operation_with_the_async_client(
        base_url: str, credential: dict[str, str]) -> None:
    transport = RecordingTransport()

    async def scenario() -> None:
        client = AsyncClient(base_url, transport=transport, **credential)
        project = await client.create_project(unique("async-bulk"))
        created = await client.bulk_create([far_job(project["id"], paused=False)] * 5,
                                           batch_size=2)
        assert [len(s.body) for s in transport.to("POST", "/api/v1/jobs")] == [2, 2, 1]
        started = await client.start_bulk("pause", ids=[j["id"] for j in created])
        finished = await client.wait_operation(started["operation_id"], timeout=60,
                                               interval=0.1)
        assert (finished["state"], finished["done"]) == ("succeeded", 5)
        # Calls on one loop run at once, each in its own worker thread.
        jobs = await asyncio.gather(*(client.get_job(j["id"]) for j in created))
        assert [j["paused"] for j in jobs] == [True] * 5
        assert (await client.health())["healthy"] is True

    asyncio.run(scenario())
