"""Jobs whose spec means something per job: H resolved from the job id (rows shared by what
they resolve to), one-offs (@at, @at now) and their completion, both body shapes, updates."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from scheduler0 import messages
from scheduler0.schedule import format_rfc3339_utc, resolve_job_spec
from scheduler0.schedule.hashed import resolve_hash
from scheduler0.store import Reader, StateMachine
from tests.store.helpers import TS_S, Log, job_input
from tests.store.test_jobs_columns import as_rows, both_ways, columnar

AT = TS_S + 3600
AT_SPEC = f"@at {format_rfc3339_utc(AT)}"


def _schedules(db_path: str) -> list[tuple[int, str, int, int | None]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT id, spec, anchor, next_fire_at FROM schedules "
                            "ORDER BY id").fetchall()
    finally:
        conn.close()


def _job_schedules(db_path: str) -> dict[int, int]:
    conn = sqlite3.connect(db_path)
    try:
        return dict(conn.execute("SELECT id, schedule_id FROM jobs"))
    finally:
        conn.close()


def test_h_is_resolved_per_job_and_jobs_that_resolve_alike_share_a_row(log: Log) -> None:
    project = log.project()
    created = log.jobs(*[job_input(project["id"], "H * * * *") for _ in range(300)])
    assert {row["spec"] for row in created} == {"H * * * *"}  # as written
    for row in created:
        assert row["resolved_spec"] == resolve_job_spec("H * * * *", row["id"], TS_S).spec
    rows = _schedules(log.machine.db_path)
    assert len(rows) == len({row["resolved_spec"] for row in created}) <= 60
    spec_of_row = {row_id: spec for row_id, spec, _, _ in rows}
    by_job = _job_schedules(log.machine.db_path)
    assert all(spec_of_row[by_job[row["id"]]] == row["resolved_spec"] for row in created)
    assert len({row["next_execution_at"] % 3600 for row in created}) > 50  # spread


def test_every_h_gives_each_job_a_phase_within_its_first_period(log: Log) -> None:
    project = log.project()
    created = log.jobs(*[job_input(project["id"], "@every 1m H") for _ in range(200)])
    for row in created:
        phase = resolve_hash("@every 1m H", row["id"])[1]
        assert row["next_execution_at"] == TS_S + (phase or 60)  # within the first minute
        assert row["resolved_spec"] == "@every 1m"
    assert {anchor for _, _, anchor, _ in _schedules(log.machine.db_path)} == {
        TS_S + resolve_hash("@every 1m H", row["id"])[1] - 60 for row in created}


def test_a_job_without_h_next_to_h_jobs_keeps_sharing_its_row(tmp_path: Path) -> None:
    jobs = [job_input(1, "H/15 * * * *"), job_input(1, "*/5 * * * *"),
            job_input(1, "H/15 * * * *"), job_input(1, "*/5  * * * *")]
    as_objects, in_columns, objects_file, columns_file = both_ways(tmp_path, jobs)
    assert as_objects == as_rows(in_columns) and objects_file == columns_file
    rows = as_objects["data"]
    assert [row["spec"] for row in rows] == ["H/15 * * * *", "*/5 * * * *", "H/15 * * * *",
                                             "*/5 * * * *"]
    assert rows[1]["resolved_spec"] == rows[3]["resolved_spec"] == "*/5 * * * *"


def test_both_body_shapes_resolve_alike(tmp_path: Path) -> None:
    jobs = [job_input(1, spec) for spec in ("H H(9-17) * * 1-5", "@every 90s H", "@at now",
                                            AT_SPEC, "H(0-29)/10 * * * *")]
    as_objects, in_columns, objects_file, columns_file = both_ways(tmp_path, jobs)
    assert as_objects["ok"] and as_objects == as_rows(in_columns)
    assert objects_file == columns_file


def test_reads_show_what_create_answered(log: Log, reader: Reader) -> None:
    project = log.project()
    created = log.jobs(*[job_input(project["id"], spec) for spec in (
        "H * * * *", "@every 1m H", AT_SPEC, "@at now")])
    assert [reader.get_job(row["id"]) for row in created] == created


def test_at_now_fires_the_second_after_creation_and_keeps_that_instant(log: Log) -> None:
    project = log.project()
    [row] = log.jobs(job_input(project["id"], "@at now"))
    assert row["spec"] == row["resolved_spec"] == f"@at {format_rfc3339_utc(TS_S + 1)}"
    assert (row["next_execution_at"], row["completed"]) == (TS_S + 1, False)


def test_a_past_one_off_is_refused_saying_so(log: Log) -> None:
    project = log.project()
    error = log.refused(messages.JOB_CREATE, {"jobs": [
        job_input(project["id"]), job_input(project["id"], f"@at {format_rfc3339_utc(TS_S)}")]})
    assert error["message"].startswith(f'jobs[1]: spec "@at {format_rfc3339_utc(TS_S)}" is in '
                                       "the past")
    assert '"run_at": "now"' in error["message"]


def test_one_offs_share_a_row_within_a_command_and_never_across(log: Log) -> None:
    project = log.project()
    first = log.jobs(job_input(project["id"], AT_SPEC), job_input(project["id"], AT_SPEC))
    second = log.jobs(job_input(project["id"], AT_SPEC))
    by_job = _job_schedules(log.machine.db_path)
    assert by_job[first[0]["id"]] == by_job[first[1]["id"]] != by_job[second[0]["id"]]
    assert [(spec, next_at) for _, spec, _, next_at in _schedules(log.machine.db_path)] == [
        (AT_SPEC, AT), (AT_SPEC, AT)]


def _plan_the_tick(log: Log, job: dict[str, Any], schedule_id: int) -> None:
    """What the planner commits for a one-off's tick: its batch, and its row advanced to no
    next fire time."""
    log.ok(messages.PLAN, messages.Plan(
        batches=[messages.PlanBatch(batch_id="b-at", node_id=1, scheduled_at=AT,
                                    rows=[messages.PlanRow(job["id"], job["project_id"])])],
        advances=[messages.Advance(schedule_id, None, AT)]).encode())


def test_a_one_off_shows_completed_once_its_tick_is_planned(log: Log, reader: Reader) -> None:
    project = log.project()
    [job] = log.jobs(job_input(project["id"], AT_SPEC))
    assert (job["next_execution_at"], job["completed"]) == (AT, False)
    _plan_the_tick(log, job, _job_schedules(log.machine.db_path)[job["id"]])
    shown = reader.get_job(job["id"])
    assert shown is not None
    assert (shown["next_execution_at"], shown["completed"]) == (None, True)
    assert reader.list_jobs(project_id=project["id"]).rows[0]["completed"] is True


def test_a_job_past_its_end_date_shows_completed(log: Log, reader: Reader) -> None:
    project = log.project()
    [job] = log.jobs(job_input(project["id"], "*/5 * * * *", end_date=TS_S + 600))
    assert job["completed"] is False
    [row_id, _, _, _] = _schedules(log.machine.db_path)[0]
    log.ok(messages.PLAN, messages.Plan(
        advances=[messages.Advance(row_id, TS_S + 900, TS_S + 600)]).encode())
    shown = reader.get_job(job["id"])
    assert shown is not None and (shown["next_execution_at"], shown["completed"]) == (None, True)


def test_a_changed_spec_is_resolved_again_and_one_sent_back_changes_nothing(log: Log) -> None:
    project = log.project()
    [job] = log.jobs(job_input(project["id"], "H * * * *"))
    moved = log.ok(messages.JOB_UPDATE, {"id": job["id"], "changes": {"spec": "H/10 * * * *"}})
    assert moved["spec"] == "H/10 * * * *"
    assert moved["resolved_spec"] == resolve_job_spec("H/10 * * * *", job["id"], TS_S).spec
    assert len(_schedules(log.machine.db_path)) == 1  # the old row had no other job
    again = log.ok(messages.JOB_UPDATE, {"id": job["id"],
                                         "changes": {"spec": " H/10  * * * * ", "timezone": "utc"}})
    assert {**again, "updated_at_ms": 0} == {**moved, "updated_at_ms": 0}


def test_a_one_off_keeps_its_row_while_its_instant_stays(log: Log) -> None:
    project = log.project()
    [job] = log.jobs(job_input(project["id"], AT_SPEC))
    before = _job_schedules(log.machine.db_path)[job["id"]]
    log.ok(messages.JOB_UPDATE, {"id": job["id"], "changes": {
        "timezone": "Europe/Paris", "spec": f"@at {format_rfc3339_utc(AT + 3600)[:-1]}+01:00"}})
    assert _job_schedules(log.machine.db_path)[job["id"]] == before  # its tick may be planned
    rearmed = log.ok(messages.JOB_UPDATE, {"id": job["id"], "changes": {"spec": "@at now"}},
                     ts_ms=(AT + 10) * 1000)
    assert (rearmed["next_execution_at"], rearmed["completed"]) == (AT + 11, False)
    assert _job_schedules(log.machine.db_path)[job["id"]] != before


def test_a_restarted_machine_resolves_nothing_again(tmp_path: Path) -> None:
    """The resolution is stored (in the schedule rows), so reopening the file shows the same
    jobs, and replaying the same commands on another node writes the same file."""
    files = []
    for name in ("a", "b"):
        machine = StateMachine(str(tmp_path / name / "scheduler0.db"))
        log = Log(machine)
        log.project()
        log.ok(messages.JOB_CREATE, columnar([job_input(1, "H H * * *") for _ in range(50)]))
        machine.close()
        files.append(Path(tmp_path / name / "scheduler0.db").read_bytes())
    reopened = Reader(str(tmp_path / "a" / "scheduler0.db"))
    try:
        assert {reopened.get_job(i)["resolved_spec"] for i in range(1, 51)} == {  # type: ignore[index]
            resolve_job_spec("H H * * *", i, TS_S).spec for i in range(1, 51)}
    finally:
        reopened.close()
    assert files[0] == files[1]
