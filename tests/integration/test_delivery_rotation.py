"""Signing-secret rotation as a real HTTP receiver on loopback sees it: during the grace period
every callback carries the new secret's signature and the previous secret's; once it ends, the
new one alone. The Deliverer's clock is a fake moved by the test (no sleeps)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from scheduler0 import config, messages
from scheduler0.delivery.client import Deliverer

try:
    from tests.integration.receiver import Receiver
except ImportError:  # pytest's prepend import mode without the repo root on sys.path
    from receiver import Receiver  # type: ignore[no-redef]

pytestmark = pytest.mark.timeout(60)

NEW, OLD, OTHER = "the-new-secret", "the-old-secret", "project-2-secret"
EXPIRES = 1_900_000_000  # when the old secret's grace period ends (epoch s)



def rotated_batch(url: str) -> messages.Batch:
    """A batch of project 1 (rotated, in its grace period) and project 2 (never rotated), as
    an executor reads it off its socket."""
    executions = [{"execution_id": f"{n}-{EXPIRES}", "id": n, "project_id": n,
                   "scheduled_at": EXPIRES, "spec": "@hourly", "timezone": "UTC", "data": "",
                   "callback_url": f"{url}/{n}"} for n in (1, 2)]
    batch = messages.BATCHES.decode_map({
        "v": 1, "type": "batch", "batch_id": "b-rotation", "fire_at": 0, "deadline": 60,
        "executions": executions, "signing_secrets": {"1": NEW, "2": OTHER},
        "previous_secrets": {"1": {"secret": OLD, "expires_at": EXPIRES}}})
    assert batch is not None
    return batch


class FakeTime:
    """The Deliverer's wall clock; its sleeps (retry backoffs) move it instead of waiting."""

    def __init__(self, now: float) -> None:
        self.now = now

    def read(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def deliver(batch: messages.Batch, time: FakeTime, **settings: Any) -> list[messages.Outcome]:
    chosen = config.Settings(callback_allowed_networks=("127.0.0.0/8",),
                             job_execution_timeout=5.0, job_execution_retry_delay=1.0,
                             **settings)

    async def go() -> list[messages.Outcome]:
        async with Deliverer(chosen, now=time.read, sleep=time.sleep) as deliverer:
            return await asyncio.wait_for(deliverer.deliver(batch), 30)

    return asyncio.run(go())


@pytest.fixture
def receiver():
    with Receiver() as rx:
        yield rx


def test_during_the_grace_period_both_signatures_arrive(receiver: Receiver) -> None:
    results = deliver(rotated_batch(receiver.url("/hook")), FakeTime(EXPIRES - 1))
    assert {r.state for r in results} == {"succeeded"}
    by_path = {r.path: r for r in receiver.requests}
    rotated, untouched = by_path["/hook/1"], by_path["/hook/2"]
    assert rotated.signed_by(NEW, "X-Scheduler0-Signature")
    assert rotated.signed_by(OLD, "X-Scheduler0-Signature-Previous")
    assert not rotated.signed_by(OLD, "X-Scheduler0-Signature")
    # A project that was not rotated has one signature, as before.
    assert untouched.signed_by(OTHER, "X-Scheduler0-Signature")
    assert untouched.header("X-Scheduler0-Signature-Previous") is None


def test_after_the_grace_period_only_the_new_signature_arrives(receiver: Receiver) -> None:
    deliver(rotated_batch(receiver.url("/hook")), FakeTime(EXPIRES))
    [rotated] = [r for r in receiver.requests if r.path == "/hook/1"]
    assert rotated.signed_by(NEW, "X-Scheduler0-Signature")
    assert rotated.header("X-Scheduler0-Signature-Previous") is None


def test_a_retry_after_the_grace_period_ends_drops_the_old_signature(
        receiver: Receiver) -> None:
    receiver.respond([500], path="/hook/1")
    # The first attempt goes out half a second before the end; its backoff (1 s) ends after.
    results = deliver(rotated_batch(receiver.url("/hook")), FakeTime(EXPIRES - 0.5),
                      job_execution_retry_max=1)
    first, retry = [r for r in receiver.requests if r.path == "/hook/1"]
    assert first.signed_by(OLD, "X-Scheduler0-Signature-Previous")
    assert int(retry.header("X-Scheduler0-Timestamp")) >= EXPIRES
    assert retry.header("X-Scheduler0-Signature-Previous") is None
    assert retry.signed_by(NEW, "X-Scheduler0-Signature")
    assert {r.attempts for r in results if r.execution_id == f"1-{EXPIRES}"} == {2}


def test_a_batch_from_a_node_without_rotation_support_has_one_signature(
        receiver: Receiver) -> None:
    # What a leader of the previous release sends: no previous_secrets at all.
    batch = messages.BATCHES.decode_map({
        "v": 1, "type": "batch", "batch_id": "b-old", "fire_at": 0, "deadline": 60,
        "executions": [{"execution_id": "1-1", "id": 1, "project_id": 1, "scheduled_at": 1,
                        "spec": "@hourly", "timezone": "UTC", "data": "",
                        "callback_url": receiver.url("/old")}],
        "signing_secrets": {"1": NEW}})
    assert batch is not None
    deliver(batch, FakeTime(EXPIRES - 100))
    [request] = receiver.requests
    assert request.signed_by(NEW, "X-Scheduler0-Signature")
    assert request.header("X-Scheduler0-Signature-Previous") is None
