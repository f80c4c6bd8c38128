"""The notification outbox on apply: one notification per state change of a job (failed,
missed, recovered), none while no project has a notification_url, results older than the job's
last one change nothing, every node records the same rows; settling, the per-project bounds,
and what removing the URL or deleting the project does."""

from __future__ import annotations

import sqlite3
from typing import Any

from scheduler0 import messages
from scheduler0.notifications import Outgoing
from scheduler0.store import Reader, StateMachine, notifications
from scheduler0.store.notification_reads import NotificationReader
from scheduler0.vocabulary import execution_id
from tests.store.helpers import TS_MS, Log, table_dump

URL = "http://127.0.0.1:9/notify"
T0 = 1_800_000_000


def ticks(log: Log, job: dict[str, Any], states: list[str], start: int = T0,
          step: int = 60) -> None:
    """One tick of `job` per state, planned and recorded one after the other (a missed tick
    is recorded by the PLAN, as a misfire is)."""
    for n, state in enumerate(states):
        tick = start + n * step
        row = messages.PlanRow(job["id"], job["project_id"])
        if state == "missed":
            plan = messages.Plan(missed=[messages.PlanMissed(scheduled_at=tick, rows=[row])])
            log.ok(messages.PLAN, plan.encode())
            continue
        batch = f"b{job['id']}-{tick}"
        log.ok(messages.PLAN, messages.Plan(batches=[messages.PlanBatch(
            batch_id=batch, node_id=1, scheduled_at=tick, rows=[row])]).encode())
        status = 200 if state == "succeeded" else 500
        log.ok(messages.RESULT, messages.Result(rows=[messages.ResultRow(
            execution_id(job["id"], tick), state, 1 if state == "succeeded" else 4, status,
            None if state == "succeeded" else f"HTTP {status}", 1, tick * 1000,
            tick * 1000 + 5, batch)]).encode(), ts_ms=TS_MS + n)


def outbox(db_path: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT job_id, type, state, previous_state, scheduled_at, "
                            "attempts, http_status, error, delivery FROM notifications "
                            "ORDER BY id").fetchall()
    finally:
        conn.close()


def kinds(db_path: str) -> list[str]:
    return [row[1] for row in outbox(db_path)]


def notifying_project(log: Log, name: str = "acme", **fields: Any) -> dict[str, Any]:
    return log.project(name, notification_url=URL, **fields)


def test_fail_fail_fail_succeed_fail_makes_failed_recovered_failed(log: Log,
                                                                     db_path: str) -> None:
    project = notifying_project(log)
    job = log.job(project["id"])
    ticks(log, job, ["failed", "failed", "failed", "succeeded", "failed"])
    assert outbox(db_path) == [
        (job["id"], "job.failed", "failed", None, T0, 4, 500, "HTTP 500", "pending"),
        (job["id"], "job.recovered", "succeeded", "failed", T0 + 180, 1, 200, None, "pending"),
        (job["id"], "job.failed", "failed", "succeeded", T0 + 240, 4, 500, "HTTP 500",
         "pending")]


def test_missed_counts_as_failed(log: Log, db_path: str) -> None:
    project = notifying_project(log)
    job = log.job(project["id"])
    ticks(log, job, ["succeeded", "missed", "failed", "missed", "succeeded", "succeeded"])
    assert kinds(db_path) == ["job.missed", "job.recovered"]
    first, recovered = outbox(db_path)
    assert first[2:4] == ("missed", "succeeded") and recovered[3] == "missed"


def test_a_job_that_always_succeeds_or_first_succeeds_notifies_nothing(log: Log,
                                                                        db_path: str) -> None:
    project = notifying_project(log)
    job = log.job(project["id"])
    ticks(log, job, ["succeeded", "succeeded"])
    assert outbox(db_path) == []


def test_nothing_is_recorded_for_projects_without_a_url(log: Log, db_path: str) -> None:
    quiet = log.project("quiet")
    loud = notifying_project(log, "loud")
    quiet_job, loud_job = log.job(quiet["id"]), log.job(loud["id"])
    ticks(log, quiet_job, ["failed", "succeeded"])
    ticks(log, loud_job, ["failed", "succeeded"])
    assert [row[0] for row in outbox(db_path)] == [loud_job["id"], loud_job["id"]]


def test_a_result_older_than_the_jobs_last_one_changes_nothing(log: Log, db_path: str) -> None:
    project = notifying_project(log)
    job = log.job(project["id"])
    row = messages.PlanRow(job["id"], project["id"])
    log.ok(messages.PLAN, messages.Plan(batches=[
        messages.PlanBatch(batch_id=f"b{tick}", node_id=1, scheduled_at=tick, rows=[row])
        for tick in (T0, T0 + 60)]).encode())

    def settle(tick: int, state: str) -> None:
        log.ok(messages.RESULT, messages.Result(rows=[messages.ResultRow(
            execution_id(job["id"], tick), state, 1, 500, "boom", 1, None, None,
            f"b{tick}")]).encode())
    settle(T0 + 60, "succeeded")
    settle(T0, "failed")  # arrives late: the job's last result is still the success
    assert outbox(db_path) == []


def test_several_ticks_of_a_job_in_one_result_are_taken_in_tick_order(log: Log,
                                                                        db_path: str) -> None:
    project = notifying_project(log)
    job = log.job(project["id"])
    row = messages.PlanRow(job["id"], project["id"])
    spread = [T0, T0 + 60, T0 + 120]
    log.ok(messages.PLAN, messages.Plan(batches=[
        messages.PlanBatch(batch_id=f"b{tick}", node_id=1, scheduled_at=tick, rows=[row])
        for tick in spread]).encode())
    states = {T0: "failed", T0 + 60: "succeeded", T0 + 120: "failed"}
    log.ok(messages.RESULT, messages.Result(rows=[messages.ResultRow(
        execution_id(job["id"], tick), states[tick], 1, 500, None, 1, None, None, f"b{tick}")
        for tick in reversed(spread)]).encode())
    assert kinds(db_path) == ["job.failed", "job.recovered", "job.failed"]


def test_every_node_records_the_same_outbox(tmp_path: Any) -> None:
    dumps = []
    for name in ("a", "b"):
        machine = StateMachine(str(tmp_path / name / "scheduler0.db"))
        log = Log(machine)
        job = log.job(notifying_project(log)["id"])
        ticks(log, job, ["failed", "succeeded", "missed"])
        machine.close()
        dumps.append([line for line in table_dump(str(tmp_path / name / "scheduler0.db"))
                      if "notifications" in line])
    rows = [line for line in dumps[0] if line.startswith('INSERT INTO "notifications"')]
    assert dumps[0] == dumps[1] and len(rows) == 3


def test_the_sender_reads_each_projects_oldest_pending_with_its_secrets(
        log: Log, machine: StateMachine) -> None:
    first = notifying_project(log, "first", notification_format="slack")
    second = notifying_project(log, "second")
    job_a, job_b = log.job(first["id"]), log.job(second["id"])
    ticks(log, job_a, ["failed", "succeeded"])
    ticks(log, job_b, ["failed"])
    log.ok(messages.PROJECT_UPDATE, {"id": first["id"], "signing_secret": "new",
                                     "grace_seconds": 60})
    reader = NotificationReader(machine.db_path)
    try:
        heads = reader.next_to_send(10, TS_MS // 1000)
        later = reader.next_to_send(10, TS_MS // 1000 + 61)
    finally:
        reader.close()
    assert [(o.notification.job_id, o.notification.type) for o in heads] == [
        (job_a["id"], "job.failed"), (job_b["id"], "job.failed")]
    assert isinstance(heads[0], Outgoing)
    assert (heads[0].url, heads[0].format, heads[0].secret) == (URL, "slack", "new")
    assert (heads[0].previous_secret, heads[0].previous_expires_at) == ("s3cret",
                                                                        TS_MS // 1000 + 60)
    assert heads[1].format == "json" and heads[1].previous_secret is None
    assert later[0].previous_secret is None  # the grace period is over


def test_settling_moves_the_next_one_up_and_a_second_outcome_is_ignored(
        log: Log, machine: StateMachine, db_path: str) -> None:
    job = log.job(notifying_project(log)["id"])
    ticks(log, job, ["failed", "succeeded"])
    first, second = (row[0] for row in sqlite3.connect(db_path).execute(
        "SELECT id FROM notifications ORDER BY id"))
    settle = messages.NotificationSettle(rows=[messages.NotificationOutcome(first, "sent", 2, 200)])
    assert log.ok(messages.NOTIFICATION_SETTLE, settle.encode()) == {"settled": 1}
    again = messages.NotificationSettle(rows=[
        messages.NotificationOutcome(first, "failed", 4, 500, "HTTP 500")])
    assert log.ok(messages.NOTIFICATION_SETTLE, again.encode()) == {"settled": 0}
    reader = NotificationReader(machine.db_path)
    try:
        assert [o.notification.id for o in reader.next_to_send(10, 0)] == [second]
    finally:
        reader.close()
    assert [row[-1] for row in outbox(db_path)] == ["sent", "pending"]


def test_a_settle_with_another_delivery_state_is_refused(log: Log) -> None:
    error = log.refused(messages.NOTIFICATION_SETTLE, {"rows": [[1, "pending", 0, None, None]]})
    assert error["status"] == 400 and "delivery must be one of sent, failed" in error["message"]


def test_pending_notifications_are_capped_per_project(log: Log, db_path: str,
                                                       monkeypatch: Any) -> None:
    monkeypatch.setattr(notifications, "MAX_PENDING_PER_PROJECT", 3)
    project = notifying_project(log)
    job = log.job(project["id"])
    ticks(log, job, ["failed", "succeeded"] * 4)
    assert kinds(db_path) == ["job.failed", "job.recovered", "job.failed"]


def test_settled_ones_are_pruned_past_the_keep(log: Log, db_path: str, monkeypatch: Any) -> None:
    monkeypatch.setattr(notifications, "KEEP_SETTLED_PER_PROJECT", 2)
    job = log.job(notifying_project(log)["id"])
    ticks(log, job, ["failed", "succeeded"] * 3)
    ids = [row[0] for row in sqlite3.connect(db_path).execute(
        "SELECT id FROM notifications ORDER BY id")]
    log.ok(messages.NOTIFICATION_SETTLE, messages.NotificationSettle(rows=[
        messages.NotificationOutcome(i, "sent", 1, 200) for i in ids[:5]]).encode())
    kept = [row[0] for row in sqlite3.connect(db_path).execute(
        "SELECT id FROM notifications ORDER BY id")]
    assert kept == ids[3:]  # the two newest settled, and the pending one


def test_removing_the_url_gives_up_on_pending_ones_and_stops_new_ones(log: Log,
                                                                      db_path: str) -> None:
    project = notifying_project(log)
    job = log.job(project["id"])
    ticks(log, job, ["failed"])
    row = log.ok(messages.PROJECT_UPDATE, {"id": project["id"], "remove_notification_url": True})
    assert row["notification_url"] is None
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT delivery, delivery_error FROM notifications").fetchall() == [
        ("failed", "not sent: the project's notification_url was removed")]
    ticks(log, job, ["succeeded"], start=T0 + 600)
    assert len(outbox(db_path)) == 1


def test_project_settings_change_and_deleting_the_project_empties_its_outbox(
        log: Log, reader: Reader, db_path: str) -> None:
    project = log.project("acme")
    assert (project["notification_url"], project["notification_format"]) == (None, "json")
    changed = log.ok(messages.PROJECT_UPDATE, {"id": project["id"], "notification_url": URL,
                                               "notification_format": "slack"})
    assert (changed["notification_url"], changed["notification_format"]) == (URL, "slack")
    assert reader.get_project(project["id"]) == changed
    job = log.job(project["id"])
    ticks(log, job, ["failed"])
    assert reader.list_notifications(project["id"]).total == 1
    log.ok(messages.PROJECT_DELETE, {"id": project["id"], "cascade": True})
    assert outbox(db_path) == []


def test_a_bad_format_in_a_command_is_refused(log: Log) -> None:
    error = log.refused(messages.PROJECT_CREATE, {"name": "x", "signing_secret": "s",
                                                  "notification_format": "xml"})
    assert error["status"] == 400 and "notification_format must be one of json, slack" in (
        error["message"])
