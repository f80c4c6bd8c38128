"""/executions and /jobs/{id}/executions: filters, newest first, pagination.

The history is seeded with the pipeline's own commands (PLAN, then RESULT for the ticks that
finished) committed through the node, so each test controls exact states and timings;
tests/integration/test_pipeline.py covers the real planner and executor path.
"""

from __future__ import annotations

from typing import Any

import pytest

from scheduler0 import messages
from scheduler0.vocabulary import execution_id
from tests.api.helpers import Api, commit, data, error

T0 = 1_900_000_000  # 2030-03-17T17:46:40Z
PLANNED_MS = 1_700_000_000_250  # when the seeding PLAN is committed: 2023-11-14T22:13:20.250Z


@pytest.fixture(scope="module")
def seeded(api: Api, node: Any) -> dict[str, Any]:
    project, other = api.project(), api.project()
    job, second = api.job(project["id"]), api.job(project["id"])
    third = api.job(other["id"])
    batches: list[messages.PlanBatch] = []
    results: list[messages.ResultRow] = []

    def run(owner: dict[str, Any], tick: int, state: str, *outcome: Any) -> None:
        batch_id = f"seed-{owner['id']}-{tick}"
        batches.append(messages.PlanBatch(batch_id=batch_id, node_id=1, scheduled_at=tick,
                                          rows=[messages.PlanRow(owner["id"],
                                                                 owner["project_id"])]))
        if state != "scheduled":
            results.append(messages.ResultRow(execution_id(owner["id"], tick), state, *outcome,
                                              batch_id=batch_id))

    for i, state in enumerate(("succeeded", "failed", "succeeded")):
        run(job, T0 + 60 * i, state, 1, 200 if state == "succeeded" else None, None, 1)
    run(job, T0 + 60 * 4, "scheduled")
    run(second, T0 + 30, "succeeded", 2, 200, None, 1, (T0 + 30) * 1000, (T0 + 31) * 1000)
    run(third, T0, "failed", 4, 500, "HTTP 500", 1)
    missed = messages.PlanMissed(scheduled_at=T0 + 60 * 3,
                                 rows=[messages.PlanRow(job["id"], project["id"])])
    planned = commit(node, messages.Plan(batches=batches, missed=[missed]), now_ms=PLANNED_MS)
    assert planned == {"scheduled": 6, "missed": 1, "advanced": 0}
    assert commit(node, messages.Result(rows=results)) == {"settled": 5}
    return {"project": project, "other": other, "job": job, "second": second, "third": third}


def _ids(page: dict[str, Any]) -> list[str]:
    return [e["execution_id"] for e in page["executions"]]


def test_job_history_newest_first(api: Api, seeded: dict[str, Any]) -> None:
    job = seeded["job"]
    page = data(api.get(f"/api/v1/jobs/{job['id']}/executions"))
    assert page["total"] == 4 and page["limit"] == 50 and page["offset"] == 0
    assert page["total_exact"] is True and page["next_after"] is None
    times = [e["scheduled_at"] for e in page["executions"]]
    assert times == sorted(times, reverse=True)
    newest = page["executions"][0]
    assert newest["execution_id"] == execution_id(job["id"], T0 + 180)
    assert newest["state"] == "missed"
    assert set(newest) == {"execution_id", "job_id", "project_id", "scheduled_at", "state",
                           "attempts", "http_status", "node_id", "batch_id", "error",
                           "planned_at", "started_at", "finished_at", "trigger",
                           "redeliveries"}
    oldest = page["executions"][-1]
    assert oldest["scheduled_at"] == "2030-03-17T17:46:40Z"
    # A recorded execution keeps neither its batch nor its planning time.
    assert (oldest["batch_id"], oldest["planned_at"]) == (None, None)
    assert oldest["http_status"] == 200
    # The planned, unsettled tick is listed apart, with its batch and planning time.
    scheduled = data(api.get(f"/api/v1/jobs/{job['id']}/executions",
                             query_string={"state": "scheduled"}))
    assert scheduled["total"] == 1
    [tick] = scheduled["executions"]
    assert tick["execution_id"] == execution_id(job["id"], T0 + 240)
    assert (tick["state"], tick["batch_id"]) == ("scheduled", f"seed-{job['id']}-{T0 + 240}")
    assert tick["planned_at"] == "2023-11-14T22:13:20.250Z"
    # Start and finish read back exactly as the result gave them.
    [timed] = data(api.get(f"/api/v1/jobs/{seeded['second']['id']}/executions"))["executions"]
    assert (timed["attempts"], timed["started_at"], timed["finished_at"]) == (
        2, "2030-03-17T17:47:10.000Z", "2030-03-17T17:47:11.000Z")
    # The job shows its last recorded result.
    shown = data(api.get(f"/api/v1/jobs/{job['id']}"))
    assert (shown["last_execution_at"], shown["last_state"], shown["last_http_status"]) == (
        "2030-03-17T17:49:40Z", "missed", None)


def test_filters(api: Api, seeded: dict[str, Any]) -> None:
    project, job = seeded["project"], seeded["job"]
    by_project = data(api.get("/api/v1/executions", query_string={"project_id": project["id"]}))
    assert by_project["total"] == 5
    by_job = data(api.get("/api/v1/executions", query_string={"jobId": job["id"]}))
    assert by_job["total"] == 4
    failed = data(api.get("/api/v1/executions", query_string={"project_id": project["id"],
                                                            "state": "failed"}))
    assert _ids(failed) == [execution_id(job["id"], T0 + 60)]
    window = data(api.get(f"/api/v1/jobs/{job['id']}/executions",
                          query_string={"since": T0 + 60, "until": "2030-03-17T17:49:40Z"}))
    assert _ids(window) == [execution_id(job["id"], T0 + 120), execution_id(job["id"], T0 + 60)]
    page = data(api.get("/api/v1/executions", query_string={"project_id": project["id"],
                                                          "limit": 2, "offset": 1}))
    assert page["total"] == 5 and len(page["executions"]) == 2
    assert _ids(page) == [execution_id(job["id"], T0 + 120), execution_id(job["id"], T0 + 60)]
    # The keyset cursor: the page after the last row shown.
    assert page["next_after"] == execution_id(job["id"], T0 + 60)
    rest = data(api.get("/api/v1/executions", query_string={"project_id": project["id"],
                                                          "after": page["next_after"]}))
    assert _ids(rest) == [execution_id(seeded["second"]["id"], T0 + 30),
                          execution_id(job["id"], T0)]
    assert rest["next_after"] is None


def test_filter_errors_name_the_parameter(api: Api, seeded: dict[str, Any]) -> None:
    path = "/api/v1/executions"
    error(api.get(path, query_string={"state": "exploded"}), 400, "invalid_state", "state",
          "succeeded")
    error(api.get(path, query_string={"since": "yesterday"}), 400, "invalid_since", "since")
    error(api.get(path, query_string={"until": "2030-13-01T00:00:00Z"}), 400, "invalid_until")
    error(api.get(path, query_string={"since": T0 + 10, "until": T0}), 400, "invalid_until",
          "before since")
    error(api.get(path, query_string={"job_id": "-3"}), 400, "invalid_job_id", "job_id")
    error(api.get(path, query_string={"project_id": "1e3"}), 400, "invalid_project_id")
    error(api.get(path, query_string={"limit": 0}), 400, "invalid_limit")
    error(api.get(path, query_string={"after": "e1"}), 400, "invalid_after", "after")


def test_job_history_errors(api: Api, seeded: dict[str, Any]) -> None:
    error(api.get("/api/v1/jobs/777777/executions"), 404, "not_found", "job 777777")
    error(api.get("/api/v1/jobs/1x/executions"), 400, "invalid_id")
    error(api.get("/api/v1/jobs/x/executions"), 404, "not_found", '"x"')  # a job name
    error(api.get(f"/api/v1/jobs/{seeded['job']['id']}/executions",
                  query_string={"state": "?"}), 400, "invalid_state")


def test_several_states_read_as_one_list(api: Api, seeded: dict[str, Any]) -> None:
    path = "/api/v1/executions"
    each = {state: set(_ids(data(api.get(path, query_string={"state": state}))))
            for state in ("succeeded", "failed", "missed")}
    both = data(api.get(path, query_string={"state": "missed, FAILED"}))
    assert set(_ids(both)) == each["failed"] | each["missed"] and len(_ids(both)) == 3
    assert both["total"] == 3 and both["total_exact"] is True
    assert [e["state"] for e in both["executions"]] == ["missed", "failed", "failed"]
    ok_and_failed = data(api.get(path, query_string={"state": "succeeded,failed",
                                                     "project_id": seeded["project"]["id"]}))
    assert {e["state"] for e in ok_and_failed["executions"]} == {"succeeded", "failed"}
    assert ok_and_failed["total"] == 4
    # Keyset pages of a combined filter neither skip nor repeat.
    first = data(api.get(path, query_string={"state": "failed,missed", "limit": 2}))
    rest = data(api.get(path, query_string={"state": "failed,missed", "limit": 2,
                                            "after": first["next_after"]}))
    assert _ids(first) + _ids(rest) == _ids(both) and rest["next_after"] is None
    error(api.get(path, query_string={"state": "failed,scheduled"}), 400, "invalid_state",
          "scheduled", "on its own")
    error(api.get(path, query_string={"state": "failed,exploded"}), 400, "invalid_state",
          "'exploded'", "separated by commas")


def test_include_job_gives_each_rows_job_name_and_zone(api: Api,
                                                       seeded: dict[str, Any]) -> None:
    job = seeded["job"]
    page = data(api.get("/api/v1/executions", query_string={"include": "job",
                                                             "job_id": job["id"]}))
    assert page["executions"] and all(
        e["job"] == {"name": job.get("name"), "timezone": job["timezone"]}
        for e in page["executions"])
    plain = data(api.get("/api/v1/executions", query_string={"job_id": job["id"]}))
    assert all("job" not in e for e in plain["executions"])
    error(api.get("/api/v1/executions", query_string={"include": "jobs"}), 400,
          "invalid_include", "include=job")
