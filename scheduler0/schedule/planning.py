"""The planner's pure core: from due schedules and their jobs to the batches and misses of a
round.

No I/O and no clock: `now` is an argument. The coordinator (scheduler0.coordinator.planner) reads the
due schedules, calls `plan_due`, commits what it decided as PLAN commands and pushes the batches
(both built by scheduler0.messages).

Execution identity: `execution_id(job_id, scheduled_at)` depends on that pair
only, so a re-planned or re-dispatched tick has the same id on every node.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from scheduler0 import rationing
from scheduler0.delivery.core import delivery_budget
from scheduler0.messages import Delivery, RateLimit
from scheduler0.schedule import Schedule, ScheduleCache, decide_misfires

# Executions per batch (one ZeroMQ message, one PLAN command). A PLAN row is [job_id,
# project_id] (about 10 bytes pickled), so 1,000 rows stay far below pysyncobj's 64 KiB.
BATCH_SIZE = 1000
# The most past ticks one schedule enumerates when it was down; older ones are not recorded.
MISFIRE_ENUMERATION_LIMIT = 10_000
# A batch's results are expected by fire time + the executor's delivery budget + this.
RESULT_GRACE = 5.0


@dataclass(frozen=True)
class DueSchedule:
    id: int
    spec: str
    timezone: str
    anchor: int
    next_fire_at: int
    jobs_version: int = 0  # changes with any change to one of its jobs (store/schema.py)


# Slots: the leader keeps every scheduled job's PlannedJob between ticks
# (coordinator/job_lists.py), so its size is the planner's memory per job.
@dataclass(frozen=True, slots=True)
class PlannedJob:
    id: int
    project_id: int
    callback_url: str
    data: str
    start_date: int | None
    end_date: int | None
    misfire_policy: str
    spec: str
    timezone: str
    created_at: int = 0  # epoch s; a job never fires at or before the second it was created
    delivery: Delivery | None = None  # the job's own delivery settings; None: the node's

    def active_at(self, tick: int) -> bool:
        return (tick > self.created_at
                and (self.start_date is None or tick >= self.start_date)
                and (self.end_date is None or tick <= self.end_date))


@dataclass
class Plan:
    """What one planning round decided."""

    fires: dict[int, list[PlannedJob]] = field(default_factory=dict)  # tick -> jobs to fire
    missed: dict[int, list[PlannedJob]] = field(default_factory=dict)  # tick -> jobs missed
    advances: list[tuple[int, int | None, int]] = field(default_factory=list)
    # (schedule id, its new next_fire_at or None when it can never fire again, last tick)


def schedule_ticks(schedule: Schedule, first: int, now: int, horizon: int) -> list[int]:
    """The ticks of one schedule that are due by `horizon`, starting at its recorded `first`.

    A schedule that was down for long enumerates at most MISFIRE_ENUMERATION_LIMIT ticks up to
    `now`; the latest ticks are kept, so policies always see the newest missed tick.
    """
    ticks = [first]
    if first < now:
        past = schedule.between(first, now, limit=MISFIRE_ENUMERATION_LIMIT + 1)
        if len(past) > MISFIRE_ENUMERATION_LIMIT:
            # Too many to enumerate from the start: restart the walk near `now`.
            span = past[-1] - past[0]
            past = schedule.between(max(first, now - span), now, limit=MISFIRE_ENUMERATION_LIMIT)
            ticks = []
        ticks += past
    last = ticks[-1]
    while True:
        nxt = schedule.next_or_none(last)  # None: no tick left (a one-off's is behind it)
        if nxt is None or nxt > horizon:
            break
        ticks.append(nxt)
        last = nxt
    return sorted(set(ticks))


def plan_schedule(schedule: Schedule, due: DueSchedule, jobs: Sequence[PlannedJob], now: int,
                  horizon: int, threshold: int, run_all_cap: int, plan: Plan) -> None:
    """Add one due schedule's fires, misses and advance to `plan`."""
    ticks = schedule_ticks(schedule, due.next_fire_at, now, horizon)
    for policy, members in _by_policy(jobs).items():
        past = [t for t in ticks if t <= now]
        decision = decide_misfires(past, now, policy, threshold, run_all_cap)
        future = [t for t in ticks if t > now]
        for tick in decision.fire + future:
            _add(plan.fires, tick, [j for j in members if j.active_at(tick)])
        for tick in decision.missed:
            _add(plan.missed, tick, [j for j in members if j.active_at(tick)])
    plan.advances.append((due.id, schedule.next_or_none(ticks[-1]), ticks[-1]))


def plan_due(cache: ScheduleCache, due: Iterable[tuple[DueSchedule, Sequence[PlannedJob]]],
             now: int, horizon: int, threshold: int, run_all_cap: int) -> Plan:
    plan = Plan()
    for schedule_row, jobs in due:
        schedule = cache.get(schedule_row.spec, schedule_row.timezone, schedule_row.anchor)
        plan_schedule(schedule, schedule_row, jobs, now, horizon, threshold, run_all_cap, plan)
    return plan


def _by_policy(jobs: Sequence[PlannedJob]) -> dict[str, list[PlannedJob]]:
    groups: dict[str, list[PlannedJob]] = {}
    for job in jobs:
        groups.setdefault(job.misfire_policy, []).append(job)
    return groups


def _add(target: dict[int, list[PlannedJob]], tick: int, jobs: list[PlannedJob]) -> None:
    if jobs:
        target.setdefault(tick, []).extend(jobs)


# -- batches and commands ----------------------------------------------------------------------


def batch_id(tick: int, jobs: Sequence[PlannedJob]) -> str:
    """Deterministic, so re-planning the same tick and jobs yields the same batch id."""
    digest = hashlib.sha256(f"{tick}:{jobs[0].id}:{jobs[-1].id}:{len(jobs)}".encode())
    return f"{tick}-{digest.hexdigest()[:16]}"


def chunk(jobs: Sequence[PlannedJob], size: int = BATCH_SIZE) -> list[Sequence[PlannedJob]]:
    return [jobs[i:i + size] for i in range(0, len(jobs), size)]


@dataclass(frozen=True)
class Batch:
    id: str
    fire_at: int
    jobs: Sequence[PlannedJob]
    node_id: int
    rate_limit: RateLimit | None = None  # its project's: a limited project's batch has no other


class Missed(NamedTuple):
    """Jobs of one tick recorded as missed (at most BATCH_SIZE)."""

    tick: int
    jobs: Sequence[PlannedJob]


def make_batches(plan: Plan, node_for: Any, limits: Mapping[int, RateLimit] | None = None,
                 node_of_project: Callable[[int], int] | None = None) -> list[Batch]:
    """Split each tick's jobs into batches; `node_for(batch_index)` picks the target node.

    The jobs of a project in `limits` (rate-limited) go in batches of their own, of at most
    rationing.batch_limit executions, each carrying the limit, all of a round to the node
    `node_of_project(project_id)` picks."""
    if limits:
        assert node_of_project is not None
        return _batches_with_limits(plan, node_for, limits, node_of_project)
    batches: list[Batch] = []
    for tick in sorted(plan.fires):
        for part in chunk(sorted(plan.fires[tick], key=lambda j: j.id)):
            batches.append(Batch(batch_id(tick, part), tick, part, node_for(len(batches))))
    return batches


def _batches_with_limits(plan: Plan, node_for: Any, limits: Mapping[int, RateLimit],
                         node_of_project: Callable[[int], int]) -> list[Batch]:
    batches: list[Batch] = []
    nodes: dict[int, int] = {}  # project id -> its node this round
    for tick in sorted(plan.fires):
        jobs = sorted(plan.fires[tick], key=lambda j: j.id)
        limited: dict[int, list[PlannedJob]] = {}
        free = []
        for job in jobs:
            if job.project_id in limits:
                limited.setdefault(job.project_id, []).append(job)
            else:
                free.append(job)
        for part in chunk(free):
            batches.append(Batch(batch_id(tick, part), tick, part, node_for(len(batches))))
        for project_id in sorted(limited):
            limit = limits[project_id]
            if project_id not in nodes:
                nodes[project_id] = node_of_project(project_id)
            for part in chunk(limited[project_id], rationing.batch_limit(limit, BATCH_SIZE)):
                batches.append(Batch(batch_id(tick, part), tick, part, nodes[project_id],
                                     limit))
    return batches


def missed_entries(plan: Plan) -> list[Missed]:
    """The missed jobs of each tick, in ticks and job ids order, chunked like batches."""
    return [Missed(tick, part) for tick in sorted(plan.missed)
            for part in chunk(sorted(plan.missed[tick], key=lambda j: j.id))]


def result_deadline(fire_at: float, timeout: float, retry_delay: float, retry_max: int,
                    jobs: Iterable[PlannedJob] = ()) -> float:
    """When the results of a batch of `jobs` are overdue (epoch s): the executor's longest
    delivery (every attempt and capped backoff, scheduler0.delivery.core.delivery_budget) plus
    RESULT_GRACE. The longest is that of the batch's slowest settings: a job's own timeout,
    retries and retry delay where it has them, the node's (the other arguments) elsewhere, so
    a job with a long timeout is not sent again while it is still being delivered. Without
    `jobs`, the node's settings alone."""
    settings = {job.delivery for job in jobs} or {None}
    budget = max(delivery_budget(
        timeout if d is None or d.timeout is None else d.timeout,
        retry_delay if d is None or d.retry_delay is None else d.retry_delay,
        retry_max if d is None or d.retries is None else d.retries) for d in settings)
    return fire_at + budget + RESULT_GRACE
