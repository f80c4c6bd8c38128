"""What the upcoming load (scheduler0.schedule.load) is computed from: the schedules that fire
within the window and how many jobs each has, read without touching the job rows.

The schedules come from schedules_next_fire (those whose next fire time is within the window:
the others do not fire in it), at most MAX_SCHEDULES of them, soonest first. Each one's jobs
are counted in the schedule index (jobs_schedule: index entries only, one range per schedule).
Paused jobs do not fire: they are counted through the paused index (jobs_paused, one row read
per paused job, at most MAX_PAUSED) and taken off. A job's own start and end dates are not
read: a job past its end date still counts until the planner retires it, so the load is an
upper bound.
"""

from __future__ import annotations

import sqlite3

from scheduler0.schedule.load import ScheduleLoad

MAX_SCHEDULES = 5_000
MAX_PAUSED = 50_000
_CHUNK = 500


def upcoming(conn: sqlite3.Connection, end: int) -> tuple[list[ScheduleLoad], bool]:
    """(the schedules firing by `end` with their unpaused job counts, whether a cap was
    reached: more schedules, or more paused jobs than were read)."""
    found = conn.execute(
        "SELECT id, spec, timezone, anchor FROM schedules INDEXED BY schedules_next_fire "
        "WHERE next_fire_at IS NOT NULL AND next_fire_at <= ? ORDER BY next_fire_at LIMIT ?",
        (end, MAX_SCHEDULES + 1)).fetchall()
    capped = len(found) > MAX_SCHEDULES
    found = found[:MAX_SCHEDULES]
    counts: dict[int, int] = {}
    ids = [row[0] for row in found]
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        counts.update(conn.execute(
            "SELECT schedule_id, count(*) FROM jobs INDEXED BY jobs_schedule "
            f"WHERE schedule_id IN ({', '.join('?' * len(chunk))}) GROUP BY schedule_id",
            chunk).fetchall())
    paused = conn.execute(
        "SELECT schedule_id FROM jobs INDEXED BY jobs_paused WHERE paused = 1 LIMIT ?",
        (MAX_PAUSED + 1,)).fetchall()
    capped = capped or len(paused) > MAX_PAUSED
    for (schedule_id,) in paused[:MAX_PAUSED]:
        if schedule_id in counts:
            counts[schedule_id] -= 1
    return [ScheduleLoad(spec, zone, anchor, counts.get(ident, 0))
            for ident, spec, zone, anchor in found], capped
