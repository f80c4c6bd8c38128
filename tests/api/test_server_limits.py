"""The edges of the API: Content-Type on bodies, the body limit from settings, the
minimal public health check and its authenticated detail, no /static route, and the pure parts
of the waitress set-up (limits, open-file budget, the JSON envelope for waitress's own errors).
The same behaviour through a real `scheduler0 start` is in tests/integration/test_api_hostile.py.
"""

from __future__ import annotations

import configparser
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from scheduler0.api import create_app, openapi
from scheduler0.api import process as api_role
from tests.api.helpers import NODE_AUTH, Api, basic_auth, data, error, unique

ROOT = Path(__file__).resolve().parents[2]
INFINITY = -1


# -- Content-Type -----------------------------------------------------------------------------


def test_json_bodies_with_or_without_charset_or_without_content_type_are_read(api: Api) -> None:
    for content_type in ("application/json", "application/json; charset=utf-8",
                         "Application/JSON;charset=UTF-8", None):
        name = unique("typed")
        response = api.post("/api/v1/projects", data=json.dumps({"name": name}).encode(),
                            content_type=content_type)
        assert data(response, 201)["name"] == name, content_type


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x",
                                          "application/jsonx", "application/xml"])
def test_a_body_of_another_content_type_is_415(api: Api, content_type: str) -> None:
    body = json.dumps({"name": unique("untyped")}).encode()
    error(api.post("/api/v1/projects", data=body, content_type=content_type), 415,
          "unsupported_media_type", "application/json", content_type.split(";")[0])
    project = api.project()
    error(api.put(f"/api/v1/projects/{project['id']}", data=body, content_type=content_type),
          415, "unsupported_media_type", "application/json")


def test_content_type_without_a_body_is_not_refused(api: Api) -> None:
    # POST /credentials takes an optional body; an empty one says nothing about its type.
    created = data(api.post("/api/v1/credentials", content_type="text/plain"), 201)
    assert created["api_key"]


def test_a_refused_content_type_still_asks_for_auth_first(app: Any) -> None:
    response = app.test_client().post("/api/v1/projects", data=b'{"name": "x"}',
                                      content_type="text/plain")
    error(response, 401, "unauthorized")


# -- body limit -------------------------------------------------------------------------------


def test_the_body_limit_is_the_setting_and_the_message_names_it(node: Any) -> None:
    settings = dataclasses.replace(node.settings, api_max_body_mb=0.01)  # 10,485 bytes
    client = create_app(settings, node, node_auth=NODE_AUTH).test_client()
    body = json.dumps({"name": "x" * 11_000}).encode()
    error(client.post("/api/v1/projects", data=body, content_type="application/json",
                      headers=basic_auth(*NODE_AUTH)),
          413, "payload_too_large", "0.01 MiB", "ApiMaxBodyMb", "10000 jobs")
    small = json.dumps({"name": unique("fits")}).encode()
    data(client.post("/api/v1/projects", data=small, content_type="application/json",
                     headers=basic_auth(*NODE_AUTH)), 201)


# -- no static route, no package data for a folder that does not exist --------------------------


def test_there_is_no_static_route(app: Any, api: Api) -> None:
    assert "static" not in {rule.endpoint for rule in app.url_map.iter_rules()}
    # The web console's files are its own, under /ui only.
    assert [rule.rule for rule in app.url_map.iter_rules() if "static" in rule.rule] == [
        "/ui/static/<path:filename>"]
    error(api.client.get("/static/app.js"), 404, "not_found")
    error(api.client.get("/api/v1/static/console.js"), 404, "not_found")


def test_every_package_data_pattern_names_existing_files() -> None:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    section = parser["options.package_data"] if parser.has_section("options.package_data") else {}
    for package, patterns in section.items():
        folder = ROOT / package.replace(".", "/")
        for pattern in patterns.split():
            assert list(folder.glob(pattern)), f"package_data {package} = {pattern} matches nothing"


# -- health check -----------------------------------------------------------------------------

DETAIL_ONLY = {"peers", "has_quorum", "planner", "executors", "nodes", "intake",
               "results_committed"}


def test_public_health_is_the_documented_minimum(api: Api, node: Any) -> None:
    health = data(api.client.get("/api/v1/healthcheck"))
    schema = openapi.DOCUMENT["components"]["schemas"]["Health"]
    assert set(health) == set(schema["properties"]) == set(schema["required"])
    assert set(health["raft"]) == {"term"} and health["raft"]["term"] >= 1
    assert not DETAIL_ONLY & set(health)
    assert health["node_id"] == node.settings.node_id and health["state"] == "leader"
    assert health["is_leader"] is True and health["healthy"] is True
    assert health["leader_address"] == node.settings.api_address


def test_health_detail_needs_credentials_and_matches_its_schema(api: Api, node: Any) -> None:
    schema = openapi.DOCUMENT["components"]["schemas"]["HealthDetail"]
    for headers in (api.headers, basic_auth(*NODE_AUTH)):
        health = data(api.client.get("/api/v1/healthcheck", headers=headers))
        assert set(schema["required"]) <= set(health) <= set(schema["properties"])
        assert health["peers"] == [] and health["has_quorum"] is True
        assert health["raft"]["last_applied"] >= 1 and health["raft"]["commit_index"] >= 1
    for wrong in ({"x-api-key": api.headers["x-api-key"], "x-secret-key": "nope"},
                  basic_auth(NODE_AUTH[0], "nope"), {"Authorization": "Bearer abc"}):
        error(api.client.get("/api/v1/healthcheck", headers=wrong), 401, "unauthorized")


# -- the waitress set-up (pure parts) -------------------------------------------------------------


def test_waitress_limits_come_from_the_settings(node: Any) -> None:
    settings = dataclasses.replace(node.settings, api_channel_timeout=30.0, api_use_poll=True,
                                   api_max_body_mb=16.0)
    adjustments = api_role.server_adjustments(settings, 1000)
    assert adjustments["connection_limit"] == 1000 and adjustments["backlog"] >= 1000
    assert adjustments["channel_timeout"] == 30
    assert 1 <= adjustments["cleanup_interval"] < adjustments["channel_timeout"]
    assert adjustments["asyncore_use_poll"] is True
    # waitress refuses Content-Length >= its limit, Flask > its own: the same figure.
    assert adjustments["max_request_body_size"] == 16 * 1024 * 1024 + 1
    assert adjustments["max_request_header_size"] < 262144  # below waitress's 256 KiB default
    short = api_role.server_adjustments(dataclasses.replace(settings, api_channel_timeout=1.0), 10)
    assert short["cleanup_interval"] == 1 and short["channel_timeout"] == 1


def test_fd_budget_raises_the_soft_limit_to_the_hard_one() -> None:
    budget = api_role.fd_budget(1000, soft=1024, hard=65536, use_poll=True, infinity=INFINITY)
    assert budget == api_role.FdBudget(65536, 1000, None)
    assert api_role.fd_budget(1000, 65536, 65536, True, INFINITY).soft_limit is None
    unlimited = api_role.fd_budget(1000, 1024, INFINITY, True, INFINITY)
    assert unlimited.soft_limit == 1000 + api_role.FD_HEADROOM
    assert unlimited.connection_limit == 1000


def test_fd_budget_lowers_the_limit_when_the_hard_limit_is_too_low() -> None:
    budget = api_role.fd_budget(1000, soft=256, hard=600, use_poll=True, infinity=INFINITY)
    assert budget.soft_limit == 600
    assert budget.connection_limit == 600 - api_role.FD_HEADROOM
    assert budget.warning and "ApiConnectionLimit 1000" in budget.warning
    assert "ulimit -Hn" in budget.warning and str(budget.connection_limit) in budget.warning
    tiny = api_role.fd_budget(1000, 64, 64, True, INFINITY)
    assert tiny.connection_limit == api_role.MIN_CONNECTIONS


def test_fd_budget_without_poll_stays_under_select_s_ceiling() -> None:
    budget = api_role.fd_budget(1000, 1024, 65536, use_poll=False, infinity=INFINITY)
    assert budget.connection_limit + api_role.FD_HEADROOM <= api_role.SELECT_FD_LIMIT
    assert budget.warning and "ApiUsePoll" in budget.warning


@pytest.mark.parametrize(("status", "detail", "code", "fragments"), [
    (413, "exceeds max_body of 16777217", "payload_too_large", ("16 MiB", "ApiMaxBodyMb")),
    (431, "exceeds max_header of 32768", "headers_too_large", ("32 KiB", "headers")),
    (400, "Invalid header", "bad_request", ("Invalid header",)),
    (501, "Transfer-Encoding requested is not supported.", "not_implemented",
     ("Transfer-Encoding", "chunked")),
    (500, "Traceback ...", "internal_error", ("logged",)),
])
def test_waitress_errors_are_the_api_envelope(status: int, detail: str, code: str,
                                              fragments: tuple[str, ...]) -> None:
    body = json.loads(api_role.error_body(status, detail, 16 * 1024 * 1024, 32 * 1024))
    assert set(body) == {"success", "data", "error"}
    assert body["success"] is False and body["data"] is None
    assert body["error"]["code"] == code
    for fragment in fragments:
        assert fragment in body["error"]["message"], (fragment, body)
    assert "Traceback" not in body["error"]["message"]
