"""POST /jobs/bulk and /operations: every field and error, the chunks, the snapshot, scopes,
retries, and what happens to an operation whose runner stops; against a real single node."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from scheduler0 import messages
from scheduler0.api import bulk, bulk_runner, create_app
from scheduler0.api.app import BUSY_RETRY_AFTER_SECONDS
from scheduler0.api.context import EXTENSION
from scheduler0.api.validation import MAX_DATA_BYTES
from scheduler0.errors import UnavailableError
from scheduler0.store import job_browse
from scheduler0.testing import wait_for
from scheduler0.vocabulary import parse_execution_key
from tests.api.helpers import NODE_AUTH, Api, basic_auth, data, error, job_body, record

BULK = "/api/v1/jobs/bulk"
OPERATION_FIELDS = {"id", "action", "selection", "labels", "total", "done", "skipped",
                    "skipped_ids", "state", "errors", "projects", "created_by", "node_id",
                    "created_at", "updated_at", "finished_at"}


def jobs(api: Api, project_id: int, count: int, **fields: Any) -> list[int]:
    created = data(api.post("/api/v1/jobs", json=[job_body(project_id, **fields)] * count), 201)
    return [job["id"] for job in created]


def finished(api: Api, operation_id: int, timeout: float = 30.0) -> dict[str, Any]:
    """The operation once it no longer runs."""
    return wait_for(lambda: (o := data(api.get(f"/api/v1/operations/{operation_id}")))
                    and o["state"] != "running" and o, timeout=timeout,
                    message=f"operation {operation_id} to finish")


def run(api: Api, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    started = data(api.post(BULK, json=body, **kwargs), 202)
    return finished(api, started["operation_id"])


def paused(api: Api, job_ids: list[int]) -> list[bool]:
    return [data(api.get(f"/api/v1/jobs/{i}"))["paused"] for i in job_ids]


@pytest.fixture
def project(api: Api) -> dict[str, Any]:
    return api.project()


class Wrapped:
    """The node's services with `submit` passed through `hook(command, submit)` first."""

    def __init__(self, node: Any, hook: Callable[[dict[str, Any], Callable[..., Any]], Any]):
        self._node = node
        self._hook = hook
        self.settings = node.settings

    def __getattr__(self, name: str) -> Any:
        return getattr(self._node, name)

    def submit(self, command: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        return self._hook(command, lambda: self._node.submit(command, timeout))  # type: ignore[no-any-return]


def app_with(node: Any, hook: Callable[[dict[str, Any], Callable[..., Any]], Any]
             ) -> tuple[Api, Any]:
    """An API on `node` whose writes go through `hook`: (client with the node's Basic auth,
    its operation runner)."""
    app = create_app(node.settings, Wrapped(node, hook), node_auth=NODE_AUTH)
    return Api(app.test_client(), basic_auth(*NODE_AUTH)), app.extensions[EXTENSION].operations


def is_step(command: dict[str, Any]) -> bool:
    return command["type"] == messages.OPERATION_STEP


# -- what an operation does -------------------------------------------------------------------


def test_a_bulk_pause_by_ids_answers_202_and_pauses_every_job(api: Api,
                                                              project: dict[str, Any]) -> None:
    ids = jobs(api, project["id"], 3)
    response = api.post(BULK, json={"action": "pause", "ids": ids})
    started = data(response, 202)
    assert set(started) == OPERATION_FIELDS | {"operation_id"}
    assert started["operation_id"] == started["id"]
    assert response.headers["Location"] == f"/api/v1/operations/{started['id']}"
    assert (started["action"], started["selection"], started["total"]) == (
        "pause", {"ids": ids}, 3)
    assert started["created_by"].startswith("credential:") and started["node_id"] == 1
    done = finished(api, started["id"])
    assert (done["state"], done["done"], done["skipped"], done["errors"]) == (
        "succeeded", 3, 0, [])
    assert done["projects"] == [project["id"]] and done["finished_at"] is not None
    assert paused(api, ids) == [True, True, True]
    resumed = run(api, {"action": "resume", "ids": ids[:2]})
    assert resumed["done"] == 2 and paused(api, ids) == [False, False, True]


def test_the_v1_prefix_answers_its_own_location(api: Api, project: dict[str, Any]) -> None:
    response = api.post("/v1/jobs/bulk", json={"action": "pause",
                                               "ids": jobs(api, project["id"], 1)})
    assert response.headers["Location"] == f"/v1/operations/{data(response, 202)['id']}"


def test_a_filter_selects_by_project_paused_and_labels(api: Api, project: dict[str, Any]) -> None:
    web = jobs(api, project["id"], 2, labels={"team": "web"})
    api_jobs = jobs(api, project["id"], 2, labels={"team": "api"})
    other = api.project()
    elsewhere = jobs(api, other["id"], 2, labels={"team": "web"})
    by_labels = run(api, {"action": "pause", "filter": {"project_id": project["id"],
                                                        "labels": "team=web"}})
    assert (by_labels["total"], by_labels["done"]) == (2, 2)
    assert by_labels["selection"] == {"filter": {"project_id": project["id"],
                                                 "labels": "team=web"}}
    assert paused(api, web + api_jobs + elsewhere) == [True, True, False, False, False, False]
    by_state = run(api, {"action": "resume", "filter": {"project_id": project["id"],
                                                        "paused": True}})
    assert by_state["total"] == 2 and paused(api, web) == [False, False]
    negative = run(api, {"action": "pause", "filter": {"labels": "team!=web,team"}})
    assert negative["total"] >= 2 and paused(api, api_jobs) == [True, True]
    assert paused(api, elsewhere) == [False, False]


BROWSE_FILTERS = [{"name": "bill"}, {"contains": "ILL"}, {"status": "paused"},
                  {"status": "active"}, {"last_state": "failed"}, {"host": "localhost"},
                  {"contains": "ly", "last_state": "succeeded"}]


def test_a_filter_with_the_jobs_screens_fields_selects_what_get_jobs_lists(
        node: Any, api: Api, project: dict[str, Any]) -> None:
    pid = project["id"]
    jobs_made = [api.job(pid, name="billing-daily", callback_url="http://127.0.0.1:9/a"),
                 api.job(pid, name="billing-hourly", callback_url="http://localhost:9/b",
                         paused=True),
                 api.job(pid, name="reports", callback_url="http://127.0.0.1:9/c"),
                 api.job(pid, callback_url="http://LOCALHOST:9/d")]
    record(node, jobs_made[:2], 1_900_000_000, "succeeded")
    record(node, jobs_made[2:], 1_900_000_060, "failed")
    for mark, chosen in enumerate(BROWSE_FILTERS):
        wanted = {"project_id": pid, **chosen}
        listed = [j["id"] for j in data(api.get("/api/v1/jobs", query_string=wanted))["jobs"]]
        done = run(api, {"action": "set_labels", "labels": {"mark": str(mark)},
                         "filter": wanted})
        assert (done["state"], done["total"]) == ("succeeded", len(listed)), chosen
        marked = data(api.get("/api/v1/jobs", query_string={"project_id": pid,
                                                            "labels": f"mark={mark}"}))
        assert listed and sorted(j["id"] for j in marked["jobs"]) == sorted(listed), chosen


def test_a_filter_whose_scan_would_stop_short_is_refused_not_cut(
        api: Api, project: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    ids = jobs(api, project["id"], 4, name=None)
    monkeypatch.setattr(job_browse, "SCAN_LIMIT", 2)
    error(api.post(BULK, json={"action": "pause", "filter": {"project_id": project["id"],
                                                             "contains": "zz"}}),
          413, "scan_limited", "more than 2 jobs would have to be checked one by one")
    assert paused(api, ids) == [False] * 4


def test_a_delete_removes_the_jobs(api: Api, project: dict[str, Any]) -> None:
    ids = jobs(api, project["id"], 4)
    done = run(api, {"action": "delete", "filter": {"project_id": project["id"]}})
    assert (done["total"], done["done"]) == (4, 4)
    for job_id in ids:
        error(api.get(f"/api/v1/jobs/{job_id}"), 404, "not_found")
    assert data(api.get("/api/v1/jobs", query_string={"project_id": project["id"]}))[
        "total"] == 0


def test_set_labels_merges_and_null_removes(api: Api, project: dict[str, Any]) -> None:
    ids = jobs(api, project["id"], 2, labels={"team": "web", "legacy": "yes"})
    done = run(api, {"action": "set_labels", "ids": ids,
                     "labels": {"env": "prod", "legacy": None}})
    assert done["labels"] == {"env": "prod", "legacy": None} and done["done"] == 2
    for job_id in ids:
        assert data(api.get(f"/api/v1/jobs/{job_id}"))["labels"] == {"env": "prod",
                                                                      "team": "web"}
    listed = data(api.get("/api/v1/jobs", query_string={"labels": "env=prod,team=web",
                                                         "project_id": project["id"]}))
    assert [job["id"] for job in listed["jobs"]] == ids


def test_more_jobs_than_a_chunk_go_in_several_steps_of_a_chunk_at_most(
        node: Any, api: Api, project: dict[str, Any]) -> None:
    ids = [i for _ in range(3) for i in jobs(api, project["id"], 1500)]
    sizes: list[int] = []

    def count(command: dict[str, Any], submit: Callable[..., Any]) -> Any:
        if is_step(command):
            sizes.append(len(command["body"]["ids"]))
        return submit()

    client, _ = app_with(node, count)
    done = run(client, {"action": "pause", "filter": {"project_id": project["id"]}})
    assert (done["total"], done["done"]) == (4500, 4500)
    assert sizes == [bulk_runner.CHUNK, bulk_runner.CHUNK, 4500 - 2 * bulk_runner.CHUNK]
    assert data(api.get("/api/v1/jobs", query_string={"project_id": project["id"],
                                                      "paused": "false"}))["total"] == 0
    assert len(ids) == 4500


def test_a_filter_is_a_snapshot_jobs_created_meanwhile_are_not_touched(
        node: Any, api: Api, project: dict[str, Any]) -> None:
    before = jobs(api, project["id"], 3)
    gate = threading.Event()

    def held(command: dict[str, Any], submit: Callable[..., Any]) -> Any:
        if is_step(command):
            gate.wait(10)
        return submit()

    client, _ = app_with(node, held)
    started = data(client.post(BULK, json={"action": "pause",
                                           "filter": {"project_id": project["id"]}}), 202)
    meanwhile = jobs(api, project["id"], 2)  # while its first chunk waits
    gate.set()
    done = finished(api, started["id"])
    assert (done["total"], done["done"], done["skipped"]) == (3, 3, 0)
    assert paused(api, before) == [True] * 3 and paused(api, meanwhile) == [False, False]


def test_jobs_deleted_before_their_chunk_are_counted_skipped(node: Any, api: Api,
                                                            project: dict[str, Any]) -> None:
    ids = jobs(api, project["id"], 3)
    gate = threading.Event()

    def held(command: dict[str, Any], submit: Callable[..., Any]) -> Any:
        if is_step(command):
            gate.wait(10)
        return submit()

    client, _ = app_with(node, held)
    started = data(client.post(BULK, json={"action": "pause", "ids": ids}), 202)
    data(api.delete(f"/api/v1/jobs/{ids[1]}"))
    gate.set()
    done = finished(api, started["id"])
    assert (done["state"], done["total"], done["done"], done["skipped"], done["skipped_ids"]) == (
        "succeeded", 3, 2, 1, [ids[1]])


def test_a_retry_with_its_idempotency_key_answers_the_same_operation_run_once(
        node: Any, api: Api, project: dict[str, Any]) -> None:
    ids = jobs(api, project["id"], 3)
    steps: list[dict[str, Any]] = []

    def count(command: dict[str, Any], submit: Callable[..., Any]) -> Any:
        if is_step(command):
            steps.append(command)
        return submit()

    client, _ = app_with(node, count)
    key = {"Idempotency-Key": f"bulk-{project['id']}"}
    first = data(client.post(BULK, json={"action": "pause", "ids": ids}, headers=key), 202)
    finished(api, first["id"])
    again = data(client.post(BULK, json={"action": "pause", "ids": ids}, headers=key), 202)
    assert again["id"] == first["id"] and again["state"] == "succeeded"
    assert len(steps) == 1 and finished(api, first["id"])["done"] == 3


def fired(api: Api, operation_id: int, **query: Any) -> dict[str, Any]:
    """A page of GET /operations/{id}/executions."""
    page: dict[str, Any] = data(api.get(f"/api/v1/operations/{operation_id}/executions",
                                        query_string=query))
    return page


def test_a_bulk_run_fires_each_job_once_paused_ones_too_each_its_own_run_now(
        api: Api, project: dict[str, Any]) -> None:
    ids = jobs(api, project["id"], 2) + jobs(api, project["id"], 1, paused=True)
    done = run(api, {"action": "run", "ids": ids, "data": "bulk"})
    assert (done["action"], done["state"], done["done"], done["skipped"], done["errors"]) == (
        "run", "succeeded", 3, 0, [])
    assert paused(api, ids) == [False, False, True]  # a run leaves the jobs as they are
    page = fired(api, done["id"])
    assert (page["total"], page["next_after"]) == (3, None)
    executions = page["executions"]
    assert [e["job_id"] for e in executions] == ids
    assert {e["trigger"] for e in executions} == {"manual"}
    runs = [parse_execution_key(e["execution_id"]).run for e in executions]
    assert all(runs) and len(set(runs)) == 3  # run-now ids: never a tick's
    for execution in executions:
        found = data(api.get(f"/api/v1/executions/{execution['execution_id']}"))
        assert (found["job_id"], found["trigger"]) == (execution["job_id"], "manual")
    first = fired(api, done["id"], limit=2)
    rest = fired(api, done["id"], limit=2, after=first["next_after"])
    assert [e["execution_id"] for e in first["executions"] + rest["executions"]] == [
        e["execution_id"] for e in executions]
    assert rest["next_after"] is None


def test_a_bulk_run_with_data_skips_jobs_delivered_with_get(api: Api,
                                                             project: dict[str, Any]) -> None:
    [posted] = jobs(api, project["id"], 1)
    [got] = jobs(api, project["id"], 1, method="GET")
    done = run(api, {"action": "run", "ids": [posted, got], "data": "x"})
    assert (done["done"], done["skipped"], done["skipped_ids"]) == (1, 1, [got])
    assert f"jobs {got} left as they were: they are delivered with GET" in done["errors"][0]
    assert [e["job_id"] for e in fired(api, done["id"])["executions"]] == [posted]
    without = run(api, {"action": "run", "filter": {"project_id": project["id"]}})
    assert (without["done"], without["skipped"]) == (2, 0)


def test_the_executions_of_an_operation_that_is_no_run_are_none(
        api: Api, project: dict[str, Any]) -> None:
    done = run(api, {"action": "pause", "ids": jobs(api, project["id"], 1)})
    assert fired(api, done["id"])["executions"] == []
    error(api.get(f"/api/v1/operations/{done['id']}/executions?after=7-1"), 400,
          "invalid_after", "after: '7-1' is not a run-now's execution id")
    error(api.get("/api/v1/operations/999999999/executions"), 404, "not_found",
          "operation 999999999 does not exist")


# -- the runner's limits and failures ---------------------------------------------------------


def test_a_node_runs_so_many_operations_at_once_then_answers_429(
        node: Any, api: Api, project: dict[str, Any]) -> None:
    gate = threading.Event()

    def held(command: dict[str, Any], submit: Callable[..., Any]) -> Any:
        if is_step(command):
            gate.wait(10)
        return submit()

    client, _ = app_with(node, held)
    ids = jobs(api, project["id"], bulk_runner.MAX_RUNNING_HERE + 1)
    started = [data(client.post(BULK, json={"action": "pause", "ids": [i]}), 202)["id"]
               for i in ids[:-1]]
    refused = client.post(BULK, json={"action": "pause", "ids": ids[-1:]})
    error(refused, 429, "too_many_operations", f"{bulk_runner.MAX_RUNNING_HERE} bulk operations "
          "are running on this node", "GET /operations?state=running")
    assert refused.headers["Retry-After"] == str(BUSY_RETRY_AFTER_SECONDS)
    gate.set()
    assert [finished(api, i)["state"] for i in started] == ["succeeded"] * len(started)


def test_a_cluster_that_cannot_commit_fails_the_operation_saying_why(
        node: Any, api: Api, project: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk_runner, "RETRY_BUDGET", 0.5)
    attempts: list[int] = []

    def unavailable(command: dict[str, Any], submit: Callable[..., Any]) -> Any:
        if is_step(command):
            attempts.append(1)
            raise UnavailableError("no leader")
        return submit()

    client, _ = app_with(node, unavailable)
    ids = jobs(api, project["id"], 2)
    done = finished(api, data(client.post(BULK, json={"action": "pause", "ids": ids}), 202)["id"])
    assert done["state"] == "failed" and len(attempts) > 1  # retried, then given up
    assert done["errors"] == ["the cluster did not commit a chunk within 0.5 s (no leader); "
                              "0 of 2 jobs were done (they stay done)"]
    assert paused(api, ids) == [False, False]


def test_an_operation_stopped_meanwhile_ends_its_runner(node: Any, api: Api,
                                                       project: dict[str, Any]) -> None:
    gate = threading.Event()

    def held(command: dict[str, Any], submit: Callable[..., Any]) -> Any:
        if is_step(command):
            gate.wait(10)
        return submit()

    client, runner = app_with(node, held)
    ids = jobs(api, project["id"], 2)
    started = data(client.post(BULK, json={"action": "pause", "ids": ids}), 202)
    assert runner.fail(started["id"], "stopped by hand")
    gate.set()
    runner.join(started["id"], 10)
    done = finished(api, started["id"])
    assert (done["state"], done["errors"], done["done"]) == ("failed", ["stopped by hand"], 0)
    assert paused(api, ids) == [False, False]


def test_a_stopping_api_process_records_where_its_operations_stopped(
        node: Any, api: Api, project: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk_runner, "CHUNK", 2)
    gate, runner_of = threading.Event(), {}

    def stop_after_the_first(command: dict[str, Any], submit: Callable[..., Any]) -> Any:
        answer = submit()
        if is_step(command):
            runner_of["runner"].stopping.set()  # SIGTERM while the first chunk committed
            gate.set()
        return answer

    client, runner = app_with(node, stop_after_the_first)
    runner_of["runner"] = runner
    ids = jobs(api, project["id"], 5)
    started = data(client.post(BULK, json={"action": "pause", "ids": ids}), 202)
    gate.wait(10)
    done = finished(api, started["id"])
    assert done["state"] == "failed" and done["done"] == 2
    assert done["errors"] == ["interrupted: the API process of node 1 stopped after 2 of 5 "
                              "jobs; send the request again for the rest"]


def _orphan(node: Any, project_id: int, job_id: int, runner_node: int,
            runner_token: str) -> int:
    body = messages.OperationCreate(action="pause", selection={"ids": [job_id]}, total=1,
                                    created_by="node", runner_node=runner_node,
                                    runner_token=runner_token, projects=[project_id])
    result = node.submit(messages.command(body))
    assert result["ok"], result
    return int(result["data"]["id"])


def test_the_sweep_fails_what_an_earlier_process_of_this_node_left_and_what_stalled(
        node: Any, app: Any, api: Api, project: dict[str, Any]) -> None:
    runner = app.extensions[EXTENSION].operations
    [job_id] = jobs(api, project["id"], 1)
    left = _orphan(node, project["id"], job_id, runner_node=1, runner_token="before-restart")
    elsewhere = _orphan(node, project["id"], job_id, runner_node=2, runner_token="node-2")
    assert left in runner.sweep_once()
    assert elsewhere not in runner.sweep_once()  # node 2's runner may well be alive
    interrupted = data(api.get(f"/api/v1/operations/{left}"))
    assert interrupted["state"] == "failed"
    assert interrupted["errors"] == [
        "interrupted: the API process of node 1 that ran it restarted; 0 of 1 jobs were done "
        "(they stay done); send the request again for the rest"]
    stalled_at = _updated_ms(node, elsewhere) + int(bulk_runner.STALL_SECONDS * 1000) + 1000
    assert elsewhere in runner.sweep_once(now_ms=stalled_at)
    stalled = data(api.get(f"/api/v1/operations/{elsewhere}"))
    assert stalled["state"] == "failed" and stalled["errors"][0].startswith(
        "stalled: no progress for 121 s (node 2, which ran it, may be down); 0 of 1 jobs")
    assert paused(api, [job_id]) == [False]


def _updated_ms(node: Any, operation_id: int) -> int:
    found = node.reader().get_operation(operation_id)
    return int(found["updated_at_ms"])


# -- reading operations -----------------------------------------------------------------------


def test_operations_are_listed_newest_first_by_state_with_a_cursor(api: Api,
                                                                  project: dict[str, Any]) -> None:
    ids = jobs(api, project["id"], 3)
    made = [run(api, {"action": "pause", "ids": [i]})["id"] for i in ids]
    page = data(api.get("/api/v1/operations", query_string={"limit": 2}))
    assert set(page) == {"total", "total_exact", "limit", "offset", "next_after", "operations"}
    assert [o["id"] for o in page["operations"]] == [made[2], made[1]]
    rest = data(api.get("/api/v1/operations", query_string={"limit": 2,
                                                            "after": page["next_after"]}))
    assert rest["operations"][0]["id"] == made[0]
    succeeded = data(api.get("/api/v1/operations", query_string={"state": "succeeded",
                                                                 "limit": 1000}))
    assert set(made) <= {o["id"] for o in succeeded["operations"]}
    assert data(api.get("/api/v1/operations", query_string={"state": "failed"}))["total"] == len(
        data(api.get("/api/v1/operations", query_string={"state": "failed",
                                                         "limit": 1000}))["operations"])


@pytest.mark.parametrize(("path", "status", "code", "fragment"), [
    ("/api/v1/operations?state=done", 400, "invalid_state",
     "use one of running, succeeded, failed"),
    ("/api/v1/operations?limit=0", 400, "invalid_limit", "1-1000"),
    ("/api/v1/operations?after=x", 400, "invalid_after", "not a valid id"),
    ("/api/v1/operations/abc", 400, "invalid_id", "not a valid id"),
    ("/api/v1/operations/999999999", 404, "not_found",
     "operation 999999999 does not exist (the newest 1000 finished operations are kept)"),
])
def test_bad_operation_reads_are_refused_naming_the_field(api: Api, path: str, status: int,
                                                          code: str, fragment: str) -> None:
    error(api.get(path), status, code, fragment)


# -- bad requests -----------------------------------------------------------------------------

ACTIONS = "pause, resume, delete, set_labels, run"


@pytest.mark.parametrize(("body", "status", "code", "fragment"), [
    ([], 400, "invalid_body", "expected a JSON object"),
    ({}, 400, "invalid_action", f"action: required; use one of {ACTIONS}"),
    ({"action": "stop", "ids": ["MINE"]}, 400, "invalid_action",
     f"'stop' is not an action; use one of {ACTIONS}"),
    ({"action": 3, "ids": ["MINE"]}, 400, "invalid_action", "expected a string, got a number"),
    ({"action": "pause", "zz": 1, "ids": ["MINE"]}, 400, "unknown_field",
     "'zz': unknown field; accepted fields: action, ids, filter, labels, data"),
    ({"action": "pause"}, 400, "invalid_ids", "ids: required: name the jobs by ids"),
    ({"action": "pause", "ids": ["MINE"], "filter": {"paused": False}}, 400, "invalid_ids",
     "ids: send ids or filter, not both"),
    ({"action": "pause", "ids": "1"}, 400, "invalid_ids", "expected a list of job ids"),
    ({"action": "pause", "ids": []}, 400, "invalid_ids", "ids: must not be empty"),
    ({"action": "pause", "ids": [0]}, 400, "invalid_ids", "ids[0]: 0 is out of range"),
    ({"action": "pause", "ids": [1.5]}, 400, "invalid_ids", "ids[0]: expected an integer id"),
    ({"action": "pause", "ids": [True]}, 400, "invalid_ids", "ids[0]: expected an integer id"),
    ({"action": "pause", "ids": ["MINE", "MINE"]}, 400, "invalid_ids",
     "is listed twice; list each job once"),
    ({"action": "pause", "ids": list(range(1, bulk.MAX_IDS + 2))}, 413, "payload_too_large",
     f"send at most {bulk.MAX_IDS}, or select the jobs with a filter"),
    ({"action": "pause", "ids": ["MINE", 999_999_999]}, 404, "not_found",
     "ids: job 999999999 does not exist; remove it from ids"),
    ({"action": "pause", "ids": ["MINE", 999_999_998, 999_999_999]}, 404, "not_found",
     "ids: jobs 999999998, 999999999 do not exist; remove them from ids"),
    ({"action": "pause", "filter": "x"}, 400, "invalid_filter", "filter: expected an object"),
    ({"action": "pause", "filter": {}}, 400, "invalid_filter",
     "filter: empty: name at least one of project_id, paused, labels"),
    ({"action": "pause", "filter": {"owner": 1}}, 400, "invalid_filter",
     "filter.'owner': unknown field; accepted fields: project_id, paused, labels"),
    ({"action": "pause", "filter": {"project_id": 0}}, 400, "invalid_filter",
     "filter.project_id: 0 is out of range"),
    ({"action": "pause", "filter": {"project_id": "1"}}, 400, "invalid_filter",
     "filter.project_id: expected an integer id"),
    ({"action": "pause", "filter": {"paused": "yes"}}, 400, "invalid_filter",
     "filter.paused: expected true or false"),
    ({"action": "pause", "filter": {"labels": 7}}, 400, "invalid_filter",
     "filter.labels: expected a label selector string"),
    ({"action": "pause", "filter": {"labels": ""}}, 400, "invalid_filter",
     "filter.labels: empty: give at least one requirement"),
    ({"action": "pause", "filter": {"labels": "team=(a"}}, 400, "invalid_filter",
     "filter.labels: "),
    ({"action": "pause", "filter": {"labels": "a" * 5000}}, 400, "invalid_filter",
     "filter.labels: 5000 characters is too long"),
    ({"action": "pause", "filter": {"name": "no spaces"}}, 400, "invalid_filter",
     "filter.name: 'no spaces' is not the start of a job name"),
    ({"action": "pause", "filter": {"name": 3}}, 400, "invalid_filter",
     'filter.name: expected a string, got a number, e.g. "nightly-"'),
    ({"action": "pause", "filter": {"contains": ""}}, 400, "invalid_filter",
     "filter.contains: empty: leave it out"),
    ({"action": "pause", "filter": {"status": "gone"}}, 400, "invalid_filter",
     "filter.status: 'gone' is not accepted; use one of active, paused, completed"),
    ({"action": "pause", "filter": {"last_state": "ok"}}, 400, "invalid_filter",
     "filter.last_state: 'ok' is not accepted; use one of succeeded, failed, missed"),
    ({"action": "pause", "filter": {"host": "http://x/"}}, 400, "invalid_filter",
     "filter.host: 'http://x/' is not a host"),
    ({"action": "pause", "filter": {"project_id": 999_999_999}}, 404, "not_found",
     "filter.project_id: project 999999999 does not exist"),
    ({"action": "pause", "ids": ["MINE"], "labels": {"a": "b"}}, 400, "invalid_labels",
     "labels: applies only to the action set_labels, not pause"),
    ({"action": "set_labels", "ids": ["MINE"]}, 400, "invalid_labels",
     "labels: required with set_labels"),
    ({"action": "set_labels", "ids": ["MINE"], "labels": []}, 400, "invalid_labels",
     "labels: expected an object of label keys to values"),
    ({"action": "set_labels", "ids": ["MINE"], "labels": {}}, 400, "invalid_labels",
     "labels: must not be empty"),
    ({"action": "set_labels", "ids": ["MINE"], "labels": {"no key": "x"}}, 400,
     "invalid_labels", "is not a label key"),
    ({"action": "set_labels", "ids": ["MINE"], "labels": {"team": 7}}, 400, "invalid_labels",
     'the value of "team" must be a string, or null to remove the label'),
    ({"action": "set_labels", "ids": ["MINE"], "labels": {"team": "a b"}}, 400,
     "invalid_labels", "is not a label value"),
    ({"action": "set_labels", "ids": ["MINE"],
      "labels": {f"k{i}": "v" for i in range(65)}}, 400, "invalid_labels",
     "65 labels is too many; at most 64"),
    ({"action": "pause", "ids": ["MINE"], "data": "x"}, 400, "invalid_data",
     "data: applies only to the action run, not pause"),
    ({"action": "run", "ids": ["MINE"], "data": 7}, 400, "invalid_data",
     "data: expected a string, got a number"),
    ({"action": "run", "ids": ["MINE"], "data": "x" * (MAX_DATA_BYTES + 1)}, 400,
     "invalid_data", f"data: too large; at most {MAX_DATA_BYTES} bytes"),
    ({"action": "run", "ids": ["MINE"], "labels": {"a": "b"}}, 400, "invalid_labels",
     "labels: applies only to the action set_labels, not run"),
    ({"action": "run", "ids": ["MINE", 999_999_999]}, 404, "not_found",
     "ids: job 999999999 does not exist; remove it from ids"),
])
def test_bad_bulk_requests_are_refused_naming_the_field_and_the_fix(
        api: Api, project: dict[str, Any], body: Any, status: int, code: str,
        fragment: str) -> None:
    [mine] = jobs(api, project["id"], 1)
    if isinstance(body, dict) and isinstance(body.get("ids"), list):
        body = {**body, "ids": [mine if i == "MINE" else i for i in body["ids"]]}
    before = data(api.get("/api/v1/operations"))["total"]
    fragment = fragment.replace("MINE", str(mine))
    error(api.post(BULK, json=body), status, code, fragment)
    assert data(api.get("/api/v1/operations"))["total"] == before  # nothing started
    assert paused(api, [mine]) == [False]


def test_a_body_that_is_not_json_is_refused(api: Api) -> None:
    error(api.post(BULK, data=b"{", headers={"Content-Type": "application/json"}), 400,
          "invalid_json", "malformed JSON")


def test_a_filter_that_selects_too_many_is_refused(api: Api, project: dict[str, Any],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    jobs(api, project["id"], 3)
    monkeypatch.setattr(bulk, "MAX_SELECTED", 2)
    error(api.post(BULK, json={"action": "pause", "filter": {"project_id": project["id"]}}),
          413, "payload_too_large", "filter: selects more than 2 jobs, the most one operation "
          "may take; narrow it")


def test_a_run_that_selects_more_than_a_run_may_is_refused(
        api: Api, project: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    jobs(api, project["id"], 3)
    monkeypatch.setattr(bulk, "MAX_RUN_SELECTED", 2)
    before = data(api.get("/api/v1/operations"))["total"]
    error(api.post(BULK, json={"action": "run", "filter": {"project_id": project["id"]}}),
          413, "payload_too_large", "filter: selects more than 2 jobs, the most a run may "
          "take; narrow it")
    assert data(api.get("/api/v1/operations"))["total"] == before


def test_a_selection_of_no_job_is_an_operation_finished_at_once(api: Api,
                                                                project: dict[str, Any]) -> None:
    started = data(api.post(BULK, json={"action": "pause",
                                        "filter": {"project_id": project["id"]}}), 202)
    assert (started["state"], started["total"], started["done"]) == ("succeeded", 0, 0)
    assert started["projects"] == [project["id"]]


# -- scopes -----------------------------------------------------------------------------------


@pytest.fixture
def limited(api: Api, project: dict[str, Any]) -> Api:
    """A write credential limited to `project`."""
    created = data(api.post("/api/v1/credentials", json={"role": "write",
                                                         "projects": [project["id"]]}), 201)
    return Api(api.client, {"x-api-key": created["api_key"],
                            "x-secret-key": created["api_secret"]})


def test_a_limited_credential_reaches_only_its_projects_jobs(api: Api, limited: Api,
                                                            project: dict[str, Any]) -> None:
    theirs = api.project()
    mine, their_jobs = jobs(api, project["id"], 2), jobs(api, theirs["id"], 2)
    error(limited.post(BULK, json={"action": "delete", "ids": [mine[0], their_jobs[0]]}), 403,
          "forbidden", f"limited to projects [{project['id']}]",
          f"job {their_jobs[0]} belongs to project {theirs['id']}")
    error(limited.post(BULK, json={"action": "delete", "filter": {"project_id": theirs["id"]}}),
          403, "forbidden", f"project {theirs['id']} is not one of them")
    everywhere = run(limited, {"action": "pause", "filter": {"paused": False}})
    assert everywhere["projects"] == [project["id"]] and everywhere["total"] == 2
    assert paused(api, mine) == [True, True] and paused(api, their_jobs) == [False, False]
    assert data(api.get(f"/api/v1/jobs/{their_jobs[0]}"))  # not deleted either


def test_a_limited_credential_reads_only_operations_of_its_projects(
        api: Api, limited: Api, project: dict[str, Any]) -> None:
    theirs = api.project()
    their_op = run(api, {"action": "pause", "ids": jobs(api, theirs["id"], 1)})
    my_op = run(limited, {"action": "pause", "ids": jobs(api, project["id"], 1)})
    listed = data(limited.get("/api/v1/operations", query_string={"limit": 1000}))
    assert [o["id"] for o in listed["operations"]] == [my_op["id"]]
    assert listed["total"] == 1
    error(limited.get(f"/api/v1/operations/{their_op['id']}"), 403, "forbidden",
          f"operation {their_op['id']} concerns project {theirs['id']}")
    assert data(limited.get(f"/api/v1/operations/{my_op['id']}"))["id"] == my_op["id"]
    everything = data(api.get("/api/v1/operations", query_string={"limit": 1000}))
    assert {my_op["id"], their_op["id"]} <= {o["id"] for o in everything["operations"]}
