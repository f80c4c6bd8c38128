"""Job-creation throughput of the REST API (issue 3's speed goals).

    python bench/api_bench.py --inprocess
    python bench/api_bench.py --url http://127.0.0.1:9091 --api-key K --api-secret S

Measures, on one node:
  1. 50 POSTs of 1,000 jobs each (the original's demo): median and p90 per POST, total
     (goals: median under 300 ms, total under 10 s);
  2. 1,000,000 jobs in POSTs of 10,000 (goal: under 30 s in all).

--inprocess starts a real single node in this process (pysyncobj + SQLite in a temporary
folder, scheduler0.testing.LocalServices) behind waitress on a free loopback port, and creates
its own credential. Every job's callback is http://127.0.0.1:9/ and its start date is in
2099, so no callback fires while the bench runs. One keep-alive connection, one request at
a time: the figures are per-request latency, not a concurrency test.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import math
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CALLBACK_URL = "http://127.0.0.1:9/"
START_DATE = "2099-01-01T00:00:00Z"


class Client:
    """Minimal JSON client over one keep-alive connection (stdlib only)."""

    def __init__(self, url: str, headers: dict[str, str]):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.base = parts.path.rstrip("/") + "/api/v1"
        self.headers = {"Content-Type": "application/json", **headers}
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
        self.conn.request(method, self.base + path, body=body, headers=self.headers)
        response = self.conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None

    def expect(self, status: int, method: str, path: str, body: bytes | None = None) -> Any:
        got, reply = self.call(method, path, body)
        if got != status:
            raise SystemExit(f"{method} {path}: expected {status}, got {got}: {str(reply)[:500]}")
        return reply["data"]

    def close(self) -> None:
        self.conn.close()


def p90(values: list[float]) -> float:
    """Nearest-rank 90th percentile of sorted `values`."""
    return values[max(0, math.ceil(0.9 * len(values)) - 1)]


def jobs_body(project_id: int, count: int) -> bytes:
    job = {"project_id": project_id, "spec": "*/5 * * * *", "callback_url": CALLBACK_URL,
           "start_date": START_DATE, "data": '{"bench": true}'}
    return json.dumps([job] * count).encode()


@contextmanager
def inprocess_node() -> Iterator[tuple[str, dict[str, str]]]:
    """A real single node behind waitress on a free port; yields (url, auth headers)."""
    from waitress.server import create_server

    from scheduler0.api import create_app
    from scheduler0.testing import local_node

    node_auth = ("bench", "bench-password")
    with tempfile.TemporaryDirectory(prefix="s0-bench-") as data_dir, \
            local_node(data_dir) as services:
        app = create_app(services.settings, services, node_auth=node_auth)
        server = create_server(app, host="127.0.0.1", port=0, threads=8)
        thread = threading.Thread(target=_serve, args=(server,), daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.effective_port}"
        token = base64.b64encode(":".join(node_auth).encode()).decode()
        admin = Client(url, {"Authorization": f"Basic {token}"})
        credential = admin.expect(201, "POST", "/credentials", b"{}")
        admin.close()
        try:
            yield url, {"x-api-key": credential["api_key"],
                        "x-secret-key": credential["api_secret"]}
        finally:
            server.task_dispatcher.shutdown(timeout=5)  # let the last responses finish
            server.close()
            thread.join(timeout=5)


def _serve(server: Any) -> None:
    try:
        server.run()
    except (OSError, ValueError):
        pass  # waitress raises these when close() tears its sockets down under run()


def timed_posts(client: Client, body: bytes, times: int, expected: int) -> list[float]:
    durations = []
    for _ in range(times):
        started = time.perf_counter()
        created = client.expect(201, "POST", "/jobs", body)
        durations.append(time.perf_counter() - started)
        if len(created) != expected:
            raise SystemExit(f"expected {expected} jobs back, got {len(created)}")
    return durations


def run(url: str, headers: dict[str, str], args: argparse.Namespace) -> None:
    client = Client(url, headers)
    project = client.expect(201, "POST", "/projects",
                            json.dumps({"name": f"bench-{time.time_ns()}"}).encode())
    print(f"node: {url}  project {project['id']}")

    body = jobs_body(project["id"], args.batch_size)
    durations = timed_posts(client, body, args.batches, args.batch_size)
    ms = sorted(d * 1000 for d in durations)
    print(f"{args.batches} POSTs of {args.batch_size} jobs: total {sum(durations):.2f} s, "
          f"median {statistics.median(ms):.0f} ms, p90 {p90(ms):.0f} ms, "
          f"max {ms[-1]:.0f} ms, {args.batches * args.batch_size / sum(durations):,.0f} jobs/s")

    if args.big_total:
        posts = args.big_total // args.big_batch
        body = jobs_body(project["id"], args.big_batch)
        durations = timed_posts(client, body, posts, args.big_batch)
        ms = sorted(d * 1000 for d in durations)
        print(f"{posts * args.big_batch:,} jobs in POSTs of {args.big_batch:,}: total "
              f"{sum(durations):.2f} s, median {statistics.median(ms):.0f} ms per POST, "
              f"max {ms[-1]:.0f} ms, {posts * args.big_batch / sum(durations):,.0f} jobs/s")

    page = client.expect(200, "GET", f"/jobs?project_id={project['id']}&limit=1")
    print(f"jobs stored in the project: {page['total']:,}")
    client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running node's API, e.g. http://127.0.0.1:9091")
    parser.add_argument("--api-key")
    parser.add_argument("--api-secret")
    parser.add_argument("--inprocess", action="store_true",
                        help="start a single node in this process instead of using --url")
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--big-total", type=int, default=1_000_000,
                        help="jobs for the second measurement (0 skips it)")
    parser.add_argument("--big-batch", type=int, default=10_000)
    args = parser.parse_args(argv)
    if args.inprocess:
        with inprocess_node() as (url, headers):
            run(url, headers, args)
        return 0
    if not (args.url and args.api_key and args.api_secret):
        parser.error("give --inprocess, or --url with --api-key and --api-secret")
    run(args.url, {"x-api-key": args.api_key, "x-secret-key": args.api_secret}, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
