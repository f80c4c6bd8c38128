"""What a client does, written once, as generators that yield steps instead of doing I/O:
`Send` a request (the driver sends back its Response, or the TransportError raised instead)
and `Wait` some seconds; a list walk also yields `Rows` for the caller. The sync client
drives them with a blocking send and time.sleep, the async client with a thread and
asyncio.sleep (scheduler0_client.sync, .aio): that is all the two flavours differ in.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from scheduler0_client._calls.jobs import MAX_BODY_BYTES, MAX_JOBS_PER_REQUEST, batches, create_jobs
from scheduler0_client._calls.operations import get_operation
from scheduler0_client._request import Call
from scheduler0_client._retry import Attempts
from scheduler0_client._session import MAX_IDEMPOTENCY_KEY, Request, Response, Session
from scheduler0_client.errors import ApiError, BulkCreateError, PaginationError, TransportError
from scheduler0_client.types import Job, NewJob, Operation, Page

T = TypeVar("T")
PAGE_SIZE = 1000  # the server's largest page: the fewest requests for a walk


@dataclass(frozen=True)
class Send:
    request: Request


@dataclass(frozen=True)
class Wait:
    seconds: float


@dataclass(frozen=True)
class Rows(Generic[T]):
    items: list[T]


Step = Send | Wait
Outcome = Response | TransportError  # what a Send step is answered with
Flow = Generator[Step, Outcome | None, T]
Walk = Generator[Step | Rows[T], Outcome | None, None]


def exchange(session: Session, call: Call[T]) -> Flow[T]:
    """Send `call` until it succeeds, fails for good, or the retry budget is spent. The
    request is prepared once: every attempt of a write carries the same Idempotency-Key,
    so the server answers a retry with the first attempt's result instead of applying it
    twice."""
    request = session.prepare(call)
    attempts = Attempts(session.retry, session.clock)
    while True:
        outcome = yield Send(request)
        assert outcome is not None, "a Send step is answered with its outcome"
        delay = _delay_before_retry(session, attempts, outcome)
        if delay is None:
            if isinstance(outcome, TransportError):
                raise outcome
            return session.result(call, outcome)
        yield Wait(delay)


def _delay_before_retry(session: Session, attempts: Attempts, outcome: Outcome) -> float | None:
    """Seconds to wait before trying again, or None: `outcome` is the call's last."""
    if isinstance(outcome, TransportError):
        return attempts.delay_after_failure(None) if session.retry.retry_transport_errors else None
    if outcome.status not in session.retry.statuses:
        return None
    return attempts.delay_after_failure(session.retry_after(outcome))


def walk(session: Session, build: Callable[..., Call[Page[T]]], args: Sequence[Any],
         kwargs: Mapping[str, Any]) -> Walk[T]:
    """Every row of the list `build` reads, page after page by the keyset cursor, which
    neither skips nor repeats a row while rows are added. `limit` is the page size (the
    largest by default); `after` or `offset` says where to start."""
    arguments: dict[str, Any] | None = {
        "limit": PAGE_SIZE, **{name: value for name, value in kwargs.items() if value is not None}}
    while arguments is not None:
        page = yield from exchange(session, build(*args, **arguments))
        yield Rows(page.items)
        arguments = next_page_arguments(arguments, page)


def next_page_arguments(arguments: Mapping[str, Any], page: Page[Any]) -> dict[str, Any] | None:
    """The arguments of the page after `page`, or None after the last. A page may be empty
    and not the last (a filter's bounded scan stopped first): the walk goes on."""
    if page.next_after is None:
        return None
    if arguments.get("after") is not None and str(arguments["after"]) == page.next_after:
        raise PaginationError(f"the list answered the cursor {page.next_after!r} again; "
                              "stopping rather than reading the same page for ever")
    following = {name: value for name, value in arguments.items() if name != "offset"}
    following["after"] = page.next_after
    return following


def bulk_create(session: Session, jobs: Sequence[NewJob], *,
                batch_size: int = MAX_JOBS_PER_REQUEST, max_body_bytes: int = MAX_BODY_BYTES,
                idempotency_key: str | None = None) -> Flow[list[Job]]:
    """Create `jobs`, in order, in requests of at most `batch_size` jobs (the server takes
    10,000 at most) whose bodies stay within `max_body_bytes` (its ApiMaxBodyMb), one after
    another. Each request is all or nothing; BulkCreateError says how far it got.

    Request i carries the key `<idempotency_key>-<i>`: calling again with the same key and
    the same jobs (within the hour the server remembers keys) answers the requests that went
    through with their first result and sends only the rest."""
    base = idempotency_key or uuid.uuid4().hex
    if len(base) > MAX_IDEMPOTENCY_KEY - 8:  # room for "-<request number>"
        raise ValueError(f"idempotency_key: at most {MAX_IDEMPOTENCY_KEY - 8} characters for "
                         "bulk_create, which adds the request's number to it")
    created: list[Job] = []
    for index, run in enumerate(batches(jobs, batch_size, max_body_bytes)):
        call = create_jobs(run, idempotency_key=f"{base}-{index}")
        try:
            created += yield from exchange(session, call)
        except (ApiError, TransportError) as exc:
            raise BulkCreateError(created, len(created), exc) from exc
    return created


def wait_operation(session: Session, operation_id: int, *, timeout: float = 300.0,
                   interval: float = 0.5) -> Flow[Operation]:
    """The bulk operation once it is no longer running (succeeded or failed: see its
    `errors`); TimeoutError if it still runs after `timeout` seconds."""
    deadline = session.clock.monotonic() + timeout
    while True:
        operation = yield from exchange(session, get_operation(operation_id))
        if operation["state"] != "running":
            return operation
        if session.clock.monotonic() + interval > deadline:
            raise TimeoutError(f"operation {operation_id} still running after {timeout} s "
                               f"({operation['done']} of {operation['total']} jobs done)")
        yield Wait(interval)
