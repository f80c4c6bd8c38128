"""Errors the router and the request reader raise: 404, 405, 413, malformed input. All JSON."""

from __future__ import annotations

from tests.api.helpers import Api, data, error


def test_unknown_route_is_json_404(api: Api) -> None:
    error(api.get("/api/v1/nothing-here"), 404, "not_found", "/api/v1/nothing-here", "docs")
    error(api.client.get("/"), 404, "not_found")
    error(api.get("/api/v2/jobs"), 404, "not_found")
    error(api.get("/api//jobs"), 404, "not_found")
    error(api.get("/api/v1/jobs/"), 404, "not_found")


def test_wrong_method_is_json_405_with_allow(api: Api) -> None:
    response = api.request("PATCH", "/api/v1/jobs/1")
    error(response, 405, "method_not_allowed", "PATCH", "PUT")
    assert "DELETE" in response.headers["Allow"]
    error(api.client.delete("/api/v1/healthcheck"), 405, "method_not_allowed")


def test_huge_body_is_json_413(api: Api) -> None:
    body = b'{"name": "' + b"x" * (17 * 1024 * 1024) + b'"}'
    error(api.post("/api/v1/projects", data=body, content_type="application/json"), 413,
          "payload_too_large", "MiB")


def test_a_body_must_be_json_or_untyped(api: Api) -> None:
    error(api.post("/api/v1/projects", data=b'{"name": "typed-project"}',
                   content_type="text/plain"), 415, "unsupported_media_type", "application/json")
    created = data(api.post("/api/v1/projects", data=b'{"name": "typeless-project"}'), 201)
    assert created["name"] == "typeless-project"


def test_odd_json_values(api: Api) -> None:
    path = "/api/v1/projects"
    error(api.post(path, data=b'{"name": NaN}', content_type="application/json"), 400,
          "invalid_name", "name")
    error(api.post(path, data=b'{"name": "a"', content_type="application/json"), 400,
          "invalid_json", "malformed")
    error(api.post(path, data=b'{"name": "a\x00b", "x": 1}', content_type="application/json"),
          400, "invalid_json")
    error(api.post(path, data=b"\xff\xff\xff", content_type="application/json"), 400,
          "invalid_json")
