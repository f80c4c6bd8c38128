"""Retries against a real HTTP server on 127.0.0.1 (port 0) that answers from a script: 503
with Retry-After then 200, for both flavours; what is retried and what is not; the same
Idempotency-Key at every attempt. The clock records the waits instead of sleeping, so the
tests assert what the client waited for, never how long anything took."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from scheduler0_client import (
    NO_RETRY,
    ApiError,
    AsyncClient,
    Client,
    RetryPolicy,
    SystemClock,
    TransportError,
)
from scheduler0_client._retry import retry_after_seconds

from scheduler0.testing import free_port

OK_JOB = {"success": True, "data": {"id": 7, "project_id": 1}}


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class ScriptedServer:
    """Answers each request with the next Reply of its script (the last one once the script
    is spent), and records the requests' method, path and headers."""

    def __init__(self, *script: Reply) -> None:
        self.script = list(script)
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _next(self, method: str, path: str, headers: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append((method, path, headers))
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                reply = server._next(self.command, self.path,
                                     {k.lower(): v for k, v in self.headers.items()})
                body = json.dumps(reply.body).encode() if reply.body is not None else b""
                self.send_response(reply.status)
                for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815 - http.server's names

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


class RecordingClock(SystemClock):
    """The system's clock for reading time; waits are recorded, not slept."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def unavailable(retry_after: str | None = "2") -> Reply:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    return Reply(503, {"success": False, "data": None, "error": {
        "code": "unavailable", "message": "the write could not be replicated; retry"}}, headers)


@pytest.fixture
def servers() -> Iterator[list[ScriptedServer]]:
    started: list[ScriptedServer] = []
    yield started
    for server in started:
        server.stop()


def serve(servers: list[ScriptedServer], *script: Reply) -> ScriptedServer:
    server = ScriptedServer(*script)
    servers.append(server)
    return server


A_JOB = {"project_id": 1, "spec": "@every 1m", "callback_url": "http://127.0.0.1:9/x"}


def test_a_503_is_retried_after_its_retry_after_with_the_same_idempotency_key(
        servers: list[ScriptedServer]) -> None:
    server = serve(servers, unavailable("2"), Reply(201, OK_JOB))
    clock = RecordingClock()
    client = Client(server.url, api_key="k", api_secret="s", clock=clock)
    assert client.create_job(A_JOB) == OK_JOB["data"]
    assert clock.waits == [2.0]
    assert [(method, path) for method, path, _ in server.requests] == [
        ("POST", "/api/v1/jobs")] * 2
    keys = {headers["idempotency-key"] for _, _, headers in server.requests}
    assert len(keys) == 1 and len(keys.pop()) == 32


def test_the_async_client_retries_a_503_the_same_way(servers: list[ScriptedServer]) -> None:
    server = serve(servers, unavailable("3"), unavailable("1"), Reply(201, OK_JOB))
    clock = RecordingClock()
    client = AsyncClient(server.url, api_key="k", api_secret="s", clock=clock)
    assert asyncio.run(client.create_job(A_JOB, idempotency_key="mine")) == OK_JOB["data"]
    assert clock.waits == [3.0, 1.0]
    assert [headers["idempotency-key"] for _, _, headers in server.requests] == ["mine"] * 3


def test_the_real_clock_waits_and_then_succeeds(servers: list[ScriptedServer]) -> None:
    server = serve(servers, unavailable("1"), Reply(200, {"success": True, "data": {"id": 3}}))
    assert Client(server.url).get_project(3) == {"id": 3}
    assert len(server.requests) == 2


def test_without_retry_after_the_waits_double(servers: list[ScriptedServer]) -> None:
    server = serve(servers, unavailable(None))
    clock = RecordingClock()
    client = Client(server.url, clock=clock, retry=RetryPolicy(max_attempts=4, first_delay=0.5))
    with pytest.raises(ApiError) as failed:
        client.get_job(7)
    assert (failed.value.status, failed.value.code) == (503, "unavailable")
    assert clock.waits == [0.5, 1.0, 2.0]
    assert len(server.requests) == 4


def test_a_retry_after_longer_than_max_delay_is_not_waited_for(
        servers: list[ScriptedServer]) -> None:
    server = serve(servers, unavailable("120"))
    clock = RecordingClock()
    with pytest.raises(ApiError) as failed:
        Client(server.url, clock=clock, retry=RetryPolicy(max_delay=30)).get_job(7)
    assert failed.value.retry_after == 120.0
    assert (clock.waits, len(server.requests)) == ([], 1)


def test_a_429_is_retried_and_a_400_or_no_retry_is_not(servers: list[ScriptedServer]) -> None:
    busy = Reply(429, {"success": False, "data": None, "error": {
        "code": "too_many_operations", "message": "4 bulk operations are running"}})
    server = serve(servers, busy, Reply(202, {"success": True, "data": {"operation_id": 1}}))
    clock = RecordingClock()
    assert Client(server.url, clock=clock).start_bulk("pause", ids=[1]) == {"operation_id": 1}
    assert clock.waits == [0.5]
    refused = serve(servers, Reply(400, {"success": False, "data": None, "error": {
        "code": "invalid_spec", "message": "spec: minute field: 61 is out of range 0-59"}}))
    with pytest.raises(ApiError) as bad:
        Client(refused.url, clock=clock).create_job(A_JOB)
    assert (bad.value.code, len(refused.requests)) == ("invalid_spec", 1)
    once = serve(servers, unavailable("1"))
    with pytest.raises(ApiError):
        Client(once.url, clock=clock, retry=NO_RETRY).get_job(7)
    assert len(once.requests) == 1


def test_no_answer_is_retried_then_raised() -> None:
    clock = RecordingClock()
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    client = Client(closed, clock=clock, retry=RetryPolicy(max_attempts=3, first_delay=0.1))
    with pytest.raises(TransportError, match="no answer"):
        client.get_job(7)
    assert clock.waits == [0.1, 0.2]


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    later = format_datetime(datetime(2030, 1, 2, 3, 4, 35, tzinfo=UTC), usegmt=True)
    assert retry_after_seconds(later, now.timestamp()) == 30.0
    assert retry_after_seconds("soon", now.timestamp()) is None
    assert retry_after_seconds("-5", now.timestamp()) == 0.0
