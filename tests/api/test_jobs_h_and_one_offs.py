"""/jobs with H, one-off jobs (run_at, @at) and ?dry_run=true, through the API on a real node."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler0 import clock, messages
from scheduler0.schedule import format_rfc3339_utc, parse_instant, resolve_job_spec
from tests.api.helpers import Api, commit, data, error, job_body

BASE = "/api/v1/jobs"
DRY = {"dry_run": "true"}


@pytest.fixture(scope="module")
def project(api: Api) -> dict[str, Any]:
    return api.project()


def _epoch(text: str) -> int:
    return parse_instant(text, "t")


def _total(api: Api, project_id: int) -> int:
    return int(data(api.get(BASE, query_string={"project_id": project_id}))["total"])


def test_a_spec_with_h_shows_as_written_and_resolved_for_the_job(api: Api,
                                                                 project: dict[str, Any]) -> None:
    jobs = data(api.post(BASE, json=[job_body(project["id"], spec="H H(9-17) * * 1-5")] * 20),
                201)
    for job in jobs:
        assert job["spec"] == "H H(9-17) * * 1-5"
        created = _epoch(job["created_at"][:19] + "Z")
        assert job["resolved_spec"] == resolve_job_spec(job["spec"], job["id"], created).spec
    assert len({job["resolved_spec"] for job in jobs}) > 10
    assert data(api.get(f"{BASE}/{jobs[0]['id']}")) == jobs[0]


def test_a_put_that_changes_the_spec_resolves_it_again(api: Api, project: dict[str, Any]) -> None:
    job = api.job(project["id"], spec="H * * * *")
    changed = data(api.put(f"{BASE}/{job['id']}", json={"spec": "H/20 * * * *"}))
    assert changed["resolved_spec"] == resolve_job_spec("H/20 * * * *", job["id"], 0).spec
    sent_back = data(api.put(f"{BASE}/{job['id']}", json={**changed, "data": "x"}))
    assert {**sent_back, "updated_at": None, "data": None} == {
        **changed, "updated_at": None, "data": None}


def test_run_at_is_a_one_off_that_shows_its_instant_as_an_at_spec(api: Api,
                                                                  project: dict[str, Any]) -> None:
    at = data(api.post(BASE, json=job_body(project["id"], spec=None,
                                           run_at="2030-01-02T16:04:05+01:00")), 201)
    assert at["spec"] == at["resolved_spec"] == "@at 2030-01-02T15:04:05Z"
    written = data(api.post(BASE, json=job_body(project["id"],
                                                spec="@at 2030-01-02T16:04:05+01:00")), 201)
    assert written["spec"] == "@at 2030-01-02T16:04:05+01:00"  # a spec shows as written
    assert written["resolved_spec"] == "@at 2030-01-02T15:04:05Z"
    assert (at["next_execution_at"], at["completed"]) == ("2030-01-02T15:04:05Z", False)
    assert "run_at" not in at  # an input only
    now = data(api.post(BASE, json=job_body(project["id"], spec=None, run_at="now")), 201)
    created = _epoch(now["created_at"][:19] + "Z")
    assert now["spec"] == f"@at {format_rfc3339_utc(created + 1)}"
    assert now["next_execution_at"] == format_rfc3339_utc(created + 1)
    epoch = data(api.post(BASE, json=[job_body(project["id"], spec=None, run_at=1_900_000_000)]),
                 201)
    assert epoch[0]["spec"] == f"@at {format_rfc3339_utc(1_900_000_000)}"


@pytest.mark.parametrize(("fields", "code", "fragment"), [
    ({"run_at": "2001-01-01T00:00:00Z"}, "invalid_run_at",
     'run_at: the instant 2001-01-01T00:00:00Z is in the past'),
    ({"spec": "@at 2001-01-01T00:00:00Z"}, "invalid_spec", '"run_at": "now"'),
    ({"run_at": "now", "spec": "* * * * *"}, "invalid_spec",
     "spec: send either spec or run_at, not both"),
    ({"spec": None}, "invalid_spec", 'or "run_at"'),
    ({"run_at": None}, "invalid_run_at", "run_at: must not be null"),
    ({"run_at": "soon"}, "invalid_run_at", "run_at: "),
    ({"run_at": "0001-01-01T00:00:00Z"}, "invalid_run_at", "means no time"),
    ({"spec": "@at 2030-01-02T15:04:05"}, "invalid_spec", "with a UTC offset"),
    ({"run_at": "2030-01-01T00:00:00Z", "start_date": "2031-01-01T00:00:00Z"},
     "invalid_run_at", "is before start_date"),
    ({"spec": "0 0 H(28-31) 2 *"}, "invalid_spec", "at their highest"),
    ({"spec": "H(7) * * * *"}, "invalid_spec", 'minute field: "H(7)" is not H, H(a-b)'),
])
def test_bad_one_offs_and_h_are_refused_alike_by_create_and_dry_run(
        api: Api, project: dict[str, Any], fields: dict[str, Any], code: str,
        fragment: str) -> None:
    body = {**job_body(project["id"]), **fields}
    if "run_at" in fields and "spec" not in fields:
        body.pop("spec")  # run_at alone, as a one-off is sent
    before = _total(api, project["id"])
    for many in (False, True):
        sent = [body, job_body(project["id"])] if many else body
        created = error(api.post(BASE, json=sent), 400, code, fragment)
        checked = error(api.post(BASE, json=sent, query_string=DRY), 400, code, fragment)
        assert checked == created
        assert created.startswith("jobs[0]." if many else code.removeprefix("invalid_") + ": ")
    assert _total(api, project["id"]) == before


def test_a_dry_run_answers_the_job_it_would_create_and_creates_nothing(
        api: Api, project: dict[str, Any]) -> None:
    before = _total(api, project["id"])
    body = job_body(project["id"], spec="H/15 * * * *")
    preview = data(api.post(BASE, json=body, query_string=DRY), 200)
    times = [_epoch(t) for t in preview["next_fire_times"]]
    assert len(times) == 5 and [b - a for a, b in zip(times, times[1:], strict=False)] == [900] * 4
    assert preview["next_execution_at"] == preview["next_fire_times"][0]
    assert _total(api, project["id"]) == before
    created = data(api.post(BASE, json=body), 201)
    # Nothing was created in between: the job got the id, and so the H values, shown.
    same = ("id", "spec", "resolved_spec", "next_execution_at", "completed")
    assert {k: created[k] for k in same} == {k: preview[k] for k in same}


def test_a_dry_run_of_an_array_answers_an_array(api: Api, project: dict[str, Any]) -> None:
    jobs = [job_body(project["id"], spec="@every 1m H"), job_body(project["id"], paused=True),
            job_body(project["id"], spec=None, run_at="2030-01-02T15:04:05Z")]
    previews = data(api.post(BASE, json=jobs, query_string=DRY), 200)
    assert [p["id"] for p in previews] == [previews[0]["id"] + i for i in range(3)]
    assert previews[0]["resolved_spec"] == "@every 1m" and len(previews[0]["next_fire_times"]) == 5
    assert previews[1]["next_fire_times"] == [] and previews[1]["next_execution_at"] is None
    assert previews[2]["next_fire_times"] == ["2030-01-02T15:04:05Z"]
    error(api.post(BASE, json=jobs, query_string={"dry_run": "maybe"}), 400, "invalid_dry_run",
          "dry_run: 'maybe' is not accepted")


def test_a_completed_one_off_can_be_read_sent_back_and_armed_again(
        api: Api, project: dict[str, Any], node: Any) -> None:
    soon = int(clock.now()) + 3600
    job = data(api.post(BASE, json=job_body(project["id"], spec=None, run_at=soon)), 201)
    commit(node, messages.Plan(
        batches=[messages.PlanBatch(batch_id=f"once-{job['id']}", node_id=1, scheduled_at=soon,
                                    rows=[messages.PlanRow(job["id"], project["id"])])],
        advances=[messages.Advance(_schedule_id(node, job["id"]), None, soon)]))
    done = data(api.get(f"{BASE}/{job['id']}"))
    assert (done["completed"], done["next_execution_at"]) == (True, None)
    assert data(api.put(f"{BASE}/{job['id']}", json={**done, "data": "kept"}))["completed"]
    again = data(api.put(f"{BASE}/{job['id']}", json={"run_at": soon + 60}))
    assert (again["completed"], again["next_execution_at"]) == (
        False, format_rfc3339_utc(soon + 60))
    error(api.put(f"{BASE}/{job['id']}", json={"run_at": "2001-01-01T00:00:00Z"}), 400,
          "invalid_run_at", "is in the past")


def _schedule_id(node: Any, job_id: int) -> int:
    import sqlite3

    conn = sqlite3.connect(f"file:{node.settings.db_path}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT schedule_id FROM jobs WHERE id = ?",
                                (job_id,)).fetchone()[0])
    finally:
        conn.close()


def test_a_preview_of_h_points_to_the_dry_run(api: Api) -> None:
    error(api.get("/api/v1/schedules/preview", query_string={"spec": "H * * * *"}), 400,
          "invalid_job_id", "job_id: required", "?job_id=", "POST /jobs?dry_run=true")
