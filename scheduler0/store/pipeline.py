"""The planner's reads: due schedules, their jobs, and planned-but-unfinished executions.

A read-only connection of the coordinator's planner thread (the coordinator's state machine is
the writer; WAL lets the planner read what was committed without blocking it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from scheduler0.schedule.planning import DueSchedule, PlannedJob
from scheduler0.store.reads import Reader

_JOB_COLUMNS = ("j.id, j.project_id, j.callback_url, j.data, j.start_date, j.end_date, "
                "j.misfire_policy, j.spec, j.timezone, j.created_at_ms / 1000")
SQL_VARIABLES = 900  # below SQLite's default limit on bound parameters per statement


def _job(row: Sequence[Any]) -> PlannedJob:
    return PlannedJob(int(row[0]), int(row[1]), row[2], row[3] or "", row[4], row[5], row[6],
                      row[7], row[8], int(row[9]))


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(values), SQL_VARIABLES):
        yield values[i:i + SQL_VARIABLES]


class PipelineReader(Reader):
    """The Reader plus the planner's queries (same read-only connection and transactions)."""

    def due_schedules(self, horizon: int, limit: int) -> list[DueSchedule]:
        """Schedules with jobs whose next fire time is at or before `horizon`, soonest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id, spec, timezone, anchor, next_fire_at FROM schedules "
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

    def unfinished_of_batch(self, batch_id: str) -> list[PlannedJob]:
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM executions e JOIN jobs j ON j.id = e.job_id "
                "WHERE e.batch_id = ? AND e.state = 'scheduled' ORDER BY j.id",
                (batch_id,)).fetchall()
        return [_job(row) for row in rows]

    def unfinished_batches(self) -> dict[str, list[PlannedJob]]:
        """Every batch with executions still `scheduled` (a new leader re-dispatches them)."""
        found: dict[str, list[PlannedJob]] = {}
        with self._read() as conn:
            for row in conn.execute(
                    f"SELECT e.batch_id, {_JOB_COLUMNS} FROM executions e "
                    "JOIN jobs j ON j.id = e.job_id WHERE e.state = 'scheduled' "
                    "ORDER BY e.batch_id, j.id"):
                found.setdefault(str(row[0]), []).append(_job(row[1:]))
        return found

    def batch_fire_at(self, batch_id: str) -> int:
        with self._read() as conn:
            row = conn.execute("SELECT scheduled_at FROM executions WHERE batch_id = ? LIMIT 1",
                               (batch_id,)).fetchone()
        return int(row[0]) if row else 0
