"""A job's own delivery settings against a real HTTP receiver on loopback: first the executor's
Deliverer alone, then a real node (API -> Raft -> SQLite -> planner -> batch -> executor ->
receiver), each setting shown on the wire: the method as it arrives, extra headers beside an
intact signature, a timeout shorter than the node's, the retries and their delay, success codes,
and jobs of one tick to one URL each delivered with their own settings."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections import Counter
from typing import Any

import pytest

from scheduler0 import config, messages
from scheduler0.delivery.client import Deliverer
from scheduler0.testing import wait_for
from tests.integration.receiver import Receiver

pytestmark = pytest.mark.timeout(120)

SCHEDULED = 1795784400
SECRET = "secret-of-project-1"


@pytest.fixture
def receiver():
    with Receiver() as rx:
        yield rx


@pytest.fixture
def settings(tmp_path):
    """The node's own settings: generous, so that any job's tighter ones show."""
    return config.Settings(data_dir=str(tmp_path), node_id=7,
                           callback_allowed_networks=("127.0.0.0/8",),
                           job_execution_timeout=10.0, job_execution_retry_delay=0.05,
                           job_execution_retry_max=3)


def execution(n: int, url: str, delivery: int | None = None, data: str = "payload"
              ) -> messages.Execution:
    return messages.Execution(execution_id=f"{n}-{SCHEDULED}", id=n, project_id=1,
                              scheduled_at=SCHEDULED, spec="@every 1m", timezone="UTC",
                              data=data, callback_url=url, delivery=delivery)


def deliver(settings: config.Settings, executions: list[messages.Execution],
            deliveries: list[messages.Delivery], **kw: Any) -> dict[str, messages.Outcome]:
    batch = messages.Batch(batch_id="b", fire_at=0, deadline=60, executions=executions,
                           signing_secrets={"1": SECRET}, deliveries=deliveries)

    async def go() -> list[messages.Outcome]:
        async with Deliverer(settings, **kw) as deliverer:
            return await asyncio.wait_for(deliverer.deliver(batch), 60)

    return {r.execution_id: r for r in asyncio.run(go())}


def signed(request: Any, secret: str, over: bytes) -> bool:
    mac = hmac.new(secret.encode(), request.header("x-scheduler0-timestamp").encode() + b"."
                   + over, hashlib.sha256)
    return hmac.compare_digest("sha256=" + mac.hexdigest(),
                               request.header("x-scheduler0-signature") or "")


# -- the Deliverer ------------------------------------------------------------------------------


def test_put_sends_the_body_get_sends_none_and_names_its_execution(settings, receiver):
    url = receiver.url("/m")
    results = deliver(settings, [execution(1, url, 0), execution(2, url, 0),
                                 execution(3, url, 1, data=""), execution(4, url, 1, data="")],
                      [messages.Delivery(method="PUT"), messages.Delivery(method="GET")])
    assert {r.state for r in results.values()} == {"succeeded"}
    by_method = Counter(r.method for r in receiver.requests)
    assert by_method == {"PUT": 1, "GET": 2}
    [put] = [r for r in receiver.requests if r.method == "PUT"]
    assert [e["id"] for e in put.json] == [1, 2] and put.signed_by(SECRET)
    assert put.header("content-type") == "application/json"
    for get in (r for r in receiver.requests if r.method == "GET"):
        ident = get.header("x-scheduler0-execution-id")
        assert get.body == b"" and get.header("content-length") in (None, "0")
        assert get.header("content-type") is None
        assert ident in (f"3-{SCHEDULED}", f"4-{SCHEDULED}")
        assert get.header("idempotency-key") == get.header("x-payload-chunk-id") == ident
        # The signature covers the execution id in place of the body, and nothing else does.
        assert signed(get, SECRET, ident.encode()) and get.signed_by(SECRET)
        assert not signed(get, SECRET, b"")


def test_headers_arrive_and_the_servers_own_cannot_be_replaced(settings, receiver):
    """Even a batch whose settings name the server's headers (the API refuses them; a faulty
    sender might not) gets the server's: the signature still verifies."""
    forged = messages.Delivery(headers=(
        ("Authorization", "Bearer t0k3n"), ("X-Tenant", "acme"),
        ("X-Scheduler0-Signature", "sha256=forged"), ("x-scheduler0-timestamp", "1"),
        ("IDEMPOTENCY-KEY", "forged"), ("Content-Type", "text/plain")))
    deliver(settings, [execution(1, receiver.url("/h"), 0)], [forged])
    [request] = receiver.requests
    assert request.header("authorization") == "Bearer t0k3n"
    assert request.header("x-tenant") == "acme"
    assert request.signed_by(SECRET)
    assert request.header("idempotency-key") == f"1-{SCHEDULED}"
    assert request.header("content-type") == "application/json"
    assert int(request.header("x-scheduler0-timestamp")) > 1


def test_a_jobs_timeout_shorter_than_the_nodes_fails_a_slow_receiver(settings, receiver):
    receiver.respond([200] * 5, path="/slow", delay=2.0)  # the node's 10 s would wait for it
    results = deliver(settings, [execution(1, receiver.url("/slow"), 0)],
                      [messages.Delivery(timeout=0.3, retries=1)])
    [result] = results.values()
    assert (result.state, result.attempts, result.error) == ("failed", 2, "timeout after 0.3 s")
    assert len(receiver.wait_for_requests(2, timeout=5)) == 2


def test_a_jobs_retries_and_retry_delay_replace_the_nodes(settings, receiver):
    receiver.respond([500] * 20, path="/down")
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(min(seconds, 0.05))

    url = receiver.url("/down")
    results = deliver(settings, [execution(1, url, 0), execution(2, url, 1)],
                      [messages.Delivery(retries=1, retry_delay=0.2),
                       messages.Delivery(retries=0)], sleep=sleep)
    assert (results[f"1-{SCHEDULED}"].attempts, results[f"2-{SCHEDULED}"].attempts) == (2, 1)
    assert waits == [0.2]  # one retry, after the job's delay (not the node's 0.05)
    assert Counter(tuple(e["id"] for e in r.json) for r in receiver.requests) == {
        (1,): 2, (2,): 1}


def test_success_codes_decide_what_succeeded(settings, receiver):
    receiver.respond([404] * 5, path="/gone")
    codes = messages.Delivery(success_codes=(404,), retries=0)
    results = deliver(settings, [execution(1, receiver.url("/gone"), 0),
                                 execution(2, receiver.url("/ok"), 0),
                                 execution(3, receiver.url("/gone"))], [codes])
    one, two, three = (results[f"{n}-{SCHEDULED}"] for n in (1, 2, 3))
    assert (one.state, one.http_status, one.error) == ("succeeded", 404, None)
    assert (two.state, two.http_status, two.attempts) == ("failed", 200, 1)
    assert two.error == "HTTP 200 (not one of the job's success_codes)"
    assert (three.state, three.error, three.attempts) == ("failed", "HTTP 404", 4)  # the node's


def test_a_batch_naming_settings_it_lacks_is_reported_not_sent(settings, receiver):
    results = deliver(settings, [execution(1, receiver.url("/x"), 3),
                                 execution(2, receiver.url("/x"))], [])
    bad, good = results[f"1-{SCHEDULED}"], results[f"2-{SCHEDULED}"]
    assert (bad.state, bad.attempts) == ("failed", 0) and "malformed batch" in bad.error
    assert good.state == "succeeded"
    assert [[e["id"] for e in r.json] for r in receiver.requests] == [[2]]


# -- a real node --------------------------------------------------------------------------------


def test_each_job_is_delivered_with_its_own_settings_on_a_real_node(node_factory):
    node = node_factory(JobExecutionTimeout=10, JobExecutionRetryMax=3,
                        JobExecutionRetryDelay=1).start()
    node.wait_leader()
    with Receiver() as rx:
        rx.respond([200], path="/slow", delay=4.0)
        rx.respond([500] * 20, path="/retry")
        rx.respond([404] * 5, path="/gone")
        project = node.api("POST", "/projects", {"name": "delivery-settings"})
        secret = project["signing_secret"]

        def one(path: str, **fields: Any) -> dict[str, Any]:
            return {"project_id": project["id"], "run_at": "now", "callback_url": rx.url(path),
                    **fields}

        group_a = {"headers": {"X-Group": "a"}}
        group_b = {"headers": {"X-Group": "b"}, "timeout": 5}
        bodies = {
            "put": one("/put", method="PUT"),
            "get": one("/get", method="GET"),
            "headers": one("/headers", headers={"Authorization": "Bearer t0k3n",
                                                "X-Tenant": "acme"}),
            "slow": one("/slow", timeout=0.5, retries=0),
            "retry": one("/retry", retries=2, retry_delay=0.1),
            "gone": one("/gone", success_codes=[404], retries=0),
            "ok_not_listed": one("/ok", success_codes=[404], retries=0),
            # One URL, one tick: three kinds of settings, three requests.
            "a1": one("/mix", **group_a), "a2": one("/mix", **group_a),
            "b1": one("/mix", **group_b), "c1": one("/mix"), "c2": one("/mix"),
        }
        created = node.api("POST", "/jobs", list(bodies.values()))  # one command, one tick
        ids = {name: job["id"] for name, job in zip(bodies, created, strict=True)}
        assert created[0]["method"] == "PUT" and created[3]["timeout"] == 0.5
        assert len({job["next_execution_at"] for job in created}) == 1

        rows = wait_for(lambda: (r := node.executions(project_id=project["id"]))
                        and all(row["state"] != "scheduled" for row in r)
                        and len(r) == len(ids) and r, timeout=60,
                        message="every job's tick recorded")
        by_job = {row["job_id"]: row for row in rows}
        result = {name: by_job[ident] for name, ident in ids.items()}
        requests = rx.requests

        def at(path: str) -> list[Any]:
            return [r for r in requests if r.path == path]

        # The method as it arrives; GET without a body, its execution named.
        [put] = at("/put")
        assert put.method == "PUT" and put.json[0]["id"] == ids["put"] and put.signed_by(secret)
        [get] = at("/get")
        assert get.method == "GET" and get.body == b"" and get.signed_by(secret)
        assert get.header("x-scheduler0-execution-id") == result["get"]["execution_id"]
        # Extra headers arrive, and the signature is still the server's.
        [headers] = at("/headers")
        assert headers.method == "POST" and headers.header("authorization") == "Bearer t0k3n"
        assert headers.header("x-tenant") == "acme" and headers.signed_by(secret)
        # 0.5 s, not the node's 10 s: the receiver answers after 4 s, too late.
        assert (result["slow"]["state"], result["slow"]["attempts"],
                result["slow"]["error"]) == ("failed", 1, "timeout after 0.5 s")
        # 2 retries (not the node's 3): 3 requests.
        assert (result["retry"]["state"], result["retry"]["attempts"]) == ("failed", 3)
        assert len(at("/retry")) == 3
        # Success codes: a 404 listed succeeds, a 200 not listed fails.
        assert (result["gone"]["state"], result["gone"]["http_status"]) == ("succeeded", 404)
        assert (result["ok_not_listed"]["state"], result["ok_not_listed"]["http_status"],
                result["ok_not_listed"]["error"]) == (
            "failed", 200, "HTTP 200 (not one of the job's success_codes)")
        # The shared URL: one request per kind of settings, each with only its jobs.
        mix = {tuple(sorted(e["id"] for e in r.json)): r for r in at("/mix")}
        assert set(mix) == {tuple(sorted((ids["a1"], ids["a2"]))), (ids["b1"],),
                            tuple(sorted((ids["c1"], ids["c2"])))}
        assert mix[tuple(sorted((ids["a1"], ids["a2"])))].header("x-group") == "a"
        assert mix[(ids["b1"],)].header("x-group") == "b"
        assert mix[tuple(sorted((ids["c1"], ids["c2"])))].header("x-group") is None
        assert all(r.method == "POST" and r.signed_by(secret) for r in at("/mix"))
        for name in ("put", "get", "headers", "a1", "a2", "b1", "c1", "c2"):
            assert result[name]["state"] == "succeeded", (name, result[name])


def test_a_put_of_new_settings_reaches_the_next_tick(node_factory):
    node = node_factory().start()
    node.wait_leader()
    with Receiver() as rx:
        project = node.api("POST", "/projects", {"name": "delivery-update"})
        job = node.api("POST", "/jobs", {"project_id": project["id"], "spec": "@every 1s",
                                         "callback_url": rx.url("/tick")})
        wait_for(lambda: rx.requests, timeout=30, message="a first tick")
        assert rx.requests[0].method == "POST"
        node.api("PUT", f"/jobs/{job['id']}", {"method": "PUT", "headers": {"X-Now": "new"}})
        fresh = wait_for(lambda: [r for r in rx.requests if r.method == "PUT"], timeout=30,
                         message="a tick sent with the new settings")
        assert fresh[0].header("x-now") == "new"
        node.api("PUT", f"/jobs/{job['id']}", {"method": None, "headers": None})
        seen = len(rx.requests)
        back = wait_for(lambda: [r for r in rx.requests[seen:]
                                 if r.method == "POST" and r.header("x-now") is None
                                 and r.json[0]["scheduled_at"] > fresh[-1].json[0]["scheduled_at"]],
                        timeout=30, message="a tick sent with the node's settings again")
        assert back[0].signed_by(project["signing_secret"])
