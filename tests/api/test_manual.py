"""POST /jobs/{id}/run, POST /jobs/{id}/backfill, POST /executions/{id}/redeliver and
GET /executions/{id} on a real single node (no planner runs here: results are committed with
the pipeline's RESULT command, as the executors' would be; tests/integration/test_manual.py
delivers them for real)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from scheduler0 import clock, messages
from scheduler0.schedule import format_rfc3339_utc
from scheduler0.store.pipeline import PipelineReader
from scheduler0.vocabulary import execution_id
from tests.api.helpers import Api, commit, data, error, unique

RUN_ID = re.compile(r"^(\d+)-(\d+)-m(\d+)$")


@pytest.fixture(scope="module")
def project(api: Api) -> dict[str, Any]:
    return api.project()


def run(api: Api, job: Any, body: Any = None, **kw: Any) -> Any:
    return api.post(f"/api/v1/jobs/{job}/run", json=body, **kw)


def settle(node: Any, execution: dict[str, Any], state: str = "succeeded",
           status: int | None = 200) -> Any:
    """The executor's result for a scheduled execution, committed as the coordinator does."""
    tick = int(execution["execution_id"].split("-")[1])
    return commit(node, messages.Result(rows=[messages.ResultRow(
        execution["execution_id"], state, 1, status, None if state == "succeeded" else "HTTP 500",
        1, tick * 1000 + 20, tick * 1000 + 30, execution["batch_id"])]))


def record_tick(node: Any, job: dict[str, Any], tick: int, state: str = "succeeded") -> str:
    batch_id = unique("manual-api")
    commit(node, messages.Plan(batches=[messages.PlanBatch(
        batch_id=batch_id, node_id=1, scheduled_at=tick,
        rows=[messages.PlanRow(job["id"], job["project_id"])])]))
    eid = execution_id(job["id"], tick)
    settle(node, {"execution_id": eid, "batch_id": batch_id}, state,
           200 if state == "succeeded" else 500)
    return eid


# -- run now ---------------------------------------------------------------------------------


def test_run_now_answers_the_scheduled_execution_and_leaves_the_schedule(
        api: Api, project: dict[str, Any], node: Any) -> None:
    job = api.job(project["id"])
    before = int(clock.now())
    execution = data(run(api, job["id"]), 202)
    job_id, tick, run_number = map(int, RUN_ID.match(execution["execution_id"]).groups())
    assert job_id == job["id"] and before <= tick <= int(clock.now())
    assert execution == {**execution, "job_id": job["id"], "project_id": project["id"],
                         "state": "scheduled", "trigger": "manual", "redeliveries": 0,
                         "batch_id": f"manual-{run_number}", "attempts": 0,
                         "scheduled_at": format_rfc3339_utc(tick)}
    after = data(api.get(f"/api/v1/jobs/{job['id']}"))
    assert (after["spec"], after["next_execution_at"]) == (job["spec"], job["next_execution_at"])
    scheduled = data(api.get(f"/api/v1/jobs/{job['id']}/executions",
                             query_string={"state": "scheduled"}))["executions"]
    assert [e["execution_id"] for e in scheduled] == [execution["execution_id"]]
    assert data(api.get(f"/api/v1/executions/{execution['execution_id']}")) == execution
    settle(node, execution)
    done = data(api.get(f"/api/v1/executions/{execution['execution_id']}"))
    assert (done["state"], done["trigger"], done["attempts"]) == ("succeeded", "manual", 1)
    listed = data(api.get(f"/api/v1/jobs/{job['id']}/executions"))["executions"]
    assert [(e["execution_id"], e["trigger"]) for e in listed] == [
        (execution["execution_id"], "manual")]
    assert data(api.get(f"/api/v1/jobs/{job['id']}"))["last_state"] is None  # the schedule's


def test_run_now_delivers_the_data_given(api: Api, project: dict[str, Any], node: Any) -> None:
    job = api.job(project["id"], data="the job's")
    execution = data(run(api, job["id"], {"data": '{"once": true}'}), 202)
    plain = data(run(api, job["id"], {"data": None}), 202)
    reader = PipelineReader(node.settings.db_path)
    try:
        [overridden] = reader.unfinished_of_batch(execution["batch_id"])
        [own] = reader.unfinished_of_batch(plain["batch_id"])
    finally:
        reader.close()
    assert (overridden.data, own.data) == ('{"once": true}', "the job's")


def test_run_now_works_on_a_paused_job_and_by_name(api: Api, project: dict[str, Any]) -> None:
    paused = api.job(project["id"], paused=True)
    assert data(run(api, paused["id"]), 202)["job_id"] == paused["id"]
    named = api.job(project["id"], name=unique("run"))
    assert data(run(api, named["name"], query_string={"project_id": project["id"]}),
                202)["job_id"] == named["id"]


def test_the_same_idempotency_key_answers_the_same_run_and_runs_nothing_more(
        api: Api, project: dict[str, Any]) -> None:
    job = api.job(project["id"])
    key = {"Idempotency-Key": unique("run-key")}
    first = data(run(api, job["id"], headers=key), 202)
    again = data(run(api, job["id"], headers=key), 202)
    assert again == first
    other = data(run(api, job["id"], headers={"Idempotency-Key": unique("run-key")}), 202)
    assert other["execution_id"] != first["execution_id"]
    scheduled = data(api.get(f"/api/v1/jobs/{job['id']}/executions",
                             query_string={"state": "scheduled"}))
    assert scheduled["total"] == 2


@pytest.mark.parametrize(("body", "code", "fragment"), [
    ({"data": 7}, "invalid_data", "data: expected a string"),
    ({"data": "x" * (64 * 1024 + 1)}, "invalid_data", "at most 65536 bytes"),
    ({"data": "é" * (32 * 1024 + 1)}, "invalid_data", "65538 bytes is too large"),
    ({"date": "x"}, "unknown_field", "accepted fields: data"),
    ([], "invalid_body", "expected a JSON object"),
])
def test_a_bad_run_body_is_refused_naming_the_field(api: Api, project: dict[str, Any],
                                                    body: Any, code: str, fragment: str) -> None:
    job = api.job(project["id"])
    error(run(api, job["id"], body), 400, code, fragment)
    assert data(api.get(f"/api/v1/jobs/{job['id']}/executions",
                        query_string={"state": "scheduled"}))["total"] == 0


def test_run_now_refuses_unknown_jobs_bad_json_and_data_a_get_cannot_send(
        api: Api, project: dict[str, Any]) -> None:
    error(run(api, 999_999_999), 404, "not_found", "job 999999999 does not exist")
    error(run(api, "no-such-name"), 404, "not_found", 'no job is named "no-such-name"')
    error(run(api, "0"), 400, "invalid_id")
    job = api.job(project["id"])
    error(api.post(f"/api/v1/jobs/{job['id']}/run", data=b"{",
                   headers={"Content-Type": "application/json"}), 400, "invalid_json")
    getter = api.job(project["id"], method="GET")
    error(run(api, getter["id"], {"data": "body"}), 400, "invalid_data", "delivered with GET")
    assert data(run(api, getter["id"]), 202)["job_id"] == getter["id"]


# -- redeliver -------------------------------------------------------------------------------


def test_redeliver_sends_a_finished_execution_again_and_records_the_new_attempt(
        api: Api, project: dict[str, Any], node: Any) -> None:
    job = api.job(project["id"])
    tick = 1_900_000_020
    eid = record_tick(node, job, tick, "failed")
    minute = {"project_id": project["id"], "since": tick - 20, "until": tick + 40}
    [counts] = data(api.get("/api/v1/rollups", query_string=minute))["rollups"]
    assert (counts["failed"], counts["succeeded"]) == (1, 0)
    again = data(api.post(f"/api/v1/executions/{eid}/redeliver"), 202)
    assert (again["execution_id"], again["state"], again["trigger"], again["redeliveries"]) == (
        eid, "scheduled", "schedule", 0)
    error(api.post(f"/api/v1/executions/{eid}/redeliver"), 409, "execution_in_flight",
          "still scheduled")
    assert data(api.get(f"/api/v1/executions/{eid}"))["state"] == "scheduled"
    settle(node, again)
    shown = data(api.get(f"/api/v1/executions/{eid}"))
    assert (shown["state"], shown["redeliveries"], shown["http_status"]) == ("succeeded", 1, 200)
    [listed] = data(api.get(f"/api/v1/jobs/{job['id']}/executions"))["executions"]
    assert listed == shown
    [counts] = data(api.get("/api/v1/rollups", query_string=minute))["rollups"]
    assert (counts["failed"], counts["succeeded"]) == (0, 1)  # one execution, its new state
    assert data(api.get(f"/api/v1/jobs/{job['id']}"))["last_state"] == "succeeded"


def test_redeliver_refuses_what_is_unknown_unfinished_or_malformed(
        api: Api, project: dict[str, Any]) -> None:
    job = api.job(project["id"])
    never = execution_id(job["id"], 1_900_000_000)
    error(api.post(f"/api/v1/executions/{never}/redeliver"), 404, "not_found",
          f"execution {never} is not in the history")
    error(api.post(f"/api/v1/executions/{job['id']}-1900000000-m999999/redeliver"), 404,
          "not_found")
    error(api.post("/api/v1/executions/999999999-1/redeliver"), 404, "not_found",
          "job 999999999 does not exist")
    scheduled = data(run(api, job["id"]), 202)
    error(api.post(f"/api/v1/executions/{scheduled['execution_id']}/redeliver"), 409,
          "execution_in_flight", "a delivery of it is in flight")
    for bad in ("abc", "1-2-3", f"0{job['id']}-1", "1-99999999999999999999", "1-2-m0"):
        error(api.post(f"/api/v1/executions/{bad}/redeliver"), 400, "invalid_execution_id",
              "execution_id:")
        error(api.get(f"/api/v1/executions/{bad}"), 400, "invalid_execution_id")
    error(api.get(f"/api/v1/executions/{never}"), 404, "not_found", "does not exist")


# -- backfill --------------------------------------------------------------------------------


def _range(minutes: int, end_ago: int = 600) -> dict[str, str]:
    # Ending well before now, on a tick of */5 * * * *: every tick in it was passed by the
    # schedule row the module's jobs share (its next tick lies after the first job's creation).
    now = int(clock.now())
    end = now - now % 300 - end_ago
    return {"from": format_rfc3339_utc(end - minutes * 60), "to": format_rfc3339_utc(end)}


def test_a_backfill_dry_run_counts_and_commits_nothing_then_the_backfill_fires(
        api: Api, project: dict[str, Any], node: Any) -> None:
    job = api.job(project["id"])  # */5 * * * *, created now: every earlier tick is past
    body = _range(60)
    dry = data(api.post(f"/api/v1/jobs/{job['id']}/backfill", json=body,
                        query_string={"dry_run": "true"}))
    assert dry == {"job_id": job["id"], "dry_run": True, "from": body["from"], "to": body["to"],
                   "count": 13, "ticks": 13,
                   "skipped": {"recorded": 0, "in_flight": 0, "not_yet_planned": 0},
                   "first_ticks": [format_rfc3339_utc(int(clock_epoch(body["from"])) + 300 * k)
                                   for k in range(10)]}
    scheduled = {"state": "scheduled"}
    assert data(api.get(f"/api/v1/jobs/{job['id']}/executions",
                        query_string=scheduled))["total"] == 0
    first = record_tick(node, job, clock_epoch(body["from"]))  # one of them ran meanwhile
    fired = data(api.post(f"/api/v1/jobs/{job['id']}/backfill", json=body), 202)
    assert {**fired, "first_ticks": None} == {**dry, "dry_run": False, "count": 12,
                                              "skipped": {**dry["skipped"], "recorded": 1},
                                              "first_ticks": None}
    listed = data(api.get(f"/api/v1/jobs/{job['id']}/executions",
                          query_string={**scheduled, "limit": 100}))["executions"]
    assert len(listed) == 12 and {e["trigger"] for e in listed} == {"backfill"}
    assert first not in {e["execution_id"] for e in listed}
    assert {e["execution_id"] for e in listed} == {
        execution_id(job["id"], clock_epoch(body["from"]) + 300 * k) for k in range(1, 13)}
    again = data(api.post(f"/api/v1/jobs/{job['id']}/backfill", json=body), 202)
    assert (again["count"], again["skipped"]["in_flight"]) == (0, 12)
    settle(node, listed[0])
    assert data(api.get(f"/api/v1/executions/{listed[0]['execution_id']}"))["trigger"] == \
        "backfill"


def clock_epoch(text: str) -> int:
    from scheduler0.schedule import parse_instant

    return parse_instant(text, "instant")


@pytest.mark.parametrize(("body", "code", "fragment"), [
    ({"from": "2020-01-01T00:00:00Z"}, "invalid_to", "to: required"),
    ({"to": "2020-01-01T00:00:00Z"}, "invalid_from", "from: required"),
    ({"from": "yesterday", "to": "2020-01-01T00:00:00Z"}, "invalid_from", "from:"),
    ({"from": True, "to": "2020-01-01T00:00:00Z"}, "invalid_from", "expected an RFC 3339"),
    ({"from": "2020-01-02T00:00:00Z", "to": "2020-01-01T00:00:00Z"}, "invalid_to",
     "is before from"),
    ({"from": "2020-01-01T00:00:00Z", "to": "2099-01-01T00:00:00Z"}, "invalid_to",
     "is in the future"),
    ({"from": "2020-01-01T00:00:00Z", "to": "2020-03-01T00:00:00Z"}, "too_many_ticks",
     "more than 1000 ticks"),
    ({"from": "2020-01-01T00:00:00Z", "to": "2020-01-02T00:00:00Z", "step": 1},
     "unknown_field", "accepted fields: from, to"),
])
def test_a_bad_backfill_is_refused_naming_the_field(api: Api, project: dict[str, Any],
                                                    body: Any, code: str, fragment: str) -> None:
    job = api.job(project["id"])
    for query in ({}, {"dry_run": "true"}):
        error(api.post(f"/api/v1/jobs/{job['id']}/backfill", json=body, query_string=query),
              400, code, fragment)
    assert data(api.get(f"/api/v1/jobs/{job['id']}/executions",
                        query_string={"state": "scheduled"}))["total"] == 0


def test_a_backfill_of_a_paused_job_fires_and_an_unknown_job_is_404(
        api: Api, project: dict[str, Any]) -> None:
    paused = api.job(project["id"], paused=True)
    assert data(api.post(f"/api/v1/jobs/{paused['id']}/backfill", json=_range(10)),
                202)["count"] == 3
    error(api.post("/api/v1/jobs/999999999/backfill", json=_range(10)), 404, "not_found")
    error(api.post(f"/api/v1/jobs/{paused['id']}/backfill", json=_range(10),
                   query_string={"dry_run": "maybe"}), 400, "invalid_dry_run")


def test_every_execution_read_shows_its_trigger_and_redeliveries(
        api: Api, project: dict[str, Any], node: Any) -> None:
    job = api.job(project["id"])
    record_tick(node, job, 1_900_000_300)
    for page in (data(api.get("/api/v1/executions", query_string={"job_id": job["id"]})),
                 data(api.get(f"/api/v1/jobs/{job['id']}/executions"))):
        [row] = page["executions"]
        assert (row["trigger"], row["redeliveries"]) == ("schedule", 0)
