"""Auth on every route of the OpenAPI document, under both prefixes.

Missing, wrong and archived credentials all get the same 401 body; the health check, the
OpenAPI document and the docs page are open; the node's Basic auth is accepted.
"""

from __future__ import annotations

import re

import pytest

from scheduler0.api import openapi
from tests.api.helpers import NODE_AUTH, Api, basic_auth, data, error

OPERATIONS = [(path, method) for path, item in openapi.DOCUMENT["paths"].items()
              for method in item if method != "parameters"]
PUBLIC = {(path, method) for path, method in OPERATIONS
          if openapi.DOCUMENT["paths"][path][method].get("security") == []}
PROTECTED = [op for op in OPERATIONS if op not in PUBLIC]


def _url(prefix: str, path: str) -> str:
    return prefix + re.sub(r"\{\w+\}", "1", path)


@pytest.fixture(scope="module")
def archived(api: Api) -> dict[str, str]:
    created = data(api.post("/api/v1/credentials", json={"archived": True}), 201)
    return {"x-api-key": created["api_key"], "x-secret-key": created["api_secret"]}


def _refusals(api: Api, archived: dict[str, str]) -> dict[str, dict[str, str]]:
    key, secret = api.headers["x-api-key"], api.headers["x-secret-key"]
    return {
        "missing": {},
        "key only": {"x-api-key": key},
        "secret only": {"x-secret-key": secret},
        "unknown key": {"x-api-key": "f" * 32, "x-secret-key": secret},
        "wrong secret": {"x-api-key": key, "x-secret-key": secret + "x"},
        "empty values": {"x-api-key": "", "x-secret-key": ""},
        "huge values": {"x-api-key": "k" * 10_000, "x-secret-key": "s" * 10_000},
        "archived": archived,
        "wrong basic": basic_auth(NODE_AUTH[0], "nope"),
        "basic wrong user": basic_auth("root", NODE_AUTH[1]),
        "bearer": {"Authorization": "Bearer abc"},
    }


@pytest.mark.parametrize("prefix", ["/api/v1", "/v1"])
@pytest.mark.parametrize(("path", "method"), PROTECTED)
def test_every_protected_route_refuses_with_one_body(api: Api, archived: dict[str, str],
                                                     prefix: str, path: str, method: str) -> None:
    bodies = set()
    for name, headers in _refusals(api, archived).items():
        response = api.client.open(_url(prefix, path), method=method.upper(), headers=headers,
                                   json={"name": "x"} if method in ("post", "put") else None)
        error(response, 401, "unauthorized")
        bodies.add(response.get_data())
        assert response.status_code == 401, name
    assert len(bodies) == 1


@pytest.mark.parametrize("prefix", ["/api/v1", "/v1"])
@pytest.mark.parametrize(("path", "method"), sorted(PUBLIC))
def test_public_routes_need_no_auth(api: Api, prefix: str, path: str, method: str) -> None:
    response = api.client.open(_url(prefix, path), method=method.upper())
    assert response.status_code == 200


def test_node_basic_auth_is_accepted(api: Api) -> None:
    response = api.client.get("/api/v1/projects", headers=basic_auth(*NODE_AUTH))
    assert data(response)["limit"] == 50
    response = api.client.get("/api/v1/projects",
                              headers={**basic_auth(*NODE_AUTH), "x-peer": "cmd"})
    assert response.status_code == 200


def test_credentials_work_on_every_protected_get(api: Api) -> None:
    for path, method in PROTECTED:
        if method == "get" and "{" not in path and path != "/schedules/preview":
            assert api.get("/api/v1" + path).status_code == 200, path
