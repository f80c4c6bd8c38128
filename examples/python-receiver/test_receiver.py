"""The example receiver against real HTTP requests on loopback.

    .venv/bin/python -m pytest -q examples/python-receiver
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import pathlib
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

_spec = importlib.util.spec_from_file_location(
    "example_receiver", pathlib.Path(__file__).with_name("receiver.py"))
assert _spec is not None and _spec.loader is not None
receiver = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(receiver)

SECRET = "3f1c0ffee" * 7


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def element(execution_id: str, job_id: int = 1) -> dict[str, Any]:
    return {"id": job_id, "execution_id": execution_id, "scheduled_at": "2026-11-27T13:00:00Z",
            "project_id": 1, "spec": "@every 1m", "timezone": "America/New_York",
            "data": json.dumps({"jobNumber": job_id}),
            "callback_url": "http://127.0.0.1/callback"}


@pytest.fixture
def server() -> Iterator[Any]:
    srv = receiver.Receiver(("127.0.0.1", 0), SECRET, receiver.SeenIds(capacity=100))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def post(srv: Any, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{srv.server_address[1]}/callback"
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def signed(body: bytes, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {"X-Scheduler0-Timestamp": str(ts), "X-Scheduler0-Signature": sign(secret, ts, body),
            "Idempotency-Key": "k", "X-Payload-Chunk-Id": "k", "X-Scheduler0-Node": "1"}


# -- verify_signature, pure -------------------------------------------------------------------


def test_verify_signature_accepts_the_senders_signature() -> None:
    body = b'[{"id":1}]'
    assert receiver.verify_signature(SECRET, "1795784400", body, sign(SECRET, 1795784400, body))


@pytest.mark.parametrize("change", ["body", "timestamp", "secret", "prefix", "empty", "case"])
def test_verify_signature_refuses_anything_else(change: str) -> None:
    body, ts = b'[{"id":1}]', "1795784400"
    header = sign(SECRET, ts, body)
    if change == "body":
        body = b'[{"id":2}]'
    elif change == "timestamp":
        ts = "1795784401"
    elif change == "secret":
        header = sign("other", ts, body)
    elif change == "prefix":
        header = header.removeprefix("sha256=")
    elif change == "empty":
        header = ""
    elif change == "case":
        header = header.upper()
    assert not receiver.verify_signature(SECRET, ts, body, header)


def test_verify_signature_matches_scheduler0s_signer() -> None:
    delivery_core = pytest.importorskip("scheduler0.delivery.core")
    body = json.dumps([element("e-1")]).encode()
    header = delivery_core.sign(SECRET, 1795784400, body)
    assert receiver.verify_signature(SECRET, "1795784400", body, header)


def test_is_fresh() -> None:
    assert receiver.is_fresh("1000", now=1000 + 299)
    assert not receiver.is_fresh("1000", now=1000 + 301)
    assert not receiver.is_fresh("not a number", now=1000)


def test_seen_ids_is_bounded() -> None:
    seen = receiver.SeenIds(capacity=2)
    assert seen.add("a") and seen.add("b") and not seen.add("a")
    assert seen.add("c")  # evicts b, the least recently seen
    assert len(seen) == 2 and seen.add("b")


# -- the receiver over HTTP -------------------------------------------------------------------


def test_signed_request_is_accepted(server: Any) -> None:
    body = json.dumps([element("e-1", 1), element("e-2", 2)]).encode()
    assert post(server, body, signed(body)) == (200, {"accepted": 2, "duplicates": 0})
    assert server.counts == {"accepted": 2, "duplicates": 0, "rejected": 0}


def test_during_a_rotation_the_previous_signature_is_accepted(server: Any) -> None:
    # The project's secret was rotated; this receiver still holds the old one (SECRET).
    body = json.dumps([element("e-rotated")]).encode()
    headers = signed(body, secret="the-new-secret")
    headers["X-Scheduler0-Signature-Previous"] = sign(SECRET, headers["X-Scheduler0-Timestamp"],
                                                      body)
    assert post(server, body, headers) == (200, {"accepted": 1, "duplicates": 0})
    # Once the grace period is over only the new signature comes: refused until switched.
    body = json.dumps([element("e-after")]).encode()
    assert post(server, body, signed(body, secret="the-new-secret"))[0] == 401


def test_unsigned_request_is_refused(server: Any) -> None:
    body = json.dumps([element("e-1")]).encode()
    status, _ = post(server, body, {})
    assert status == 401
    assert server.counts["rejected"] == 1 and len(server.seen) == 0


def test_wrong_secret_or_tampered_body_is_refused(server: Any) -> None:
    body = json.dumps([element("e-1")]).encode()
    assert post(server, body, signed(body, secret="not-the-secret"))[0] == 401
    headers = signed(body)
    assert post(server, body.replace(b"e-1", b"e-9"), headers)[0] == 401
    assert server.counts["rejected"] == 2


def test_stale_timestamp_is_refused_even_when_signed(server: Any) -> None:
    body = json.dumps([element("e-1")]).encode()
    status, reply = post(server, body, signed(body, timestamp=int(time.time()) - 301))
    assert (status, reply) == (401, {"error": "stale timestamp"})
    assert post(server, body, signed(body, timestamp=int(time.time()) - 200))[0] == 200


def test_duplicate_execution_is_accepted_but_not_processed_twice(
        server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    handled: list[str] = []
    monkeypatch.setattr(receiver, "handle_execution", lambda e: handled.append(e["execution_id"]))
    first = json.dumps([element("e-1"), element("e-2")]).encode()
    assert post(server, first, signed(first)) == (200, {"accepted": 2, "duplicates": 0})
    # a retried chunk, re-signed with a new timestamp, plus one new execution
    again = json.dumps([element("e-1"), element("e-2"), element("e-3")]).encode()
    assert post(server, again, signed(again)) == (200, {"accepted": 1, "duplicates": 2})
    assert handled == ["e-1", "e-2", "e-3"]


def test_signed_garbage_is_a_bad_request(server: Any) -> None:
    body = b"not json"
    assert post(server, body, signed(body))[0] == 400
    body = b"[1, 2]"
    assert post(server, body, signed(body))[0] == 400
