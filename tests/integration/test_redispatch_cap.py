"""The leader re-sends an overdue batch at most REDISPATCH_LIMIT times, then records what is
still unsettled as failed, once. A real single node (pysyncobj + SQLite), the real planner and
dispatcher, and a ZeroMQ PULL socket standing in for the node's intake; the planner's methods
are called with `now` past each deadline instead of waiting for it."""

from __future__ import annotations

import time

import pytest

from scheduler0 import messages, transport
from scheduler0.coordinator.dispatcher import Dispatcher
from scheduler0.coordinator.planner import REDISPATCH_LIMIT, Planner
from scheduler0.lifecycle import Lifecycle
from scheduler0.schedule import planning
from scheduler0.store.pipeline import PipelineReader
from scheduler0.testing import local_node
from tests.store.helpers import job_input

pytestmark = pytest.mark.timeout(60)

BATCH = "b-never-answered"
# Sent after the batches on the same PUSH: once it arrives, whatever was sent before did.
MARKER = messages.LeaseAck(node_id=-1, term=0, epoch=0, seq=0)


def ok(services, command_type: str, body: dict) -> dict:
    result = services.submit(messages.make(command_type, body))
    assert result["ok"], result
    return result["data"]


def two_jobs(services) -> tuple[dict, list[dict]]:
    """A project with two `@every 1m` jobs: (project, jobs)."""
    project = ok(services, messages.PROJECT_CREATE,
                 {"name": "p", "description": "", "signing_secret": "s"})
    jobs = ok(services, messages.JOB_CREATE,
              {"jobs": [job_input(project["id"], "@every 1m") for _ in range(2)]})
    return project, jobs


def planner_for(services, reader: PipelineReader) -> Planner:
    """The real planner of this node, leading in its current term (its lease table made)."""
    planner = Planner(services.settings, services.raft, Lifecycle(services.settings),
                      lambda: reader)
    planner.leases = planner.book.table(services.raft.term)
    return planner


def test_an_overdue_batch_is_resent_up_to_the_limit_then_recorded_failed_once(tmp_path):
    with local_node(tmp_path) as services:
        settings = services.settings
        project, jobs = two_jobs(services)
        fire_at = int(time.time())
        ok(services, messages.PLAN, {"batches": [{
            "batch_id": BATCH, "node_id": settings.node_id, "scheduled_at": fire_at,
            "rows": [[j["id"], project["id"]] for j in jobs]}], "missed": [], "advances": []})

        intake = transport.Socket("pull", f"tcp://{settings.intake_address}", bind=True,
                                  channel=messages.INTAKE)
        reader = PipelineReader(settings.db_path)
        dispatcher = Dispatcher(settings, None)
        planner = planner_for(services, reader)
        try:
            assert planner.reconcile(reader, dispatcher, fire_at) == 2  # the first dispatch
            sent = [intake.recv(timeout=10)]
            for _ in range(REDISPATCH_LIMIT):
                deadline = planner.in_flight[BATCH].deadline
                assert planner.redispatch_overdue(reader, dispatcher, deadline) == 2
                sent.append(intake.recv(timeout=10))
            assert [m and m.batch_id for m in sent] == [BATCH] * (1 + REDISPATCH_LIMIT)

            deadline = planner.in_flight[BATCH].deadline
            assert planner.redispatch_overdue(reader, dispatcher, deadline) == 0
            assert BATCH not in planner.in_flight
            assert planner.redispatch_overdue(reader, dispatcher, deadline + 3600) == 0
            # Messages on one PUSH arrive in order: nothing was sent before this one.
            assert dispatcher.send(settings.node_id, MARKER)
            assert intake.recv(timeout=10) == MARKER

            history = services.reader().list_executions(project_id=project["id"]).rows
            assert {(e["state"], e["error"], e["node_id"]) for e in history} == {
                ("failed", f"no result after {1 + REDISPATCH_LIMIT} dispatches", settings.node_id)}
            assert len(history) == 2 and planner.stats["undelivered"] == 2

            # A result arriving after that changes nothing: each tick is recorded once.
            late = [[e["execution_id"], "succeeded", 1, 200, None, 1, 0, 0] for e in history]
            assert ok(services, messages.RESULT, {"rows": late}) == {"settled": 0}
        finally:
            dispatcher.close()
            intake.close()
            reader.close()


def test_a_tick_planned_again_after_reconcile_is_not_sent_twice(tmp_path):
    """A leader stopped after committing a tick's batch but before its schedule advance: its
    successor re-sends the batch when it reconciles, and its first round plans the same tick
    again (same batch id). That second copy must not go out."""
    with local_node(tmp_path) as services:
        settings = services.settings
        project, jobs = two_jobs(services)
        reader = PipelineReader(settings.db_path)
        [due] = reader.due_schedules(int(time.time()) + 3600, 10)
        tick = due.next_fire_at
        batch_id = planning.batch_id(tick, [_Job(j["id"]) for j in sorted(jobs, key=lambda j: j["id"])])
        ok(services, messages.PLAN, {"batches": [{
            "batch_id": batch_id, "node_id": settings.node_id, "scheduled_at": tick,
            "rows": [[j["id"], project["id"]] for j in jobs]}], "missed": [], "advances": []})

        intake = transport.Socket("pull", f"tcp://{settings.intake_address}", bind=True,
                                  channel=messages.INTAKE)
        dispatcher = Dispatcher(settings, None)
        planner = planner_for(services, reader)
        try:
            assert planner.reconcile(reader, dispatcher, tick - 1) == 2
            planner.plan_round(reader, dispatcher, tick - 1)
            assert dispatcher.send(settings.node_id, MARKER)
            sent = []
            while (message := intake.recv(timeout=10)) and message != MARKER:
                sent.append(message.batch_id)
            assert sent.count(batch_id) == 1, sent
        finally:
            dispatcher.close()
            intake.close()
            reader.close()


class _Job:
    """What planning.batch_id reads of a job: its id."""

    def __init__(self, job_id: int):
        self.id = job_id
