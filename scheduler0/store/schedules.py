"""Schedule rows: one per distinct (spec, timezone, anchor), shared by every job that has it.

A row holds the job's *resolved* schedule (scheduler0.schedule.resolve): a job keeps the spec
as written (`H * * * *`), its row the concrete one its id gives (`17 * * * *`), so the jobs whose
H resolve alike still share a row, and the planner groups them as it groups any. An `@every`
job's H is a phase: the row's anchor is the job's, shifted (scheduler0.schedule.resolve).

One-off rows (`@at <instant>`) are never shared between commands: their anchor holds the Raft
index of the command that made them. The planner advances a due row (to no next fire time, for
a one-off) before its tick is delivered, so a job that joined such a row later would never
fire; a row per command leaves nothing to join.

The planner advances a schedule's `next_fire_at` once per group, so per-job rows change only
when a job changes (measured: the per-job UPDATE was the bottleneck). A cron spec's phase does
not depend on an anchor, so cron rows store anchor 0 and every job with the same spec and zone shares one row;
`@every` rows keep the job's anchor (its phase). Keys are normalised by the schedule engine
(blank runs collapsed, canonical zone name); job rows store their zone the same way and their
spec as written, blank runs collapsed.

A job's own next fire time is the schedule's, restricted to the job's window: after its
creation second, at or after `start_date`, at or before `end_date` (all epoch seconds).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import NamedTuple

from scheduler0.errors import ScheduleError
from scheduler0.schedule import (
    Schedule,
    ScheduleCache,
    format_rfc3339_utc,
    job_spec_text,
    next_fire,
    resolve_job_spec,
)
from scheduler0.store.tx import Tx


class ScheduleKey(NamedTuple):
    spec: str  # resolved: no H
    timezone: str
    anchor: int  # 0 for cron specs; the phase for @every; the command's index for @at


class Placement(NamedTuple):
    """Where one job's spec puts it: its row's key, the parsed schedule, and the spec text
    the job keeps (as written, but `@at now` as its instant)."""

    key: ScheduleKey
    schedule: Schedule
    job_spec: str


def is_every(spec: str) -> bool:
    """True for an `@every <duration>` spec, the only kind whose phase is its anchor."""
    head = spec.split(None, 1)
    return bool(head) and head[0].lower() == "@every"


def engine_anchor(key: ScheduleKey) -> int | None:
    # Cron and @at schedules ignore the anchor; None lets the engine's cache share one parse.
    return key.anchor if is_every(key.spec) else None


def place(cache: ScheduleCache, spec: str, timezone: str, anchor: int, *, job_id: int,
          ts_s: int, index: int) -> Placement:
    """The row key (resolved spec, canonical zone, anchor) and parsed schedule of job `job_id`
    written `spec` in `timezone` with `anchor` (its start date or creation), by the command
    at Raft index `index` and second `ts_s`.

    Raises ScheduleError when the spec, zone or anchor cannot be used.
    """
    resolved = resolve_job_spec(spec, job_id, ts_s)
    every = is_every(resolved.spec)
    schedule = cache.get(resolved.spec, timezone,
                         anchor + resolved.anchor_shift if every else None)
    row_anchor = index if schedule.kind == "at" else schedule.anchor or 0
    return Placement(ScheduleKey(schedule.spec, schedule.timezone, row_anchor), schedule,
                     job_spec_text(spec, resolved))


def check_can_fire(schedule: Schedule, ts_s: int) -> None:
    """Refuse a one-off whose instant is not after the command's second (it would never
    fire); the API refuses it first, with its own clock, but the apply decides."""
    if schedule.kind == "at" and schedule.next_or_none(ts_s) is None:
        raise ScheduleError(
            f'spec "{schedule.spec}" is in the past (the job would be created at '
            f'{format_rfc3339_utc(ts_s)}); send a later instant, or "run_at": "now" to run '
            "the job at once")


def ensure(tx: Tx, key: ScheduleKey, schedule: Schedule) -> tuple[int, int | None]:
    """The (id, next_fire_at) of the row for `key`, creating it if needed.

    A new row's first fire time is computed from `schedule`, strictly after the command's
    second; an existing row keeps the time the planner has advanced it to.
    """
    row = tx.conn.execute(
        "SELECT id, next_fire_at FROM schedules WHERE spec = ? AND timezone = ? AND anchor = ?",
        key).fetchone()
    if row is not None:
        return int(row[0]), row[1]
    first = next_fire(schedule, tx.ts_s, None, None)
    cursor = tx.conn.execute(
        "INSERT INTO schedules (spec, timezone, anchor, next_fire_at) VALUES (?, ?, ?, ?)",
        (key.spec, key.timezone, key.anchor, first))
    return int(cursor.lastrowid or 0), first


def drop_orphans(conn: sqlite3.Connection, schedule_ids: Iterable[int]) -> None:
    """Delete those of `schedule_ids` that no job uses any more."""
    conn.executemany(
        "DELETE FROM schedules WHERE id = ? AND NOT EXISTS "
        "(SELECT 1 FROM jobs WHERE schedule_id = ?)",
        [(sid, sid) for sid in set(schedule_ids)])


def no_tick_left(schedule_next: int | None, end_date: int | None) -> bool:
    """Whether a job will never fire again: its schedule has no fire time left (a one-off
    whose tick was planned), or the next one is past the job's end date."""
    return schedule_next is None or (end_date is not None and schedule_next > end_date)


def job_next_fire(cache: ScheduleCache, key: ScheduleKey, schedule_next: int | None, *,
                  created_s: int, start_date: int | None, end_date: int | None,
                  paused: bool) -> int | None:
    """The job's next fire time (epoch s), or None when paused or its window is over.

    Cheap in the usual case (the schedule's time lies in the window); otherwise the engine
    computes the first fire time inside the window. Never raises.
    """
    if paused or schedule_next is None:
        return None
    if end_date is not None and schedule_next > end_date:
        return None
    # A job never fires at or before the second it was created, even when it joined a shared
    # schedule whose next time the planner has not yet advanced past that second.
    floor = created_s + 1 if start_date is None else max(start_date, created_s + 1)
    if schedule_next >= floor:
        return schedule_next
    try:
        schedule = cache.get(key.spec, key.timezone, engine_anchor(key))
        return next_fire(schedule, floor - 1, start_date, end_date)
    except ScheduleError:
        return None
