"""Run-nows, redeliveries and backfills in the store (their rules: scheduler0.manual).

Each is a pending batch of its own (scheduler0.store.pending), opened by its command with no
node: the leader's planner finds the open ones (`requested_open`) and sends them, and RESULT
settles them as it settles any batch, each tick once. What settling records depends on the
batch's kind:

- a run-now fills in its row of `runs_manual` (written by job.run, with the data it delivers).
  It counts in the rollups and the counters, but not in the job's last result (last_state,
  ?failing=true) nor in failure notifications: those follow the job's schedule, so a test run
  does not change what they say about it.
- a backfilled tick is recorded as the tick itself (runs_ok / runs_bad, its own execution id),
  marked backfilled in `runs_marks`.
- a redelivery replaces the execution's final row by its own outcome (state, attempts, HTTP
  status, node, times and error are the last delivery's) and counts one more redelivery. The
  rollups count each execution once, in its latest state: its count moves from its old state
  (and lateness bucket) to the new one, in its tick's minute and hour, so a failed tick that a
  redelivery delivered counts succeeded there, not both; where that period's rollup was pruned
  already, nothing moves. `recorded_<state>` counts every outcome recorded (the redelivery's
  too), `retained_<state>` the rows kept in each state (the row moves).
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scheduler0 import manual
from scheduler0.errors import ConflictError, NotFoundError, ValidationError
from scheduler0.schedule import Schedule, ScheduleCache, format_rfc3339_utc
from scheduler0.schedule.planning import PlannedJob
from scheduler0.store import counters, history, pending, schedules
from scheduler0.store.tx import Tx
from scheduler0.vocabulary import (
    ExecutionKey,
    ExecutionState,
    Trigger,
    parse_execution_key,
)

# A runs_manual row as the history tables' (history.RUN_COLUMNS), then its number and
# redeliveries.
MANUAL_COLUMNS = f"{history.RUN_COLUMNS}, run, redeliveries"
RUN, REDELIVERIES = 10, 11  # their positions
_ROLLUP_TABLES = ((history.MINUTE, "rollup_minute"), (history.HOUR, "rollup_hour"))
_ROLLUP_MOVE = {table: f"UPDATE {table} SET " + ", ".join(
    f"{c} = {c} + ?" for c in history.ROLLUP_COLUMNS) + " WHERE project_id = ? AND period = ?"
    for _, table in _ROLLUP_TABLES}


def scheduled_execution(key: ExecutionKey, project_id: int, batch_id: str,
                        node_id: int | None, planned_at_ms: int, trigger: str | None,
                        redeliveries: int | None) -> dict[str, Any]:
    """An execution in flight, as the Reader answers one (store/rows.py); None for trigger
    or redeliveries: `annotate` finds them."""
    return {"execution_id": key.execution_id, "job_id": key.job_id, "project_id": project_id,
            "scheduled_at": key.scheduled_at, "state": ExecutionState.SCHEDULED.value,
            "attempts": 0, "http_status": None, "node_id": node_id, "batch_id": batch_id,
            "error": None, "planned_at_ms": planned_at_ms, "started_at_ms": None,
            "finished_at_ms": None, "trigger": trigger, "redeliveries": redeliveries}


def manual_execution(row: Sequence[Any]) -> dict[str, Any]:
    """A settled runs_manual row (MANUAL_COLUMNS) as the Reader answers an execution."""
    answer = history.execution_of(row[:RUN])
    answer["execution_id"] = ExecutionKey(row[2], row[1], row[RUN]).execution_id
    answer["trigger"] = Trigger.MANUAL.value
    answer["redeliveries"] = row[REDELIVERIES]
    return answer


# -- starting them ----------------------------------------------------------------------------


def start_run(tx: Tx, job_id: int, project_id: int, data: str | None = None,
              operation_id: int | None = None) -> dict[str, Any]:
    """A run-now of job `job_id` (of `project_id`; the caller has checked it exists) at the
    command's second: its row, with the data it delivers instead of the job's (None: the
    job's, as it is when delivered), and its batch, planned and unfinished. Returns the
    execution, scheduled. A bulk run calls this once per job, naming its `operation_id`."""
    cursor = tx.conn.execute(
        "INSERT INTO runs_manual (project_id, job_id, scheduled_at, data, operation_id) "
        "VALUES (?, ?, ?, ?, ?)", (project_id, job_id, tx.ts_s, data, operation_id))
    run = int(cursor.lastrowid or 0)
    batch_id = manual.manual_batch_id(run)
    pending.open_batch(tx.conn, batch_id, tx.ts_s, None, tx.ts_ms, {job_id: project_id})
    return scheduled_execution(ExecutionKey(job_id, tx.ts_s, run), project_id, batch_id, None,
                               tx.ts_ms, Trigger.MANUAL.value, 0)


def fired_by(conn: sqlite3.Connection, operation_id: int, after_run: int, offset: int,
             limit: int) -> tuple[list[dict[str, Any]], int]:
    """The run-nows bulk run `operation_id` fired, in the order it fired them (by run number),
    those after run `after_run`: `limit` of them after skipping `offset`, each as it is now
    (scheduled until its result is recorded), and how many it fired in all (of those the
    history still holds)."""
    where = (f"FROM {history.MANUAL_TABLE} INDEXED BY runs_manual_operation "
             "WHERE operation_id = ?")
    (total,) = conn.execute(f"SELECT count(*) {where}", (operation_id,)).fetchone()
    rows = conn.execute(f"SELECT {MANUAL_COLUMNS} {where} AND run > ? ORDER BY run "
                        "LIMIT ? OFFSET ?", (operation_id, after_run, limit, offset)).fetchall()
    return [_as_it_is(conn, row) for row in rows], int(total)


def _as_it_is(conn: sqlite3.Connection, row: Sequence[Any]) -> dict[str, Any]:
    """A runs_manual row (MANUAL_COLUMNS) as an execution: settled, or still in flight."""
    if row[history.STATE] is not None:
        return manual_execution(row)
    key = ExecutionKey(row[history.JOB], row[history.TICK], row[RUN])
    batch_id = manual.manual_batch_id(row[RUN])
    batch = pending.load(conn, batch_id)  # None once its job is deleted (the pruner settles it)
    return scheduled_execution(key, row[history.PROJECT], batch_id,
                               None if batch is None else batch.node_id,
                               row[history.TICK] * 1000 if batch is None else batch.planned_at_ms,
                               Trigger.MANUAL.value, row[REDELIVERIES])


def job_project(conn: sqlite3.Connection, job_id: int) -> int:
    """The project of job `job_id`; NotFoundError when there is none."""
    row = conn.execute("SELECT project_id FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"job {job_id} does not exist")
    return int(row[0])


def start_redelivery(tx: Tx, key: ExecutionKey) -> dict[str, Any]:
    """Send the finished execution `key` again, with its own id: a batch of its own, planned
    and unfinished. Refused while a delivery of it is in flight (409) and for an execution the
    history does not hold (404). Returns the execution, scheduled again."""
    conn = tx.conn
    project_id = job_project(conn, key.job_id)
    flying = in_flight(conn, key)
    if flying is not None:
        raise ConflictError(f"execution {key.execution_id} is still scheduled (batch "
                            f"{flying['batch_id']}): a delivery of it is in flight; redeliver "
                            "it once its result is recorded", code="execution_in_flight")
    found = recorded(conn, key, project_id)
    if found is None:
        raise NotFoundError(f"execution {key.execution_id} is not in the history: job "
                            f"{key.job_id} has no recorded execution with that id (it never "
                            "ran, or retention removed it)")
    batch_id = manual.redelivery_batch_id(tx.index, key)
    pending.open_batch(conn, batch_id, key.scheduled_at, None, tx.ts_ms,
                       {key.job_id: project_id})
    return scheduled_execution(key, project_id, batch_id, None, tx.ts_ms, found.trigger,
                               found.redeliveries)


@dataclass(frozen=True)
class JobSchedule:
    project_id: int
    schedule: Schedule
    next_fire_at: int | None  # the schedule row's: its ticks before it are planned already


def job_schedule(conn: sqlite3.Connection, job_id: int, cache: ScheduleCache) -> JobSchedule:
    """Job `job_id`'s project and schedule (its resolved spec); NotFoundError without one."""
    row = conn.execute(
        "SELECT j.project_id, s.spec, s.timezone, s.anchor, s.next_fire_at FROM jobs j "
        "JOIN schedules s ON s.id = j.schedule_id WHERE j.id = ?", (job_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"job {job_id} does not exist")
    key = schedules.ScheduleKey(row[1], row[2], row[3])
    return JobSchedule(int(row[0]), cache.get(key.spec, key.timezone,
                                              schedules.engine_anchor(key)), row[4])


@dataclass
class BackfillPlan:
    """What a backfill of job `job_id` from `start` to `end` (epoch s, both included) fires:
    of the schedule's `ticks` in the range, those never recorded, not in flight and already
    passed by the planner (`fire`), in order."""

    job_id: int
    project_id: int
    start: int
    end: int
    ticks: list[int]
    fire: list[int]
    recorded: int = 0
    in_flight: int = 0
    not_planned: int = 0  # at or after the schedule's next tick: the planner's to plan

    def answer(self) -> dict[str, Any]:
        """The command's (and the dry run's) answer, times in epoch seconds."""
        return {"job_id": self.job_id, "from": self.start, "to": self.end,
                "count": len(self.fire), "ticks": len(self.ticks),
                "skipped": {"recorded": self.recorded, "in_flight": self.in_flight,
                            "not_yet_planned": self.not_planned},
                "first_ticks": self.fire[:manual.FIRST_TICKS]}


def backfill_plan(conn: sqlite3.Connection, job_id: int, start: int, end: int, now: int,
                  cache: ScheduleCache) -> BackfillPlan:
    """The plan of a backfill asked at `now` (epoch s). Refuses (400) a range that ends in the
    future or before it starts, or holds more than manual.BACKFILL_CAP ticks; 404 for a job
    that does not exist."""
    if end < start:
        raise ValidationError(f"to: {format_rfc3339_utc(end)} is before from "
                              f"({format_rfc3339_utc(start)}); send a range that ends at or "
                              "after its start", code="invalid_to")
    if end > now:
        raise ValidationError(f"to: {format_rfc3339_utc(end)} is in the future (now is "
                              f"{format_rfc3339_utc(now)}); a backfill fires past ticks only: "
                              "end the range at or before now, and let the schedule fire the "
                              "rest", code="invalid_to")
    job = job_schedule(conn, job_id, cache)
    try:
        ticks = manual.backfill_ticks(job.schedule, start, end)
    except manual.BackfillRangeError as exc:
        raise ValidationError(f"to: {exc}", code="too_many_ticks") from None
    plan = BackfillPlan(job_id, job.project_id, start, end, ticks, [])
    if not ticks:
        return plan
    done = _recorded_ticks(conn, job_id, ticks[0], ticks[-1])
    flying = _flying_ticks(conn, job_id, ticks[0], ticks[-1])
    for tick in ticks:
        if tick in done:
            plan.recorded += 1
        elif tick in flying:
            plan.in_flight += 1
        elif job.next_fire_at is not None and tick >= job.next_fire_at:
            plan.not_planned += 1
        else:
            plan.fire.append(tick)
    return plan


def start_backfill(tx: Tx, plan: BackfillPlan) -> None:
    """Open one batch per tick the plan fires (each its own tick, so its own fire time)."""
    for tick in plan.fire:
        pending.open_batch(tx.conn, manual.backfill_batch_id(tx.index, tick), tick, None,
                           tx.ts_ms, {plan.job_id: plan.project_id})


def _recorded_ticks(conn: sqlite3.Connection, job_id: int, first: int, last: int) -> set[int]:
    found: set[int] = set()
    for table in (history.OK_TABLE, history.BAD_TABLE):  # through each table's job index
        found.update(tick for (tick,) in conn.execute(
            f"SELECT scheduled_at FROM {table} WHERE job_id = ? AND scheduled_at BETWEEN ? "
            "AND ?", (job_id, first, last)))
    return found


def _flying_ticks(conn: sqlite3.Connection, job_id: int, first: int, last: int) -> set[int]:
    """The ticks (not run-nows) of the job still unsettled in an open batch."""
    found: set[int] = set()
    for batch in pending.open_between(conn, first, last):
        position = batch.position(job_id)
        if (position is not None and not batch.is_settled(position)
                and not manual.key_in(batch.batch_id, job_id, batch.scheduled_at).run):
            found.add(batch.scheduled_at)
    return found


# -- finding one ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """An execution's final row (history.RUN_COLUMNS), where it is, and its marks."""

    table: str
    row: history.Row
    trigger: str
    redeliveries: int


def recorded(conn: sqlite3.Connection, key: ExecutionKey, project_id: int) -> Recorded | None:
    if key.run:
        row = conn.execute(
            f"SELECT {MANUAL_COLUMNS} FROM {history.MANUAL_TABLE} WHERE run = ? AND job_id = ? "
            "AND scheduled_at = ? AND state IS NOT NULL",
            (key.run, key.job_id, key.scheduled_at)).fetchone()
        return None if row is None else Recorded(history.MANUAL_TABLE, tuple(row[:RUN]),
                                                 Trigger.MANUAL.value, row[REDELIVERIES])
    for table in (history.OK_TABLE, history.BAD_TABLE):
        row = conn.execute(
            f"SELECT {history.RUN_COLUMNS} FROM {table} WHERE project_id = ? AND "
            "scheduled_at = ? AND job_id = ?", (project_id, key.scheduled_at, key.job_id)
        ).fetchone()
        if row is not None:
            backfilled, redeliveries = _mark(conn, project_id, key.scheduled_at, key.job_id)
            trigger = Trigger.BACKFILL if backfilled else Trigger.SCHEDULE
            return Recorded(table, tuple(row), trigger.value, redeliveries)
    return None


def in_flight(conn: sqlite3.Connection, key: ExecutionKey) -> dict[str, Any] | None:
    """The execution `key` as scheduled, while a delivery of it (its first, or a redelivery)
    is in flight; None otherwise."""
    for batch in pending.open_at(conn, key.scheduled_at):
        if manual.key_in(batch.batch_id, key.job_id, key.scheduled_at) != key:
            continue
        position = batch.position(key.job_id)
        if position is not None and not batch.is_settled(position):
            return annotate(conn, [scheduled_execution(
                key, batch.project_ids[position], batch.batch_id, batch.node_id,
                batch.planned_at_ms, manual.trigger_of(batch.batch_id), None)])[0]
    return None


def find(conn: sqlite3.Connection, key: ExecutionKey) -> dict[str, Any] | None:
    """The execution `key` as it is now: scheduled while a delivery of it is in flight, else
    as recorded; None when there is no such execution."""
    flying = in_flight(conn, key)
    if flying is not None:
        return flying
    row = conn.execute("SELECT project_id FROM jobs WHERE id = ?", (key.job_id,)).fetchone()
    found = None if row is None else recorded(conn, key, int(row[0]))
    if found is None:
        return None
    answer = history.execution_of(found.row)
    answer.update(execution_id=key.execution_id, trigger=found.trigger,
                  redeliveries=found.redeliveries)
    return answer


def _mark(conn: sqlite3.Connection, project_id: int, tick: int, job_id: int
          ) -> tuple[bool, int]:
    row = conn.execute("SELECT backfilled, redeliveries FROM runs_marks WHERE project_id = ? "
                       "AND scheduled_at = ? AND job_id = ?",
                       (project_id, tick, job_id)).fetchone()
    return (False, 0) if row is None else (bool(row[0]), int(row[1]))


def annotate(conn: sqlite3.Connection, executions: list[dict[str, Any]]
             ) -> list[dict[str, Any]]:
    """Fill in each execution's `trigger` and `redeliveries` where they are missing or None:
    a tick's from its mark (none: schedule, 0), a run-now's redeliveries from its row."""
    unknown = [e for e in executions
               if e.get("trigger") is None or e.get("redeliveries") is None]
    if not unknown:
        return executions
    marked = conn.execute("SELECT 1 FROM runs_marks LIMIT 1").fetchone() is not None
    for execution in unknown:
        key = parse_execution_key(execution["execution_id"])
        if key.run:
            row = conn.execute(f"SELECT redeliveries FROM {history.MANUAL_TABLE} WHERE run = ?",
                               (key.run,)).fetchone()
            execution["trigger"] = Trigger.MANUAL.value
            execution["redeliveries"] = 0 if row is None else int(row[0])
            continue
        backfilled, redeliveries = (_mark(conn, execution["project_id"], key.scheduled_at,
                                          key.job_id) if marked else (False, 0))
        if execution.get("trigger") is None:
            execution["trigger"] = (Trigger.BACKFILL if backfilled else Trigger.SCHEDULE).value
        if execution.get("redeliveries") is None:
            execution["redeliveries"] = redeliveries
    return executions


# -- settling them (RESULT) -------------------------------------------------------------------


def record_settled(conn: sqlite3.Connection, settled: Sequence[tuple[str, history.Row]],
                   ts_ms: int) -> None:
    """Record what RESULT settled in requested batches: (batch id, the tick's final row)."""
    for batch_id, row in settled:
        found = manual.requested(batch_id)
        assert found is not None
        if found.kind == manual.MANUAL:
            _record_run(conn, found.run, row, ts_ms)
        elif found.kind == manual.BACKFILL:
            if history.record(conn, [row], ts_ms):
                _set_mark(conn, row, backfilled=True, redeliveries=0)
        else:
            _record_redelivery(conn, ExecutionKey(row[history.JOB], row[history.TICK],
                                                  found.run), row, ts_ms)


_SETTLE_RUN = ("UPDATE runs_manual SET state = ?, attempts = ?, http_status = ?, node_id = ?, "
               "late_ms = ?, took_ms = ?, error = ?")


def _record_run(conn: sqlite3.Connection, run: int, row: history.Row, ts_ms: int) -> None:
    # No row: its job was deleted with its history meanwhile.
    if conn.execute(_SETTLE_RUN + " WHERE run = ? AND state IS NULL",
                    (*row[history.STATE:], run)).rowcount:
        history.account(conn, [row], ts_ms, last_results=False)


def _record_redelivery(conn: sqlite3.Connection, key: ExecutionKey, row: history.Row,
                       ts_ms: int) -> None:
    old = recorded(conn, key, row[history.PROJECT])
    if old is None:
        _record_lost_redelivery(conn, key, row, ts_ms)
        return
    if old.table == history.MANUAL_TABLE:
        conn.execute(_SETTLE_RUN + ", redeliveries = redeliveries + 1 WHERE run = ?",
                     (*row[history.STATE:], key.run))
        history.account(conn, [row], ts_ms, last_results=False, rollups=False)
    else:
        conn.execute(f"DELETE FROM {old.table} WHERE project_id = ? AND scheduled_at = ? AND "
                     "job_id = ?", old.row[:3])  # its mark goes with it (a trigger)
        _insert_final(conn, row)
        _set_mark(conn, row, backfilled=old.trigger == Trigger.BACKFILL.value,
                  redeliveries=old.redeliveries + 1)
        history.account(conn, [row], ts_ms, rollups=False)
    counters.add(conn, {counters.retained(history.CODE_STATES[old.row[history.STATE]]): -1})
    _move_rollups(conn, old.row, row)


def _record_lost_redelivery(conn: sqlite3.Connection, key: ExecutionKey, row: history.Row,
                            ts_ms: int) -> None:
    """The execution's row went while its redelivery was in flight (retention, or its job
    deleted): the redelivery's outcome is recorded in its place, if the job is still there.
    Not in the rollups: they outlive the rows, and count the execution's first outcome still
    (its old state is not known any more)."""
    if not history.existing_jobs(conn, [key.job_id]):
        return
    if key.run:
        conn.execute(f"INSERT INTO {history.MANUAL_TABLE} (run, {history.RUN_COLUMNS}, "
                     f"redeliveries) VALUES (?, {', '.join('?' * len(row))}, 1)", (key.run, *row))
        history.account(conn, [row], ts_ms, last_results=False, rollups=False)
        return
    _insert_final(conn, row)
    _set_mark(conn, row, backfilled=False, redeliveries=1)
    history.account(conn, [row], ts_ms, rollups=False)


def _insert_final(conn: sqlite3.Connection, row: history.Row) -> None:
    """Write a tick's final row into the table of its state."""
    table = (history.OK_TABLE if row[history.STATE] == history.SUCCEEDED_CODE
             else history.BAD_TABLE)
    conn.execute(f"INSERT INTO {table} ({history.RUN_COLUMNS}) VALUES "
                 f"({', '.join('?' * len(row))})", row)


def _set_mark(conn: sqlite3.Connection, row: history.Row, *, backfilled: bool,
              redeliveries: int) -> None:
    conn.execute("INSERT OR REPLACE INTO runs_marks (project_id, scheduled_at, job_id, "
                 "backfilled, redeliveries) VALUES (?, ?, ?, ?, ?)",
                 (*row[:3], int(backfilled), redeliveries))


def _move_rollups(conn: sqlite3.Connection, old: history.Row, new: history.Row) -> None:
    """Move one execution's count in its tick's rollups from row `old` to row `new` (the
    same tick and project), where those rollups are still kept."""
    before, after = history.rollup_deltas([old]), history.rollup_deltas([new])
    for period, table in _ROLLUP_TABLES:
        for key, counts in after[period].items():
            delta = [now - was for now, was in zip(counts, before[period][key], strict=True)]
            if any(delta):
                conn.execute(_ROLLUP_MOVE[table], (*delta, *key))


# -- the planner's reads ----------------------------------------------------------------------


def requested_open(conn: sqlite3.Connection) -> list[str]:
    """The open requested batches (they have no node), run-nows first."""
    found = [batch_id for (batch_id,) in conn.execute(
        "SELECT batch_id FROM pending INDEXED BY pending_requested "
        "WHERE open > 0 AND node_id IS NULL")
        if manual.is_requested(batch_id)]
    return sorted(found, key=lambda b: (not b.startswith(manual.MANUAL), b))


def with_overrides(conn: sqlite3.Connection, batch_id: str, jobs: list[PlannedJob]
                   ) -> list[PlannedJob]:
    """`jobs` of batch `batch_id` with the data its run-now delivers instead of the job's."""
    found = manual.requested(batch_id)
    if found is None or not found.run or not jobs:
        return jobs
    row = conn.execute(f"SELECT data FROM {history.MANUAL_TABLE} WHERE run = ?",
                       (found.run,)).fetchone()
    if row is None or row[0] is None:
        return jobs
    return [dataclasses.replace(job, data=row[0]) for job in jobs]


# -- retention --------------------------------------------------------------------------------


def prune(conn: sqlite3.Connection, succeeded_before: int, before: int, limit: int) -> int:
    """Delete up to `limit` settled run-nows, each state by its own window as the ticks'
    (succeeded ones scheduled before `succeeded_before`, the others before `before`)."""
    deleted = 0
    for states, cut in (("state = 0", succeeded_before), ("state > 0", before)):
        gone: dict[str, int] = {}
        for (code,) in conn.execute(
                f"DELETE FROM {history.MANUAL_TABLE} WHERE run IN (SELECT run FROM "
                f"{history.MANUAL_TABLE} WHERE {states} AND scheduled_at < ? "
                "ORDER BY scheduled_at, run LIMIT ?) RETURNING state",
                (cut, limit - deleted)).fetchall():
            name = counters.retained(history.CODE_STATES[code])
            gone[name] = gone.get(name, 0) - 1
        counters.add(conn, gone)
        deleted -= sum(gone.values())
    return deleted

