"""A real HTTP callback receiver for tests: http.server on 127.0.0.1 (or `host`), port 0, in a
thread.

    with Receiver() as rx:
        rx.respond([500, 500, 200], path="/hook")   # one status per request to /hook, then 200
        rx.respond([200], path="/slow", delay=3.0)  # answer /slow after 3 s (for timeouts)
        url = rx.url("/hook")                       # http://127.0.0.1:<port>/hook
        ...                                         # deliver something to it
        rx.wait_for_requests(3, timeout=5)          # block until 3 requests arrived (or fail)
        rx.requests                                 # [Recorded(...)], in arrival order

Every request (POST, PUT or GET) is recorded when it has been read, before it is answered:
method, path, query string, headers (names lower-cased), raw body, parsed JSON (or None),
arrival time (time.time()) and the status it got. Paths without a script answer
`default_status` (200). HTTP/1.1 keep-alive is supported, so a pooled client reuses
connections as it would with a real receiver. `stop()` (or leaving the `with`) wakes delayed
answers and closes the socket.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    json: Any  # the parsed body, or None when it is not JSON
    arrived_at: float  # epoch seconds
    status: int = 0  # what it was answered (0: not answered, e.g. still delayed)
    query: str = ""  # the query string of the request's target, without the "?"

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def signed_by(self, secret: str, header: str = "X-Scheduler0-Signature") -> bool:
        """What a receiver does: HMAC-SHA256 of timestamp "." raw body, in `header`, compared
        in constant time. A GET has no body: its signature covers the execution id instead."""
        given = self.header(header)
        if given is None:
            return False
        signed = (self.header("X-Scheduler0-Execution-Id") or "").encode() if (
            self.method == "GET") else self.body
        mac = hmac.new(secret.encode(), (self.header("X-Scheduler0-Timestamp") or "").encode()
                       + b"." + signed, hashlib.sha256)
        return hmac.compare_digest("sha256=" + mac.hexdigest(), given)


@dataclass
class _Script:
    statuses: deque[int] = field(default_factory=deque)
    delay: float = 0.0


class Receiver:
    def __init__(self, default_status: int = 200, host: str = "127.0.0.1"):
        self.default_status = default_status
        self.host = host  # e.g. a NetLab's bridge address, reachable from every namespace
        self._lock = threading.Condition()
        self._requests: list[Recorded] = []
        self._scripts: dict[str | None, _Script] = {}
        self._stopped = threading.Event()
        self._server = ThreadingHTTPServer((host, 0), _handler_class(self))
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="receiver", daemon=True)
        self._thread.start()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def respond(self, statuses: list[int], path: str | None = None, delay: float = 0.0) -> None:
        """Answer the next requests to `path` (None: to any path without its own script) with
        `statuses` in turn, each after `delay` seconds; then `default_status`, same delay."""
        with self._lock:
            self._scripts[path] = _Script(deque(statuses), delay)

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[Recorded]:
        """The requests once at least `count` arrived; AssertionError after `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"receiver got {len(self._requests)} requests within "
                                         f"{timeout} s, expected {count}")
                self._lock.wait(left)
            return list(self._requests)

    def stop(self) -> None:
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # -- called from handler threads --------------------------------------------------------

    def _record(self, request: Recorded) -> tuple[int, float]:
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()
            script = self._scripts.get(request.path) or self._scripts.get(None)
            if script is None:
                return self.default_status, 0.0
            status = script.statuses.popleft() if script.statuses else self.default_status
            return status, script.delay


def _handler_class(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self._handle()

        def do_GET(self) -> None:  # noqa: N802
            self._handle()

        def do_PUT(self) -> None:  # noqa: N802
            self._handle()

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                parsed = json.loads(body) if body else None
            except ValueError:
                parsed = None
            path, _, query = self.path.partition("?")
            record = Recorded(self.command, path, {k.lower(): v for k, v in self.headers.items()},
                              body, parsed, time.time(), query=query)
            status, delay = receiver._record(record)
            if delay and receiver._stopped.wait(delay):
                self.close_connection = True
                return
            reply = b'{"ok":true}' if 200 <= status < 300 else b'{"ok":false}'
            record.status = status  # before the reply, so the client cannot see it first
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except OSError:  # the client gave up (timeout) and closed the connection
                record.status = 0
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler
