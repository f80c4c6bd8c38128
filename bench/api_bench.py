"""Job-creation throughput of the REST API, against its speed goals.

    python bench/api_bench.py --node --clients 2
    python bench/api_bench.py --inprocess
    python bench/api_bench.py --url http://127.0.0.1:9091 --api-key K --api-secret S

Measures, on one node:
  1. 50 POSTs of 1,000 jobs each (the original's demo), one at a time: median and p90 per
     POST, total (goals: median under 300 ms, total under 10 s);
  2. 1,000,000 jobs in POSTs of 10,000 (the same job repeated; --distinct-data gives each job
     its own data) from --clients clients in parallel, each on its own keep-alive connection
     and taking the next POST as soon as its last one is answered: total seconds from the
     first POST sent to the last answer, jobs per second, median per POST (goal: under 10 s
     in all, 100,000 jobs a second).

--node starts a real node (`scheduler0 start`: the supervisor, its coordinator, API and
executor processes, as deployed) in a temporary folder on loopback ports, and reports the CPU
seconds each process used during the 1M run. --inprocess starts a single node in this process
instead (pysyncobj + SQLite in a temporary folder, scheduler0.testing.LocalServices) behind
waitress: everything then shares one interpreter lock. Both create their own credential.
Every job's callback is http://127.0.0.1:9/ and its start date is in 2099, so no callback
fires while the bench runs. A client checks each answer's status and that it holds as many
jobs, each with an id, as it sent.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import math
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec

CALLBACK_URL = "http://127.0.0.1:9/"
START_DATE = "2099-01-01T00:00:00Z"
NODE_START_TIMEOUT = 60.0  # seconds until a started node leads


class _CreatedJob(msgspec.Struct):
    id: int


class _Created(msgspec.Struct):
    """What a client reads of a create answer: the jobs' ids (the other fields are skipped)."""

    success: bool
    data: list[_CreatedJob]


_CREATED = msgspec.json.Decoder(_Created)


class Client:
    """Minimal JSON client over one keep-alive connection (stdlib only)."""

    def __init__(self, url: str, headers: dict[str, str]):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.base = parts.path.rstrip("/") + "/api/v1"
        self.headers = {"Content-Type": "application/json", **headers}
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def raw(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        self.conn.request(method, self.base + path, body=body, headers=self.headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
        status, raw = self.raw(method, path, body)
        return status, json.loads(raw) if raw else None

    def expect(self, status: int, method: str, path: str, body: bytes | None = None) -> Any:
        got, reply = self.call(method, path, body)
        if got != status:
            raise SystemExit(f"{method} {path}: expected {status}, got {got}: {str(reply)[:500]}")
        return reply["data"]

    def create(self, body: bytes, expected: int) -> None:
        """POST /jobs; exits unless the answer is a 201 holding `expected` jobs with ids."""
        status, raw = self.raw("POST", "/jobs", body)
        if status != 201:
            raise SystemExit(f"POST /jobs: expected 201, got {status}: {raw[:500]!r}")
        created = _CREATED.decode(raw)
        if not created.success or len(created.data) != expected:
            raise SystemExit(f"expected {expected} jobs back, got {len(created.data)}")

    def close(self) -> None:
        self.conn.close()


def stored_jobs(client: Client) -> int:
    """The node's job count, from the counters /metrics reads (exact, not capped)."""
    status, raw = client.raw("GET", "/metrics")
    if status != 200:
        raise SystemExit(f"GET /metrics: expected 200, got {status}")
    for line in raw.decode().splitlines():
        if line.startswith("scheduler0_jobs "):
            return int(float(line.split()[1]))
    raise SystemExit("GET /metrics: no scheduler0_jobs gauge")


def p90(values: list[float]) -> float:
    """Nearest-rank 90th percentile of sorted `values`."""
    return values[max(0, math.ceil(0.9 * len(values)) - 1)]


def jobs_body(project_id: int, count: int, distinct_data: bool = False) -> bytes:
    job = {"project_id": project_id, "spec": "*/5 * * * *", "callback_url": CALLBACK_URL,
           "start_date": START_DATE, "data": '{"bench": true}'}
    if distinct_data:
        return json.dumps([{**job, "data": json.dumps({"bench": i})} for i in range(count)]).encode()
    return json.dumps([job] * count).encode()


class Node:
    """The node under test: its API's URL, a credential's headers, and how to read the CPU
    seconds of its processes by role."""

    def __init__(self, url: str, headers: dict[str, str],
                 cpu: Callable[[], dict[str, float]] | None = None) -> None:
        self.url = url
        self.headers = headers
        self._cpu = cpu

    def cpu_seconds(self) -> dict[str, float]:
        """User + system CPU seconds so far, by process role; {} when not known."""
        return self._cpu() if self._cpu is not None else {}


def _credential(url: str, authorization: str) -> dict[str, str]:
    admin = Client(url, {"Authorization": authorization})
    credential = admin.expect(201, "POST", "/credentials", b"{}")
    admin.close()
    return {"x-api-key": credential["api_key"], "x-secret-key": credential["api_secret"]}


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@contextmanager
def inprocess_node() -> Iterator[Node]:
    """A real single node behind waitress on a free port, in this process."""
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
        try:
            yield Node(url, _credential(url, _basic(*node_auth)),
                       lambda: {"bench process (all)": time.process_time()})
        finally:
            server.task_dispatcher.shutdown(timeout=5)  # let the last responses finish
            server.close()
            thread.join(timeout=5)


def _serve(server: Any) -> None:
    try:
        server.run()
    except (OSError, ValueError):
        pass  # waitress raises these when close() tears its sockets down under run()


@contextmanager
def real_node() -> Iterator[Node]:
    """`scheduler0 start` in a temporary folder (pipeline_bench.start_node), one executor;
    stopped by its pid afterwards."""
    import psutil
    from pipeline_bench import start_node

    from scheduler0.testing import wait_for

    with tempfile.TemporaryDirectory(prefix="s0-bench-") as folder:
        workdir = Path(folder)
        proc, port = start_node(workdir, {"MaxWorkers": 1, "LogLevel": "WARNING"})
        try:
            secrets_path = workdir / ".scheduler0"
            wait_for(secrets_path.exists, timeout=NODE_START_TIMEOUT, message="node secrets")
            secrets = json.loads(secrets_path.read_text())
            url = f"http://127.0.0.1:{port}"
            authorization = _basic(secrets["AuthUsername"], secrets["AuthPassword"])
            wait_for(lambda: _leads(url, authorization), timeout=NODE_START_TIMEOUT,
                     message="the node to lead")
            supervisor = psutil.Process(proc.pid)

            def cpu() -> dict[str, float]:
                seconds: dict[str, float] = {}
                for p in [supervisor, *supervisor.children(recursive=True)]:
                    try:
                        role = _role(p.cmdline())
                        times = p.cpu_times()
                    except psutil.Error:
                        continue
                    seconds[role] = seconds.get(role, 0.0) + times.user + times.system
                seconds["bench clients"] = time.process_time()
                return seconds

            yield Node(url, _credential(url, authorization), cpu)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _role(cmdline: list[str]) -> str:
    """coordinator, api, executor or supervisor, from a node process's command line."""
    if "scheduler0.child" in cmdline:
        return cmdline[cmdline.index("scheduler0.child") + 1]
    return "supervisor"


def _leads(url: str, authorization: str) -> bool:
    try:
        client = Client(url, {"Authorization": authorization})
        try:
            status, reply = client.call("GET", "/healthcheck")
        finally:
            client.close()
    except (OSError, ValueError):
        return False
    return status == 200 and bool((reply or {}).get("data", {}).get("is_leader"))


def timed_posts(client: Client, body: bytes, times: int, expected: int) -> list[float]:
    durations = []
    for _ in range(times):
        started = time.perf_counter()
        client.create(body, expected)
        durations.append(time.perf_counter() - started)
    return durations


def parallel_posts(url: str, headers: dict[str, str], body: bytes, posts: int, expected: int,
                   clients: int) -> tuple[float, list[float]]:
    """`posts` POSTs of `body` from `clients` threads, each on its own connection; returns
    (wall seconds from the first POST to the last answer, each POST's seconds)."""
    connections = [Client(url, headers) for _ in range(clients)]
    for connection in connections:  # connect before the clock starts
        connection.conn.connect()
    durations: list[float] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    left = [posts]

    def work(client: Client) -> None:
        try:
            while True:
                with lock:
                    if left[0] == 0 or failures:
                        return
                    left[0] -= 1
                began = time.perf_counter()
                client.create(body, expected)
                took = time.perf_counter() - began
                with lock:
                    durations.append(took)
        except BaseException as exc:  # SystemExit from a bad answer included
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=work, args=(c,), daemon=True) for c in connections]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    for connection in connections:
        connection.close()
    if failures:
        raise failures[0]
    return wall, durations


def run(node: Node, args: argparse.Namespace) -> None:
    client = Client(node.url, node.headers)
    project = client.expect(201, "POST", "/projects",
                            json.dumps({"name": f"bench-{time.time_ns()}"}).encode())
    print(f"node: {node.url}  project {project['id']}")

    if args.batches:
        body = jobs_body(project["id"], args.batch_size)
        durations = timed_posts(client, body, args.batches, args.batch_size)
        ms = sorted(d * 1000 for d in durations)
        print(f"{args.batches} POSTs of {args.batch_size} jobs: total {sum(durations):.2f} s, "
              f"median {statistics.median(ms):.0f} ms, p90 {p90(ms):.0f} ms, max {ms[-1]:.0f} ms, "
              f"{args.batches * args.batch_size / sum(durations):,.0f} jobs/s")

    if args.big_total:
        posts = args.big_total // args.big_batch
        body = jobs_body(project["id"], args.big_batch, args.distinct_data)
        cpu_before = node.cpu_seconds()
        wall, durations = parallel_posts(node.url, node.headers, body, posts, args.big_batch,
                                         args.clients)
        cpu_after = node.cpu_seconds()
        ms = sorted(d * 1000 for d in durations)
        total = posts * args.big_batch
        print(f"{total:,} jobs{' (each its own data)' if args.distinct_data else ''} in POSTs "
              f"of {args.big_batch:,} from {args.clients} "
              f"client{'s' if args.clients > 1 else ''} in parallel: total {wall:.2f} s, "
              f"{total / wall:,.0f} jobs/s, median {statistics.median(ms):.0f} ms per POST, "
              f"p90 {p90(ms):.0f} ms, max {ms[-1]:.0f} ms")
        if cpu_after:
            used = ", ".join(f"{role} {cpu_after[role] - cpu_before.get(role, 0.0):.1f} s"
                             for role in cpu_after)
            print(f"CPU seconds during those {wall:.1f} s: {used}")

    print(f"jobs in the store (scheduler0_jobs on /metrics): {stored_jobs(client):,}")
    client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running node's API, e.g. http://127.0.0.1:9091")
    parser.add_argument("--api-key")
    parser.add_argument("--api-secret")
    parser.add_argument("--inprocess", action="store_true",
                        help="start a single node in this process instead of using --url")
    parser.add_argument("--node", action="store_true",
                        help="start a real node (`scheduler0 start`) instead of using --url")
    parser.add_argument("--batches", type=int, default=50,
                        help="POSTs of the first measurement (0 skips it)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--big-total", type=int, default=1_000_000,
                        help="jobs for the second measurement (0 skips it)")
    parser.add_argument("--big-batch", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=1,
                        help="clients POSTing in parallel in the second measurement")
    parser.add_argument("--distinct-data", action="store_true",
                        help="each job of the second measurement its own data string (by "
                             "default a batch repeats one job)")
    args = parser.parse_args(argv)
    if args.clients < 1:
        parser.error("--clients must be at least 1")
    if args.inprocess or args.node:
        with (inprocess_node() if args.inprocess else real_node()) as node:
            run(node, args)
        return 0
    if not (args.url and args.api_key and args.api_secret):
        parser.error("give --node, --inprocess, or --url with --api-key and --api-secret")
    run(Node(args.url, {"x-api-key": args.api_key, "x-secret-key": args.api_secret}), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
