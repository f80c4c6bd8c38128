"""`AsyncClient`: the API for asyncio. Each request goes out through the same blocking
transport as Client's, in a worker thread (asyncio.to_thread), so the event loop never
blocks on a socket and both flavours send the same bytes; waits are asyncio sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar, cast

from scheduler0_client._api import Api
from scheduler0_client._flows import Flow, Outcome, Rows, Send, Step, Walk, exchange
from scheduler0_client._request import Call
from scheduler0_client.errors import TransportError

T = TypeVar("T")


class AsyncClient(Api):
    """The scheduler0 API for asyncio (arguments: see Api). Every method is a coroutine
    (`await client.get_job(7)`), every `iter_*` an async iterator (`async for job in
    client.iter_jobs(project_id=1)`), with Client's arguments, retries and errors. A
    cancelled call stops waiting at once; a request already in flight still ends in its
    thread (within `timeout`)."""

    async def call(self, call: Call[T]) -> T:
        """Send a Call the methods do not cover (`Call("GET", "/summary")`), with the
        client's retries and, for a write, an Idempotency-Key."""
        return await self._run(exchange(self.session, call))

    async def _run(self, flow: Flow[T]) -> T:
        outcome: Outcome | None = None
        try:
            while True:
                outcome = await self._perform(flow.send(outcome))
        except StopIteration as finished:
            return cast(T, finished.value)

    async def _iterate(self, pages: Walk[T]) -> AsyncIterator[T]:
        outcome: Outcome | None = None
        try:
            while True:
                try:
                    step = pages.send(outcome)
                except StopIteration:
                    return
                if isinstance(step, Rows):
                    for item in step.items:
                        yield item
                    outcome = None
                else:
                    outcome = await self._perform(step)
        finally:
            pages.close()

    async def _perform(self, step: Step) -> Outcome | None:
        if isinstance(step, Send):
            try:
                return await asyncio.to_thread(self.session.transport, step.request,
                                               self.session.timeout)
            except TransportError as exc:
                return exc
        await self.session.clock.async_sleep(step.seconds)
        return None
