"""/healthcheck, /schedules/preview, /openapi.json, /docs, /metrics."""

from __future__ import annotations

import re
from typing import Any

from scheduler0 import vocabulary
from scheduler0.api import create_app, openapi
from scheduler0.store import history, schema
from scheduler0.testing import local_node
from tests.api.helpers import Api, data, error

PREVIEW = "/api/v1/schedules/preview"


def test_healthcheck_needs_no_auth(api: Api, node: Any) -> None:
    health = data(api.client.get("/api/v1/healthcheck"))
    assert health["node_id"] == node.settings.node_id
    assert health["is_leader"] is True and health["leader_id"] == node.settings.node_id
    assert health["leader_address"] == node.settings.api_address
    assert health["healthy"] is True and health["memory_pressure"] is False
    assert health["raft"]["term"] >= 1
    assert "peers" not in health and set(health["raft"]) == {"term"}  # the detail needs auth
    detail = data(api.get("/api/v1/healthcheck"))
    assert detail["peers"] == [] and detail["memory_pressure"] is False
    assert detail["raft"]["last_applied"] >= 1 and detail["raft"]["commit_index"] >= 1
    assert data(api.client.get("/v1/healthcheck"))["node_id"] == node.settings.node_id


def test_a_stopped_coordinator_gives_503_with_retry_after(tmp_path: Any) -> None:
    with local_node(tmp_path) as services:
        app = create_app(services.settings, services, node_auth=("a", "b"))
        services.raft.stop()
        client = app.test_client()
        response = client.get("/api/v1/healthcheck")
        error(response, 503, "unavailable", "retry")
        assert response.headers["Retry-After"].isdigit()
        auth = {"Authorization": "Basic YTpi"}  # a:b
        write = client.post("/api/v1/projects", json={"name": "p"}, headers=auth)
        error(write, 503, "unavailable", "retry")
        assert write.headers["Retry-After"].isdigit()


def test_preview(api: Api) -> None:
    result = data(api.get(PREVIEW, query_string={
        "spec": "0 9 * * *", "timezone": "Europe/Berlin", "from": "2030-03-30T00:00:00Z",
        "count": 3}))
    assert result["spec"] == "0 9 * * *" and result["timezone"] == "Europe/Berlin"
    assert result["from"] == "2030-03-30T00:00:00Z" and result["count"] == 3
    # Berlin switches to summer time on 2030-03-31: 9:00 is 08:00Z, then 07:00Z.
    assert [t["utc"] for t in result["times"]] == [
        "2030-03-30T08:00:00Z", "2030-03-31T07:00:00Z", "2030-04-01T07:00:00Z"]
    assert result["times"][1]["local"] == "2030-03-31T09:00:00+02:00"
    assert isinstance(result["times"][0]["epoch"], int)


def test_preview_defaults_and_epoch_from(api: Api) -> None:
    result = data(api.get(PREVIEW, query_string={"spec": "@every 1h", "from": 1_900_000_000}))
    assert result["timezone"] == "UTC" and result["count"] == 10
    assert result["times"][0]["epoch"] == 1_900_003_600


def test_preview_errors(api: Api) -> None:
    error(api.get(PREVIEW), 400, "invalid_spec", "spec", "required")
    error(api.get(PREVIEW, query_string={"spec": "99 * * * *"}), 400, "invalid_spec",
          "spec: minute field")
    error(api.get(PREVIEW, query_string={"spec": "0 0 31 2 *"}), 400, "invalid_spec", "never")
    error(api.get(PREVIEW, query_string={"spec": "* * * * *", "timezone": "Moon/Base"}), 400,
          "invalid_timezone", "timezone")
    error(api.get(PREVIEW, query_string={"spec": "* * * * *", "count": 0}), 400,
          "invalid_count", "count")
    error(api.get(PREVIEW, query_string={"spec": "* * * * *", "count": 1001}), 400,
          "invalid_count", "1000")
    error(api.get(PREVIEW, query_string={"spec": "* * * * *", "from": "soon"}), 400,
          "invalid_from", "from")


def test_openapi_document_describes_every_route(api: Api) -> None:
    response = api.client.get("/api/v1/openapi.json")
    doc = response.get_json()
    assert response.status_code == 200 and doc["openapi"] == "3.1.0"
    assert "lag the leader" in doc["info"]["description"]
    documented = {(path, method.upper()) for path, item in doc["paths"].items()
                  for method in item if method != "parameters"}
    served = set()
    for rule in api.client.application.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(\w+)>", r"{\1}", rule.rule[len("/api/v1"):])
            served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == served
    assert data(api.client.get("/v1/healthcheck"))  # the second prefix answers too


def test_openapi_document_is_valid_openapi_3_1() -> None:
    from openapi_spec_validator import validate  # test extra: openapi-spec-validator

    validate(openapi.document())


def test_openapi_document_refs_resolve() -> None:
    doc = openapi.document()
    refs = re.findall(r'"\$ref": "#/components/(\w+)/(\w+)"', str(doc).replace("'", '"'))
    assert refs
    for section, name in refs:
        assert name in doc["components"][section], name


def test_the_store_schema_allows_exactly_the_vocabulary_states() -> None:
    # Version 1 kept every state by name; the history tables keep the final states by their
    # codes (history.STATE_CODES), and `scheduled` ticks live in pending batches instead.
    checks = re.findall(r"CHECK \(state IN \(([^)]*)\)\)", " ".join(map(str, schema.MIGRATIONS)))
    named = [tuple(re.findall(r"'(\w+)'", check)) for check in checks if "'" in check]
    coded = [tuple(int(code) for code in check.split(",")) for check in checks
             if "'" not in check]
    assert named == [vocabulary.EXECUTION_STATES]
    assert len(coded) == 3, "runs_ok, runs_bad or runs_manual has no CHECK on state"
    assert all(codes == tuple(sorted(history.STATE_CODES.values())) for codes in coded)
    assert tuple(history.STATE_CODES) == vocabulary.FINAL_STATES
    assert vocabulary.EXECUTION_STATES == (vocabulary.ExecutionState.SCHEDULED.value,
                                           *vocabulary.FINAL_STATES)


def test_docs_page_is_self_contained(api: Api) -> None:
    response = api.client.get("/api/v1/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for path in openapi.DOCUMENT["paths"]:
        assert path in page, path
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "lag the leader" in page


def test_metrics(api: Api, node: Any) -> None:
    api.get("/api/v1/projects")
    text = api.get("/api/v1/metrics").get_data(as_text=True)
    assert 'scheduler0_http_requests_total{route="/api/v1/projects",method="GET",status="200"}' in text
    assert "scheduler0_http_request_duration_seconds_bucket{" in text
    assert re.search(r"^scheduler0_jobs \d+$", text, re.M)
    assert re.search(r"^scheduler0_projects \d+$", text, re.M)
    assert 'scheduler0_executions{state="failed"}' in text
    assert re.search(r"^scheduler0_raft_term [1-9]\d*$", text, re.M)
    assert re.search(r"^scheduler0_raft_commit_index \d+$", text, re.M)
    assert re.search(r"^scheduler0_raft_last_applied \d+$", text, re.M)
    assert "scheduler0_is_leader 1" in text
    _assert_raft_view(text, str(node.settings.node_id))
    before = _count(text, "/api/v1/projects", "GET", 200)
    api.get("/api/v1/projects")
    after = _count(api.get("/api/v1/metrics").get_data(as_text=True), "/api/v1/projects", "GET", 200)
    assert after == before + 1
    assert api.client.get("/api/v1/metrics").status_code == 401


def _assert_raft_view(text: str, node_id: str) -> None:
    """The single node's own view, labelled by its id: it leads, so it knows a leader and a
    quorum, lags nothing, and became leader at least once (after one election at least)."""
    label = f'{{node="{node_id}"}}'
    assert f"scheduler0_raft_has_leader{label} 1" in text
    assert f"scheduler0_raft_has_quorum{label} 1" in text
    assert f"scheduler0_raft_replication_lag_entries{label} 0" in text
    changes = re.search(rf"^scheduler0_raft_leader_changes_total{re.escape(label)} (\d+)$",
                        text, re.M)
    elections = re.search(rf"^scheduler0_raft_elections_started_total{re.escape(label)} (\d+)$",
                          text, re.M)
    assert changes and int(changes.group(1)) >= 1, text
    assert elections and int(elections.group(1)) >= int(changes.group(1))
    assert "# TYPE scheduler0_raft_leader_changes_total counter" in text


def _count(text: str, route: str, method: str, status: int) -> int:
    line = f'scheduler0_http_requests_total{{route="{route}",method="{method}",status="{status}"}} '
    return int(next(row for row in text.splitlines() if row.startswith(line)).split()[-1])
