"""Schema-driven fuzz: every operation of our own OpenAPI document, fed generated garbage.

Asserts what must hold for any input: no 5xx, a valid envelope on every JSON reply (success
exactly when the status is 2xx), and a success reply whose `data` matches the documented
schema. Runs against a real node restricted to loopback callbacks. Examples per operation:
SCHEDULER0_FUZZ_EXAMPLES (default 30, about half a minute in all).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler0.api import openapi
from tests.api.helpers import Api, data
from tests.api.schema_strategies import request_for, resolve

DOC = openapi.document()
OPERATIONS = [(path, method) for path, item in DOC["paths"].items()
              for method in item if method != "parameters"]
EXAMPLES = int(os.environ.get("SCHEDULER0_FUZZ_EXAMPLES", "30"))
NON_ENVELOPED = {("/openapi.json", "get"), ("/metrics", "get"), ("/docs", "get")}


@pytest.fixture(scope="module")
def seeded(api: Api) -> None:
    """A few rows so that small generated ids hit existing projects and jobs."""
    for _ in range(3):
        project = api.project()
        data(api.post("/api/v1/jobs", json=[
            {"project_id": project["id"], "spec": "@every 1h",
             "callback_url": "http://127.0.0.1:9/x"}] * 2), 201)


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_no_input_gives_a_5xx_or_a_broken_envelope(api: Api, seeded: None, path: str,
                                                   method: str) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(request=request_for(DOC, path, method), prefix=st.sampled_from(["/api/v1", "/v1"]))
    def check(request: dict[str, Any], prefix: str) -> None:
        response = api.request(method.upper(), prefix + request["url"],
                               query_string=request["query"], data=request["body"],
                               headers={"Content-Type": "application/json",
                                        **request["headers"]})
        status = response.status_code
        assert status < 500, (status, response.get_data()[:400], request)
        if response.mimetype != "application/json":
            assert 200 <= status < 300 and (path, method) in NON_ENVELOPED, (status, request)
            return
        body = json.loads(response.get_data())
        if (path, method) == ("/openapi.json", "get") and status == 200:
            assert body["openapi"] == "3.1.0"
            return
        check_envelope(body, status)
        if body["success"]:
            schema = DOC["paths"][path][method]["responses"][str(status)]
            schema = resolve(DOC, schema["content"]["application/json"]["schema"])
            conforms(body["data"], schema["properties"]["data"], "data")

    check()


def check_envelope(body: Any, status: int) -> None:
    assert isinstance(body, dict) and isinstance(body.get("success"), bool), body
    if body["success"]:
        assert set(body) == {"success", "data"} and 200 <= status < 300, (status, body)
        return
    assert set(body) == {"success", "data", "error"} and status >= 400, (status, body)
    assert body["data"] is None
    error = body["error"]
    assert set(error) == {"code", "message"}, error
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"], str) and error["message"], error


TYPES = {"string": str, "integer": int, "boolean": bool, "object": dict, "array": list,
         "null": type(None), "number": (int, float)}


def conforms(value: Any, schema: dict[str, Any], where: str) -> None:
    """`value` matches `schema` (the subset of JSON Schema openapi.py uses)."""
    schema = resolve(DOC, schema)
    if "oneOf" in schema:
        assert any(_matches(value, option, where) for option in schema["oneOf"]), (where, value)
        return
    for part in schema.get("allOf", ()):
        conforms(value, part, where)
    if "const" in schema:
        assert value == schema["const"], where
    if "enum" in schema:
        assert value in schema["enum"], (where, value)
    kinds = schema.get("type")
    if kinds is None:
        return
    kinds = kinds if isinstance(kinds, list) else [kinds]
    ok = any(isinstance(value, TYPES[k]) and not (k == "integer" and isinstance(value, bool))
             for k in kinds)
    assert ok, (where, kinds, value)
    _children_conform(value, schema, where)


def _matches(value: Any, schema: dict[str, Any], where: str) -> bool:
    try:
        conforms(value, schema, where)
    except AssertionError:
        return False
    return True


def _children_conform(value: Any, schema: dict[str, Any], where: str) -> None:
    if isinstance(value, dict):
        for name in schema.get("required", ()):
            assert name in value, (where, name)
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                conforms(value[name], sub, f"{where}.{name}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            conforms(item, schema["items"], f"{where}[{i}]")
