"""Callback delivery against a real HTTP receiver on loopback (scheduler0.delivery.client)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import math
import time
from typing import Any

import pytest

from scheduler0 import config, messages
from scheduler0.delivery import core as delivery_core
from scheduler0.delivery.client import Deliverer, chunk_key, sign, split_chunks
from scheduler0.testing import free_port

try:
    from tests.integration.receiver import Receiver
except ImportError:  # pytest's prepend import mode without the repo root on sys.path
    from receiver import Receiver  # type: ignore[no-redef]

pytestmark = pytest.mark.timeout(60)

SCHEDULED = 1795784400  # 2026-11-27T13:00:00Z
SECRETS = {"1": "secret-of-project-1", "2": "secret-of-project-2"}


def verify_signature(secret: str, headers: dict[str, str], raw_body: bytes,
                     now: float, tolerance: float = 300) -> bool:
    """What a receiver does (as the README shows it): recompute the HMAC over
    timestamp + "." + the raw body, compare in constant time, refuse stale timestamps."""
    timestamp = headers["x-scheduler0-timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + raw_body,
                                    hashlib.sha256).hexdigest()
    fresh = abs(now - int(timestamp)) <= tolerance
    return fresh and hmac.compare_digest(expected, headers["x-scheduler0-signature"])


def execution(n: int, url: str, project_id: int = 1, data: str = "payload",
              scheduled_at: int = SCHEDULED) -> dict[str, Any]:
    return {"execution_id": f"exe-{n:06d}", "id": 1000 + n, "project_id": project_id,
            "scheduled_at": scheduled_at, "spec": "0 13 * * *", "timezone": "Europe/London",
            "data": data, "callback_url": url}


def batch_of(executions: list[dict[str, Any]], fire_at: int = 0) -> messages.Batch:
    """The batch as an executor reads it off its socket."""
    batch = messages.BATCHES.decode_map({
        "v": 1, "type": "batch", "batch_id": "b-1", "fire_at": fire_at, "deadline": fire_at + 60,
        "executions": executions, "signing_secrets": SECRETS})
    assert batch is not None
    return batch


@pytest.fixture
def receiver():
    with Receiver() as rx:
        yield rx


@pytest.fixture
def settings(tmp_path):
    return config.Settings(data_dir=str(tmp_path), node_id=7,
                           callback_allowed_networks=("127.0.0.0/8",),
                           job_execution_timeout=2.0, job_execution_retry_delay=0.05,
                           job_execution_retry_max=3)


def deliver(settings, batch, pieces: list | None = None, **kw: Any) -> list[messages.Outcome]:
    def on_results(results: list[messages.Outcome], final: bool) -> None:
        if pieces is not None:
            pieces.append((results, final))

    async def go() -> list[messages.Outcome]:
        async with Deliverer(settings, **kw) as deliverer:
            return await asyncio.wait_for(deliverer.deliver(batch, on_results), 30)

    return asyncio.run(go())


def by_id(results: list[messages.Outcome]) -> dict[str, messages.Outcome]:
    ids = [r.execution_id for r in results]
    assert len(ids) == len(set(ids)), "an execution was reported twice"
    return {r.execution_id: r for r in results}


# -- the callback itself ----------------------------------------------------------------------


def test_body_and_headers_are_exactly_as_specified(settings, receiver):
    executions = [execution(1, receiver.url("/hook")), execution(2, receiver.url("/hook"))]
    before = time.time()
    results = deliver(settings, batch_of(executions))
    after = time.time()

    [request] = receiver.requests
    assert request.method == "POST" and request.path == "/hook"
    assert request.header("content-type") == "application/json"
    assert request.json == [
        {"id": 1001, "execution_id": "exe-000001", "scheduled_at": "2026-11-27T13:00:00Z",
         "project_id": 1, "spec": "0 13 * * *", "timezone": "Europe/London", "data": "payload",
         "callback_url": receiver.url("/hook")},
        {"id": 1002, "execution_id": "exe-000002", "scheduled_at": "2026-11-27T13:00:00Z",
         "project_id": 1, "spec": "0 13 * * *", "timezone": "Europe/London", "data": "payload",
         "callback_url": receiver.url("/hook")},
    ]
    key = chunk_key(["exe-000001", "exe-000002"])
    assert request.header("idempotency-key") == key
    assert request.header("x-payload-chunk-id") == key
    assert request.header("x-scheduler0-node") == str(settings.node_id)
    assert math.floor(before) <= int(request.header("x-scheduler0-timestamp")) <= after
    assert verify_signature(SECRETS["1"], request.headers, request.body, now=time.time())
    assert not verify_signature(SECRETS["2"], request.headers, request.body, now=time.time())
    assert not verify_signature(SECRETS["1"], request.headers, request.body + b" ",
                                now=time.time())

    got = by_id(results)
    assert set(got) == {"exe-000001", "exe-000002"}
    for result in got.values():
        assert result.state == "succeeded" and result.attempts == 1
        assert result.http_status == 200 and result.error is None
        assert before * 1000 - 1 <= result.started_at_ms <= result.finished_at_ms
        assert result.finished_at_ms <= after * 1000 + 1


def test_one_execution_chunk_uses_the_execution_id_as_its_key(settings, receiver):
    deliver(settings, batch_of([execution(7, receiver.url("/one"))]))
    [request] = receiver.requests
    assert request.header("idempotency-key") == "exe-000007"
    assert request.header("x-payload-chunk-id") == "exe-000007"


def test_groups_by_callback_url_and_project(settings, receiver):
    urls = [receiver.url(f"/hook/{n}") for n in range(3)]
    executions = [execution(n, urls[n % 3]) for n in range(9)]
    executions += [execution(100 + n, urls[0], project_id=2) for n in range(2)]
    results = deliver(settings, batch_of(executions))

    requests = receiver.requests
    assert len(requests) == 4
    groups = {(r.path, r.json[0]["project_id"]): r for r in requests}
    assert set(groups) == {("/hook/0", 1), ("/hook/1", 1), ("/hook/2", 1), ("/hook/0", 2)}
    for (path, project_id), request in groups.items():
        assert {e["callback_url"] for e in request.json} == {receiver.url(path)}
        assert {e["project_id"] for e in request.json} == {project_id}
        assert verify_signature(SECRETS[str(project_id)], request.headers, request.body,
                                now=time.time())
    assert len(groups[("/hook/0", 2)].json) == 2 and len(groups[("/hook/1", 1)].json) == 3
    assert {r.state for r in results} == {"succeeded"} and len(by_id(results)) == 11


def test_chunks_respect_the_size_limit_and_keep_their_keys(settings, receiver):
    settings = dataclasses.replace(settings, http_executor_payload_max_size_mb=0.002)
    limit = int(0.002 * 1024 * 1024)
    executions = [execution(n, receiver.url("/big")) for n in range(100)]
    pieces: list = []
    results = deliver(settings, batch_of(executions), pieces)

    first = receiver.requests
    assert len(first) > 5
    assert all(len(r.body) <= limit for r in first)
    delivered = [e["execution_id"] for r in first for e in r.json]
    assert sorted(delivered) == sorted(e["execution_id"] for e in executions)
    for request in first:
        assert request.header("idempotency-key") == chunk_key(e["execution_id"] for e in request.json)
    assert len(by_id(results)) == 100
    assert [final for _, final in pieces] == [False] * (len(pieces) - 1) + [True]
    assert len(pieces) == len(first)

    deliver(settings, batch_of(executions))  # the same batch again, as a re-dispatch sends it
    second = receiver.requests[len(first):]
    assert sorted(r.header("idempotency-key") for r in second) == sorted(
        r.header("idempotency-key") for r in first)


def test_an_element_bigger_than_the_limit_goes_alone(settings, receiver):
    settings = dataclasses.replace(settings, http_executor_payload_max_size_mb=0.001)
    executions = [execution(1, receiver.url("/x")), execution(2, receiver.url("/x"), data="z" * 3000),
                  execution(3, receiver.url("/x"))]
    results = deliver(settings, batch_of(executions))
    sizes = sorted(len(r.json) for r in receiver.requests)
    assert [len(r.json) for r in receiver.requests if len(r.body) > 1048] == [1]
    assert sum(sizes) == 3
    assert {r.state for r in results} == {"succeeded"}


# -- retries and failures ---------------------------------------------------------------------


def test_retries_a_500_then_succeeds(settings, receiver):
    receiver.respond([500, 503, 200], path="/flaky")
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds)

    [result] = deliver(settings, batch_of([execution(1, receiver.url("/flaky"))]), sleep=sleep)
    assert result.state == "succeeded" and result.attempts == 3
    assert result.http_status == 200 and result.error is None
    requests = receiver.requests
    assert [r.status for r in requests] == [500, 503, 200]
    assert {r.header("idempotency-key") for r in requests} == {"exe-000001"}
    assert waits == [0.05, 0.1]  # the backoff between the three attempts doubles


def test_retries_exhausted_is_failed_with_the_last_status(settings, receiver):
    settings = dataclasses.replace(settings, job_execution_retry_max=2)
    receiver.respond([500] * 10, path="/down")
    deliverer_metrics = delivery_core.Metrics()
    [result] = deliver(settings, batch_of([execution(1, receiver.url("/down"))]),
                       metrics=deliverer_metrics)
    assert result.state == "failed" and result.attempts == 3
    assert result.http_status == 500 and result.error == "HTTP 500"
    assert len(receiver.requests) == 3
    snapshot = deliverer_metrics.snapshot()
    assert (snapshot["failed"], snapshot["retries"], snapshot["posts"]) == (1, 2, 3)


def test_redirects_are_not_followed(settings, receiver):
    settings = dataclasses.replace(settings, job_execution_retry_max=0)
    receiver.respond([302], path="/moved")
    [result] = deliver(settings, batch_of([execution(1, receiver.url("/moved"))]))
    assert (result.state, result.http_status, result.error) == ("failed", 302, "HTTP 302")
    assert [r.path for r in receiver.requests] == ["/moved"]


def test_timeout_is_retried_then_failed(settings, receiver):
    settings = dataclasses.replace(settings, job_execution_timeout=0.3, job_execution_retry_max=1)
    receiver.respond([200, 200], path="/slow", delay=1.5)
    [result] = deliver(settings, batch_of([execution(1, receiver.url("/slow"))]))
    assert result.state == "failed" and result.attempts == 2
    assert result.http_status is None and result.error == "timeout after 0.3 s"
    assert len(receiver.wait_for_requests(2, timeout=5)) == 2


def test_connection_refused_is_failed(settings):
    settings = dataclasses.replace(settings, job_execution_retry_max=1)
    url = f"http://127.0.0.1:{free_port()}/nobody"
    [result] = deliver(settings, batch_of([execution(1, url)]))
    assert result.state == "failed" and result.attempts == 2
    assert result.http_status is None and result.error == "connection refused"


# -- timing and the guard ---------------------------------------------------------------------


def test_not_delivered_before_fire_at(settings, receiver):
    fire_at = math.ceil(time.time()) + 1
    executions = [execution(1, receiver.url("/later"))]
    results = deliver(settings, batch_of(executions, fire_at=fire_at))
    [request] = receiver.requests
    assert request.arrived_at >= fire_at
    assert int(request.header("x-scheduler0-timestamp")) >= fire_at
    assert results[0].started_at_ms >= fire_at * 1000


def test_ssrf_guard_refuses_outside_networks_without_sending(settings, receiver):
    settings = dataclasses.replace(settings, callback_allowed_networks=("10.99.0.0/16",))
    executions = [execution(1, receiver.url("/a")),
                  execution(2, f"http://localhost:{receiver.port}/b")]
    pieces: list = []
    results = by_id(deliver(settings, batch_of(executions), pieces))
    assert results["exe-000001"].error.startswith(
        "host 127.0.0.1 is outside the networks callbacks may reach (10.99.0.0/16)")
    assert results["exe-000002"].error.startswith("host localhost goes to ")
    assert "CallbackAllowedNetworks" in results["exe-000002"].error
    for result in results.values():
        assert (result.state, result.attempts, result.http_status) == ("failed", 0, None)
    assert receiver.requests == []
    assert [final for _, final in pieces] == [True]


def test_ssrf_guard_denies_metadata_and_link_local_by_default(settings, receiver):
    settings = dataclasses.replace(settings, callback_allowed_networks=())
    assert "169.254.0.0/16" in settings.callback_denied_networks
    executions = [execution(1, "http://169.254.169.254/latest/meta-data/"),
                  execution(2, "http://[::ffff:169.254.169.254]/latest/"),
                  execution(3, "http://[fe80::1]:8080/x"),
                  execution(4, receiver.url("/fine"))]
    results = by_id(deliver(settings, batch_of(executions)))
    for n in (1, 2, 3):
        assert (results[f"exe-00000{n}"].state, results[f"exe-00000{n}"].attempts) == (
            "failed", 0)
        assert "CallbackDeniedNetworks" in results[f"exe-00000{n}"].error
    assert results["exe-000004"].state == "succeeded"
    assert [r.path for r in receiver.requests] == ["/fine"]


def test_ssrf_guard_checks_what_a_name_resolves_to(settings, receiver):
    settings = dataclasses.replace(settings, callback_allowed_networks=(),
                                   callback_denied_networks=("127.0.0.0/8", "::1/128"))
    [result] = deliver(settings, batch_of([execution(1, f"http://localhost:{receiver.port}/")]))
    assert (result.state, result.attempts) == ("failed", 0)
    assert result.error.startswith("host localhost goes to ")
    assert "CallbackDeniedNetworks" in result.error
    assert receiver.requests == []


def test_ssrf_guard_lets_allowed_networks_through(settings, receiver):
    assert settings.callback_allowed_networks == ("127.0.0.0/8",)
    [result] = deliver(settings, batch_of([execution(1, receiver.url("/ok"))]))
    assert result.state == "succeeded"


def test_non_http_url_and_malformed_execution_fail_without_sending(settings, receiver):
    bad = execution(2, receiver.url("/x"))
    del bad["spec"]
    results = by_id(deliver(settings, batch_of([execution(1, "ftp://127.0.0.1/x"), bad])))
    assert results["exe-000001"].error.startswith("invalid callback URL: 'ftp://127.0.0.1/x' "
                                                     "is not an absolute http(s) URL")
    assert results["exe-000002"].error == "malformed execution: missing spec"
    assert {r.attempts for r in results.values()} == {0}
    assert receiver.requests == []


def test_lateness_is_measured_from_scheduled_at(settings, receiver):
    metrics = delivery_core.Metrics()
    now = int(time.time())
    deliver(settings, batch_of([execution(1, receiver.url("/l"), scheduled_at=now - 3)]),
            metrics=metrics)
    lateness = metrics.snapshot()["lateness"]
    assert lateness["count"] == 1 and 2 <= lateness["sum"] < 30
    le = lateness["le"]
    assert lateness["counts"][le.index(2.5)] == 0 and lateness["counts"][le.index(30.0)] == 1


# -- the pure helpers -------------------------------------------------------------------------


def test_split_chunks_bounds_every_body():
    elements = [{"n": n, "pad": "x" * (n % 37)} for n in range(500)]
    for limit in (60, 200, 1000, 10_000):
        chunks = split_chunks(elements, limit)
        assert [e for c in chunks for e in c] == elements
        for chunk in chunks:
            body = json.dumps(chunk, separators=(",", ":")).encode()
            assert len(body) <= limit or len(chunk) == 1
    assert split_chunks([], 100) == []


def test_chunk_key_is_order_independent_and_sign_matches_a_known_value():
    assert chunk_key(["b", "a", "c"]) == chunk_key(["c", "b", "a"])
    assert len(chunk_key(["a", "b"])) == 32 and chunk_key(["a", "b"]) != chunk_key(["a", "c"])
    expected = hmac.new(b"s", b"1700000000.[]", hashlib.sha256).hexdigest()
    assert sign("s", 1700000000, b"[]") == "sha256=" + expected


def test_backoff_doubles_and_budget_adds_up():
    assert [delivery_core.backoff(a, 1.0) for a in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert delivery_core.backoff(20, 1.0) == delivery_core.BACKOFF_CAP
    assert delivery_core.delivery_budget(10.0, 1.0, 3) == 4 * 10.0 + 1 + 2 + 4


@pytest.mark.parametrize("overrides", [
    {}, {"data": 'quotes " and \\ and \n and ünïcødé ✓ 𝄞'}, {"spec": "@every 1h30m"},
    {"id": True}, {"id": 2**70}, {"project_id": 12}, {"data": None}, {"timezone": "Amérique/Ñ"},
])
def test_fast_element_encoding_matches_json_dumps(overrides):
    item = {**execution(1, "http://h/ä?q=\"x\""), **overrides}
    typed = messages.Execution(**item)  # as built, unchecked: the fallback must hold too
    text = delivery_core.rfc3339(item["scheduled_at"])
    fast = delivery_core.encode_execution(typed, text, json.dumps(item["callback_url"]))
    assert fast == delivery_core.encode_element(delivery_core.callback_element(typed))
    assert fast.isascii() and json.loads(fast) == {**item, "scheduled_at": "2026-11-27T13:00:00Z"}
