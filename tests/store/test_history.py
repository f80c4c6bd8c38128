"""The history written once per tick: exactly-once settling, retention by state, rollups that
stay exact after pruning, keyset pages, counters that agree with a fresh count, and the
migration from the schema that kept one row per tick in `executions`."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from scheduler0 import messages
from scheduler0.coordinator.pruner import next_body
from scheduler0.store import Reader, StateMachine, history, schema
from scheduler0.vocabulary import execution_id
from tests.store.helpers import TS_MS, Log, file_at_version, job_input

T0 = 1_800_000_000 - 1_800_000_000 % 3600  # an hour boundary


def plan(log: Log, batch_id: str, tick: int, jobs: list[dict[str, Any]], node: int = 1) -> Any:
    body = messages.Plan(batches=[messages.PlanBatch(
        batch_id=batch_id, node_id=node, scheduled_at=tick,
        rows=[messages.PlanRow(j["id"], j["project_id"]) for j in jobs])])
    return log.ok(messages.PLAN, body.encode())


def result(log: Log, rows: list[messages.ResultRow]) -> Any:
    return log.ok(messages.RESULT, messages.Result(rows=rows).encode())


def outcome(job: dict[str, Any], tick: int, state: str, batch_id: str | None, *,
            late_ms: int = 20, status: int | None = 200) -> messages.ResultRow:
    started = tick * 1000 + late_ms
    return messages.ResultRow(execution_id(job["id"], tick), state, 1, status,
                              None if state == "succeeded" else "boom", 2, started,
                              started + 5, batch_id)


def run_ticks(log: Log, jobs: list[dict[str, Any]], ticks: list[int],
              state_of: Any = lambda job, tick: "succeeded") -> None:
    """Plan and settle every tick of every job (one batch per tick)."""
    for tick in ticks:
        plan(log, f"b{tick}", tick, jobs)
        result(log, [outcome(j, tick, state_of(j, tick), f"b{tick}",
                             late_ms=(tick // 60) % 4 * 700) for j in jobs])


def fresh_counters(db_path: str) -> dict[str, int]:
    conn = sqlite3.connect(db_path)
    try:
        return history.recount_counters(conn)
    finally:
        conn.close()


def kept_counters(reader: Reader) -> dict[str, int]:
    """The counters a fresh count can check (recorded_* also count what was pruned)."""
    return {k: v for k, v in reader.counters().items() if not k.startswith("recorded_")}


def without_recorded(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if not k.startswith("recorded_")}


@pytest.fixture
def jobs(log: Log) -> list[dict[str, Any]]:
    project = log.project()
    other = log.project("other")
    return log.jobs(job_input(project["id"], "@every 1m"), job_input(project["id"], "@every 1m"),
                    job_input(other["id"], "@every 1m"))


def test_a_tick_is_recorded_once_whatever_duplicates_and_retries_arrive(
        log: Log, reader: Reader, jobs: list[dict[str, Any]]) -> None:
    assert plan(log, "b1", T0, jobs)["scheduled"] == 3
    assert reader.executions_by_state()["scheduled"] == 3
    first = [outcome(jobs[0], T0, "failed", "b1", status=500)]
    assert result(log, first) == {"settled": 1}
    # The same tick again, now succeeding, and a copy without its batch: neither counts.
    assert result(log, [outcome(jobs[0], T0, "succeeded", "b1"),
                        outcome(jobs[0], T0, "succeeded", None)]) == {"settled": 0}
    # A result for a tick nobody planned changes nothing either.
    assert result(log, [outcome(jobs[1], T0 + 60, "succeeded", "b1")]) == {"settled": 0}
    page = reader.list_executions(job_id=jobs[0]["id"])
    assert [(r["execution_id"], r["state"], r["http_status"]) for r in page.rows] == [
        (execution_id(jobs[0]["id"], T0), "failed", 500)]
    assert reader.executions_by_state() == {"scheduled": 2, "succeeded": 0, "failed": 1,
                                            "missed": 0}
    # The rest settle (a result naming no batch is found by its tick), and the batch closes.
    assert result(log, [outcome(jobs[1], T0, "succeeded", None),
                        outcome(jobs[2], T0, "succeeded", "b1")]) == {"settled": 2}
    assert reader.list_executions(state="scheduled").rows == []
    assert reader.executions_by_state()["scheduled"] == 0
    # Planned again after it settled (a round whose schedule advance did not commit): the
    # store says so, and nothing is pending again.
    again = plan(log, "b1", T0, jobs)
    assert again["scheduled"] == 0 and again["settled_before"] == ["b1"]
    assert reader.executions_by_state()["scheduled"] == 0
    assert kept_counters(reader) == without_recorded(fresh_counters(log.machine.db_path))


def test_a_settled_row_reads_back_with_its_times_and_the_job_shows_its_last_result(
        log: Log, reader: Reader, jobs: list[dict[str, Any]]) -> None:
    plan(log, "b1", T0, jobs[:1])
    result(log, [outcome(jobs[0], T0, "succeeded", "b1", late_ms=37)])
    [row] = reader.list_executions(job_id=jobs[0]["id"]).rows
    assert row["started_at_ms"] == T0 * 1000 + 37 and row["finished_at_ms"] == T0 * 1000 + 42
    assert (row["attempts"], row["node_id"], row["project_id"]) == (1, 2, jobs[0]["project_id"])
    job = reader.get_job(jobs[0]["id"])
    assert job is not None
    assert (job["last_state"], job["last_http_status"], job["last_execution_at"]) == (
        "succeeded", 200, T0)
    plan(log, "b2", T0 + 60, jobs[:1])
    result(log, [outcome(jobs[0], T0 + 60, "failed", "b2", status=503)])
    # An older tick settling late does not replace the newer last result.
    plan(log, "b0", T0 - 60, jobs[:1])
    result(log, [outcome(jobs[0], T0 - 60, "succeeded", "b0")])
    job = reader.get_job(jobs[0]["id"])
    assert job is not None
    assert (job["last_state"], job["last_http_status"], job["last_execution_at"]) == (
        "failed", 503, T0 + 60)
    assert [j["id"] for j in reader.list_jobs(failing=True).rows] == [jobs[0]["id"]]
    assert [j["id"] for j in reader.list_jobs(failing=False).rows] == [j["id"] for j in jobs[1:]]


def test_retention_by_state_keeps_failures_longer_and_rollups_stay_exact(
        log: Log, reader: Reader, jobs: list[dict[str, Any]]) -> None:
    ticks = [T0 + 60 * i for i in range(120)]  # two hours of minutes
    run_ticks(log, jobs, ticks, lambda job, tick: "failed" if tick % 420 == 0 else "succeeded")
    missed = messages.Plan(missed=[messages.PlanMissed(scheduled_at=T0 + 7200, rows=[
        messages.PlanRow(jobs[2]["id"], jobs[2]["project_id"])])])
    assert log.ok(messages.PLAN, missed.encode())["missed"] == 1

    def rows_per_minute() -> Counter[tuple[int, int, str]]:
        found: Counter[tuple[int, int, str]] = Counter()
        for project in (jobs[0]["project_id"], jobs[2]["project_id"]):
            for r in reader.list_executions(project_id=project, limit=1000).rows:
                found[(r["project_id"], r["scheduled_at"] // 60 * 60, r["state"])] += 1
        return found

    def rollup_per_minute() -> Counter[tuple[int, int, str]]:
        found: Counter[tuple[int, int, str]] = Counter()
        for project in (jobs[0]["project_id"], jobs[2]["project_id"]):
            for r in reader.rollups("minute", project_id=project, limit=10_000):
                for state in ("succeeded", "failed", "missed"):
                    if r[state]:
                        found[(project, r["period_start"], state)] += r[state]
        return found

    before = rows_per_minute()
    assert sum(before.values()) == 3 * 120 + 1
    assert rollup_per_minute() == before
    hours = reader.rollups("hour", project_id=jobs[0]["project_id"])
    assert [(h["period_start"], h["succeeded"] + h["failed"]) for h in hours] == [
        (T0, 120), (T0 + 3600, 120)]
    # Lateness buckets count every delivery that started, in the bucket of its lateness.
    minute = reader.rollups("minute", project_id=jobs[0]["project_id"], since=T0 + 120,
                            until=T0 + 180)[0]
    assert (minute["late_1s"], minute["late_100ms"]) == (0, 0) and minute["late_10s"] == 2

    # Keep succeeded rows 30 minutes and failed ones the whole window: prune at T0 + 2 h.
    now = T0 + 7200
    body = messages.Prune(before=T0, limit=50, succeeded_before=now - 1800,
                          stale_before=now - 3600)
    passes = 0
    while log.ok(messages.PRUNE, body.encode())["more"]:
        passes += 1
        assert passes < 100
    assert passes >= 2  # the limit held: several commands
    after = rows_per_minute()
    assert all(minute >= now - 1800 or state != "succeeded"
               for (_, minute, state) in after)
    assert {k: v for k, v in before.items() if k[2] != "succeeded"} == {
        k: v for k, v in after.items() if k[2] != "succeeded"}
    assert rollup_per_minute() == before  # the counts outlive the rows they summarise
    assert kept_counters(reader) == without_recorded(fresh_counters(log.machine.db_path))
    kept = reader.counters()
    assert kept["recorded_succeeded"] == sum(v for k, v in before.items() if k[2] == "succeeded")
    assert kept["retained_succeeded"] == sum(v for k, v in after.items() if k[2] == "succeeded")

    # A cap on failed and missed rows removes the oldest first.
    bad_before = [r["execution_id"] for r in reader.list_executions(state="failed").rows]
    log.ok(messages.PRUNE, messages.Prune(before=0, limit=50, succeeded_before=0,
                                          bad_rows_cap=3).encode())
    assert reader.executions_by_state()["failed"] + reader.executions_by_state()["missed"] == 3
    assert [r["execution_id"] for r in reader.list_executions(state="failed").rows] == (
        bad_before[:2])
    # Rollups go by their own cut-off.
    log.ok(messages.PRUNE, messages.Prune(before=0, limit=10_000, succeeded_before=0,
                                          minute_rollups_before=T0 + 3600).encode())
    assert min(r["period_start"] for r in reader.rollups("minute")) == T0 + 3600
    assert reader.rollups("hour")[0]["period_start"] == T0


def test_a_pass_sweeps_succeeded_rows_in_job_order_and_deletes_exactly_those_due(
        log: Log, reader: Reader) -> None:
    project, other = log.project(), log.project("other")
    jobs = log.jobs(*(job_input(p["id"], "@every 1m") for p in (project, other) * 6))
    ticks = [T0 + 60 * i for i in range(6)]
    # Phases spread over the minute: each job's ticks fall on its own second.
    for index, job in enumerate(jobs):
        phased = [tick + index for tick in ticks]
        run_ticks(log, [job], phased,
                  lambda job, tick, failing=phased[1]: "failed"
                  if tick == failing and job["id"] % 3 == 0 else "succeeded")
    cut = T0 + 60 * 3  # the first three ticks of every job are due
    due = {(r["job_id"], r["scheduled_at"]) for r in reader.list_executions(limit=1000).rows
           if r["state"] == "succeeded" and r["scheduled_at"] < cut}
    kept = {(r["execution_id"], r["state"]) for r in reader.list_executions(limit=1000).rows
            if r["state"] != "succeeded" or r["scheduled_at"] >= cut}

    body = messages.Prune(before=0, limit=4, succeeded_before=cut)
    sweep, commands = [], 0
    while True:
        commands += 1
        assert commands < 50
        answer = log.ok(messages.PRUNE, body.encode())
        sweep.append((body.succeeded_from_job, answer["succeeded_next_job"], answer["deleted"]))
        assert kept_counters(reader) == without_recorded(fresh_counters(log.machine.db_path))
        if not answer["more"]:
            break
        body = next_body(body, answer["succeeded_next_job"])
    # Each command went on from the job where the last one stopped and took at most the
    # limit: the sweep read every job once, in order.
    starts = [start or 0 for start, _, _ in sweep]
    assert starts == sorted(starts) and starts[1:] == [n for _, n, _ in sweep[:-1]]
    assert all(deleted <= 4 for _, _, deleted in sweep)
    assert sum(deleted for _, _, deleted in sweep) == len(due)
    assert sweep[-1][1] is None
    after = reader.list_executions(limit=1000).rows
    assert {(r["execution_id"], r["state"]) for r in after} == kept


def test_keyset_pages_neither_skip_nor_repeat_while_executions_are_added(
        log: Log, reader: Reader, jobs: list[dict[str, Any]]) -> None:
    run_ticks(log, jobs, [T0 + 60 * i for i in range(20)],
              lambda job, tick: "failed" if job["id"] == jobs[1]["id"] else "succeeded")
    expected = [r["execution_id"] for r in reader.list_executions(limit=1000).rows]
    assert len(expected) == 60
    keys = [tuple(map(int, e.split("-")))[::-1] for e in expected]
    assert keys == sorted(keys, reverse=True)  # newest tick first, ties by job id
    for query in ({}, {"project_id": jobs[0]["project_id"]}, {"job_id": jobs[1]["id"]},
                  {"state": "succeeded"}):
        wanted = [r["execution_id"] for r in reader.list_executions(limit=1000, **query).rows]
        seen: list[str] = []
        after = None
        added = 20
        for _ in range(100):
            page = reader.list_executions(limit=7, after=after, **query)
            seen += [r["execution_id"] for r in page.rows]
            # New ticks land while the client pages, newer than every page it holds.
            run_ticks(log, jobs, [T0 + 60 * added])
            added += 1
            if page.next_after is None:
                break
            after = page.next_after
        assert seen == wanted
    with pytest.raises(Exception, match="after"):
        reader.list_executions(after="not-an-id")


def test_offset_pages_and_capped_totals(log: Log, reader: Reader,
                                        jobs: list[dict[str, Any]],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    run_ticks(log, jobs, [T0 + 60 * i for i in range(5)])
    everything = [r["execution_id"] for r in reader.list_executions(limit=100).rows]
    assert [r["execution_id"] for r in reader.list_executions(limit=4, offset=4).rows] == (
        everything[4:8])
    page = reader.list_executions(job_id=jobs[0]["id"], limit=2)
    assert (page.total, page.exact) == (5, True)
    from scheduler0.store import reads
    monkeypatch.setattr(reads, "TOTAL_CAP", 3)
    page = reader.list_executions(job_id=jobs[0]["id"], limit=2)
    assert (page.total, page.exact) == (3, False)
    # Unfiltered totals come from the counters: exact at any size.
    page = reader.list_executions(limit=2)
    assert (page.total, page.exact) == (15, True)


def test_deleting_a_job_deletes_its_history_and_its_pending_ticks_settle(
        log: Log, reader: Reader, jobs: list[dict[str, Any]]) -> None:
    run_ticks(log, jobs, [T0])
    plan(log, "late", T0 + 60, jobs)
    log.ok(messages.JOB_DELETE, {"id": jobs[0]["id"]})
    assert all(r["job_id"] != jobs[0]["id"] for r in reader.list_executions().rows)
    # Its result still arrives: the tick settles, no row is written for the deleted job.
    assert result(log, [outcome(jobs[0], T0 + 60, "succeeded", "late")]) == {"settled": 1}
    assert all(r["job_id"] != jobs[0]["id"] for r in reader.list_executions().rows)
    # Another deleted job's tick never gets a result: the pruner's stale sweep settles it.
    log.ok(messages.JOB_DELETE, {"id": jobs[1]["id"]})
    log.ok(messages.PRUNE, messages.Prune(before=0, limit=10, succeeded_before=0,
                                          stale_before=T0 + 61).encode())
    pending = reader.list_executions(state="scheduled").rows
    assert [r["job_id"] for r in pending] == [jobs[2]["id"]]
    assert reader.executions_by_state()["scheduled"] == 1
    assert kept_counters(reader) == without_recorded(fresh_counters(log.machine.db_path))


def test_counters_equal_a_fresh_count_after_a_restart_and_a_snapshot_restore(
        log: Log, jobs: list[dict[str, Any]], tmp_path: Path) -> None:
    run_ticks(log, jobs, [T0 + 60 * i for i in range(10)],
              lambda job, tick: "failed" if tick % 180 == 0 else "succeeded")
    plan(log, "open", T0 + 600, jobs)
    log.ok(messages.PRUNE, messages.Prune(before=0, limit=1000,
                                          succeeded_before=T0 + 300).encode())
    log.ok(messages.JOB_DELETE, {"id": jobs[2]["id"]})
    snap = str(tmp_path / "snap.db")
    log.machine.snapshot_to(snap, b"raft")
    path = log.machine.db_path
    log.machine.close()
    restarted = StateMachine(path)
    reader = Reader(path)
    assert kept_counters(reader) == without_recorded(fresh_counters(path))
    assert reader.counters()["jobs"] == 2 and reader.counters()["pending_ticks"] == 3
    reader.close()
    restarted.close()
    other = StateMachine(str(tmp_path / "other" / "node.db"))
    assert other.restore_from(snap) is True
    reader = Reader(other.db_path)
    assert kept_counters(reader) == without_recorded(fresh_counters(other.db_path))
    assert reader.counters() == Reader(path).counters()
    reader.close()
    other.close()


def _v1_file(path: Path) -> None:
    """A file as the previous schema left it: one `executions` row per tick."""
    conn = file_at_version(str(path), 1)
    ts = TS_MS
    conn.execute("INSERT INTO projects (id, name, description, signing_secret, created_at_ms, "
                 "updated_at_ms) VALUES (1, 'p', '', 's', ?, ?)", (ts, ts))
    conn.execute("INSERT INTO schedules (id, spec, timezone, anchor) VALUES (1, '@hourly', "
                 "'UTC', 0)")
    for job_id in (1, 2):
        conn.execute("INSERT INTO jobs (id, project_id, schedule_id, spec, timezone, anchor, "
                     "callback_url, execution_type, misfire_policy, created_at_ms, "
                     "updated_at_ms) VALUES (?, 1, 1, '@hourly', 'UTC', 0, 'http://127.0.0.1:9/',"
                     " 'http', 'run_once', ?, ?)", (job_id, ts, ts))
    rows = [
        (1, T0, "succeeded", 200, None, "b0", T0 * 1000 + 12, T0 * 1000 + 40),
        (2, T0, "failed", 500, "HTTP 500", "b0", T0 * 1000 + 1500, T0 * 1000 + 1600),
        (1, T0 + 3600, "missed", None, "missed", None, None, None),
        (1, T0 + 7200, "scheduled", None, None, "b2", None, None),
        (2, T0 + 7200, "scheduled", None, None, "b2", None, None),
        (2, T0 + 3600, "succeeded", 204, None, "b1", T0 * 1000 + 3_600_050, None),
    ]
    for job_id, tick, state, status, error, batch, started, finished in rows:
        conn.execute("INSERT INTO executions (execution_id, job_id, project_id, scheduled_at, "
                     "state, attempts, http_status, node_id, batch_id, error, planned_at_ms, "
                     "started_at_ms, finished_at_ms) VALUES (?, ?, 1, ?, ?, 1, ?, 3, ?, ?, ?, "
                     "?, ?)", (execution_id(job_id, tick), job_id, tick, state, status, batch,
                               error, ts, started, finished))
    conn.close()


def test_the_migration_from_one_row_per_tick_keeps_every_row(tmp_path: Path) -> None:
    path = tmp_path / "data" / "old.db"
    _v1_file(path)
    machine = StateMachine(str(path))
    reader = Reader(str(path))
    recorded = {r["execution_id"]: r for r in reader.list_executions().rows}
    assert {e: (r["state"], r["http_status"], r["started_at_ms"], r["finished_at_ms"])
            for e, r in recorded.items()} == {
        execution_id(1, T0): ("succeeded", 200, T0 * 1000 + 12, T0 * 1000 + 40),
        execution_id(2, T0): ("failed", 500, T0 * 1000 + 1500, T0 * 1000 + 1600),
        execution_id(1, T0 + 3600): ("missed", None, None, None),
        execution_id(2, T0 + 3600): ("succeeded", 204, T0 * 1000 + 3_600_050, None)}
    assert recorded[execution_id(2, T0)]["error"] == "HTTP 500"
    scheduled = reader.list_executions(state="scheduled").rows
    assert [(r["execution_id"], r["batch_id"]) for r in scheduled] == [
        (execution_id(2, T0 + 7200), "b2"), (execution_id(1, T0 + 7200), "b2")]
    assert kept_counters(reader) == without_recorded(fresh_counters(str(path)))
    assert reader.counters()["recorded_succeeded"] == 2
    job = reader.get_job(1)
    assert job is not None and (job["last_state"], job["last_execution_at"]) == (
        "missed", T0 + 3600)
    assert [(r["period_start"], r["succeeded"], r["failed"], r["missed"], r["late_100ms"],
             r["late_10s"]) for r in reader.rollups("hour")] == [
        (T0, 1, 1, 0, 1, 1), (T0 + 3600, 1, 0, 1, 1, 0)]
    # The migrated pending batch settles like any other, once.
    log = Log(machine)
    assert result(log, [outcome({"id": 1}, T0 + 7200, "succeeded", "b2"),
                        outcome({"id": 1}, T0 + 7200, "succeeded", "b2")]) == {"settled": 1}
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'executions'"
                        ).fetchone() == (0,)
    assert conn.execute("PRAGMA user_version").fetchone() == (len(schema.MIGRATIONS),)
    conn.close()
    reader.close()
    machine.close()


def test_an_execution_row_takes_less_than_fifty_bytes(log: Log,
                                                     jobs: list[dict[str, Any]]) -> None:
    """Size, not speed: the layout's bytes per execution, indexes included."""
    many = log.jobs(*(job_input(jobs[0]["project_id"], "@every 1m") for _ in range(500)))
    run_ticks(log, many, [T0 + 60 * i for i in range(40)])
    conn = sqlite3.connect(log.machine.db_path)
    (size,) = conn.execute(
        "SELECT sum(pgsize) FROM dbstat WHERE name IN ('runs_ok', 'runs_ok_job')").fetchone()
    (count,) = conn.execute("SELECT count(*) FROM runs_ok").fetchone()
    conn.close()
    assert count == 500 * 40
    assert size / count < 50, f"{size / count:.1f} bytes per execution"
    assert history.OK_TABLE == "runs_ok"
