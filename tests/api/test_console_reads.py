"""GET /summary, GET /load, the projects' job counts and the preview's offsets and H: through
the app, against a real node."""

from __future__ import annotations

from typing import Any

from scheduler0 import messages
from tests.api.helpers import Api, commit, data, error

PREVIEW = "/api/v1/schedules/preview"


def _limited(api: Api, app: Any, project_id: int) -> Api:
    made = data(api.post("/api/v1/credentials", json={"role": "read",
                                                      "projects": [project_id]}), 201)
    return Api(app.test_client(), {"x-api-key": made["api_key"],
                                   "x-secret-key": made["api_secret"]})


def test_projects_answer_their_job_count(api: Api) -> None:
    project = api.project()
    for _ in range(3):
        api.job(project["id"])
    assert data(api.get(f"/api/v1/projects/{project['id']}"))["job_count"] == 3
    listed = data(api.get("/api/v1/projects", query_string={"limit": 1000}))["projects"]
    assert {p["id"]: p["job_count"] for p in listed}[project["id"]] == 3
    named = data(api.get("/api/v1/projects", query_string={"limit": 1000,
                                                           "job_count": "false"}))["projects"]
    assert {p["id"] for p in named} == {p["id"] for p in listed}
    assert all("job_count" not in p for p in named)
    error(api.get("/api/v1/projects", query_string={"job_count": "some"}), 400,
          "invalid_job_count")


def test_summary_counts_what_the_caller_sees(api: Api, app: Any, node: Any) -> None:
    project = api.project()
    first = api.job(project["id"])
    api.job(project["id"], paused=True)
    commit(node, messages.Plan(missed=[messages.PlanMissed(
        scheduled_at=1_900_000_000, rows=[messages.PlanRow(first["id"], project["id"])])]))
    mine = data(_limited(api, app, project["id"]).get("/api/v1/summary"))
    assert mine["jobs"] == {"total": 2, "paused": 1, "failing": 1, "completed": 0,
                            "exact": {"total": True, "paused": True, "failing": True,
                                      "completed": True}}
    assert set(mine["last_day"]) == {"since", "until", "succeeded", "failed", "missed"}
    everything = data(api.get("/api/v1/summary"))
    assert everything["jobs"]["total"] >= 2


def test_load_from_the_schedules(api: Api, app: Any) -> None:
    project = api.project()
    for _ in range(4):
        api.job(project["id"], spec="* * * * *")
    found = data(api.get("/api/v1/load", query_string={"minutes": 5}))
    assert (found["minutes"], found["seconds"], found["bucket_seconds"]) == (5, 300, 1)
    assert len(found["buckets"]) == 300 and found["total"] >= 4 * 4
    assert found["bursts"] and all(b["executions"] > found["threshold"] for b in found["bursts"])
    causes = {c["spec"]: c for b in found["bursts"] for c in b["causes"]}
    assert causes["* * * * *"]["jobs"] >= 4
    assert causes["* * * * *"]["suggestion"] == "H * * * * *"  # a second of its own
    error(api.get("/api/v1/load", query_string={"minutes": 1441}), 400, "invalid_minutes",
          "minutes: ", "1-1440")
    error(api.get("/api/v1/load", query_string={"threshold": "many"}), 400,
          "invalid_threshold", "threshold: ")
    error(_limited(api, app, project["id"]).get("/api/v1/load"), 403, "forbidden",
          "needs a credential for every project")


def test_preview_marks_daylight_saving_jumps(api: Api) -> None:
    result = data(api.get(PREVIEW, query_string={
        "spec": "0 9 * * *", "timezone": "Europe/Berlin", "from": "2030-03-30T00:00:00Z",
        "count": 3}))
    offsets = [(t["utc_offset"], t["utc_offset_seconds"], t["dst_change"])
               for t in result["times"]]
    assert offsets == [("+01:00", 3600, False), ("+02:00", 7200, True),
                       ("+02:00", 7200, False)]
    assert (result["resolved_spec"], result["job_id"]) == ("0 9 * * *", None)


def test_preview_resolves_h_for_a_job(api: Api) -> None:
    query = {"spec": "H * * * *", "from": "2030-01-01T00:00:00Z", "count": 2}
    result = data(api.get(PREVIEW, query_string={**query, "job_id": 42}))
    minute = int(result["resolved_spec"].split()[0])
    assert result["job_id"] == 42 and 0 <= minute <= 59
    assert [t["epoch"] % 3600 for t in result["times"]] == [minute * 60] * 2
    # A job of that spec fires when the preview for its id says.
    job = api.job(api.project()["id"], spec="H * * * *")
    mine = data(api.get(PREVIEW, query_string={"spec": "H * * * *", "job_id": job["id"]}))
    assert mine["times"][0]["utc"] == job["next_execution_at"]
    assert mine["resolved_spec"] == job["resolved_spec"]
    error(api.get(PREVIEW, query_string=query), 400, "invalid_job_id", "job_id: required")
    error(api.get(PREVIEW, query_string={**query, "job_id": "x"}), 400, "invalid_job_id",
          "job_id: ")
