"""The leader's job lists: each schedule's unpaused jobs, kept between ticks.

A schedule fires the same jobs tick after tick, so the planner reads a schedule's jobs from
the file only when its `jobs_version` (bumped by the file's triggers on any change to one of
its jobs, whatever command made it) differs from the version its kept list was read at.
Reading every due job each tick was most of a planning round at a million jobs a minute.

A list not used for IDLE_SECONDS is dropped (a deleted schedule's would stay forever
otherwise); a schedule due less often is read again when it is next due. The lists hold at
most `max_jobs` jobs together (the planner gives them a quarter of MaxMemory, at
BYTES_PER_JOB); the schedules beyond are read every time they are due, as without the lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from scheduler0.coordinator.ports import PlanningReader
from scheduler0.schedule.planning import DueSchedule, PlannedJob

IDLE_SECONDS = 3600.0
# What one kept job costs the coordinator (measured: 217 bytes for a PlannedJob with its two
# own integers, its shared texts interned, and its place in a list).
BYTES_PER_JOB = 250
MEMORY_SHARE = 0.25  # of MaxMemory, at most, for the kept lists


def max_jobs_for(max_memory_mb: int) -> int:
    return int(max_memory_mb * 2**20 * MEMORY_SHARE) // BYTES_PER_JOB


class _Kept(NamedTuple):
    version: int
    jobs: list[PlannedJob]
    used_at: float


class JobLists:
    def __init__(self, max_jobs: int) -> None:
        self.max_jobs = max_jobs
        self._kept: dict[int, _Kept] = {}
        self._swept_at = 0.0
        self.stats = {"hits": 0, "reads": 0, "jobs": 0}

    def of(self, reader: PlanningReader, due: Sequence[DueSchedule],
           now: float) -> dict[int, list[PlannedJob]]:
        """Schedule id -> its unpaused jobs by id, for each of `due` (empty lists left out)."""
        found: dict[int, list[PlannedJob]] = {}
        stale: list[DueSchedule] = []
        for schedule in due:
            kept = self._kept.get(schedule.id)
            if kept is not None and kept.version == schedule.jobs_version:
                found[schedule.id] = kept.jobs
                self._kept[schedule.id] = kept._replace(used_at=now)
            else:
                stale.append(schedule)
        if stale:
            read = reader.jobs_of_schedules([s.id for s in stale])
            for schedule in stale:
                jobs = read.get(schedule.id, [])
                self._keep(schedule, jobs, now)
                found[schedule.id] = jobs
        self.stats["hits"] += len(due) - len(stale)
        self.stats["reads"] += len(stale)
        self._sweep(now)
        return {schedule_id: jobs for schedule_id, jobs in found.items() if jobs}

    def clear(self) -> None:
        self._kept.clear()
        self.stats["jobs"] = 0

    def _keep(self, schedule: DueSchedule, jobs: list[PlannedJob], now: float) -> None:
        old = self._kept.pop(schedule.id, None)
        if old is not None:
            self.stats["jobs"] -= len(old.jobs)
        if self.stats["jobs"] + len(jobs) <= self.max_jobs:
            self._kept[schedule.id] = _Kept(schedule.jobs_version, jobs, now)
            self.stats["jobs"] += len(jobs)

    def _sweep(self, now: float) -> None:
        if now - self._swept_at < IDLE_SECONDS / 10:
            return
        self._swept_at = now
        for schedule_id in [i for i, k in self._kept.items() if now - k.used_at > IDLE_SECONDS]:
            self.stats["jobs"] -= len(self._kept.pop(schedule_id).jobs)
