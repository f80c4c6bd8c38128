"""The leader's planner thread: find due ticks, commit PLAN commands, push batches, keep the
nodes' leases (scheduler0.leases), re-dispatch the batches of a node whose lease lapsed or
whose results are overdue, and reconcile on becoming leader.

On becoming leader it acknowledges heartbeats at once (continuing the leases the live nodes
held, so they keep delivering what they hold), waits until every node was heard from (at most
one lease period), then re-sends only the unfinished batches no live node holds, and plans.

Dispatch happens only after every PLAN command of a round committed: a leader that was cut off
cannot commit, so it dispatches nothing after its successor took over.

A batch is re-dispatched at most REDISPATCH_LIMIT times. When the last dispatch is overdue too,
its executions still unsettled are recorded failed ("no result after N dispatches") through a
RESULT command, so each tick still ends recorded exactly once (a RESULT changes only executions
still `scheduled`: a late result that wins the race is kept, one that comes after is ignored).

A batch a request committed (a run-now, a redelivery, a backfill: scheduler0.manual) is sent
in the first round after its commit, then watched, re-sent and reconciled as a planned one,
except that it is never recorded missed however late it is.

A rate-limited project's executions go in batches of their own, carrying its limit, all to one
node (Placement.for_project), which rations them (scheduler0.rationing). The limits are read
once a round; while no project has one, that read is all a round does about them.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgspec

from scheduler0 import leases, manual, messages, rationing, transport
from scheduler0.clock import SYSTEM_CLOCK, Clock
from scheduler0.config import Settings
from scheduler0.coordinator.dispatcher import (
    DISPATCH_STALENESS,
    LEADERSHIP_PROOF_TIMEOUT,
    Dispatcher,
    LeadershipLost,
    LeadershipProof,
)
from scheduler0.coordinator.job_lists import JobLists, max_jobs_for
from scheduler0.coordinator.lease_desk import LeaseBook
from scheduler0.coordinator.placement import NodeReports, Placement
from scheduler0.coordinator.ports import PlanningReader, Pusher, Raft
from scheduler0.coordinator.supervised import SupervisedThread
from scheduler0.errors import Scheduler0Error
from scheduler0.lifecycle import Lifecycle
from scheduler0.schedule import ScheduleCache, planning

log = logging.getLogger(__name__)

ROUND_INTERVAL = 0.1  # seconds between planning rounds
DUE_SCHEDULES_PER_ROUND = 2000
PLAN_COMMAND_ROWS = 1000
# Re-sends of one overdue batch before its unsettled executions are recorded failed; each
# dispatch waits a whole result deadline, so this bounds a tick's time unsettled (and the
# duplicate POSTs a receiver that never answers gets) instead of re-sending forever.
REDISPATCH_LIMIT = 3
# A new leader re-sends what no live node holds once it heard from every node after this long
# into its term, or after one lease. The old leader may dispatch for up to DISPATCH_STALENESS
# after its last commit, and a node lists a batch in its next heartbeat: after this long, the
# heartbeats list everything the old leader sent.
RECONCILE_SETTLE = DISPATCH_STALENESS + 2 * leases.HEARTBEAT_INTERVAL  # 1.0 s
REASONS = ("lease", "deadline", "reconcile")  # why a batch was re-dispatched
# Requested batches (run-now, redelivery, backfill: one tick each) sent per round at most, so a
# large backfill does not hold up a round; the rest go in the next rounds.
REQUESTED_PER_ROUND = 500
SETTLING_RECHECK = 2 * leases.HEARTBEAT_INTERVAL  # an overdue batch being committed waits this
MISSED_UNCONFIRMED = "misfire: planned before the outage, not confirmed delivered"


@dataclass
class InFlight:
    batch_id: str
    node_id: int
    fire_at: int
    deadline: float
    attempts: int = 1  # dispatches so far, the first included


class Planner(SupervisedThread):
    def __init__(self, settings: Settings, raft: Raft, lifecycle: Lifecycle,
                 reader_factory: Callable[[], PlanningReader],
                 curve: transport.CurveKeys | None = None,
                 reports: NodeReports | None = None, book: LeaseBook | None = None,
                 proof: LeadershipProof | None = None, *, clock: Clock = SYSTEM_CLOCK,
                 pusher: Callable[[], Pusher] | None = None):
        super().__init__("planner", lifecycle.stopping, clock)
        self.book = book or LeaseBook(clock, own=settings.node_id)
        self.proof = proof or LeadershipProof(raft, clock)
        self.settings = settings
        self.raft = raft
        self.lifecycle = lifecycle
        self._reader_factory = reader_factory
        self.curve = curve
        self.reports = reports or NodeReports(clock)
        self._pusher = pusher or (lambda: Dispatcher(self.settings, self.curve, self.reports))
        self.placement = Placement(settings, raft, self.reports)
        self.placement.live = self.book.placeable
        self.cache = ScheduleCache()
        # Each schedule's jobs, kept between ticks within a share of MaxMemory.
        self.job_lists = JobLists(max_jobs_for(settings.max_memory))
        self.in_flight: dict[str, InFlight] = {}
        self.leases: leases.LeaseTable | None = None  # this term's, shared with the lease desk
        self._reconciled = False
        self._taking_back: set[int] = set()  # nodes whose lease lapsed, batches not all re-sent
        self.limits: dict[int, messages.RateLimit] = {}  # rate-limited projects, read a round
        self.stats: dict[str, Any] = {
            "rounds": 0, "planned": 0, "missed": 0, "redispatched": 0, "undelivered": 0,
            "overdue_settling": 0, "overdue_held": 0, "batches": 0, "last_round_ms": 0.0,
            "requested": 0,
            "leading_since": None, "paused": False,
            "last_dispatch_at": None, "redispatched_by": dict.fromkeys(REASONS, 0), "last_round_at": None}

    # -- loop ---------------------------------------------------------------------------------

    def loop(self) -> None:
        reader = self._reader_factory()
        dispatcher = self._pusher()
        try:
            while not self.clock.wait(self.lifecycle.stopping, ROUND_INTERVAL):
                self.step(reader, dispatcher)
        finally:
            dispatcher.close()

    def step(self, reader: PlanningReader, dispatcher: Pusher) -> None:
        """One pass of the loop: a round while leading, forgetting the term's state otherwise."""
        self.beat()
        if not self.raft.is_leader:
            self._stop_leading()
            return
        try:
            self.lead_once(reader, dispatcher)
        except LeadershipLost as exc:
            # Some committed batches may not have been sent: once this node proves it
            # leads, reconcile sends those (same execution ids). In the same term the
            # leases go on (their epochs must only grow); a new term starts afresh.
            log.warning("stopped dispatching: %s", exc)
            self._reconciled = False
        except Scheduler0Error as exc:
            log.warning("planning round failed (%s); retrying", exc)

    def lead_once(self, reader: PlanningReader, dispatcher: Pusher) -> None:
        """One round as leader: leases, then (once reconciled) planning and overdue batches."""
        if self.leases is None or self.leases.term != self.raft.term:
            self._stop_leading()
            self.confirm_leadership()
            self.leases = self.book.table(self.raft.term)
            self._reconciled = False
            self.stats["leading_since"] = self.clock.now()
            self.stats["last_round_at"] = self.clock.monotonic()
        self.limits = reader.rate_limits()
        self.take_back_lapsed(reader, dispatcher)
        if not self._reconciled:
            with self.book.lock:
                heard = self._heard_from_everyone(self.clock.monotonic())
            if not heard:
                return
            self.reconcile(reader, dispatcher, self.clock.now())
            with self.book.lock:
                self.leases.adopting = False
            self._reconciled = True
        self.stats["last_round_at"] = self.clock.monotonic()
        if self.lifecycle.memory_pressure:
            return  # no new work under memory pressure; due ticks wait, none is lost
        self.stats["paused"] = reader.planning_paused()
        if not self.stats["paused"]:
            # While the cluster is paused (POST /pause) due ticks wait in their schedules; on
            # resume they follow each job's misfire policy, as after an outage. The batches
            # already sent are still watched below, so they finish.
            self.plan_round(reader, dispatcher, self.clock.now())
        # What a request committed was asked for explicitly and is no tick to plan: it goes
        # even while the cluster is paused, as a new leader's reconcile would send it.
        self.dispatch_requested(reader, dispatcher)
        if any(f.deadline <= self.clock.now() for f in self.in_flight.values()):
            self.confirm_leadership()
            self.redispatch_overdue(reader, dispatcher, self.clock.now())

    def _stop_leading(self) -> None:
        self.leases = None
        self.job_lists.clear()  # a follower plans nothing: no reason to hold every job
        self.in_flight.clear()
        self._taking_back.clear()
        self._reconciled = False

    def _heard_from_everyone(self, now: float) -> bool:
        assert self.leases is not None
        if now - self.leases.started >= leases.LEASE_PERIOD:
            return True
        known = {r.node_id for r in self.settings.replicas} | set(self.reports.fresh())
        known.add(self.settings.node_id)
        return self.leases.heard_since(known, self.leases.started + RECONCILE_SETTLE)

    # -- leases -------------------------------------------------------------------------------

    def take_back_lapsed(self, reader: PlanningReader, dispatcher: Pusher) -> None:
        """Re-send the batches of the nodes whose lease the lease desk found lapsed."""
        self._taking_back |= self.book.take_lapsed()
        for node_id in sorted(self._taking_back):
            self._take_back(reader, dispatcher, node_id)  # raises if leadership is lost:
            self._taking_back.discard(node_id)  # then it is tried again next round

    def _take_back(self, reader: PlanningReader, dispatcher: Pusher, node_id: int) -> None:
        """Re-send the unfinished batches of a node whose lease lapsed (same execution ids).

        The lapse is committed first: the node still holds those batches, and a later leader
        that let it carry on under that lease would have them delivered twice."""
        flights = [f for f in self.in_flight.values() if f.node_id == node_id]
        if flights:
            self._commit_revocation(node_id)
        count = 0
        for flight in flights:
            pending = reader.unfinished_of_batch(flight.batch_id)
            if not pending:
                del self.in_flight[flight.batch_id]
                continue
            count += self._resend(reader, dispatcher, flight.batch_id, flight.fire_at, pending,
                                  self.clock.now(), flight.attempts, exclude=node_id,
                                  reason="lease")
        if flights:
            log.warning("re-sent %d executions in %d batches of node %d", count, len(flights),
                        node_id)

    def _commit_revocation(self, node_id: int) -> None:
        with self.book.lock:
            lease = self.leases.taken_back(node_id) if self.leases else None
        if lease is None:
            return
        body = messages.LeaseRevoke(node_id=node_id, term=lease[0], epoch=lease[1])
        try:
            # As short as a leadership proof: a leader cut off from the majority fails here.
            self.raft.submit_as_leader(messages.command(body), LEADERSHIP_PROOF_TIMEOUT)
        except Scheduler0Error as exc:
            raise LeadershipLost(f"the lapse of node {node_id}'s lease was not committed: "
                                 f"{exc}") from None
        self.proof.note()

    def confirm_leadership(self) -> None:
        """Commit an empty PLAN as this node: only a leader with a majority can.

        Re-dispatching sends work without a new PLAN, so it is gated on this: a leader that was
        cut off (SIGSTOP, partition) fails here instead of dispatching after its successor.
        """
        self.proof.confirm()

    def _still_leading(self) -> None:
        """Raise LeadershipLost unless this node provably still leads."""
        self.proof.ensure()

    # -- one round ----------------------------------------------------------------------------

    def plan_round(self, reader: PlanningReader, dispatcher: Pusher, now: float) -> int:
        """Plan what is due by now + look-ahead; returns the number of executions dispatched."""
        started = self.clock.monotonic()
        horizon = int(now + self.settings.planner_look_ahead)
        due = reader.due_schedules(horizon, DUE_SCHEDULES_PER_ROUND)
        if not due:
            return 0
        jobs = self.job_lists.of(reader, due, self.clock.monotonic())
        plan = planning.plan_due(self.cache, ((d, jobs.get(d.id, [])) for d in due), int(now),
                                 horizon, self.settings.misfire_threshold,
                                 self.settings.misfire_run_all_cap)
        self.placement.start_round()
        batches = planning.make_batches(plan, lambda _i: self.placement.choose(), self.limits,
                                        self.placement.for_project)
        settled = self._commit_plan(batches, planning.missed_entries(plan), plan.advances)
        dispatched = self._dispatch(reader, dispatcher,
                                    [b for b in batches if b.id not in settled])
        self.stats["rounds"] += 1
        self.stats["missed"] += sum(len(v) for v in plan.missed.values())
        self.stats["last_round_ms"] = (self.clock.monotonic() - started) * 1000
        return dispatched

    def _commit_plan(self, batches: list[planning.Batch], missed: list[planning.Missed],
                     advances: list[tuple[int, int | None, int]]) -> set[str]:
        """Commit every PLAN command of the round, the schedule advances last; returns the
        batches the store found settled already (planned again after their results landed).

        If one fails, nothing is dispatched and the next round plans the same ticks again: the
        batch ids are the same, so a batch already recorded is not recorded twice.
        """
        bodies = _pack(batches, missed)
        bodies.append(messages.Plan(advances=[messages.Advance(*a) for a in advances]))
        settled: set[str] = set()
        for body in bodies:
            result = self.raft.submit_as_leader(messages.command(body),
                                                self.settings.write_timeout)
            if not result.get("ok"):
                raise _PlanRefused(str(result.get("error")))
            settled.update((result.get("data") or {}).get("settled_before") or ())
            self.proof.note()  # each commit proves leadership: the lease desk need not
        return settled

    def _dispatch(self, reader: PlanningReader, dispatcher: Pusher,
                  batches: list[planning.Batch]) -> int:
        # A tick planned again because the round that planned it did not commit its schedule
        # advance (the leader stopped in between) is already in flight: reconcile re-sent or
        # adopted it, with the same batch id. Sending it again would deliver it twice.
        batches = [b for b in batches if b.id not in self.in_flight]
        if not batches:
            return 0
        keys = self._signing_keys(reader, {j.project_id for b in batches for j in b.jobs})
        sent = 0
        ahead: Counter[int] = Counter()  # of each rate-limited project, sent this round
        for batch in batches:
            # A batch sent after its tick (a slow round) gets the whole delivery budget from
            # now, as a re-send does: counted from its tick, it would be overdue, and sent
            # again, while its executor is still delivering it.
            deadline = self._deadline(max(batch.fire_at, self.clock.now()), batch.jobs)
            if batch.rate_limit is not None:
                project_id = batch.jobs[0].project_id
                deadline += rationing.queue_allowance(
                    batch.rate_limit, ahead[project_id], self.settings.job_execution_timeout)
                ahead[project_id] += len(batch.jobs)
            self._send(dispatcher, batch, keys, deadline, attempts=1)
            sent += len(batch.jobs)
        self.stats["planned"] += sent
        self.stats["batches"] += len(batches)
        return sent

    def dispatch_requested(self, reader: PlanningReader, dispatcher: Pusher) -> int:
        """Send the batches a request committed (a run-now, a redelivery, a backfill:
        scheduler0.manual) that this leader has not sent; returns the executions sent. They
        are committed already, as a PLAN's batches are before they go, so each goes within a
        round of its commit; a new leader's reconcile sends those still unfinished."""
        waiting = [b for b in reader.requested_batches() if b not in self.in_flight]
        sent = 0
        for batch_id in waiting[:REQUESTED_PER_ROUND]:
            pending = reader.unfinished_of_batch(batch_id)
            if not pending:
                continue  # its job was deleted: the pruner settles it
            fire_at = reader.batch_fire_at(batch_id)
            limit = self._limit_of(pending)
            batch = planning.Batch(batch_id, fire_at, pending, self._node_for(pending, limit),
                                   limit)
            keys = self._signing_keys(reader, {j.project_id for j in pending})
            # A backfilled tick is in the past: its budget starts now, as a late batch's does.
            deadline = self._deadline(max(fire_at, self.clock.now()), pending)
            self._send(dispatcher, batch, keys, deadline, attempts=1)
            sent += len(pending)
        self.stats["requested"] += sent
        return sent

    # -- overdue and reconcile ---------------------------------------------------------------

    def redispatch_overdue(self, reader: PlanningReader, dispatcher: Pusher, now: float) -> int:
        """Re-send each overdue batch's unsettled executions, or record them failed once the
        batch was re-sent REDISPATCH_LIMIT times; returns the number re-sent."""
        overdue = [f for f in self.in_flight.values() if f.deadline <= now]
        count = 0
        settling, held = self._holders(overdue)
        for flight in overdue:
            pending = reader.unfinished_of_batch(flight.batch_id)
            if not pending:
                del self.in_flight[flight.batch_id]
            elif flight.batch_id in settling:
                # Delivered: its node has every result and is committing them (a busy apply
                # thread makes that slow). Re-sending would deliver each tick again.
                flight.deadline = now + SETTLING_RECHECK
                self.stats["overdue_settling"] += 1
            elif flight.batch_id in held:
                # Late, not lost: a live node still holds it (an overloaded node's executors
                # have not reached it yet). Its node stops listing it only if an executor
                # took it down with it; then it is re-sent.
                flight.deadline = now + SETTLING_RECHECK
                self.stats["overdue_held"] += 1
            elif flight.attempts > REDISPATCH_LIMIT:
                self._record_undelivered(flight, pending)
            else:
                count += self._resend(reader, dispatcher, flight.batch_id, flight.fire_at,
                                      pending, now, flight.attempts + 1, exclude=flight.node_id,
                                      reason="deadline")
        return count

    def _holders(self, flights: list[InFlight]) -> tuple[dict[str, int], set[str]]:
        """(settling, held): batch id -> the live node committing its results, and the batches
        the node they were sent to still holds."""
        if not flights or self.leases is None:
            return {}, set()
        now = self.clock.monotonic()
        with self.book.lock:
            return (self.leases.settling_on([f.batch_id for f in flights], now),
                    self.leases.still_held({f.batch_id: f.node_id for f in flights}, now))

    def _record_undelivered(self, flight: InFlight, pending: list[planning.PlannedJob]) -> None:
        """The batch's last dispatch is overdue: record what is unsettled as failed. Only
        forgotten once committed; if the commit fails, the next round tries again."""
        error = f"no result after {flight.attempts} dispatches"
        rows = [messages.ResultRow.failed(j.id, flight.fire_at, flight.node_id, error,
                                          flight.batch_id) for j in pending]
        if manual.is_requested(flight.batch_id):  # its executions' own ids (a run-now's)
            rows = [msgspec.structs.replace(row, execution_id=manual.execution_id_in(
                flight.batch_id, job.id, flight.fire_at)) for row, job in zip(rows, pending,
                                                                             strict=True)]
        self._record_rows(rows)
        del self.in_flight[flight.batch_id]
        self.stats["undelivered"] += len(pending)
        log.warning("batch %s: %s (last to node %d); recorded %d executions failed",
                    flight.batch_id, error, flight.node_id, len(pending))

    def reconcile(self, reader: PlanningReader, dispatcher: Pusher, now: float) -> int:
        """On becoming leader: settle every planned, unfinished execution (same ids).

        Those still within the misfire threshold are re-dispatched. Older ones fell while the
        node or cluster was down, so their job's misfire policy decides: `run_all` jobs get
        them delivered late, the others record them as missed (the planner has already fired,
        or will fire, the job's latest tick).
        """
        unfinished = reader.unfinished_batches()
        with self.book.lock:
            holders = (self.leases.holder_of(unfinished, self.clock.monotonic()) if self.leases
                       else {})
        count = 0
        stale_rows: list[messages.ResultRow] = []
        for batch_id, pending in unfinished.items():
            if batch_id in self.in_flight:
                continue  # sent in this term already (reconciling again after a lost proof)
            fire_at = reader.batch_fire_at(batch_id)
            if batch_id in holders:  # a live node has it: adopted, not re-sent
                self.in_flight[batch_id] = InFlight(batch_id, holders[batch_id], fire_at,
                                                    self._deadline(fire_at, pending))
                continue
            # A requested batch was asked for explicitly: sent however late, never missed.
            if now - fire_at > self.settings.misfire_threshold and not manual.is_requested(
                    batch_id):
                replay = [j for j in pending if j.misfire_policy == "run_all"]
                stale_rows += [messages.ResultRow.missed(j.id, fire_at, MISSED_UNCONFIRMED,
                                                         batch_id)
                               for j in pending if j not in replay]
                pending = replay
            if pending:
                count += self._resend(reader, dispatcher, batch_id, fire_at, pending, now, 1,
                                      reason="reconcile")
        if stale_rows:
            self._record_rows(stale_rows)
            self.stats["missed"] += len(stale_rows)
        if count or stale_rows or holders:
            log.info("reconciled %d unfinished batches: %d held by live nodes, %d executions "
                     "re-sent, %d recorded missed", len(unfinished), len(holders), count,
                     len(stale_rows))
        return count

    def _record_rows(self, rows: list[messages.ResultRow]) -> None:
        """Commit RESULT rows as this leader (raises Scheduler0Error when it cannot)."""
        for start in range(0, len(rows), PLAN_COMMAND_ROWS):
            body = messages.Result(rows=rows[start:start + PLAN_COMMAND_ROWS])
            self.raft.submit_as_leader(messages.command(body), self.settings.write_timeout)

    def _resend(self, reader: PlanningReader, dispatcher: Pusher, batch_id: str, fire_at: int,
                pending: list[planning.PlannedJob], now: float, attempt: int,
                exclude: int | None = None, *, reason: str) -> int:
        limit = self._limit_of(pending)
        batch = planning.Batch(batch_id, fire_at, pending,
                               self._node_for(pending, limit, exclude), limit)
        keys = self._signing_keys(reader, {j.project_id for j in pending})
        # Not before the tick's own deadline: a batch re-sent early still has to wait for it.
        deadline = self._deadline(max(fire_at, now), pending)
        self._send(dispatcher, batch, keys, deadline, attempt)
        self.stats["redispatched"] += len(pending)
        self.stats["redispatched_by"][reason] += len(pending)
        return len(pending)

    def _limit_of(self, jobs: Sequence[planning.PlannedJob]) -> messages.RateLimit | None:
        """The rate limit a batch of `jobs` carries: its project's, when all are of one
        rate-limited project (a batch planned before the limit was set may mix projects: it
        goes unlimited)."""
        if not self.limits or not jobs:
            return None
        project_id = jobs[0].project_id
        limit = self.limits.get(project_id)
        if limit is None or any(job.project_id != project_id for job in jobs):
            return None
        return limit

    def _node_for(self, jobs: Sequence[planning.PlannedJob], limit: messages.RateLimit | None,
                  exclude: int | None = None) -> int:
        if limit is None:
            return self.placement.choose(exclude=exclude)
        return self.placement.for_project(jobs[0].project_id, exclude)

    def _deadline(self, fire_at: float, jobs: Sequence[planning.PlannedJob]) -> float:
        """When the results of `jobs` firing at `fire_at` are overdue: their own delivery
        settings count where they have them (planning.result_deadline)."""
        return planning.result_deadline(fire_at, self.settings.job_execution_timeout,
                                        self.settings.job_execution_retry_delay,
                                        self.settings.job_execution_retry_max, jobs)

    def _signing_keys(self, reader: PlanningReader, project_ids: set[int]) -> SigningKeys:
        """The projects' secrets, and the previous ones whose grace period has not ended: the
        batch carries both, so the node delivering it looks nothing up."""
        ids = sorted(project_ids)
        return SigningKeys(reader.project_secrets(ids),
                           reader.previous_secrets(ids, int(self.clock.now())))

    def _send(self, dispatcher: Pusher, batch: planning.Batch, keys: SigningKeys,
              deadline: float, attempts: int) -> None:
        """Push one batch, stamped with this leader's term and the lease of the node it goes
        to, once leadership is proven."""
        assert self.leases is not None
        with self.book.lock:
            stamp = (self.leases.term, self.leases.epoch_of(batch.node_id))
        message = messages.Batch.of(batch.id, batch.fire_at, batch.jobs, keys.current, deadline,
                                    term=self.raft.term, lease=stamp, previous=keys.previous,
                                    rate_limit=batch.rate_limit)
        if manual.is_requested(batch.id):
            message = _with_own_execution_ids(message)
        self._still_leading()
        if not dispatcher.send(batch.node_id, message):
            log.warning("intake of node %d is full; batch %s waits for re-dispatch",
                        batch.node_id, batch.id)
        self.stats["last_dispatch_at"] = self.clock.now()
        self.in_flight[batch.id] = InFlight(batch.id, batch.node_id, batch.fire_at, deadline,
                                            attempts)


class SigningKeys(NamedTuple):
    """What a batch is signed with, by project id: the current secrets and the previous ones."""

    current: dict[int, str]
    previous: dict[int, messages.PreviousSecret]


class _PlanRefused(Scheduler0Error):
    pass


def _with_own_execution_ids(message: messages.Batch) -> messages.Batch:
    """A requested batch's executions with their own ids (a run-now's <job>-<tick>-m<run>,
    scheduler0.manual), where Batch.of gives every execution its tick's."""
    executions = [msgspec.structs.replace(e, execution_id=manual.execution_id_in(
        message.batch_id, e.id, e.scheduled_at)) for e in message.executions]
    return msgspec.structs.replace(message, executions=executions)


def _pack(batches: list[planning.Batch], missed: list[planning.Missed]) -> list[messages.Plan]:
    """PLAN bodies of at most PLAN_COMMAND_ROWS rows each."""
    entries: list[messages.PlanBatch | messages.PlanMissed] = [
        messages.PlanBatch.of(b.id, b.node_id, b.fire_at, b.jobs) for b in batches]
    entries += [messages.PlanMissed.of(m.tick, m.jobs) for m in missed]
    bodies: list[messages.Plan] = []
    part: list[messages.PlanBatch | messages.PlanMissed] = []
    rows = 0
    for entry in entries:
        if rows and rows + len(entry.rows) > PLAN_COMMAND_ROWS:
            bodies.append(_plan_of(part))
            part, rows = [], 0
        part.append(entry)
        rows += len(entry.rows)
    if rows:
        bodies.append(_plan_of(part))
    return bodies


def _plan_of(entries: list[messages.PlanBatch | messages.PlanMissed]) -> messages.Plan:
    return messages.Plan(batches=[e for e in entries if isinstance(e, messages.PlanBatch)],
                         missed=[e for e in entries if isinstance(e, messages.PlanMissed)])
