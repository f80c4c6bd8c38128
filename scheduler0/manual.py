"""Executions a caller asks for rather than a schedule plans: a run-now, a redelivery of a
finished execution, a backfill of past ticks. The rules every room shares; pure (no I/O).

Each is committed through Raft as a planned, unfinished batch of its own (one tick of one job:
scheduler0.store.pending), so the leader's planner dispatches it within a round, and a new
leader's reconcile sends it again if it is unfinished, exactly as a planned batch. Its batch id
says what it is, where a planned batch's id starts with its tick:

    manual-<run>                 run-now number <run> (its execution id <job>-<tick>-m<run>)
    redeliver-<index>            a redelivery of the tick <job>-<tick>, by the command at
                                 Raft index <index>
    redeliver-<index>-m<run>     a redelivery of run-now number <run>
    backfill-<index>-<tick>      a past tick of the job's schedule (its own id <job>-<tick>),
                                 fired by the command at Raft index <index>

Such a batch is never recorded missed, however late: it was asked for explicitly.
"""

from __future__ import annotations

from typing import NamedTuple

from scheduler0.schedule import Schedule, format_rfc3339_utc
from scheduler0.vocabulary import MANUAL_MARK, ExecutionKey, Trigger

MANUAL, REDELIVERY, BACKFILL = "manual", "redeliver", "backfill"
KINDS = (MANUAL, REDELIVERY, BACKFILL)
# The ticks one backfill fires at most (one batch each); a larger range is refused.
BACKFILL_CAP = 1000
FIRST_TICKS = 10  # ticks a backfill's answer lists


class Requested(NamedTuple):
    """What a requested batch's id says: its kind, and the run-now it concerns (0: none)."""

    kind: str
    run: int = 0


def manual_batch_id(run: int) -> str:
    return f"{MANUAL}-{run}"


def redelivery_batch_id(index: int, key: ExecutionKey) -> str:
    suffix = f"-{MANUAL_MARK}{key.run}" if key.run else ""
    return f"{REDELIVERY}-{index}{suffix}"


def backfill_batch_id(index: int, tick: int) -> str:
    return f"{BACKFILL}-{index}-{tick}"


def requested(batch_id: str) -> Requested | None:
    """The kind of a requested batch; None for a planned one (or any other id)."""
    kind, sep, rest = batch_id.partition("-")
    if not sep or kind not in KINDS:
        return None
    if kind == MANUAL:
        return Requested(kind, int(rest)) if rest.isdigit() else None
    _, mark, run = rest.rpartition(f"-{MANUAL_MARK}")
    if kind == REDELIVERY and mark and run.isdigit():
        return Requested(kind, int(run))
    return Requested(kind)


def is_requested(batch_id: str) -> bool:
    return requested(batch_id) is not None


def key_in(batch_id: str, job_id: int, tick: int) -> ExecutionKey:
    """The key of the execution of `job_id` at `tick` in batch `batch_id` (any batch)."""
    found = requested(batch_id)
    return ExecutionKey(job_id, tick, found.run if found else 0)


def execution_id_in(batch_id: str, job_id: int, tick: int) -> str:
    """The execution id a tick of batch `batch_id` carries to its receiver."""
    return key_in(batch_id, job_id, tick).execution_id


def trigger_of(batch_id: str) -> str | None:
    """The trigger of the executions of a batch; None for a redelivery of a tick (its
    execution's own trigger: schedule or backfill, which only the store knows)."""
    found = requested(batch_id)
    if found is None:
        return Trigger.SCHEDULE.value
    if found.run:
        return Trigger.MANUAL.value
    if found.kind == BACKFILL:
        return Trigger.BACKFILL.value
    return None


class BackfillRangeError(ValueError):
    """The range holds more ticks than one backfill fires; `last` is the last tick it could
    fire (the cap-th), where a first request of a split range can end."""

    def __init__(self, cap: int, last: int) -> None:
        super().__init__(
            f"the range holds more than {cap} ticks of the job's schedule, and one backfill "
            f"fires {cap} or fewer: split it (its first {cap} end at "
            f"{format_rfc3339_utc(last)})")
        self.cap = cap
        self.last = last


def backfill_ticks(schedule: Schedule, start: int, end: int, cap: int = BACKFILL_CAP
                   ) -> list[int]:
    """The ticks of `schedule` from `start` to `end` (epoch s, both included), increasing;
    raises BackfillRangeError when there are more than `cap`."""
    ticks = schedule.between(start - 1, end, limit=cap + 1)
    if len(ticks) > cap:
        raise BackfillRangeError(cap, ticks[cap - 1])
    return ticks
