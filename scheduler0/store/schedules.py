"""Schedule rows: one per distinct (spec, timezone, anchor), shared by every job that has it.

The planner advances a schedule's `next_fire_at` once per group, so per-job rows change only
when a job changes (measured: the per-job UPDATE was the bottleneck). A cron spec's phase does
not depend on an anchor, so cron rows store anchor 0 and every job with the same spec and zone shares one row;
`@every` rows keep the job's anchor (its phase). Keys are normalised by the schedule engine
(blank runs collapsed, canonical zone name), and job rows store the same normalised text.

A job's own next fire time is the schedule's, restricted to the job's window: after its
creation second, at or after `start_date`, at or before `end_date` (all epoch seconds).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import NamedTuple

from scheduler0.errors import ScheduleError
from scheduler0.schedule import Schedule, ScheduleCache, next_fire
from scheduler0.store.tx import Tx


class ScheduleKey(NamedTuple):
    spec: str
    timezone: str
    anchor: int  # 0 for cron specs


def is_every(spec: str) -> bool:
    """True for an `@every <duration>` spec, the only kind whose phase is its anchor."""
    head = spec.split(None, 1)
    return bool(head) and head[0].lower() == "@every"


def key_of(spec: str, timezone: str, anchor: int) -> ScheduleKey:
    """The key of a job row (whose spec and zone are stored normalised)."""
    return ScheduleKey(spec, timezone, anchor if is_every(spec) else 0)


def engine_anchor(key: ScheduleKey) -> int | None:
    # Cron schedules ignore the anchor; passing None lets the engine's cache share one parse.
    return key.anchor if is_every(key.spec) else None


def resolve(cache: ScheduleCache, spec: str, timezone: str, anchor: int
            ) -> tuple[ScheduleKey, Schedule]:
    """The normalised key (spec with collapsed blanks, canonical zone) and parsed schedule.

    Raises ScheduleError when the spec, zone or anchor cannot be used.
    """
    schedule = cache.get(spec, timezone, anchor if is_every(spec) else None)
    return ScheduleKey(schedule.spec, schedule.timezone, schedule.anchor or 0), schedule


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
