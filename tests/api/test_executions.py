"""/executions and /jobs/{id}/executions: filters, newest first, pagination.

The history is seeded by writing rows straight into the node's SQLite file, in the schema the
store defines, so each test controls exact states and timings; tests/integration/test_pipeline.py
covers the real plan/result path.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from tests.api.helpers import Api, data, error

T0 = 1_900_000_000  # 2030-03-17T17:46:40Z


@pytest.fixture(scope="module")
def seeded(api: Api, node: Any) -> dict[str, Any]:
    project, other = api.project(), api.project()
    job, second = api.job(project["id"]), api.job(project["id"])
    third = api.job(other["id"])
    rows = []
    for i, state in enumerate(("succeeded", "failed", "succeeded", "missed", "scheduled")):
        rows.append((f"e-{job['id']}-{i}", job["id"], project["id"], T0 + 60 * i, state, 1,
                     200 if state == "succeeded" else None, 1, "b1", None,
                     (T0 + 60 * i) * 1000, None, None))
    rows.append((f"e-{second['id']}-0", second["id"], project["id"], T0 + 30, "succeeded", 2,
                 200, 1, "b2", None, None, (T0 + 30) * 1000, (T0 + 31) * 1000))
    rows.append((f"e-{third['id']}-0", third["id"], other["id"], T0, "failed", 4, 500, 1, "b3",
                 "HTTP 500", None, None, None))
    conn = sqlite3.connect(node.settings.db_path, timeout=10)
    with conn:
        conn.executemany(
            "INSERT INTO executions (execution_id, job_id, project_id, scheduled_at, state, "
            "attempts, http_status, node_id, batch_id, error, planned_at_ms, started_at_ms, "
            "finished_at_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.close()
    return {"project": project, "other": other, "job": job, "second": second, "third": third}


def test_job_history_newest_first(api: Api, seeded: dict[str, Any]) -> None:
    job = seeded["job"]
    page = data(api.get(f"/api/v1/jobs/{job['id']}/executions"))
    assert page["total"] == 5 and page["limit"] == 50 and page["offset"] == 0
    times = [e["scheduled_at"] for e in page["executions"]]
    assert times == sorted(times, reverse=True)
    newest = page["executions"][0]
    assert newest["execution_id"] == f"e-{job['id']}-4" and newest["state"] == "scheduled"
    assert set(newest) == {"execution_id", "job_id", "project_id", "scheduled_at", "state",
                           "attempts", "http_status", "node_id", "batch_id", "error",
                           "planned_at", "started_at", "finished_at"}
    oldest = page["executions"][-1]
    assert oldest["scheduled_at"] == "2030-03-17T17:46:40Z"
    assert oldest["planned_at"] == "2030-03-17T17:46:40.000Z" and oldest["http_status"] == 200


def test_filters(api: Api, seeded: dict[str, Any]) -> None:
    project, job = seeded["project"], seeded["job"]
    by_project = data(api.get("/api/v1/executions", query_string={"project_id": project["id"]}))
    assert by_project["total"] == 6
    by_job = data(api.get("/api/v1/executions", query_string={"jobId": job["id"]}))
    assert by_job["total"] == 5
    failed = data(api.get("/api/v1/executions", query_string={"project_id": project["id"],
                                                            "state": "failed"}))
    assert [e["execution_id"] for e in failed["executions"]] == [f"e-{job['id']}-1"]
    window = data(api.get(f"/api/v1/jobs/{job['id']}/executions",
                          query_string={"since": T0 + 60, "until": "2030-03-17T17:49:40Z"}))
    assert [e["execution_id"] for e in window["executions"]] == [
        f"e-{job['id']}-2", f"e-{job['id']}-1"]
    page = data(api.get("/api/v1/executions", query_string={"project_id": project["id"],
                                                          "limit": 2, "offset": 1}))
    assert page["total"] == 6 and len(page["executions"]) == 2
    assert page["executions"][0]["execution_id"] == f"e-{job['id']}-3"


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


def test_job_history_errors(api: Api, seeded: dict[str, Any]) -> None:
    error(api.get("/api/v1/jobs/777777/executions"), 404, "not_found", "job 777777")
    error(api.get("/api/v1/jobs/x/executions"), 400, "invalid_id")
    error(api.get(f"/api/v1/jobs/{seeded['job']['id']}/executions",
                  query_string={"state": "?"}), 400, "invalid_state")
