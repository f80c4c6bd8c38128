"""`Client`: the API over blocking HTTP; it waits between retries with time.sleep."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar, cast

from scheduler0_client._api import Api
from scheduler0_client._flows import Flow, Outcome, Rows, Send, Step, Walk, exchange
from scheduler0_client._request import Call
from scheduler0_client.errors import TransportError

T = TypeVar("T")


class Client(Api):
    """The scheduler0 API over blocking HTTP, one call at a time per thread (it shares
    nothing between calls, so threads may share a client). Arguments: see Api."""

    def call(self, call: Call[T]) -> T:
        """Send a Call the methods do not cover (`Call("GET", "/summary")`), with the
        client's retries and, for a write, an Idempotency-Key."""
        return self._run(exchange(self.session, call))

    def _run(self, flow: Flow[T]) -> T:
        outcome: Outcome | None = None
        try:
            while True:
                outcome = self._perform(flow.send(outcome))
        except StopIteration as finished:
            return cast(T, finished.value)

    def _iterate(self, pages: Walk[T]) -> Iterator[T]:
        outcome: Outcome | None = None
        try:
            while True:
                try:
                    step = pages.send(outcome)
                except StopIteration:
                    return
                if isinstance(step, Rows):
                    yield from step.items
                    outcome = None
                else:
                    outcome = self._perform(step)
        finally:
            pages.close()  # a caller that stops early leaves no walk suspended

    def _perform(self, step: Step) -> Outcome | None:
        if isinstance(step, Send):
            try:
                return self.session.transport(step.request, self.session.timeout)
            except TransportError as exc:
                return exc
        self.session.clock.sleep(step.seconds)
        return None
