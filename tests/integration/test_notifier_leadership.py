"""The leader's notifier thread over a real outbox (a StateMachine's SQLite file), a Raft node
faked in memory (leadership changes on demand) and a real HTTP receiver on 127.0.0.1: only the
leader sends; a notification whose outcome was not committed when the leadership went is sent
again, with the same Idempotency-Key, once this node (or another) leads; a receiver that hangs
holds up only its own project."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scheduler0 import messages
from scheduler0.coordinator.notifier import Notifier
from scheduler0.store import StateMachine
from scheduler0.store.notification_reads import NotificationReader
from scheduler0.testing import FakeRaft, node_settings, wait_for
from scheduler0.vocabulary import execution_id
from tests.integration.receiver import Receiver

TICK = 1_800_000_000


class Outbox:
    """A StateMachine fed consecutive commands, and a failing tick of a new job on demand."""

    def __init__(self, path: Path):
        self.machine = StateMachine(str(path))
        self.index = 0
        self.lock = threading.Lock()

    def apply(self, command: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.index += 1
            return self.machine.apply(command, self.index)

    def ok(self, body: messages.Body) -> Any:
        result = self.apply(messages.command(body, now_ms=TICK * 1000))
        assert result["ok"], result
        return result["data"]

    def failing_project(self, name: str, url: str) -> dict[str, Any]:
        """A project notifying `url` whose one job has just failed: one pending notification."""
        project = self.ok(messages.ProjectCreate(name=name, signing_secret=f"{name}-secret",
                                                 notification_url=url))
        job = self.ok(messages.JobCreate(jobs=[{
            "project_id": project["id"], "spec": "@hourly", "timezone": "UTC",
            "callback_url": "http://127.0.0.1:9/x", "data": "", "execution_type": "http",
            "misfire_policy": "run_once"}]))[0]
        batch = f"b-{name}"
        self.ok(messages.Plan(batches=[messages.PlanBatch(
            batch_id=batch, node_id=1, scheduled_at=TICK,
            rows=[messages.PlanRow(job["id"], project["id"])])]))
        self.ok(messages.Result(rows=[messages.ResultRow(
            execution_id(job["id"], TICK), "failed", 1, 500, "HTTP 500", 1, None, None,
            batch)]))
        return dict(project)

    def deliveries(self) -> list[tuple[int, str]]:
        conn = sqlite3.connect(self.machine.db_path)
        try:
            return conn.execute("SELECT project_id, delivery FROM notifications "
                                "ORDER BY id").fetchall()
        finally:
            conn.close()


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "data" / "scheduler0.db")
    yield box
    box.machine.close()


@pytest.fixture
def start(tmp_path: Path, outbox: Outbox) -> Iterator[Any]:
    stopping = threading.Event()
    started: list[Notifier] = []

    def run(raft: FakeRaft) -> Notifier:
        settings = node_settings(tmp_path, job_execution_timeout=2.0,
                                 job_execution_retry_max=0)
        notifier = Notifier(settings, raft, stopping,
                            lambda: NotificationReader(outbox.machine.db_path))
        notifier.start()
        started.append(notifier)
        return notifier

    yield run
    stopping.set()
    for notifier in started:
        notifier.join(10)
        assert not notifier.is_alive()


def settles(raft: FakeRaft) -> list[dict[str, Any]]:
    return raft.bodies(messages.NOTIFICATION_SETTLE)


def test_an_outcome_not_committed_is_sent_again_by_the_next_leader(outbox: Outbox,
                                                                   start: Any) -> None:
    with Receiver() as rx:
        rx.respond([200], path="/slow", delay=1.0)  # the first send is still waiting...
        outbox.failing_project("p", rx.url("/slow"))
        raft = FakeRaft(apply=outbox.apply)
        notifier = start(raft)
        rx.wait_for_requests(1, timeout=10)
        raft.depose()  # ...when this node stops leading: it stops sending, commits nothing
        wait_for(lambda: notifier.status()["in_flight"] == 0, timeout=10,
                 message="the send abandoned")
        assert settles(raft) == [] and outbox.deliveries() == [(1, "pending")]

        raft.elect()
        second = rx.wait_for_requests(2, timeout=10)[1]
        wait_for(lambda: outbox.deliveries() == [(1, "sent")], timeout=10,
                 message="the second send committed")
        first = rx.requests[0]
        assert first.body == second.body
        assert first.header("Idempotency-Key") == second.header("Idempotency-Key") == (
            "notification-1")
        assert second.signed_by("p-secret")
        assert [row[1] for body in settles(raft) for row in body["rows"]] == ["sent"]


def test_a_follower_sends_nothing(outbox: Outbox, start: Any) -> None:
    with Receiver() as rx:
        outbox.failing_project("p", rx.url("/n"))
        raft = FakeRaft(leader=False, apply=outbox.apply)
        notifier = start(raft)
        later = notifier.last_beat
        wait_for(lambda: notifier.last_beat > later + 0.5, timeout=10,
                 message="a few rounds as a follower")
        assert rx.requests == [] and outbox.deliveries() == [(1, "pending")]


def test_a_receiver_that_hangs_holds_up_only_its_project(outbox: Outbox, start: Any) -> None:
    with Receiver() as rx:
        rx.respond([200], path="/hangs", delay=30.0)
        outbox.failing_project("hangs", rx.url("/hangs"))
        outbox.failing_project("fine", rx.url("/fine"))
        raft = FakeRaft(apply=outbox.apply)
        start(raft)
        wait_for(lambda: outbox.deliveries() == [(1, "pending"), (2, "sent")], timeout=10,
                 message="the other project's notification sent")
        # The hanging receiver's attempt times out (JobExecutionTimeout, 2 s): given up.
        wait_for(lambda: outbox.deliveries() == [(1, "failed"), (2, "sent")], timeout=15,
                 message="the hanging one given up")
        conn = sqlite3.connect(outbox.machine.db_path)
        try:
            (error,) = conn.execute("SELECT delivery_error FROM notifications WHERE "
                                    "project_id = 1").fetchone()
        finally:
            conn.close()
        assert error == "timeout after 2 s"
