"""`POST /jobs?dry_run=true`: each job as a create would make it, with its next fire times,
and nothing created (no Raft command).

The body is validated by the same code as a create (api/validation.py), so it is refused with
the same errors. A job is then built by the store's own rules (its schedule placed and its row
shown as store/rows.py shows one) at this node's clock, with the id it would get if created
now: H is resolved for that id, and a job created later may get another id and other values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scheduler0 import messages, schedule
from scheduler0.api import serialize
from scheduler0.schedule import ScheduleCache
from scheduler0.store import rows, schedules
from scheduler0.vocabulary import JOB_COLUMNS

FIRE_TIMES = 5  # how many next fire times a dry run lists per job


def would_create(count: int, columns: Mapping[str, Any], first_id: int, now_ms: int,
                 cache: ScheduleCache) -> list[dict[str, Any]]:
    """The API answer for each of `count` jobs given as job.create input columns
    (validation.jobs_create_columns), ids from `first_id`, created at `now_ms`, plus
    `next_fire_times`: its next FIRE_TIMES ticks (RFC 3339), none while paused."""
    per_field = {name: messages.unfold_column(column, count) for name, column in columns.items()}
    return [_would_be({name: values[i] for name, values in per_field.items()}, first_id + i,
                      now_ms, cache) for i in range(count)]


def _would_be(job: dict[str, Any], job_id: int, now_ms: int,
              cache: ScheduleCache) -> dict[str, Any]:
    now_s = now_ms // 1000
    placement = schedules.place(cache, job["spec"], job["timezone"], job["anchor"],
                                job_id=job_id, ts_s=now_s, index=0)
    schedules.check_can_fire(placement.schedule, now_s)
    stored = {**job, "id": job_id, "schedule_id": 0, "spec": placement.job_spec,
              "timezone": placement.key.timezone, "paused": int(job["paused"]),
              "created_at_ms": now_ms, "updated_at_ms": now_ms}
    row = rows.job_of({column: stored.get(column) for column in JOB_COLUMNS}, placement.key,
                      schedule.next_fire(placement.schedule, now_s), cache)
    answer = serialize.job(row)
    answer["next_fire_times"] = [serialize.instant(t) for t in _ticks(
        placement.schedule, row["next_execution_at"], row["end_date"])]
    return answer


def _ticks(of: schedule.Schedule, first: int | None, end: int | None) -> list[int]:
    """Up to FIRE_TIMES ticks from `first` (the job's next), none after `end`."""
    ticks: list[int] = []
    tick = first
    while tick is not None and len(ticks) < FIRE_TIMES:
        ticks.append(tick)
        tick = schedule.next_fire(of, tick, None, end)
    return ticks
