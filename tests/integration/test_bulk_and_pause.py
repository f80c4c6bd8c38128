"""Bulk operations and the cluster pause on a real node (`scheduler0 start`: API -> Raft ->
SQLite -> planner -> executor -> HTTP receiver), loopback only: a bulk pause of 100,000 jobs,
a bulk delete and a filter through the CLI, a credential limited to one project, and a cluster
pause that stops the ticks until it is resumed."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from scheduler0 import clock
from scheduler0.schedule import parse_instant
from scheduler0.testing import wait_for
from tests.integration.nodeproc import NodeProcess
from tests.integration.receiver import Receiver
from tests.integration.test_rotation_and_scopes import _call

BATCH = 10_000


def create_jobs(node: NodeProcess, project_id: int, count: int, **fields: Any) -> None:
    body = {"project_id": project_id, "spec": "@every 1h", "callback_url": "http://127.0.0.1:9/x",
            **fields}
    for start in range(0, count, BATCH):
        node.api("POST", "/jobs", [body] * min(BATCH, count - start))


def finished(node: NodeProcess, operation_id: int, timeout: float = 120.0) -> dict[str, Any]:
    return wait_for(lambda: (o := node.api("GET", f"/operations/{operation_id}"))
                    and o["state"] != "running" and o, timeout=timeout, interval=0.2,
                    message=f"operation {operation_id} to finish")


def total(node: NodeProcess, query: str) -> tuple[int, bool]:
    page = node.api("GET", f"/jobs?limit=1&{query}")
    return page["total"], page["total_exact"]


def cli(node: NodeProcess, *args: str) -> Any:
    result = subprocess.run([sys.executable, "-m", "scheduler0.cli", *args], cwd=node.workdir,
                            env=node.env, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_bulk_pause_of_100000_jobs_pauses_every_one_and_counts_them(node_factory):
    node = node_factory().start()
    node.wait_leader()
    project = node.api("POST", "/projects", {"name": "many"})
    create_jobs(node, project["id"], 100_000)
    assert node.api("GET", "/jobs?limit=1")["total"] == 100_000  # the counter: exact
    started = node.api("POST", "/jobs/bulk", {"action": "pause",
                                              "filter": {"project_id": project["id"]}})
    assert (started["state"], started["total"]) == ("running", 100_000)
    done = finished(node, started["operation_id"])
    assert (done["state"], done["total"], done["done"], done["skipped"], done["errors"]) == (
        "succeeded", 100_000, 100_000, 0, [])
    assert total(node, f"project_id={project['id']}&paused=false") == (0, True)
    assert total(node, f"project_id={project['id']}&paused=true") == (10_000, False)  # capped
    metrics = node.raw("/metrics")
    assert 'scheduler0_bulk_operations{state="succeeded"} 1' in metrics


def test_an_operation_whose_api_process_is_killed_is_recorded_failed_and_can_be_redone(
        node_factory):
    node = node_factory().start()
    node.wait_leader()
    project = node.api("POST", "/projects", {"name": "killed"})
    create_jobs(node, project["id"], 100_000)
    api = wait_for(lambda: node.children().get("api"), message="the api process")
    started = node.api("POST", "/jobs/bulk", {"action": "pause",
                                              "filter": {"project_id": project["id"],
                                                         "paused": False}})
    api.kill()  # 50 chunks to go: it dies in the middle
    wait_for(lambda: (c := node.children().get("api")) and c.pid != api.pid, timeout=30,
             message="the supervisor to restart the api process")
    failed = wait_for(lambda: node.get(f"/operations/{started['id']}",
                                       node._auth_header())[0] == 200
                      and (o := node.api("GET", f"/operations/{started['id']}"))
                      and o["state"] != "running" and o, timeout=60, interval=0.2,
                      message="the restarted api process to record the operation failed")
    assert failed["state"] == "failed" and failed["done"] < 100_000
    assert failed["errors"] == [
        f"interrupted: the API process of node 1 that ran it restarted; {failed['done']} of "
        "100000 jobs were done (they stay done); send the request again for the rest"]
    # Its filter selects only what it left: sent again, it does the rest.
    again = node.api("POST", "/jobs/bulk", {"action": "pause",
                                            "filter": {"project_id": project["id"],
                                                       "paused": False}})
    assert again["total"] == 100_000 - failed["done"]
    assert finished(node, again["id"])["state"] == "succeeded"
    assert total(node, f"project_id={project['id']}&paused=false") == (0, True)


def test_a_bulk_delete_and_a_label_filter_through_the_cli(node_factory):
    node = node_factory().start()
    node.wait_leader()
    project = node.api("POST", "/projects", {"name": "labelled"})
    create_jobs(node, project["id"], 3_000, labels={"team": "web"})
    create_jobs(node, project["id"], 2_000, labels={"team": "api"})
    relabelled = cli(node, "job", "bulk", "set_labels", "--labels", "team=api",
                     "--label", "env=prod", "--wait")
    assert (relabelled["state"], relabelled["done"]) == ("succeeded", 2_000)
    deleted = cli(node, "job", "bulk", "delete", "--project-id", str(project["id"]),
                  "--labels", "team=web", "--wait")
    assert (deleted["state"], deleted["total"], deleted["done"]) == ("succeeded", 3_000, 3_000)
    assert node.api("GET", "/jobs?limit=1")["total"] == 2_000
    assert total(node, "labels=team=web") == (0, True)
    assert total(node, "labels=team=api,env=prod") == (2_000, True)
    shown = cli(node, "operation", "get", str(deleted["id"]))
    assert shown == deleted
    listed = cli(node, "operation", "list", "--state", "succeeded")
    assert [o["id"] for o in listed["operations"]] == [deleted["id"], relabelled["id"]]


def test_a_credential_limited_to_a_project_cannot_touch_another_projects_jobs(node_factory):
    node = node_factory().start()
    node.wait_leader()
    mine = node.api("POST", "/projects", {"name": "mine"})
    theirs = node.api("POST", "/projects", {"name": "theirs"})
    create_jobs(node, mine["id"], 300)
    create_jobs(node, theirs["id"], 200)
    their_job = node.api("GET", f"/jobs?project_id={theirs['id']}&limit=1")["jobs"][0]["id"]
    limited = cli(node, "create", "credential", "--role", "write", "--project", str(mine["id"]))
    headers = {"x-api-key": limited["api_key"], "x-secret-key": limited["api_secret"]}
    status, body = _call(node, "POST", "/jobs/bulk", headers,
                         {"action": "delete", "ids": [their_job]})
    assert status == 403 and f"job {their_job} belongs to project {theirs['id']}" in body[
        "error"]["message"]
    status, body = _call(node, "POST", "/jobs/bulk", headers,
                         {"action": "delete", "filter": {"project_id": theirs["id"]}})
    assert status == 403
    status, body = _call(node, "POST", "/jobs/bulk", headers,
                         {"action": "delete", "filter": {"paused": False}})
    assert status == 202 and body["data"]["total"] == 300
    done = finished(node, body["data"]["id"])
    assert (done["done"], done["projects"]) == (300, [mine["id"]])
    assert total(node, f"project_id={mine['id']}") == (0, True)
    assert total(node, f"project_id={theirs['id']}") == (200, True)
    status, body = _call(node, "GET", "/operations", headers)
    assert status == 200 and [o["id"] for o in body["data"]["operations"]] == [done["id"]]


def scheduled(requests: list[Any]) -> list[int]:
    """The ticks the receiver got (epoch s), one per execution."""
    return [parse_instant(e["scheduled_at"], "scheduled_at") for r in requests for e in r.json]


def test_the_cluster_pause_stops_new_ticks_until_resumed(node_factory):
    look_ahead = 1
    node = node_factory(PlannerLookAhead=look_ahead).start()
    node.wait_leader()
    with Receiver() as rx:
        project = node.api("POST", "/projects", {"name": "paused"})
        node.api("POST", "/jobs", {"project_id": project["id"], "spec": "@every 1s",
                                   "callback_url": rx.url("/tick")})
        rx.wait_for_requests(2, timeout=20)
        paused = cli(node, "cluster", "pause", "--reason", "maintenance")
        paused_at = parse_instant(paused["paused_at"][:19] + "Z", "paused_at")
        health = node.health()
        assert health["planning_paused"] is True and health["healthy"] is True
        assert (health["pause"]["paused_by"], health["pause"]["reason"]) == ("node",
                                                                            "maintenance")
        wait_for(lambda: node.health()["planner"].get("paused"), timeout=10,
                 message="the planner to see the pause")
        # Ticks planned before the pause (up to the look-ahead, and a round) may still come.
        last_planned = paused_at + look_ahead + 1
        quiet_until = last_planned + 5  # five ticks that would have fired, were it running
        wait_for(lambda: clock.now() > quiet_until + 1, timeout=30,
                 message="the ticks of the pause to pass")
        during = [t for t in scheduled(rx.requests) if t > last_planned]
        assert during == [], during
        assert node.executions(project_id=project["id"], state="scheduled") == []

        resumed = cli(node, "cluster", "resume")
        resumed_at = parse_instant(resumed["resumed_at"][:19] + "Z", "resumed_at")
        assert resumed["paused"] is False and node.health()["planning_paused"] is False
        wait_for(lambda: [t for t in scheduled(rx.requests) if t > resumed_at], timeout=20,
                 message="a tick after the resume")
        # The pause was shorter than MisfireThreshold (60 s): its ticks come late, each once.
        ticks = scheduled(rx.requests)
        assert all(t in ticks for t in range(last_planned + 1, quiet_until + 1))
        assert len(ticks) == len(set(ticks))
