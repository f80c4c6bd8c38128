"""The executor as a real process (`python -m scheduler0.child executor`), driven over real ZeroMQ
sockets by a stand-in coordinator and supervisor, delivering to a real HTTP receiver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scheduler0 import config, messages, transport

try:
    from tests.integration.receiver import Receiver
except ImportError:  # pytest's prepend import mode without the repo root on sys.path
    from receiver import Receiver  # type: ignore[no-redef]

pytestmark = pytest.mark.timeout(90)

NODE_ID = 3
SECRETS = {"1": "project-one-secret"}


class StandIn:
    """Binds what the coordinator and the supervisor bind: PUSH batches, SUB results, PUB
    control. Collects every message the executor publishes, as its wire map."""

    def __init__(self, settings: config.Settings):
        self.push = transport.Socket("push", settings.ipc("batches"), bind=True, hwm=1000)
        self.sub = transport.Socket("sub", settings.ipc("results"), bind=True, hwm=1_000_000,
                                    channel=messages.RESULTS)
        self.control = transport.Socket("pub", settings.ipc("control"), bind=True)
        self.results: list[dict[str, Any]] = []  # results messages, in arrival order
        self.loads: list[dict[str, Any]] = []

    def pump(self, timeout: float = 0.05) -> None:
        message = self.sub.recv(timeout=timeout)
        while message is not None:
            wire = messages.as_map(message)
            (self.loads if wire["type"] == "load" else self.results).append(wire)
            message = self.sub.recv_nowait()

    def wait(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    def send_batch(self, batch: dict[str, Any], timeout: float = 10.0) -> None:
        """Send a batch given as its wire map."""
        message = messages.BATCHES.decode_map(batch)
        assert message is not None
        self.wait(lambda: self.push.send(message, block=False), timeout, "an executor to pull")

    def results_of(self, batch_id: str) -> list[dict[str, Any]]:
        return [r for m in self.results if m["batch_id"] == batch_id for r in m["results"]]

    def finished(self, batch_id: str) -> bool:
        return any(m["final"] for m in self.results if m["batch_id"] == batch_id)

    def close(self) -> None:
        for sock in (self.push, self.sub, self.control):
            sock.close()


def executions(receiver: Receiver, count: int, paths: list[str], first: int = 0) -> list[dict]:
    now = int(time.time())
    return [{"execution_id": f"exe-{n:05d}", "id": n, "project_id": 1, "scheduled_at": now,
             "spec": "* * * * *", "timezone": "UTC", "data": f"job {n}",
             "callback_url": receiver.url(paths[n % len(paths)])}
            for n in range(first, first + count)]


def batch(batch_id: str, items: list[dict], fire_at: int = 0) -> dict[str, Any]:
    return {"v": 1, "type": "batch", "batch_id": batch_id, "fire_at": fire_at,
            "deadline": (fire_at or int(time.time())) + 60, "executions": items,
            "signing_secrets": SECRETS}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"SCHEDULER0_DATA_DIR": str(tmp_path / "data"), "SCHEDULER0_NODE_ID": str(NODE_ID),
            "SCHEDULER0_CALLBACK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "SCHEDULER0_JOB_EXECUTION_TIMEOUT": "5", "SCHEDULER0_JOB_EXECUTION_RETRY_DELAY": "0.05",
            "SCHEDULER0_HTTP_EXECUTOR_PAYLOAD_MAX_SIZE_MB": "0.005", "SCHEDULER0_LOG_LEVEL": "INFO"}


@pytest.fixture
def stand_in(env: dict[str, str]) -> Iterator[StandIn]:
    node = StandIn(config.load(env))
    try:
        yield node
    finally:
        node.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as rx:
        yield rx


@pytest.fixture
def spawn(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen]]:
    """Start executor processes; every one still alive at the end is killed by its pid."""
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        log = open(tmp_path / f"executor-{len(started)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, "-m", "scheduler0.child", "executor",
                                 "--index", "0"], env={**os.environ, **env}, stdout=log,
                                stderr=subprocess.STDOUT)
        log.close()
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        for path in sorted(tmp_path.glob("executor-*.log")):
            sys.stderr.write(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}\n")


def wait_until_ready(stand_in: StandIn, proc: subprocess.Popen) -> dict[str, Any]:
    """The executor's first load report that reached us (so its sockets are connected)."""
    seen = len(stand_in.loads)
    stand_in.wait(lambda: len(stand_in.loads) > seen or proc.poll() is not None, 15,
                  "the executor's first load report")
    assert proc.poll() is None, f"executor exited with {proc.returncode}"
    return stand_in.loads[-1]


def stop_and_wait(proc: subprocess.Popen, timeout: float = 10.0) -> int:
    os.kill(proc.pid, signal.SIGTERM)
    return proc.wait(timeout)


# -- tests ------------------------------------------------------------------------------------


def test_delivers_a_batch_and_publishes_every_result_once(stand_in, receiver, spawn):
    proc = spawn()
    first_load = wait_until_ready(stand_in, proc)
    assert (first_load["node_id"], first_load["executor"], first_load["pid"]) == (NODE_ID, 0,
                                                                                   proc.pid)
    items = executions(receiver, 500, [f"/hook/{n}" for n in range(5)])
    stand_in.send_batch(batch("b-500", items))
    stand_in.wait(lambda: stand_in.finished("b-500"), 30, "the final results message")

    results = stand_in.results_of("b-500")
    counts = Counter(r["execution_id"] for r in results)
    assert set(counts) == {e["execution_id"] for e in items} and set(counts.values()) == {1}
    assert {r["state"] for r in results} == {"succeeded"}
    assert {r["http_status"] for r in results} == {200}
    messages = [m for m in stand_in.results if m["batch_id"] == "b-500"]
    assert [m["final"] for m in messages] == [False] * (len(messages) - 1) + [True]
    assert {(m["node_id"], m["executor"]) for m in messages} == {(NODE_ID, 0)}
    chunks = len(receiver.requests)
    assert chunks > 5 and len(messages) <= chunks  # one message per chunk at most
    delivered = Counter(e["execution_id"] for r in receiver.requests for e in r.json)
    assert set(delivered.values()) == {1} and len(delivered) == 500
    assert {r.header("x-scheduler0-node") for r in receiver.requests} == {str(NODE_ID)}

    load = stand_in.wait(lambda: next((m for m in reversed(stand_in.loads)
                                       if m["metrics"]["delivered"] == 500), None), 5,
                         "a load report counting the delivery")
    assert load["held"] == 0 and load["metrics"]["chunks"] == chunks
    assert load["metrics"]["lateness"]["count"] == 500
    assert stop_and_wait(proc) == 0


def test_killed_mid_batch_then_redispatched_with_the_same_keys(stand_in, receiver, spawn):
    slow_paths = ["/slow/0", "/slow/1"]
    for path in slow_paths:
        receiver.respond([], path=path, delay=60)  # never answered while the first executor lives
    items = executions(receiver, 300, ["/fast", *slow_paths])
    fast_ids = {e["execution_id"] for e in items if e["callback_url"].endswith("/fast")}

    first = spawn()
    wait_until_ready(stand_in, first)
    stand_in.send_batch(batch("b-kill", items))
    stand_in.wait(lambda: {r["execution_id"] for r in stand_in.results_of("b-kill")} == fast_ids,
                  20, "the fast chunks' results")
    slow_seen = lambda: [r for r in receiver.requests if r.path.startswith("/slow")]  # noqa: E731
    first_round = {r.header("idempotency-key") for r in
                   stand_in.wait(lambda: len(slow_seen()) >= 4 and slow_seen(), 10,
                                 "slow chunks in flight")}

    os.kill(first.pid, signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    assert not stand_in.finished("b-kill")

    for path in slow_paths:
        receiver.respond([], path=path)  # answered at once from now on
    before = len(stand_in.results)
    second = spawn()
    wait_until_ready(stand_in, second)
    stand_in.send_batch(batch("b-kill", items))  # what the leader does at the deadline
    stand_in.wait(lambda: stand_in.finished("b-kill"), 30, "the re-dispatched batch to finish")

    again = [r for m in stand_in.results[before:] if m["batch_id"] == "b-kill"
             for r in m["results"]]
    assert sorted(r["execution_id"] for r in again) == sorted(e["execution_id"] for e in items)
    assert {r["state"] for r in again} == {"succeeded"}
    second_keys = {r.header("idempotency-key") for r in receiver.requests
                   if r.path.startswith("/slow") and r.status == 200}
    assert first_round <= second_keys  # the duplicates carry the keys of the first attempt
    assert stop_and_wait(second) == 0


def test_sigterm_finishes_due_work_hands_back_the_rest_and_exits_0(stand_in, receiver, spawn,
                                                                   tmp_path):
    receiver.respond([], path="/due", delay=1.0)
    proc = spawn()
    wait_until_ready(stand_in, proc)
    due = executions(receiver, 20, ["/due"])
    soon = executions(receiver, 20, ["/later"], first=50)
    later = executions(receiver, 20, ["/later"], first=100)
    stand_in.send_batch(batch("b-due", due))
    # Due within the stop grace, but not yet: no POST starts while stopping, so it is handed
    # back at once rather than waited for.
    stand_in.send_batch(batch("b-soon", soon, fire_at=int(time.time()) + 4))
    stand_in.send_batch(batch("b-later", later, fire_at=int(time.time()) + 120))
    receiver.wait_for_requests(1, timeout=10)
    stand_in.wait(lambda: stand_in.loads[-1]["held"] == 3, 5, "all three batches held")

    started = time.monotonic()
    assert stop_and_wait(proc, timeout=10) == 0
    assert time.monotonic() - started < 10
    stand_in.wait(lambda: stand_in.finished("b-due"), 5, "the due batch's final results")
    assert {r["state"] for r in stand_in.results_of("b-due")} == {"succeeded"}
    assert len(stand_in.results_of("b-due")) == 20
    assert stand_in.results_of("b-later") == [] and stand_in.results_of("b-soon") == []
    assert not [r for r in receiver.requests if r.path == "/later"]
    assert stand_in.loads[-1]["stopping"] is True
    log = (tmp_path / "executor-0.log").read_text()
    assert "handing back 2 not due" in log


def test_supervisor_stop_message_stops_it(stand_in, spawn):
    proc = spawn()
    wait_until_ready(stand_in, proc)
    deadline = time.monotonic() + 10
    while proc.poll() is None and time.monotonic() < deadline:
        stand_in.control.send(messages.Stop())
        stand_in.pump(timeout=0.1)
    assert proc.wait(5) == 0


def test_memory_pressure_pauses_pulling(stand_in, receiver, spawn):
    proc = spawn()
    wait_until_ready(stand_in, proc)

    def pressure_reported(on: bool) -> bool:
        stand_in.control.send(messages.Memory(pressure=on))
        return bool(stand_in.loads) and stand_in.loads[-1]["pressure"] is on

    stand_in.wait(lambda: pressure_reported(True), 10, "the executor to report pressure")
    stand_in.send_batch(batch("b-paused", executions(receiver, 10, ["/p"])))
    reports = len(stand_in.loads)
    stand_in.wait(lambda: len(stand_in.loads) >= reports + 2, 5, "two more load reports")
    assert stand_in.loads[-1]["held"] == 0 and receiver.requests == []

    stand_in.wait(lambda: pressure_reported(False), 10, "the executor to report no pressure")
    stand_in.wait(lambda: stand_in.finished("b-paused"), 10, "the paused batch to be delivered")
    assert len(stand_in.results_of("b-paused")) == 10
    assert stop_and_wait(proc) == 0


def test_results_messages_coalesce_per_batch_and_mark_final():
    from scheduler0.executor.process import results_messages

    r = [messages.Outcome(execution_id=f"e{n}", state="succeeded") for n in range(7)]
    items = [("a", r[:2], False), ("b", r[2:3], False), ("a", r[3:5], True), ("b", r[5:7], False)]
    wire = [messages.as_map(m) for m in results_messages(items, node_id=3, executor=1,
                                                         max_results=3)]
    assert [(m["batch_id"], len(m["results"]), m["final"]) for m in wire] == [
        ("a", 3, False), ("a", 1, True), ("b", 3, False)]
    assert {(m["v"], m["type"], m["node_id"], m["executor"]) for m in wire} == {
        (1, "results", 3, 1)}
    assert [messages.as_map(m) for m in results_messages([("c", [], True)], 3, 1)] == [
        {"v": 1, "type": "results", "node_id": 3, "executor": 1, "batch_id": "c",
         "results": [], "final": True}]
