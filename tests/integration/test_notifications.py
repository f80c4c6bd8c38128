"""Failure notifications on a real node (API -> Raft -> SQLite -> planner -> executor -> the
job's callback -> RESULT -> the outbox -> the leader's notifier -> the notification URL), with
one HTTP receiver on 127.0.0.1 as both the job's callback and the project's notification_url:
one notification per state change however often the job fails, retried until the receiver
takes it, signed as callbacks are (both signatures during a rotation), json and slack bodies."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from scheduler0.testing import wait_for
from tests.integration.receiver import Receiver, Recorded

CURRENT, PREVIOUS = "X-Scheduler0-Signature", "X-Scheduler0-Signature-Previous"
FAILING = [500] * 100_000  # the job's callback answers 500 until told otherwise


def notifications_of(rx: Receiver) -> list[Recorded]:
    return [r for r in rx.requests if r.path == "/notify"]


def delivered(rx: Receiver) -> list[Recorded]:
    """One request per notification the receiver took (2xx), in arrival order."""
    return [r for r in notifications_of(rx) if 200 <= r.status < 300]


def outbox(node: Any, project_id: int) -> list[dict[str, Any]]:
    """The project's notifications as the node lists them, oldest first."""
    return list(reversed(node.api("GET", f"/projects/{project_id}/notifications")
                         ["notifications"]))


def recorded(node: Any, job_id: int, state: str) -> int:
    return len(node.executions(job_id=job_id, state=state, limit=1000))


def test_one_signed_notification_per_state_change(node_factory):
    node = node_factory(JobExecutionRetryMax=1, JobExecutionRetryDelay=0.1).start()
    node.wait_leader()
    with Receiver() as rx:
        rx.respond(FAILING, path="/job")
        rx.respond([500], path="/notify")  # the first attempt at the first one fails
        project = node.api("POST", "/projects", {"name": "notified",
                                                 "notification_url": rx.url("/notify")})
        secret = project["signing_secret"]
        job = node.api("POST", "/jobs", {"project_id": project["id"], "spec": "@every 1s",
                                         "name": "nightly-report",
                                         "callback_url": rx.url("/job")})

        # Failing: one notification, sent twice (a 500, then the retry), however many ticks
        # fail after it.
        wait_for(lambda: len(delivered(rx)) == 1, timeout=30, message="job.failed delivered")
        first_count = recorded(node, job["id"], "failed")
        wait_for(lambda: recorded(node, job["id"], "failed") >= first_count + 4, timeout=30,
                 message="four more failed ticks")
        failed = wait_for(lambda: [n for n in outbox(node, project["id"])
                                   if n["delivery"] == "sent"], timeout=20,
                          message="the first notification committed sent")
        assert [(n["type"], n["delivery_attempts"], n["delivery_status"]) for n in failed] == [
            ("job.failed", 2, 200)]
        tries = notifications_of(rx)
        assert [r.status for r in tries] == [500, 200]
        assert tries[0].body == tries[1].body
        assert {r.header("Idempotency-Key") for r in tries} == {
            f"notification-{failed[0]['id']}"}
        event = tries[1].json
        assert event == {
            "type": "job.failed", "notification_id": failed[0]["id"],
            "project_id": project["id"], "job_id": job["id"], "job_name": "nightly-report",
            "execution_id": event["execution_id"], "state": "failed", "previous_state": None,
            "scheduled_at": event["scheduled_at"], "http_status": 500, "error": "HTTP 500",
            "attempts": 2, "created_at": event["created_at"]}
        assert event["execution_id"] == f"{job['id']}-{event['execution_id'].split('-')[1]}"

        # Succeeding again: one job.recovered, and nothing while it keeps succeeding.
        rx.respond([], path="/job")
        wait_for(lambda: len(delivered(rx)) == 2, timeout=30, message="job.recovered")
        ok_count = recorded(node, job["id"], "succeeded")
        wait_for(lambda: recorded(node, job["id"], "succeeded") >= ok_count + 3, timeout=30,
                 message="three more succeeded ticks")
        recovered = delivered(rx)[1].json
        assert (recovered["type"], recovered["state"], recovered["previous_state"]) == (
            "job.recovered", "succeeded", "failed")
        assert recovered["notification_id"] > event["notification_id"]

        # Failing again, after a rotation, in Slack's format: both secrets sign it.
        rotated = node.api("PUT", f"/projects/{project['id']}", {
            "rotate_signing_secret": True, "grace_seconds": 3600,
            "notification_format": "slack"})
        rx.respond(FAILING, path="/job")
        wait_for(lambda: len(delivered(rx)) == 3, timeout=30, message="a slack job.failed")
        slack = delivered(rx)[2]
        assert set(slack.json) == {"text", "blocks"}
        assert slack.json["text"].startswith(
            f'scheduler0: job {job["id"]} "nightly-report" (project {project["id"]}) failed at ')
        assert slack.json["text"].endswith("HTTP 500 after 2 attempts")
        assert [block["type"] for block in slack.json["blocks"]] == ["section", "context"]
        assert slack.signed_by(rotated["signing_secret"], CURRENT)
        assert slack.signed_by(secret, PREVIOUS)

        # Every request was signed with the project's secret; three changes, three
        # notifications, each committed sent.
        assert all(r.signed_by(secret) for r in notifications_of(rx)[:3])
        assert all(r.header(PREVIOUS) is None for r in notifications_of(rx)[:3])
        wait_for(lambda: [n["delivery"] for n in outbox(node, project["id"])] == ["sent"] * 3,
                 timeout=20, message="three notifications committed sent")
        assert [n["type"] for n in outbox(node, project["id"])] == [
            "job.failed", "job.recovered", "job.failed"]
        assert len({r.header("Idempotency-Key") for r in notifications_of(rx)}) == 3


def test_the_cli_sets_and_removes_a_projects_notifications(node_factory):
    node = node_factory().start()
    node.wait_leader()

    def cli(*args: str) -> Any:
        done = subprocess.run([sys.executable, "-m", "scheduler0.cli", *args], cwd=node.workdir,
                              env=node.env, capture_output=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    created = cli("create", "project", "--name", "cli-notified", "--notification-url",
                  "http://127.0.0.1:9/notify", "--notification-format", "slack")
    assert (created["notification_url"], created["notification_format"]) == (
        "http://127.0.0.1:9/notify", "slack") and created["signing_secret"]
    changed = cli("update", "project", str(created["id"]), "--no-notifications",
                  "--notification-format", "json")
    assert (changed["notification_url"], changed["notification_format"]) == (None, "json")
    refused = subprocess.run([sys.executable, "-m", "scheduler0.cli", "update", "project",
                              str(created["id"]), "--notification-url", "http://10.0.0.1/n"],
                             cwd=node.workdir, env=node.env, capture_output=True, timeout=30)
    assert refused.returncode == 1
    assert b"notification_url: notifications follow the callbacks' network policy" in (
        refused.stderr)
