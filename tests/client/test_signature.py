"""verify_signature on what a real node delivers: a callback's headers and raw body as the
receiver got them are accepted; a changed body, a stale timestamp, a replay, another
secret are refused, each for its reason; a GET callback (signed over its execution id) and
a rotation's previous signature pass too."""

from __future__ import annotations

import pytest
from scheduler0_client import Client, ReplayCache, SignatureError, check_signature, verify_signature

from scheduler0.testing import wait_for
from tests.client.helpers import unique
from tests.integration.receiver import Receiver, Recorded


def first_delivery(client: Client, receiver: Receiver, **job: object) -> tuple[Recorded, str]:
    """A project, a job delivering to `receiver` every second, and its first request with
    the project's signing secret."""
    project = client.create_project(unique("signed"))
    client.create_job({"project_id": project["id"], "spec": "@every 1s",
                       "callback_url": receiver.url("/signed"), **job})
    request = receiver.wait_for_requests(1, timeout=30)[0]
    return request, project["signing_secret"]


def reason(secret: str, request: Recorded, body: bytes | None = None, **options: object) -> str:
    with pytest.raises(SignatureError) as refused:
        check_signature(secret, request.headers, request.body if body is None else body,
                        **options)
    return refused.value.reason


def test_a_real_delivery_is_accepted_and_its_alterations_refused(
        client: Client, receiver: Receiver) -> None:
    request, secret = first_delivery(client, receiver, data="payload")
    timestamp = int(request.headers["x-scheduler0-timestamp"])
    assert verify_signature(secret, request.headers, request.body)
    verified = check_signature(secret, request.headers, request.body)
    assert (verified.header, verified.timestamp) == ("X-Scheduler0-Signature", timestamp)

    tampered = request.body.replace(b'"payload"', b'"PAYLOAD"')
    assert tampered != request.body
    assert not verify_signature(secret, request.headers, tampered)
    assert reason(secret, request, tampered) == "bad_signature"
    assert reason("0" * 64, request) == "bad_signature"
    assert verify_signature(["0" * 64, secret], request.headers, request.body)  # either held

    assert not verify_signature(secret, request.headers, request.body, now=timestamp + 301)
    assert reason(secret, request, now=timestamp + 301) == "stale_timestamp"
    assert reason(secret, request, now=timestamp - 301) == "stale_timestamp"  # from the future
    assert verify_signature(secret, request.headers, request.body, now=timestamp + 300)
    assert reason(secret, request, now=timestamp + 11, tolerance=10) == "stale_timestamp"

    unsigned = {k: v for k, v in request.headers.items() if k != "x-scheduler0-signature"}
    with pytest.raises(SignatureError) as missing:
        check_signature(secret, unsigned, request.body)
    assert missing.value.reason == "missing_signature"
    no_time = {k: v for k, v in request.headers.items() if k != "x-scheduler0-timestamp"}
    assert not verify_signature(secret, no_time, request.body)


def test_a_replay_is_refused_and_the_next_delivery_accepted(
        client: Client, receiver: Receiver) -> None:
    request, secret = first_delivery(client, receiver)
    cache = ReplayCache()
    assert verify_signature(secret, request.headers, request.body, replay_cache=cache)
    assert not verify_signature(secret, request.headers, request.body, replay_cache=cache)
    assert reason(secret, request, replay_cache=cache) == "replayed"
    later = receiver.wait_for_requests(2, timeout=30)[1]  # the next tick: a request of its own
    assert verify_signature(secret, later.headers, later.body, replay_cache=cache)
    assert len(cache) == 2
    cache.forget(check_signature(secret, request.headers, request.body).replay_key)
    assert verify_signature(secret, request.headers, request.body, replay_cache=cache)


def test_a_get_callback_is_verified_over_its_execution_id(
        client: Client, receiver: Receiver) -> None:
    request, secret = first_delivery(client, receiver, method="GET")
    assert (request.method, request.body) == ("GET", b"")
    assert verify_signature(secret, request.headers, request.body)
    other = {**request.headers, "x-scheduler0-execution-id": "1-1"}
    assert not verify_signature(secret, other, request.body)


def test_during_a_rotation_either_secret_verifies(client: Client, receiver: Receiver) -> None:
    project = client.create_project(unique("rotation"))
    old = project["signing_secret"]
    new = client.rotate_signing_secret(project["id"], grace_seconds=600)["signing_secret"]
    client.create_job({"project_id": project["id"], "spec": "@every 1s",
                       "callback_url": receiver.url("/rotated")})
    request = wait_for(lambda: next((r for r in receiver.requests
                                     if r.header("X-Scheduler0-Signature-Previous")), None),
                       timeout=30, message="a callback signed with both secrets")
    assert check_signature(new, request.headers, request.body).header == "X-Scheduler0-Signature"
    assert check_signature(old, request.headers, request.body).header == (
        "X-Scheduler0-Signature-Previous")
