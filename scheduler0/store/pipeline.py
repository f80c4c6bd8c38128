"""The planner's reads: due schedules, their jobs, and planned ticks not settled yet.

A read-only connection of the coordinator's planner thread (the coordinator's state machine is
the writer; WAL lets the planner read what was committed without blocking it).
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterator, Sequence
from sys import intern
from typing import Any

from scheduler0.messages import Delivery, PreviousSecret, RateLimit
from scheduler0.schedule.planning import DueSchedule, PlannedJob
from scheduler0.store import manual, operations, pending
from scheduler0.store.reads import Reader
from scheduler0.vocabulary import JOB_DELIVERY_FIELDS

# The job's delivery settings follow a flag that says whether it has none (SQLite tells, in C):
# most jobs have none, and cost one test and no object.
_JOB_COLUMNS = ("j.id, j.project_id, j.callback_url, j.data, j.start_date, j.end_date, "
                "j.misfire_policy, j.spec, j.timezone, j.created_at_ms / 1000, "
                f"coalesce({', '.join(f'j.{name}' for name in JOB_DELIVERY_FIELDS)}) IS NULL, "
                + ", ".join(f"j.{name}" for name in JOB_DELIVERY_FIELDS))
SQL_VARIABLES = 900  # below SQLite's default limit on bound parameters per statement
_SETTINGS = slice(11, 11 + len(JOB_DELIVERY_FIELDS))  # the delivery columns of a row


def _job(row: Sequence[Any]) -> PlannedJob:
    delivery = None if row[10] else _delivery(*row[_SETTINGS])
    # The texts jobs usually share (URL, policy, spec, zone) are interned: the leader keeps
    # these between ticks, and a million copies of one URL would be a million strings.
    return PlannedJob(int(row[0]), int(row[1]), intern(row[2]), row[3] or "", row[4], row[5],
                      intern(row[6]), intern(row[7]), intern(row[8]), int(row[9]), delivery)


@functools.lru_cache(maxsize=4096)
def _delivery(method: str | None, headers: str | None, timeout: float | None,
              retries: int | None, retry_delay: float | None,
              success_codes: str | None) -> Delivery:
    """The delivery settings stored in a job's columns; jobs with the same columns share one
    (so a batch finds its distinct settings by hashing few objects)."""
    return Delivery(method=method,
                    headers=tuple(json.loads(headers).items()) if headers else (),
                    timeout=timeout, retries=retries, retry_delay=retry_delay,
                    success_codes=tuple(json.loads(success_codes)) if success_codes else None)


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(values), SQL_VARIABLES):
        yield values[i:i + SQL_VARIABLES]


class PipelineReader(Reader):
    """The Reader plus the planner's queries (same read-only connection and transactions)."""

    def due_schedules(self, horizon: int, limit: int) -> list[DueSchedule]:
        """Schedules with jobs whose next fire time is at or before `horizon`, soonest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id, spec, timezone, anchor, next_fire_at, jobs_version FROM schedules "
                "WHERE next_fire_at IS NOT NULL AND next_fire_at <= ? "
                "ORDER BY next_fire_at LIMIT ?", (horizon, limit)).fetchall()
        return [DueSchedule(*row) for row in rows]

    def jobs_of_schedules(self, schedule_ids: Sequence[int]) -> dict[int, list[PlannedJob]]:
        """The unpaused jobs of each schedule (start and end dates are applied per tick)."""
        found: dict[int, list[PlannedJob]] = {}
        with self._read() as conn:
            for part in _chunks(list(schedule_ids)):
                marks = ",".join("?" * len(part))
                for row in conn.execute(
                        f"SELECT j.schedule_id, {_JOB_COLUMNS} FROM jobs j "
                        f"WHERE j.schedule_id IN ({marks}) AND j.paused = 0 ORDER BY j.id", part):
                    found.setdefault(int(row[0]), []).append(_job(row[1:]))
        return found

    def project_secrets(self, project_ids: Sequence[int]) -> dict[int, str]:
        secrets: dict[int, str] = {}
        with self._read() as conn:
            for part in _chunks(list(project_ids)):
                marks = ",".join("?" * len(part))
                secrets.update(conn.execute(
                    f"SELECT id, signing_secret FROM projects WHERE id IN ({marks})", part))
        return secrets

    def previous_secrets(self, project_ids: Sequence[int], now: int) -> dict[int, PreviousSecret]:
        """The projects' signing secrets before their last rotation, for those whose grace
        period lasts beyond `now` (epoch s)."""
        found: dict[int, PreviousSecret] = {}
        with self._read() as conn:
            for part in _chunks(list(project_ids)):
                marks = ",".join("?" * len(part))
                for project_id, secret, expires_at in conn.execute(
                        "SELECT id, previous_signing_secret, previous_signing_secret_expires_at "
                        f"FROM projects WHERE id IN ({marks}) AND "
                        "previous_signing_secret_expires_at > ?", (*part, now)):
                    found[project_id] = PreviousSecret(secret=secret, expires_at=expires_at)
        return found

    def rate_limits(self) -> dict[int, RateLimit]:
        """The rate-limited projects and their limits (read from their partial index: no row
        at all while no project has a limit)."""
        with self._read() as conn:
            return {project_id: RateLimit(concurrency=concurrency, per_second=per_second)
                    for project_id, concurrency, per_second in conn.execute(
                        "SELECT id, rate_concurrency, rate_per_second FROM projects "
                        "INDEXED BY projects_rate_limited "
                        "WHERE rate_concurrency IS NOT NULL OR rate_per_second IS NOT NULL")}

    def unfinished_of_batch(self, batch_id: str) -> list[PlannedJob]:
        """The batch's ticks not settled yet, of jobs that still exist, by job id (a run-now's
        with the data it delivers)."""
        with self._read() as conn:
            batch = pending.load(conn, batch_id)
            return [] if batch is None else self._unsettled(conn, batch)

    def unfinished_batches(self) -> dict[str, list[PlannedJob]]:
        """Every batch with ticks still unsettled (a new leader re-dispatches them)."""
        with self._read() as conn:
            return {batch.batch_id: self._unsettled(conn, batch)
                    for batch in pending.all_open(conn)}

    def requested_batches(self) -> list[str]:
        """The open batches a request committed (run-now, redelivery, backfill), which the
        leader sends without planning them (scheduler0.manual); run-nows first."""
        with self._read() as conn:
            return manual.requested_open(conn)

    def _unsettled(self, conn: sqlite3.Connection, batch: pending.OpenBatch) -> list[PlannedJob]:
        jobs = self._jobs(conn, [j for j, _ in batch.unsettled()])
        return manual.with_overrides(conn, batch.batch_id, jobs)

    def planning_paused(self) -> bool:
        """Whether the cluster is paused (POST /pause): no tick is planned until it resumes."""
        with self._read() as conn:
            return operations.planning_paused(conn)

    def revoked_leases(self) -> dict[int, tuple[int, int]]:
        """Node id -> the newest lease a leader took back from it (term, epoch)."""
        with self._read() as conn:
            return {node: (term, epoch) for node, term, epoch in conn.execute(
                "SELECT node_id, term, epoch FROM leases_revoked")}

    def batch_fire_at(self, batch_id: str) -> int:
        with self._read() as conn:
            row = conn.execute("SELECT scheduled_at FROM pending WHERE batch_id = ?",
                               (batch_id,)).fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    def _jobs(conn: sqlite3.Connection, job_ids: Sequence[int]) -> list[PlannedJob]:
        found: list[PlannedJob] = []
        for part in _chunks(job_ids):
            marks = ",".join("?" * len(part))
            found += [_job(row) for row in conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs j WHERE j.id IN ({marks}) ORDER BY j.id",
                part)]
        return found
