"""A scheduler0 callback receiver in the standard library only.

    SCHEDULER0_SIGNING_SECRET=<the project's signing_secret> python receiver.py [--port 8000]

It answers POST <any path> with:
    401  neither X-Scheduler0-Signature nor X-Scheduler0-Signature-Previous (sent for a grace
         period after the project's secret is rotated) matches the secret, or
         X-Scheduler0-Timestamp is more than 5 minutes away from now (a replayed or forged
         request)
    400  the body is not a JSON array (or object) of executions
    200  accepted; executions already seen (same execution_id) are logged as duplicates and
         not processed again

A callback body is a JSON array; each element is one execution:
    {"id": <job id>, "execution_id": "...", "scheduled_at": "2026-11-27T13:00:00Z",
     "project_id": 1, "spec": "@every 1m", "timezone": "UTC", "data": "...", "callback_url": "..."}

scheduler0 retries a POST that failed or timed out, so the same execution can arrive twice:
deduplicate by execution_id (here in memory, the last MAX_REMEMBERED ids; a real service keeps
them where it keeps the work it does, e.g. a unique key in its database).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import os
import signal
import threading
import time
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_SKEW_SECONDS = 300  # refuse a timestamp further than this from now
MAX_REMEMBERED = 1_000_000  # execution ids kept for deduplication
MAX_BODY_BYTES = 64 * 1024 * 1024

log = logging.getLogger("receiver")


def verify_signature(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """True when `header` (X-Scheduler0-Signature) is "sha256=" + the hex HMAC-SHA256, keyed with
    the project's signing secret, of `timestamp` (X-Scheduler0-Timestamp) + "." + the raw body.

    Compare in constant time. This checks the signature only; check the timestamp's age too
    (`is_fresh`), or a recorded request could be replayed."""
    if not secret or not timestamp or not header:
        return False
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest("sha256=" + mac.hexdigest(), header)


def is_fresh(timestamp: str, now: float | None = None, max_skew: float = MAX_SKEW_SECONDS) -> bool:
    """True when `timestamp` (epoch seconds) is within `max_skew` seconds of now."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    return abs((time.time() if now is None else now) - sent) <= max_skew


class SeenIds:
    """The last `capacity` execution ids, thread-safe: add() is True the first time an id is
    seen and False for a duplicate."""

    def __init__(self, capacity: int = MAX_REMEMBERED) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, execution_id: str) -> bool:
        with self._lock:
            if execution_id in self._ids:
                self._ids.move_to_end(execution_id)
                return False
            self._ids[execution_id] = None
            if len(self._ids) > self.capacity:
                self._ids.popitem(last=False)
            return True

    def __len__(self) -> int:
        return len(self._ids)


def handle_execution(execution: dict[str, Any]) -> None:
    """Do the job's work here. This example only logs it."""
    log.info("execution %s: job %s scheduled at %s, data %s", execution.get("execution_id"),
             execution.get("id"), execution.get("scheduled_at"), execution.get("data"))


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], secret: str,
                 seen: SeenIds | None = None) -> None:
        super().__init__(address, Handler)
        self.secret = secret
        self.seen = seen if seen is not None else SeenIds()
        self.counts = {"accepted": 0, "duplicates": 0, "rejected": 0}
        self.counts_lock = threading.Lock()

    def count(self, name: str, n: int = 1) -> None:
        with self.counts_lock:
            self.counts[name] += n


class Handler(BaseHTTPRequestHandler):
    server: Receiver
    protocol_version = "HTTP/1.1"  # keep-alive: scheduler0 reuses its connections

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.reply(411, {"error": "Content-Length required"})
            return
        if length < 0 or length > MAX_BODY_BYTES:
            self.reply(413, {"error": "body too large"})
            return
        body = self.rfile.read(length)
        timestamp = self.headers.get("X-Scheduler0-Timestamp", "")
        # After a rotation both are sent for a while: the new secret's and the old one's, so
        # this receiver may be switched to the new secret at any time within the grace period.
        signatures = (self.headers.get("X-Scheduler0-Signature", ""),
                      self.headers.get("X-Scheduler0-Signature-Previous", ""))
        if not any(verify_signature(self.server.secret, timestamp, body, signature)
                   for signature in signatures):
            self.server.count("rejected")
            log.warning("rejected a POST from %s: bad signature", self.client_address[0])
            self.reply(401, {"error": "bad signature"})
            return
        if not is_fresh(timestamp):
            self.server.count("rejected")
            log.warning("rejected a POST from %s: timestamp %s is stale", self.client_address[0],
                        timestamp)
            self.reply(401, {"error": "stale timestamp"})
            return
        try:
            executions = json.loads(body)
        except ValueError:
            self.reply(400, {"error": "body is not JSON"})
            return
        if isinstance(executions, dict):
            executions = [executions]
        if not isinstance(executions, list) or not all(
                isinstance(e, dict) and isinstance(e.get("execution_id"), str) for e in executions):
            self.reply(400, {"error": "expected a JSON array of executions"})
            return
        accepted = duplicates = 0
        for execution in executions:
            if self.server.seen.add(execution["execution_id"]):
                handle_execution(execution)
                accepted += 1
            else:
                log.info("execution %s: duplicate, skipped", execution["execution_id"])
                duplicates += 1
        self.server.count("accepted", accepted)
        self.server.count("duplicates", duplicates)
        self.reply(200, {"accepted": accepted, "duplicates": duplicates})

    def reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s " + format, self.client_address[0], *args)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--secret", default=os.environ.get("SCHEDULER0_SIGNING_SECRET", ""),
                        help="the project's signing_secret (default: $SCHEDULER0_SIGNING_SECRET)")
    args = parser.parse_args()
    if not args.secret:
        parser.error("set SCHEDULER0_SIGNING_SECRET (or --secret) to the project's signing_secret")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    server = Receiver((args.host, args.port), args.secret)
    log.info("listening on http://%s:%d/", *server.server_address[:2])
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        log.info("stopped: %s", server.counts)


if __name__ == "__main__":
    main()
