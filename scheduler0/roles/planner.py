"""The leader's planner thread: find due ticks, commit PLAN commands, push batches,
re-dispatch batches whose results are overdue, and reconcile on becoming leader.

Dispatch happens only after every PLAN command of a round committed: a leader that was cut off
cannot commit, so it dispatches nothing after its successor took over.

A batch is re-dispatched at most REDISPATCH_LIMIT times. When the last dispatch is overdue too,
its executions still unsettled are recorded failed ("no result after N dispatches") through a
RESULT command, so each tick still ends recorded exactly once (a RESULT changes only executions
still `scheduled`: a late result that wins the race is kept, one that comes after is ignored).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scheduler0 import clock, commands, planning, transport
from scheduler0.config import Settings
from scheduler0.errors import Scheduler0Error
from scheduler0.roles.placement import NodeReports, Placement
from scheduler0.schedule import ScheduleCache

log = logging.getLogger(__name__)

ROUND_INTERVAL = 0.1  # seconds between planning rounds
DUE_SCHEDULES_PER_ROUND = 2000
PLAN_COMMAND_ROWS = 1000
LEADERSHIP_PROOF_TIMEOUT = 2.0  # seconds
# A dispatch this long after the last commit first proves leadership again, so a leader
# paused mid-round (SIGSTOP, a long GC) does not send the rest after its successor took over.
DISPATCH_STALENESS = 0.5  # seconds
# Re-sends of one overdue batch before its unsettled executions are recorded failed; each
# dispatch waits a whole result deadline, so this bounds a tick's time unsettled (and the
# duplicate POSTs a receiver that never answers gets) instead of re-sending forever.
REDISPATCH_LIMIT = 3


@dataclass
class InFlight:
    batch_id: str
    node_id: int
    fire_at: int
    deadline: float
    attempts: int = 1  # dispatches so far, the first included


class Dispatcher:
    """CURVE PUSH sockets to each node's intake; owned by the planner thread only."""

    def __init__(self, settings: Settings, curve: transport.CurveKeys | None,
                 reports: NodeReports | None = None):
        self.settings = settings
        self.curve = curve
        self.reports = reports
        self._sockets: dict[int, transport.Socket] = {}

    def intake_of(self, node_id: int) -> str:
        if node_id == self.settings.node_id:
            return self.settings.intake_address
        for replica in self.settings.replicas:
            if replica.node_id == node_id:
                return replica.intake_address
        # A node added at run time is known by the load reports it sends.
        report = self.reports.get(node_id) if self.reports else None
        if report and report.get("intake_address"):
            return str(report["intake_address"])
        raise KeyError(node_id)

    def send(self, node_id: int, message: dict[str, Any]) -> bool:
        sock = self._sockets.get(node_id)
        if sock is None:
            sock = self._sockets[node_id] = transport.Socket(
                "push", f"tcp://{self.intake_of(node_id)}", bind=False, hwm=10_000,
                curve=self.curve)
        return sock.send(message, block=False)

    def close(self) -> None:
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()


class Planner(threading.Thread):
    def __init__(self, settings: Settings, raft: Any, lifecycle: Any,
                 reader_factory: Callable[[], Any], curve: transport.CurveKeys | None = None,
                 reports: NodeReports | None = None):
        super().__init__(name="planner", daemon=True)
        self.settings = settings
        self.raft = raft
        self.lifecycle = lifecycle
        self._reader_factory = reader_factory
        self.curve = curve
        self.reports = reports or NodeReports()
        self.placement = Placement(settings, raft, self.reports)
        self._committed_at = 0.0
        self.cache = ScheduleCache()
        self.in_flight: dict[str, InFlight] = {}
        self.stats: dict[str, Any] = {
            "rounds": 0, "planned": 0, "missed": 0, "redispatched": 0, "undelivered": 0,
            "batches": 0, "last_round_ms": 0.0, "leading_since": None, "last_dispatch_at": None}

    # -- loop ---------------------------------------------------------------------------------

    def run(self) -> None:
        reader = self._reader_factory()
        dispatcher = Dispatcher(self.settings, self.curve, self.reports)
        leading = False
        try:
            while not self.lifecycle.stopping.wait(ROUND_INTERVAL):
                if not self.raft.is_leader:
                    leading = False
                    self.in_flight.clear()
                    continue
                if self.lifecycle.memory_pressure:
                    continue  # no new work under memory pressure; due ticks wait, none is lost
                try:
                    if not leading:
                        self.confirm_leadership()
                        self.reconcile(reader, dispatcher, clock.now())
                        leading = True
                        self.stats["leading_since"] = clock.now()
                    self.plan_round(reader, dispatcher, clock.now())
                    if any(f.deadline <= clock.now() for f in self.in_flight.values()):
                        self.confirm_leadership()
                        self.redispatch_overdue(reader, dispatcher, clock.now())
                except _LeadershipLost as exc:
                    # Some committed batches may not have been sent: if this node leads
                    # again, reconcile sends every unfinished one (same execution ids).
                    log.warning("stopped dispatching: %s", exc)
                    leading = False
                except Scheduler0Error as exc:
                    log.warning("planning round failed (%s); retrying", exc)
        finally:
            dispatcher.close()

    def confirm_leadership(self) -> None:
        """Commit an empty PLAN as this node: only a leader with a majority can.

        Re-dispatching sends work without a new PLAN, so it is gated on this: a leader that was
        cut off (SIGSTOP, partition) fails here instead of dispatching after its successor.
        """
        empty: dict[str, list[Any]] = {"batches": [], "missed": [], "advances": []}
        self.raft.submit_as_leader(commands.make(commands.PLAN, empty), LEADERSHIP_PROOF_TIMEOUT)
        self._committed_at = clock.monotonic()

    def _still_leading(self) -> None:
        """Raise _LeadershipLost unless this node provably still leads."""
        if not self.raft.is_leader:
            raise _LeadershipLost("no longer the leader")
        if clock.monotonic() - self._committed_at > DISPATCH_STALENESS:
            try:
                self.confirm_leadership()
            except Scheduler0Error as exc:
                raise _LeadershipLost(str(exc)) from None

    # -- one round ----------------------------------------------------------------------------

    def plan_round(self, reader: Any, dispatcher: Dispatcher, now: float) -> int:
        """Plan what is due by now + look-ahead; returns the number of executions dispatched."""
        started = clock.monotonic()
        horizon = int(now + self.settings.planner_look_ahead)
        due = reader.due_schedules(horizon, DUE_SCHEDULES_PER_ROUND)
        if not due:
            return 0
        jobs = reader.jobs_of_schedules([d.id for d in due])
        plan = planning.plan_due(self.cache, ((d, jobs.get(d.id, [])) for d in due), int(now),
                                 horizon, self.settings.misfire_threshold,
                                 self.settings.misfire_run_all_cap)
        self.placement.start_round()
        batches = planning.make_batches(plan, lambda _i: self.placement.choose())
        self._commit_plan(batches, planning.missed_entries(plan), plan.advances)
        dispatched = self._dispatch(reader, dispatcher, batches)
        self.stats["rounds"] += 1
        self.stats["missed"] += sum(len(v) for v in plan.missed.values())
        self.stats["last_round_ms"] = (clock.monotonic() - started) * 1000
        return dispatched

    def _commit_plan(self, batches: list[planning.Batch], missed: list[dict[str, Any]],
                     advances: list[tuple[int, int | None, int]]) -> None:
        """Commit every PLAN command of the round, the schedule advances last.

        If one fails, nothing is dispatched and the next round plans the same ticks again: the
        execution ids are the same, so the rows already recorded are not recorded twice.
        """
        bodies = _pack(batches, missed)
        bodies.append({"batches": [], "missed": [], "advances": [list(a) for a in advances]})
        for body in bodies:
            result = self.raft.submit_as_leader(commands.make(commands.PLAN, body),
                                                self.settings.write_timeout)
            if not result.get("ok"):
                raise _PlanRefused(str(result.get("error")))
        self._committed_at = clock.monotonic()

    def _dispatch(self, reader: Any, dispatcher: Dispatcher, batches: list[planning.Batch]) -> int:
        if not batches:
            return 0
        secrets = reader.project_secrets(sorted({j.project_id for b in batches for j in b.jobs}))
        sent = 0
        for batch in batches:
            deadline = planning.result_deadline(batch.fire_at, self.settings.job_execution_timeout,
                                                self.settings.job_execution_retry_delay,
                                                self.settings.job_execution_retry_max)
            self._send(dispatcher, batch, secrets, deadline, attempts=1)
            sent += len(batch.jobs)
        self.stats["planned"] += sent
        self.stats["batches"] += len(batches)
        return sent

    # -- overdue and reconcile ---------------------------------------------------------------

    def redispatch_overdue(self, reader: Any, dispatcher: Dispatcher, now: float) -> int:
        """Re-send each overdue batch's unsettled executions, or record them failed once the
        batch was re-sent REDISPATCH_LIMIT times; returns the number re-sent."""
        overdue = [f for f in self.in_flight.values() if f.deadline <= now]
        count = 0
        for flight in overdue:
            pending = reader.unfinished_of_batch(flight.batch_id)
            if not pending:
                del self.in_flight[flight.batch_id]
            elif flight.attempts > REDISPATCH_LIMIT:
                self._record_undelivered(flight, pending)
            else:
                count += self._resend(reader, dispatcher, flight.batch_id, flight.fire_at,
                                      pending, now, flight.attempts + 1, exclude=flight.node_id)
        return count

    def _record_undelivered(self, flight: InFlight, pending: list[planning.PlannedJob]) -> None:
        """The batch's last dispatch is overdue: record what is unsettled as failed. Only
        forgotten once committed; if the commit fails, the next round tries again."""
        error = f"no result after {flight.attempts} dispatches"
        self._record_rows([undelivered_row(j.id, flight.fire_at, flight.node_id, error)
                           for j in pending])
        del self.in_flight[flight.batch_id]
        self.stats["undelivered"] += len(pending)
        log.warning("batch %s: %s (last to node %d); recorded %d executions failed",
                    flight.batch_id, error, flight.node_id, len(pending))

    def reconcile(self, reader: Any, dispatcher: Dispatcher, now: float) -> int:
        """On becoming leader: settle every planned, unfinished execution (same ids).

        Those still within the misfire threshold are re-dispatched. Older ones fell while the
        node or cluster was down, so their job's misfire policy decides: `run_all` jobs get
        them delivered late, the others record them as missed (the planner has already fired,
        or will fire, the job's latest tick).
        """
        unfinished = reader.unfinished_batches()
        count = 0
        stale_rows: list[list[Any]] = []
        for batch_id, pending in unfinished.items():
            fire_at = reader.batch_fire_at(batch_id)
            if now - fire_at > self.settings.misfire_threshold:
                replay = [j for j in pending if j.misfire_policy == "run_all"]
                stale_rows += [missed_row(j.id, fire_at) for j in pending if j not in replay]
                pending = replay
            if pending:
                count += self._resend(reader, dispatcher, batch_id, fire_at, pending, now, 1)
        if stale_rows:
            self._record_rows(stale_rows)
            self.stats["missed"] += len(stale_rows)
        if count or stale_rows:
            log.info("reconciled %d unfinished executions in %d batches (%d recorded missed)",
                     count, len(unfinished), len(stale_rows))
        return count

    def _record_rows(self, rows: list[list[Any]]) -> None:
        """Commit RESULT rows as this leader (raises Scheduler0Error when it cannot)."""
        for start in range(0, len(rows), PLAN_COMMAND_ROWS):
            body = {"rows": rows[start:start + PLAN_COMMAND_ROWS]}
            self.raft.submit_as_leader(commands.make(commands.RESULT, body),
                                       self.settings.write_timeout)

    def _resend(self, reader: Any, dispatcher: Dispatcher, batch_id: str, fire_at: int,
                pending: list[planning.PlannedJob], now: float, attempt: int,
                exclude: int | None = None) -> int:
        batch = planning.Batch(batch_id, fire_at, pending, self.placement.choose(exclude=exclude))
        secrets = reader.project_secrets(sorted({j.project_id for j in pending}))
        deadline = now + (planning.result_deadline(0, self.settings.job_execution_timeout,
                                                   self.settings.job_execution_retry_delay,
                                                   self.settings.job_execution_retry_max))
        self._send(dispatcher, batch, secrets, deadline, attempt)
        self.stats["redispatched"] += len(pending)
        return len(pending)

    def _send(self, dispatcher: Dispatcher, batch: planning.Batch, secrets: dict[int, str],
              deadline: float, attempts: int) -> None:
        """Push one batch (stamped with this leader's term) once leadership is proven."""
        message = {**planning.batch_message(batch, secrets, deadline), "term": self.raft.term}
        self._still_leading()
        if not dispatcher.send(batch.node_id, message):
            log.warning("intake of node %d is full; batch %s waits for re-dispatch",
                        batch.node_id, batch.id)
        self.stats["last_dispatch_at"] = clock.now()
        self.in_flight[batch.id] = InFlight(batch.id, batch.node_id, batch.fire_at, deadline,
                                            attempts)


def missed_row(job_id: int, fire_at: int) -> list[Any]:
    """A RESULT row recording one tick as missed."""
    return [planning.execution_id(job_id, fire_at), "missed", 0, None,
            "misfire: planned before the outage, not confirmed delivered", None, None, None]


def undelivered_row(job_id: int, fire_at: int, node_id: int, error: str) -> list[Any]:
    """A RESULT row recording one tick as failed because no result came for it."""
    return [planning.execution_id(job_id, fire_at), "failed", 0, None, error, node_id, None, None]


class _PlanRefused(Scheduler0Error):
    pass


class _LeadershipLost(Scheduler0Error):
    pass


def _pack(batches: list[planning.Batch], missed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PLAN bodies of at most PLAN_COMMAND_ROWS rows each."""
    bodies: list[dict[str, Any]] = []
    body: dict[str, Any] = {"batches": [], "missed": [], "advances": []}
    rows = 0
    entries = [("batches", b.plan_entry()) for b in batches] + [("missed", m) for m in missed]
    for kind, entry in entries:
        if rows and rows + len(entry["rows"]) > PLAN_COMMAND_ROWS:
            bodies.append(body)
            body = {"batches": [], "missed": [], "advances": []}
            rows = 0
        body[kind].append(entry)
        rows += len(entry["rows"])
    if rows:
        bodies.append(body)
    return bodies
