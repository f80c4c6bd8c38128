"""The attacks of the security review, replayed against one real node: what each one costs it.

    python -m bench hostile                               all four scenarios (about 3 minutes)
    python -m bench hostile --only raft-stream --stream-seconds 5
    PYTHONPATH=/tmp/before python -m bench hostile        the same against an older checkout

Each scenario starts its own node (`scheduler0.cli start` as a subprocess: own data folder,
loopback ports, TMPDIR in a bench-owned folder, callbacks restricted to 127.0.0.0/8), attacks it,
measures, and stops every process it started by pid:

    raft-stream    one raw client streams a frame announced as 1 GiB into the Raft port
                   (reconnecting when the node closes it) while an authenticated write is
                   attempted every 0.5 s
    slow-clients   300 API connections held open, half idle and half stopped mid-header; then
                   the public health check and an authenticated GET /projects are timed
    big-body       an unauthenticated POST declaring 300 MiB, its body sent at full speed
    blackhole      500 jobs calling a host that accepts and never answers and 1 job calling a
                   healthy receiver, all firing on the same tick

Only config keys that older checkouts know are set. Every client call has a timeout and every
loop a bound: a timeout is reported as a figure, never waited out. Prints a table per scenario
and writes bench/results/hostile-<tag>.json (tag: the folder the node's code came from).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import math
import os
import resource
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pipeline_bench import start_receiver, tree  # noqa: E402

from scheduler0.config import env_name  # noqa: E402
from scheduler0.testing import free_port, wait_for  # noqa: E402

MiB = 2**20
MAX_PROBE_TIMEOUTS = 3  # a probe series stops after this many timeouts: the rest would time out too
MAX_RAFT_CONNECTIONS = 2000
BLACKHOLE_HOST = "127.0.0.2"  # loopback, but another host than the healthy receiver's 127.0.0.1


# -- the node ----------------------------------------------------------------------------------


@dataclass
class Node:
    proc: subprocess.Popen[bytes]
    workdir: Path
    port: int
    raft_port: int
    auth: str = ""  # the Authorization header: Basic with the node secrets

    @property
    def tmpdir(self) -> Path:
        return self.workdir / "tmp"


def node_env(workdir: Path, settings: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ, TMPDIR=str(workdir / "tmp"))
    env.update({env_name(key): str(value) for key, value in settings.items()})
    return env


def start_node(workdir: Path, settings: dict[str, Any]) -> Node:
    port, raft_port = free_port(), free_port()
    values = {"Port": port, "DataDir": str(workdir / "data"), "LogLevel": "WARNING",
              "RaftAddress": f"127.0.0.1:{raft_port}", "IntakeAddress": f"127.0.0.1:{free_port()}",
              "CallbackAllowedNetworks": "127.0.0.0/8", **settings}
    (workdir / "tmp").mkdir()
    with open(workdir / "node.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "scheduler0.cli", "start"], cwd=workdir,
                                env=node_env(workdir, values), stdout=log, stderr=subprocess.STDOUT)
    return Node(proc, workdir, port, raft_port)


def basic_auth(secrets_path: Path) -> str:
    secrets = json.loads(secrets_path.read_text())
    token = f"{secrets['AuthUsername']}:{secrets['AuthPassword']}".encode()
    return "Basic " + base64.b64encode(token).decode()


@contextlib.contextmanager
def running_node(keep: bool, **settings: Any) -> Iterator[Node]:
    """A started node that leads; stopped (and its folder removed unless `keep`) on exit.
    The folder is kept when anything fails, for its node.log."""
    workdir = Path(tempfile.mkdtemp(prefix="s0hostile-"))
    node = start_node(workdir, settings)
    try:
        wait_for(lambda: (workdir / ".scheduler0").exists(), timeout=20, message="node secrets")
        node.auth = basic_auth(workdir / ".scheduler0")
        wait_for(lambda: leads(node), timeout=30, message="node leader")
        yield node
    except BaseException:
        keep = True
        print(f"node folder kept: {workdir}", file=sys.stderr)
        raise
    finally:
        stop(node.proc)
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def leads(node: Node) -> bool:
    reply = call(node, "GET", "/healthcheck", timeout=3)
    return isinstance(reply.data, dict) and bool(reply.data.get("is_leader"))


def node_code() -> str:
    """The folder the node's `scheduler0` package is imported from (PYTHONPATH decides)."""
    with tempfile.TemporaryDirectory() as cwd:
        out = subprocess.run([sys.executable, "-c", "import os, scheduler0; print(os.path.dirname("
                              "os.path.dirname(os.path.abspath(scheduler0.__file__))))"],
                             cwd=cwd, capture_output=True, text=True, timeout=30)
    return out.stdout.strip() or out.stderr.strip()


# -- processes ---------------------------------------------------------------------------------


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL for whatever of its tree is left after 15 s (children run in their
    own sessions, so they are collected before the supervisor can go)."""
    family = tree(proc.pid)
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        pass
    for p in family:
        with contextlib.suppress(psutil.Error):
            if p.is_running():
                p.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def role_process(node: Node, role: str) -> psutil.Process | None:
    """The supervisor's child running `role` (its command is `-m scheduler0.child ROLE ...`)."""
    for p in tree(node.proc.pid)[1:]:
        with contextlib.suppress(psutil.Error):
            cmd = p.cmdline()
            if "scheduler0.child" in cmd and role in cmd:
                return p
    return None


def cpu_seconds(proc: psutil.Process | None) -> float:
    try:
        times = proc.cpu_times() if proc else None
    except psutil.Error:
        return math.nan
    return times.user + times.system if times else math.nan


def rss(proc: psutil.Process | None) -> int:
    try:
        return proc.memory_info().rss if proc else 0
    except psutil.Error:
        return 0


class PeakSampler:
    """Calls `measure` every `interval` s in its own thread while in the `with` block and keeps
    the first and the largest value."""

    def __init__(self, measure: Callable[[], int], interval: float):
        self.measure, self.interval = measure, interval
        self.first = self.peak = measure()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.measure())


# -- HTTP --------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int | None  # None: no answer
    seconds: float
    error: str = ""  # why there was no answer: "timed out (5 s)", "ConnectionResetError", ...
    data: Any = None  # the envelope's "data"


def call(node: Node, method: str, path: str, body: Any = None, *, auth: bool = True,
         timeout: float = 10.0) -> Reply:
    """One API request on a fresh connection, never raising: failures are Replies too."""
    headers = {"Content-Type": "application/json", **({"Authorization": node.auth} if auth else {})}
    payload = None if body is None else json.dumps(body).encode()
    conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=timeout)
    started = time.perf_counter()
    try:
        conn.request(method, "/api/v1" + path, body=payload, headers=headers)
        response = conn.getresponse()
        return Reply(response.status, time.perf_counter() - started, data=envelope(response.read()))
    except TimeoutError:
        return Reply(None, time.perf_counter() - started, f"timed out ({timeout:g} s)")
    except (OSError, http.client.HTTPException) as exc:
        return Reply(None, time.perf_counter() - started, type(exc).__name__)
    finally:
        conn.close()


def envelope(raw: bytes) -> Any:
    try:
        return json.loads(raw).get("data")
    except (ValueError, AttributeError):
        return None


def get_json(port: int, path: str, timeout: float = 30) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def reply_rows(replies: list[Reply]) -> list[dict[str, Any]]:
    return [{"status": r.status, "seconds": round(r.seconds, 4), "error": r.error} for r in replies]


def total(reply: Reply) -> int | str:
    """The `total` of a list answer, or why there is none."""
    if isinstance(reply.data, dict) and "total" in reply.data:
        return int(reply.data["total"])
    return reply.error or f"HTTP {reply.status}"


# -- figures -----------------------------------------------------------------------------------


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def latencies(replies: list[Reply]) -> str:
    """`p50 / max` of the answered requests, then how many got no answer, and why."""
    answered = [r.seconds for r in replies if r.status is not None]
    parts = [f"p50 {ms(quantile(answered, 0.5))} / max {ms(max(answered))}"] if answered else []
    if len(answered) == 1:
        parts = [ms(answered[0])]
    parts += [f"{n} {why}" for why, n in Counter(r.error for r in replies if r.status is None).items()]
    return "; ".join(parts) or "no requests"


def statuses(replies: list[Reply]) -> str:
    return counts(Counter(str(r.status) if r.status is not None else "none" for r in replies))


def counts(counter: Counter[str]) -> str:
    return ", ".join(f"{key}: {n}" for key, n in sorted(counter.items())) or "none"


def mib(count: float) -> str:
    return f"{count / MiB:,.1f} MiB"


# -- raft-stream -------------------------------------------------------------------------------


@dataclass
class StreamTally:
    sent: int = 0  # bytes the kernel took from the client
    connections: int = 0
    closed_by_node: int = 0
    connect_failures: int = 0


def stream_frames(tally: StreamTally, port: int, seconds: float, frame_bytes: int,
                  pause: float) -> None:
    """Stream one frame header announcing `frame_bytes`, then zeros, for `seconds`; reconnect
    (after `pause`) whenever the node closes the connection. Counts into `tally` as it goes."""
    zeros = bytes(256 * 1024)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and tally.connections < MAX_RAFT_CONNECTIONS:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=1)
        except OSError:
            tally.connect_failures += 1
            time.sleep(pause)
            continue
        tally.connections += 1
        try:
            sock.sendall(struct.pack("i", frame_bytes))
            tally.sent += 4
            while time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):  # the node is not reading: keep trying
                    tally.sent += sock.send(zeros)
        except OSError:
            tally.closed_by_node += 1
            time.sleep(pause)
        finally:
            sock.close()


def write_every(node: Node, interval: float, seconds: float, timeout: float) -> list[Reply]:
    """An authenticated POST /projects every `interval` s for `seconds`, each on its own
    thread so a stalled write does not delay the next one."""
    count = int(seconds / interval)
    with ThreadPoolExecutor(max_workers=math.ceil(timeout / interval) + 2) as pool:
        start, futures = time.monotonic(), []
        for i in range(count):
            futures.append(pool.submit(call, node, "POST", "/projects",
                                       {"name": f"hostile-write-{i}"}, timeout=timeout))
            time.sleep(max(0.0, start + (i + 1) * interval - time.monotonic()))
        return [f.result(timeout=timeout + 30) for f in futures]


def raft_stream(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    with running_node(args.keep) as node:
        coordinator = role_process(node, "coordinator")
        cpu0, tally = cpu_seconds(coordinator), StreamTally()
        thread = threading.Thread(target=stream_frames, daemon=True, args=(
            tally, node.raft_port, args.stream_seconds, args.frame_mib * MiB, args.reconnect_pause))
        with PeakSampler(lambda: rss(coordinator), 0.2) as memory:
            thread.start()
            replies = write_every(node, args.write_every, args.stream_seconds, args.write_timeout)
            thread.join(args.stream_seconds + 10)
        cpu = cpu_seconds(coordinator) - cpu0
        alive = coordinator is not None and coordinator.is_running()
    committed = [r for r in replies if r.status in (200, 201)]
    figures = {
        "stream": f"{args.stream_seconds:g} s, frame header announcing {args.frame_mib} MiB",
        "bytes the client got through (taken by the kernel)": mib(tally.sent),
        "connections opened / closed by the node": f"{tally.connections} / {tally.closed_by_node}",
        "connect failures": tally.connect_failures,
        "coordinator CPU during the stream": f"{cpu:.1f} s",
        "coordinator RSS start / peak / growth": (f"{mib(memory.first)} / {mib(memory.peak)} / "
                                                  f"{mib(memory.peak - memory.first)}"),
        "coordinator still running": alive,
        "writes attempted / committed / failed": (f"{len(replies)} / {len(committed)} / "
                                                  f"{len(replies) - len(committed)}"),
        "write statuses": statuses(replies),
        "write latency": latencies(replies),
    }
    return figures, {"stream": vars(tally), "write_seconds": [round(r.seconds, 3) for r in replies]}


# -- slow-clients ------------------------------------------------------------------------------


PARTIAL_HEADER = b"GET /api/v1/projects HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Hold: "


def open_slow_clients(held: list[socket.socket], port: int, count: int) -> int:
    """Opens `count` connections into `held`, every second one having sent a partial request
    header; returns how many could not be opened (it gives up after 20 failures in a row)."""
    failures = streak = 0
    for i in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=2)
        except OSError:
            failures, streak = failures + 1, streak + 1
            if streak >= 20:
                break
            continue
        streak = 0
        held.append(sock)
        if i % 2:
            with contextlib.suppress(OSError):
                sock.sendall(PARTIAL_HEADER)
    return failures


def held_state(socks: list[socket.socket]) -> Counter[str]:
    """Each held connection: still open, answered by the node, or closed by it."""
    states: Counter[str] = Counter()
    for sock in socks:
        sock.setblocking(False)
        try:
            states["answered" if sock.recv(1, socket.MSG_PEEK) else "closed by the node"] += 1
        except BlockingIOError:
            states["open"] += 1
        except OSError:
            states["closed by the node"] += 1
    return states


def api_connections(node: Node) -> int | str:
    """Established connections on the API port that the API process has accepted."""
    api = role_process(node, "api")
    try:
        conns = api.net_connections("tcp") if api else []
    except psutil.Error as exc:
        return type(exc).__name__
    return sum(1 for c in conns if c.laddr and c.laddr.port == node.port and c.status == "ESTABLISHED")


def probe(node: Node, path: str, *, auth: bool, count: int, timeout: float) -> list[Reply]:
    replies: list[Reply] = []
    for _ in range(count):
        replies.append(call(node, "GET", path, auth=auth, timeout=timeout))
        if sum(r.status is None for r in replies) >= MAX_PROBE_TIMEOUTS:
            break
    return replies


def slow_clients(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    with running_node(args.keep) as node:
        held: list[socket.socket] = []
        try:
            failures = open_slow_clients(held, node.port, args.connections)
            time.sleep(1)  # let the node take in what it will
            accepted = api_connections(node)
            health = probe(node, "/healthcheck", auth=False, count=args.probes, timeout=args.timeout)
            projects = probe(node, "/projects", auth=True, count=args.probes, timeout=args.timeout)
            states = held_state(held)
        finally:
            for sock in held:
                sock.close()
        after = call(node, "GET", "/healthcheck", auth=False, timeout=args.timeout)
    figures = {
        "connections held (half mid-header)": f"{len(held)} of {args.connections}",
        "connections that could not be opened": failures,
        "accepted by the API process": accepted,
        f"health check, no auth ({len(health)} of {args.probes})": latencies(health),
        f"GET /projects, auth ({len(projects)} of {args.probes})": latencies(projects),
        "held connections at the end": counts(states),
        "health check after releasing them": latencies([after]),
    }
    return figures, {"health": reply_rows(health), "projects": reply_rows(projects)}


# -- big-body ----------------------------------------------------------------------------------


@dataclass
class BodyPush:
    sent: int = 0
    status: int | None = None
    sent_at_answer: int | None = None  # bytes of the body sent when the answer came
    closed: str = ""  # how the node ended the connection without an answer, if it did
    seconds: float = 0.0


def push_big_body(port: int, declared: int, seconds: float) -> BodyPush:
    """An unauthenticated POST declaring `declared` bytes, body sent as fast as the node takes
    it, until it answers, closes, or `seconds` pass."""
    push, zeros, answer = BodyPush(), bytes(256 * 1024), b""
    started = time.monotonic()
    head = (f"POST /api/v1/projects HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: "
            f"application/json\r\nContent-Length: {declared}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock, \
            selectors.DefaultSelector() as selector:
        sock.sendall(head)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
        while time.monotonic() - started < seconds and b"\r\n" not in answer:
            ready = selector.select(0.2)
            try:
                if ready and ready[0][1] & selectors.EVENT_READ:
                    chunk = sock.recv(65536)
                    if not chunk:
                        push.closed = "closed (FIN)"
                        break
                    answer += chunk
                    if push.sent_at_answer is None:
                        push.sent_at_answer = push.sent
                elif ready:
                    push.sent += sock.send(zeros[:declared - push.sent])
                    if push.sent >= declared:  # all sent: only the answer is left to wait for
                        selector.modify(sock, selectors.EVENT_READ)
            except BlockingIOError:
                continue
            except OSError as exc:
                push.closed = type(exc).__name__
                break
    push.seconds = time.monotonic() - started
    push.status = int(answer.split()[1]) if answer.startswith(b"HTTP/") else None
    return push


def temp_usage(pids: list[int], folder: Path) -> int:
    """Bytes of files in `folder`, counting those the node deleted but holds open: waitress's
    request-body buffers are unlinked temporary files, invisible to a directory listing."""
    prefix, sizes = os.path.realpath(folder), {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                st = os.stat(os.path.join(root, name))
                sizes[st.st_dev, st.st_ino] = st.st_size
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(prefix):
                        st = os.stat(f"/proc/{pid}/fd/{fd}")
                        sizes[st.st_dev, st.st_ino] = st.st_size
    return sum(sizes.values())


def big_body(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    declared = args.body_mib * MiB
    with running_node(args.keep) as node:
        pids = [p.pid for p in tree(node.proc.pid)]
        with PeakSampler(lambda: temp_usage(pids, node.tmpdir), 0.02) as temp:
            push = push_big_body(node.port, declared, args.body_seconds)
            time.sleep(1)  # the node may still be writing what it read
        after = call(node, "GET", "/healthcheck", auth=False, timeout=args.timeout)
    if push.status is not None:
        when = "before" if (push.sent_at_answer or 0) < declared else "after"
        answer = f"{push.status}, {when} the body was sent ({mib(push.sent_at_answer or 0)} of it)"
    else:
        answer = f"none: {push.closed or f'no answer within {args.body_seconds:g} s'}"
    figures = {
        "declared body": mib(declared),
        "answer": answer,
        "bytes of body sent": mib(push.sent),
        "attempt lasted": f"{push.seconds:.1f} s",
        "largest size of the node's temp folder": mib(temp.peak),
        "health check afterwards": latencies([after]),
    }
    return figures, {"push": vars(push), "temp_peak": temp.peak}


# -- blackhole ---------------------------------------------------------------------------------


class Blackhole:
    """A host that accepts connections and never answers (what arrives is read and dropped).
    It holds at most `cap` connections; past that, new ones wait unaccepted in the backlog,
    which never answers either."""

    def __init__(self, host: str = BLACKHOLE_HOST, cap: int = 4096):
        self.listener = socket.create_server((host, 0), backlog=1024)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.cap, self.accepted = cap, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Blackhole:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.listener.close()

    def _serve(self) -> None:
        held: set[socket.socket] = set()
        with selectors.DefaultSelector() as selector:
            selector.register(self.listener, selectors.EVENT_READ)
            try:
                while not self._stop.is_set():
                    for key, _ in selector.select(0.2):
                        if key.fileobj is self.listener:
                            self._accept(selector, held)
                        else:
                            self._drain(selector, key.fileobj, held)  # type: ignore[arg-type]
            finally:
                for conn in held:
                    conn.close()

    def _accept(self, selector: selectors.BaseSelector, held: set[socket.socket]) -> None:
        with contextlib.suppress(BlockingIOError):
            conn, _ = self.listener.accept()
            conn.setblocking(False)
            held.add(conn)
            selector.register(conn, selectors.EVENT_READ)
            self.accepted += 1
        if len(held) >= self.cap:
            selector.unregister(self.listener)

    def _drain(self, selector: selectors.BaseSelector, conn: socket.socket,
               held: set[socket.socket]) -> None:
        try:
            data = conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            selector.unregister(conn)
            held.discard(conn)
            conn.close()


@dataclass
class Sample:
    t: int  # seconds since the jobs were created
    planner: dict[str, Any] = field(default_factory=dict)
    failed: int | str = 0  # executions of the project recorded failed
    error: str = ""


PLANNER_KEYS = ("planned", "redispatched", "undelivered", "in_flight", "missed")


def sample_node(node: Node, project_id: int, seconds: float, every: float) -> list[Sample]:
    """Planner counters (authenticated health detail) and failed executions, every `every` s."""
    samples: list[Sample] = []
    start = time.monotonic()
    for i in range(math.ceil(seconds / every)):
        time.sleep(max(0.0, start + (i + 1) * every - time.monotonic()))
        health = call(node, "GET", "/healthcheck", timeout=5)
        planner = health.data.get("planner") if isinstance(health.data, dict) else None
        failed = call(node, "GET", f"/executions?project_id={project_id}&state=failed&limit=1",
                      timeout=5)
        samples.append(Sample(round(time.monotonic() - start),
                              {k: planner[k] for k in PLANNER_KEYS if k in planner} if planner else {},
                              total(failed), health.error))
    return samples


def blackhole_jobs(project_id: int, count: int, period: int, anchor: int, hole: str,
                   healthy: str) -> list[dict[str, Any]]:
    """`count` jobs calling the blackhole (one path each), then the healthy one, last: all
    `@every period` from the same anchor, so they fire on the same ticks."""
    urls = [f"{hole}/job/{i}" for i in range(count)] + [f"{healthy}/callback"]
    return [{"project_id": project_id, "spec": f"@every {period}s", "start_date": anchor,
             "callback_url": url, "data": json.dumps({"n": i})} for i, url in enumerate(urls)]


def tick_lateness(stats: dict[str, Any], anchor: int, period: int, until: int) -> dict[str, Any]:
    """The healthy job's lateness per tick (arrival - scheduled), over ticks due by `until`."""
    due = range(anchor + period, until + 1, period)
    ticks = stats.get("ticks") or {}
    late = [ticks[str(t)]["max"] for t in due if str(t) in ticks]
    summary = f"p50 {quantile(late, 0.5):.2f} s / max {max(late):.2f} s" if late else "none arrived"
    return {"due": len(due), "delivered": len(late), "lateness": summary,
            "per_tick": [ticks.get(str(t), {}).get("max") for t in due]}


def blackhole(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    period = args.period
    receiver, receiver_port = start_receiver()
    try:
        with Blackhole() as hole, running_node(args.keep, JobExecutionTimeout=10) as node:
            project = call(node, "POST", "/projects", {"name": "hostile-blackhole"}).data
            anchor = int(time.time()) + 5
            jobs = blackhole_jobs(project["id"], args.blackhole_jobs, period, anchor,
                                  f"http://{BLACKHOLE_HOST}:{hole.port}",
                                  f"http://127.0.0.1:{receiver_port}")
            created = call(node, "POST", "/jobs", jobs, timeout=60)
            if not isinstance(created.data, list):
                raise RuntimeError(f"job creation failed: {created.status} {created.error}")
            samples = sample_node(node, project["id"], args.blackhole_seconds, args.sample_every)
            until = int(time.time()) - args.settle
            healthy_failed = total(call(node, "GET", f"/jobs/{created.data[-1]['id']}/executions"
                                        "?state=failed&limit=1", timeout=10))
            connections = hole.accepted
        stats = get_json(receiver_port, f"/stats?from={anchor}&to={until}")
    finally:
        stop(receiver)
    healthy = tick_lateness(stats, anchor, period, until)
    last = samples[-1] if samples else Sample(0)
    failed = (last.failed - healthy_failed if isinstance(last.failed, int)
              and isinstance(healthy_failed, int) else last.failed)
    figures = {
        "jobs": f"{args.blackhole_jobs} blackholed + 1 healthy, @every {period}s, "
                f"{args.blackhole_seconds:g} s",
        "healthy ticks delivered": f"{healthy['delivered']} of {healthy['due']}",
        "healthy lateness per tick": healthy["lateness"],
        "connections the node opened to the blackhole": connections,
        "planner redispatched over time": ", ".join(
            f"{s.t}s: {s.planner.get('redispatched', s.error or '?')}" for s in samples),
        "planner at the end": last.planner or last.error,
        "blackholed executions recorded failed": failed,
        "healthy executions recorded failed": healthy_failed,
    }
    return figures, {"samples": [vars(s) for s in samples], "healthy": healthy}


# -- main --------------------------------------------------------------------------------------


SCENARIOS: dict[str, Callable[[argparse.Namespace], tuple[dict[str, Any], dict[str, Any]]]] = {
    "raft-stream": raft_stream, "slow-clients": slow_clients, "big-body": big_body,
    "blackhole": blackhole,
}


def raise_fd_limit() -> None:
    """Hundreds of held sockets need more descriptors than a default soft limit may allow."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def print_table(name: str, figures: dict[str, Any]) -> None:
    width = max(map(len, figures))
    print(f"\n== {name} ==")
    for label, value in figures.items():
        print(f"{label:<{width}}  {value}")
    sys.stdout.flush()


def run_one(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """One scenario's figures and detail; a scenario that fails is reported, not fatal."""
    started = time.monotonic()
    try:
        figures, detail = SCENARIOS[name](args)
    except Exception as exc:  # reported; the other scenarios still run
        figures, detail = {"error": f"{type(exc).__name__}: {exc}"}, {}
    figures["scenario took"] = f"{time.monotonic() - started:.0f} s"
    print_table(name, figures)
    return {"figures": figures, "detail": detail}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=list(SCENARIOS), action="append",
                        help="run this scenario (repeatable); default: all")
    parser.add_argument("--timeout", type=float, default=5.0, help="probe client timeout (s)")
    parser.add_argument("--stream-seconds", type=float, default=20)
    parser.add_argument("--frame-mib", type=int, default=1024, help="frame size the header announces")
    parser.add_argument("--reconnect-pause", type=float, default=0.05)
    parser.add_argument("--write-every", type=float, default=0.5)
    parser.add_argument("--write-timeout", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--probes", type=int, default=10)
    parser.add_argument("--body-mib", type=int, default=300)
    parser.add_argument("--body-seconds", type=float, default=10)
    parser.add_argument("--blackhole-jobs", type=int, default=500)
    parser.add_argument("--blackhole-seconds", type=float, default=90)
    parser.add_argument("--period", type=int, default=10, help="@every period of the jobs (s)")
    parser.add_argument("--sample-every", type=float, default=5)
    parser.add_argument("--settle", type=int, default=5, help="last seconds whose ticks are not counted")
    parser.add_argument("--keep", action="store_true", help="keep the nodes' folders")
    parser.add_argument("--tag", help="name of the results file (default: the node code's folder)")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    if not 0 < args.frame_mib < 2048:
        parser.error("--frame-mib must be 1-2047 (the header is a signed 32-bit length)")
    return args


def main() -> None:
    args = parse_args()
    raise_fd_limit()
    code = node_code()
    print(f"node code: {code}", flush=True)
    results = {name: run_one(name, args) for name in args.only or SCENARIOS}
    os.makedirs(args.out, exist_ok=True)
    subset = "".join(f"-{name}" for name in args.only or ())
    path = Path(args.out, f"hostile-{args.tag or Path(code).name}{subset}.json")
    path.write_text(json.dumps({"node_code": code, "args": vars(args), "scenarios": results},
                               indent=1, default=str))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
