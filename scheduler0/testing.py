"""Helpers for tests and tools: a real single node in-process, waiting on conditions, and
in-memory fakes of the leader's threads' collaborators."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scheduler0 import clock, config, manual, messages
from scheduler0.coordinator.raft import RaftNode, raft_password
from scheduler0.errors import UnavailableError
from scheduler0.schedule.planning import DueSchedule, PlannedJob
from scheduler0.store import Reader, StateMachine
from scheduler0.vocabulary import ExecutionState, execution_id

if TYPE_CHECKING:
    from scheduler0.clock import Clock
    from scheduler0.coordinator.ports import PlanningReader, Pusher, Raft


def free_port() -> int:
    """A port the kernel just handed out on loopback (bind 0, read it back)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02,
             message: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = clock.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if clock.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def node_settings(data_dir: Path | str, **overrides: Any) -> config.Settings:
    """Settings for one loopback node on free ports, callbacks restricted to loopback."""
    port = free_port()
    base = config.Settings(
        port=port,
        data_dir=str(data_dir),
        raft_address=f"127.0.0.1:{free_port()}",
        intake_address=f"127.0.0.1:{free_port()}",
        callback_allowed_networks=("127.0.0.0/8",),
        raft_election_timeout=0.3,
        raft_heartbeat_timeout=0.05,
    )
    return dataclasses.replace(base, **overrides)


@contextlib.contextmanager
def local_node(data_dir: Path | str, **overrides: Any) -> Iterator[LocalServices]:
    """A started LocalServices (real pysyncobj + real SQLite) that is stopped afterwards."""
    services = LocalServices(node_settings(data_dir, **overrides)).start()
    try:
        yield services
    finally:
        services.stop()


class LocalServices:
    """NodeServices with the coordinator in this process: a RaftNode over a StateMachine.

    The real node splits these across processes; tests and tools use this to
    run the API against a real Raft node and a real SQLite file without ZeroMQ in between.
    """

    def __init__(self, settings: config.Settings, secret_key: str = "local-test-secret"):
        self.settings = settings
        os.makedirs(settings.data_dir, exist_ok=True)
        self.machine = StateMachine(settings.db_path)
        self.raft = RaftNode(settings, self.machine, raft_password(secret_key))
        self.memory_pressure = False
        self._local = threading.local()

    def start(self, wait_leader: float = 10.0) -> LocalServices:
        self.raft.start()
        deadline = clock.monotonic() + wait_leader
        while not self.raft.is_leader and self.settings.replicas == ():
            if clock.monotonic() > deadline:
                raise UnavailableError("the single node did not become leader in time")
            threading.Event().wait(0.02)
        return self

    def stop(self) -> None:
        self.raft.stop()
        self.machine.close()

    def submit(self, command: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        return self.raft.submit(command, self.settings.write_timeout if timeout is None else timeout)

    def reader(self) -> Reader:
        return Reader.for_thread(self._local, self.settings.db_path)

    def status(self) -> dict[str, Any]:
        return {**self.raft.status(), "memory_pressure": self.memory_pressure}

    def membership(self, action: str, raft_address: str) -> dict[str, Any]:
        self.raft.change_membership(action, raft_address)
        return {"ok": True, "data": None}


# -- fakes for the leader's threads -----------------------------------------------------------
#
# The planner, lease desk, pruner and placement take their clock, Raft node, store reads and
# sockets as the Protocols of scheduler0.clock and scheduler0.coordinator.ports. These stand in
# for them in memory, so a test drives those threads' rules in milliseconds: it moves the clock
# instead of waiting for it. The PLAN and RESULT commands and the batch and ack messages are
# read in `_command_parts` and `FakePusher.of_type` only.


class FakeClock:
    """A clock that moves only when told: `advance` or `set` move the wall and the monotonic
    readings together. `wait` returns at once, the time it would have waited passed (unless the
    event is already set), so a thread's pause costs a test nothing."""

    def __init__(self, wall: float = 1_800_000_000.0, monotonic: float = 1_000.0):
        self._wall = wall
        self._monotonic = monotonic
        self.waits = 0  # the pauses the threads took, those the event cut short included

    def now(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a monotonic clock does not go back")
        self._wall += seconds
        self._monotonic += seconds

    def set(self, wall: float) -> None:
        """Move on to the wall-clock instant `wall` (not before now)."""
        self.advance(wall - self._wall)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        self.waits += 1
        if not event.is_set():
            self.advance(seconds)
        return event.is_set()


Outcome = dict[str, Any] | Exception | Callable[[], object] | None


class FakeRaft:
    """The Raft node as the leader's threads use it, in memory.

    While it leads, each submit commits at once: the command joins `committed` and goes to
    `apply` (a FakeReader's, so the planner then reads what it planned). `script(...)` decides
    what the next submits do instead, one outcome each: None, as usual; a result dict,
    returned as committed but not applied; an exception, raised with nothing committed (a
    timeout); or a callable run while the command is proposed, such as `depose` (leadership
    lost mid-commit: `submit_as_leader` then refuses it, as RaftNode does), whose result dict,
    if it returns one, is returned as the commit's. While `unreachable`
    is set (a partition: no majority) every submit fails with it. Refused commands go to
    `refused`. Every peer counts as connected unless its Raft address is in `disconnected`.
    """

    def __init__(self, term: int = 1, leader: bool = True,
                 apply: Callable[[dict[str, Any]], dict[str, Any]] | None = None):
        self.is_leader = leader
        self.term = term
        self.committed: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        self.disconnected: set[str] = set()
        self.unreachable: Exception | None = None
        self._apply = apply
        self._script: list[Outcome] = []

    def script(self, *outcomes: Outcome) -> None:
        self._script.extend(outcomes)

    def depose(self) -> None:
        self.is_leader = False

    def elect(self, term: int | None = None) -> None:
        """Lead again, in a later term (the next one unless `term` says)."""
        self.is_leader = True
        self.term = self.term + 1 if term is None else term

    def node_connected(self, raft_address: str) -> bool:
        return raft_address not in self.disconnected

    def submit(self, command: dict[str, Any], timeout: float) -> dict[str, Any]:
        return self._propose(command, as_leader=False)

    def submit_as_leader(self, command: dict[str, Any], timeout: float) -> dict[str, Any]:
        if not self.is_leader:
            self.refused.append(command)
            raise UnavailableError("this node is not the leader")
        return self._propose(command, as_leader=True)

    def _propose(self, command: dict[str, Any], as_leader: bool) -> dict[str, Any]:
        if self.unreachable is not None:
            self.refused.append(command)
            raise self.unreachable
        outcome = self._script.pop(0) if self._script else None
        if callable(outcome):
            returned = outcome()
            outcome = returned if isinstance(returned, dict) else None
        if isinstance(outcome, Exception):
            self.refused.append(command)
            raise outcome
        if as_leader and not self.is_leader:
            self.refused.append(command)
            raise UnavailableError("this node lost the leadership while committing")
        self.committed.append(command)
        if outcome is not None:
            return outcome
        return self._apply(command) if self._apply else {"ok": True, "data": None}

    def kinds(self) -> list[str]:
        """The types of the committed commands, in order."""
        return [kind for kind, _ in map(_command_parts, self.committed)]

    def bodies(self, kind: str) -> list[dict[str, Any]]:
        """The bodies of the committed commands of type `kind` (messages.PLAN, ...), in order."""
        return [body for k, body in map(_command_parts, self.committed) if k == kind]


def _command_parts(command: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return str(command["type"]), dict(command["body"])


SCHEDULED = ExecutionState.SCHEDULED.value


@dataclasses.dataclass
class FakeExecution:
    job: PlannedJob
    fire_at: int
    batch_id: str | None
    state: str


class FakeReader:
    """The planner's reads of the store over in-memory rows: the due schedules and their jobs a
    test adds, and the executions the PLAN and RESULT commands it `apply`s record, as the store
    records them (a planned tick is a `scheduled` execution of its batch, a result settles only
    what is still `scheduled`, a schedule advances)."""

    def __init__(self) -> None:
        self.schedules: dict[int, DueSchedule] = {}
        self.jobs: dict[int, list[PlannedJob]] = {}  # schedule id -> its unpaused jobs
        self.versions: dict[int, int] = {}  # schedule id -> its jobs_version
        self.secrets: dict[int, str] = {}  # project id -> signing secret
        self.previous: dict[int, messages.PreviousSecret] = {}  # project id -> before rotation
        self.executions: dict[str, FakeExecution] = {}
        self.revoked: dict[int, tuple[int, int]] = {}  # node id -> newest lease taken back
        self.paused = False  # the cluster pause (POST /pause)
        self.limits: dict[int, messages.RateLimit] = {}  # project id -> its rate limit
        self.rate_limit_reads = 0

    def add(self, schedule: DueSchedule, *jobs: PlannedJob) -> None:
        # Jobs joining a schedule change its version, as the store's triggers do (and a
        # schedule given again after it ran out keeps counting: ids are not reused there).
        self.versions[schedule.id] = self.versions.get(schedule.id, -1) + 1
        self.schedules[schedule.id] = dataclasses.replace(
            schedule, jobs_version=self.versions[schedule.id])
        self.jobs.setdefault(schedule.id, []).extend(jobs)
        for job in jobs:
            self.secrets.setdefault(job.project_id, f"secret-{job.project_id}")

    def planned(self, batch_id: str, fire_at: int, jobs: list[PlannedJob]) -> None:
        """A batch an earlier leader planned: its executions are `scheduled`."""
        for job in jobs:
            self.executions.setdefault(manual.execution_id_in(batch_id, job.id, fire_at),
                                       FakeExecution(job, fire_at, batch_id, SCHEDULED))

    def settle(self, batch_id: str, state: str = ExecutionState.SUCCEEDED.value) -> int:
        """The batch's results arrive: what is still scheduled takes `state`."""
        settled = [e for e in self.executions.values()
                   if e.batch_id == batch_id and e.state == SCHEDULED]
        for execution in settled:
            execution.state = state
        return len(settled)

    def states(self) -> dict[str, str]:
        """Execution id -> state."""
        return {eid: e.state for eid, e in self.executions.items()}

    def apply(self, command: dict[str, Any]) -> dict[str, Any]:
        kind, body = _command_parts(command)
        if kind == messages.PLAN:
            return self._plan(body)
        if kind == messages.RESULT:
            settled = 0
            for row in body["rows"]:
                execution = self.executions.get(str(row[0]))
                if execution is not None and execution.state == SCHEDULED:
                    execution.state = str(row[1])
                    settled += 1
            return {"ok": True, "data": {"settled": settled}}
        if kind == messages.LEASE_REVOKE:
            self._revoke(int(body["node_id"]), (int(body["term"]), int(body["epoch"])))
        return {"ok": True, "data": None}

    def _plan(self, body: dict[str, Any]) -> dict[str, Any]:
        jobs = {j.id: j for js in self.jobs.values() for j in js}
        jobs.update({e.job.id: e.job for e in self.executions.values()})
        for key, state in (("batches", SCHEDULED), ("missed", ExecutionState.MISSED.value)):
            for entry in body.get(key) or []:
                tick = int(entry["scheduled_at"])
                for job_id, _project in entry["rows"]:
                    self.executions.setdefault(execution_id(job_id, tick), FakeExecution(
                        jobs[job_id], tick, entry.get("batch_id"), state))
        for schedule_id, next_fire_at, _last in body.get("advances") or []:
            if next_fire_at is None:
                self.schedules.pop(schedule_id, None)
            else:
                self.schedules[schedule_id] = dataclasses.replace(
                    self.schedules[schedule_id], next_fire_at=next_fire_at)
        return {"ok": True, "data": None}

    def _revoke(self, node_id: int, lease: tuple[int, int]) -> None:
        self.revoked[node_id] = max(lease, self.revoked.get(node_id, lease))

    # -- coordinator.ports.PlanningReader --

    def due_schedules(self, horizon: int, limit: int) -> list[DueSchedule]:
        due = [s for s in self.schedules.values() if s.next_fire_at <= horizon]
        return sorted(due, key=lambda s: (s.next_fire_at, s.id))[:limit]

    def jobs_of_schedules(self, schedule_ids: Sequence[int]) -> dict[int, list[PlannedJob]]:
        return {i: sorted(self.jobs[i], key=lambda j: j.id) for i in schedule_ids
                if self.jobs.get(i)}

    def project_secrets(self, project_ids: Sequence[int]) -> dict[int, str]:
        return {p: self.secrets[p] for p in project_ids if p in self.secrets}

    def previous_secrets(self, project_ids: Sequence[int], now: int
                         ) -> dict[int, messages.PreviousSecret]:
        return {p: self.previous[p] for p in project_ids
                if p in self.previous and self.previous[p].expires_at > now}

    def unfinished_of_batch(self, batch_id: str) -> list[PlannedJob]:
        return self.unfinished_batches().get(batch_id, [])

    def revoked_leases(self) -> dict[int, tuple[int, int]]:
        return dict(self.revoked)

    def planning_paused(self) -> bool:
        return self.paused

    def rate_limits(self) -> dict[int, messages.RateLimit]:
        self.rate_limit_reads += 1
        return dict(self.limits)

    def unfinished_batches(self) -> dict[str, list[PlannedJob]]:
        found: dict[str, list[PlannedJob]] = {}
        for execution in sorted(self.executions.values(), key=lambda e: e.job.id):
            if execution.state == SCHEDULED and execution.batch_id is not None:
                found.setdefault(execution.batch_id, []).append(execution.job)
        return dict(sorted(found.items()))

    def batch_fire_at(self, batch_id: str) -> int:
        return next((e.fire_at for e in self.executions.values() if e.batch_id == batch_id), 0)

    def requested_batches(self) -> list[str]:
        return sorted((b for b in self.unfinished_batches() if manual.is_requested(b)),
                      key=lambda b: (not b.startswith(manual.MANUAL), b))


class FakePusher:
    """The dispatcher's sockets to the nodes' intakes: keeps what was sent, in order. A node in
    `full` refuses, as a full intake queue does."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, dict[str, Any]]] = []
        self.full: set[int] = set()
        self.closed = False

    def send(self, node_id: int, message: messages.Message) -> bool:
        if node_id in self.full:
            return False
        self.sent.append((node_id, messages.as_map(message)))  # as it goes on the wire
        return True

    def close(self) -> None:
        self.closed = True

    def of_type(self, kind: str) -> list[tuple[int, dict[str, Any]]]:
        """(node id, message) of the messages of `kind` ("batch", "lease"), in order."""
        return [(n, m) for n, m in self.sent if m.get("type") == kind]


if TYPE_CHECKING:
    def _the_fakes_fit(clock: FakeClock, raft: FakeRaft, reader: FakeReader,
                       pusher: FakePusher) -> tuple[Clock, Raft, PlanningReader, Pusher]:
        """Never called: mypy checks here that the fakes satisfy the Protocols."""
        return clock, raft, reader, pusher
