"""GET /jobs with the jobs screen's filters and sorts, and GET /executions with the executions
screen's filters and its CSV export: through the app, against a real node."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.api.helpers import Api, data, error, record

TICK = 1_900_000_000


@pytest.fixture(scope="module")
def seeded(api: Api, node: Any) -> dict[str, Any]:
    project = api.project()
    pid = project["id"]
    jobs = [
        api.job(pid, name="Billing-daily", callback_url="http://127.0.0.1:9/a",
                labels={"team": "billing"}),
        api.job(pid, name="billing-hourly", callback_url="http://LOCALHOST:9/b",
                labels={"team": "billing"}, paused=True),
        api.job(pid, name="reports", callback_url="http://127.0.0.1:9/c",
                labels={"team": "data"}),
        api.job(pid, callback_url="http://localhost:9/d"),
    ]
    record(node, jobs[:3], TICK, "succeeded", node_id=1)
    record(node, jobs[2:], TICK + 60, "failed", node_id=2,
            error_text='HTTP 500, "oops"\nline two')
    record(node, jobs[:1], TICK + 120, "failed", node_id=2, error_text="=cmd()")
    return {"project": project, "jobs": jobs}


def _ids(answer: dict[str, Any]) -> list[int]:
    return [job["id"] for job in answer["jobs"]]


def test_jobs_filter_and_sort_for_the_jobs_screen(api: Api, seeded: dict[str, Any]) -> None:
    pid = seeded["project"]["id"]
    a, b, c, d = (job["id"] for job in seeded["jobs"])

    def jobs(**query: Any) -> dict[str, Any]:
        return dict(data(api.get("/api/v1/jobs", query_string={"project_id": pid, **query})))

    assert _ids(jobs(contains="BILLING")) == [a, b]
    assert _ids(jobs(status="paused")) == [b]
    assert _ids(jobs(status="active")) == [a, c, d]
    assert _ids(jobs(last_state="failed")) == [a, c, d]
    assert _ids(jobs(last_state="succeeded")) == [b]
    assert _ids(jobs(host="localhost")) == [b, d]
    assert _ids(jobs(sort="-id")) == [d, c, b, a]
    assert _ids(jobs(sort="name")) == [a, b, c]  # "Billing-daily" < "billing-hourly"
    assert _ids(jobs(sort="-name", labels="team=billing")) == [b, a]
    listed = {job["id"]: job for job in jobs(sort="id")["jobs"]}
    assert listed[b]["status"] == "paused" and listed[a]["status"] == "active"
    assert listed[b]["callback_host"] == "localhost"
    assert (listed[a]["last_state"], listed[a]["last_late_ms"]) == ("failed", 25)
    assert listed[a]["next_execution_at"] is not None and listed[a]["labels"] == {
        "team": "billing"}


def test_every_sort_pages_with_its_own_cursor(api: Api, seeded: dict[str, Any]) -> None:
    pid = seeded["project"]["id"]
    for sort, expected in (("-id", sorted(_ids({"jobs": seeded["jobs"]}), reverse=True)),
                           ("name", [j["id"] for j in seeded["jobs"][:3]])):
        seen: list[int] = []
        after = None
        for _ in range(10):
            query = {"project_id": pid, "sort": sort, "limit": 1,
                     **({"after": after} if after else {})}
            answer = data(api.get("/api/v1/jobs", query_string=query))
            assert answer["scan_limited"] is False
            seen += _ids(answer)
            after = answer["next_after"]
            if after is None:
                break
        assert seen == expected


@pytest.mark.parametrize(("query", "code", "fragments"), [
    ({"status": "running"}, "invalid_status", ("status: ", "active, paused, completed")),
    ({"last_state": "ok"}, "invalid_last_state", ("last_state: ", "succeeded")),
    ({"sort": "age"}, "invalid_sort", ("sort: ", "-name")),
    ({"sort": "name", "after": "12"}, "invalid_after", ("after: ", "sort=name")),
    ({"sort": "-id", "after": "n.abc"}, "invalid_after", ("after: ", "job id")),
    ({"host": "http://x/y"}, "invalid_host", ("host: ", "host=api.example.com")),
    ({"contains": "x" * 500}, "invalid_contains", ("contains: ",)),
])
def test_bad_job_filters_name_the_field_and_the_fix(api: Api, query: dict[str, Any], code: str,
                                                    fragments: tuple[str, ...]) -> None:
    error(api.get("/api/v1/jobs", query_string=query), 400, code, *fragments)


def test_a_project_credential_browses_only_its_projects(api: Api, app: Any,
                                                        seeded: dict[str, Any]) -> None:
    other = api.project()
    api.job(other["id"], name="billing-elsewhere")
    made = data(api.post("/api/v1/credentials", json={"role": "read",
                                                      "projects": [other["id"]]}), 201)
    limited = Api(app.test_client(), {"x-api-key": made["api_key"],
                                      "x-secret-key": made["api_secret"]})
    answer = data(limited.get("/api/v1/jobs", query_string={"contains": "billing"}))
    assert {job["project_id"] for job in answer["jobs"]} == {other["id"]}
    found = data(limited.get("/api/v1/executions", query_string={"host": "localhost"}))
    assert found["executions"] == []


def test_executions_by_labels_host_and_node(api: Api, seeded: dict[str, Any]) -> None:
    pid = seeded["project"]["id"]
    a, b, c, d = (job["id"] for job in seeded["jobs"])

    def executions(**query: Any) -> list[tuple[int, int]]:
        answer = data(api.get("/api/v1/executions", query_string={"project_id": pid, **query}))
        assert answer["scan_limited"] is False
        return [(e["job_id"], int(e["execution_id"].split("-")[1]) - TICK)
                for e in answer["executions"]]

    assert executions(labels="team=billing") == [(a, 120), (b, 0), (a, 0)]
    assert executions(host="localhost") == [(d, 60), (b, 0)]
    assert executions(node=2) == [(a, 120), (d, 60), (c, 60)]
    assert executions(node=2, labels="team in (data)") == [(c, 60)]
    assert executions(node=1, host="127.0.0.1", state="succeeded") == [(c, 0), (a, 0)]
    paged = data(api.get("/api/v1/executions", query_string={
        "project_id": pid, "labels": "team=billing", "limit": 2}))
    rest = data(api.get("/api/v1/executions", query_string={
        "project_id": pid, "labels": "team=billing", "after": paged["next_after"]}))
    assert [e["job_id"] for e in paged["executions"] + rest["executions"]] == [a, b, a]
    error(api.get("/api/v1/executions", query_string={"node": "zero"}), 400, "invalid_node",
          "node: ")
    error(api.get("/api/v1/executions", query_string={"format": "xml"}), 400,
          "invalid_format", "format: ", "json, csv")


def _csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == "attachment; filename=executions.csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))


def test_executions_as_csv_quoted_and_linked(api: Api, seeded: dict[str, Any]) -> None:
    pid = seeded["project"]["id"]
    a, _, c, d = (job["id"] for job in seeded["jobs"])
    response = api.get("/api/v1/executions", query_string={
        "project_id": pid, "format": "csv", "state": "failed"})
    rows = _csv(response)
    assert rows[0][:5] == ["execution_id", "job_id", "project_id", "scheduled_at", "state"]
    assert [int(r[1]) for r in rows[1:]] == [a, d, c]
    error_column = rows[0].index("error")
    assert rows[1][error_column] == "'=cmd()"  # not run as a formula
    assert rows[2][error_column] == 'HTTP 500, "oops"\nline two'
    assert "Link" not in response.headers

    first = api.get("/api/v1/executions", query_string={
        "project_id": pid, "limit": 2}, headers={"Accept": "text/csv"})
    rows = _csv(first)
    assert len(rows) == 3
    link = first.headers["Link"]
    assert link.endswith('>; rel="next"') and f"after={rows[-1][0]}" in link
    follow = link[1:link.index(">")].split("/api/v1/executions?", 1)[1]
    second = _csv(api.get(f"/api/v1/executions?{follow}", headers={"Accept": "text/csv"}))
    everything = _csv(api.get("/api/v1/executions", query_string={
        "project_id": pid, "format": "csv"}))
    assert [r[0] for r in rows[1:] + second[1:]] == [r[0] for r in everything[1:]][:4]
    error(api.get("/api/v1/executions", query_string={"format": "csv", "limit": "100001"}),
          400, "invalid_limit", "limit: ", "1-100000")
