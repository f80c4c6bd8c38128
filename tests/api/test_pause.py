"""POST /pause and POST /resume: the answer, who and when, the health check and /metrics, and
bad bodies; against a real single node."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from scheduler0.schedule import parse_instant
from scheduler0.vocabulary import MAX_PAUSE_REASON
from tests.api.helpers import NODE_AUTH, Api, basic_auth, data, error

PAUSE_FIELDS = {"paused", "paused_at", "paused_by", "reason", "resumed_at", "resumed_by"}


@pytest.fixture
def node_api(app: Any) -> Iterator[Api]:
    """The node's Basic auth; the cluster is resumed after each test."""
    client = Api(app.test_client(), basic_auth(*NODE_AUTH))
    yield client
    data(client.post("/api/v1/resume"))


def metric(api: Api, name: str) -> float | None:
    text = api.get("/api/v1/metrics").get_data(as_text=True)
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return None if found is None else float(found.group(1))


def test_pause_records_who_when_and_why_and_shows_in_health_and_metrics(
        api: Api, node_api: Api, credential: dict[str, Any]) -> None:
    paused = data(api.post("/api/v1/pause", json={"reason": "  database upgrade "}))
    assert set(paused) == PAUSE_FIELDS
    assert (paused["paused"], paused["paused_by"], paused["reason"]) == (
        True, f"credential:{credential['id']}", "database upgrade")
    detail = data(api.get("/api/v1/healthcheck"))
    assert detail["planning_paused"] is True and detail["pause"] == paused
    assert detail["healthy"] is True  # asked for: not a fault
    public = data(api.client.get("/api/v1/healthcheck"))
    assert public["planning_paused"] is True and "pause" not in public
    assert metric(api, "scheduler0_planning_paused") == 1
    since = metric(api, "scheduler0_planning_paused_since_seconds")
    assert since == parse_instant(paused["paused_at"][:19] + "Z", "t") + int(
        paused["paused_at"][20:23]) / 1000

    again = data(node_api.post("/api/v1/pause"))  # already paused: nothing changes
    assert again == paused
    resumed = data(node_api.post("/api/v1/resume"))
    assert (resumed["paused"], resumed["resumed_by"], resumed["paused_at"]) == (
        False, "node", paused["paused_at"])
    assert resumed["resumed_at"] >= paused["paused_at"]
    assert data(api.get("/api/v1/healthcheck"))["planning_paused"] is False
    assert metric(api, "scheduler0_planning_paused") == 0
    assert metric(api, "scheduler0_planning_paused_since_seconds") is None


def test_pause_and_resume_take_no_body_or_an_empty_object(node_api: Api) -> None:
    assert data(node_api.post("/api/v1/pause"))["reason"] is None
    assert data(node_api.post("/api/v1/resume", json={}))["paused"] is False
    assert data(node_api.post("/api/v1/pause", json={"reason": None}))["paused"] is True


@pytest.mark.parametrize(("path", "body", "code", "fragment"), [
    ("/api/v1/pause", {"reason": 7}, "invalid_reason", "reason: expected a string"),
    ("/api/v1/pause", {"reason": "x" * (MAX_PAUSE_REASON + 1)}, "invalid_reason",
     f"{MAX_PAUSE_REASON + 1} characters is too long; at most {MAX_PAUSE_REASON}"),
    ("/api/v1/pause", {"reason": "a\nb"}, "invalid_reason", "a control character"),
    ("/api/v1/pause", {"why": "x"}, "unknown_field", "accepted fields: reason"),
    ("/api/v1/pause", [], "invalid_body", "expected a JSON object"),
    ("/api/v1/resume", {"reason": "x"}, "unknown_field", "'reason': unknown field"),
])
def test_bad_bodies_are_refused_and_change_nothing(node_api: Api, path: str, body: Any,
                                                   code: str, fragment: str) -> None:
    error(node_api.post(path, json=body), 400, code, fragment)
    assert data(node_api.get("/api/v1/healthcheck"))["planning_paused"] is False


def test_the_pause_needs_an_admin_for_every_project(api: Api, node_api: Api) -> None:
    project = api.project()
    for body, words in (({"role": "write"}, "role write; POST /pause needs role admin"),
                        ({"role": "admin", "projects": [project["id"]]},
                         "POST /pause needs a credential for every project")):
        created = data(api.post("/api/v1/credentials", json=body), 201)
        caller = Api(api.client, {"x-api-key": created["api_key"],
                                  "x-secret-key": created["api_secret"]})
        error(caller.post("/api/v1/pause"), 403, "forbidden", words)
    assert data(node_api.get("/api/v1/healthcheck"))["planning_paused"] is False


def test_bulk_operations_are_counted_in_metrics(api: Api) -> None:
    project = api.project()
    [job] = data(api.post("/api/v1/jobs", json=[{"project_id": project["id"],
                                                 "spec": "@hourly",
                                                 "callback_url": "http://127.0.0.1:9/x"}]), 201)
    before = metric(api, 'scheduler0_bulk_operations{state="succeeded"}') or 0
    data(api.post("/api/v1/jobs/bulk", json={"action": "pause", "filter": {
        "project_id": project["id"], "paused": True}}), 202)  # selects none: done at once
    assert metric(api, 'scheduler0_bulk_operations{state="succeeded"}') == before + 1
    assert job["paused"] is False
