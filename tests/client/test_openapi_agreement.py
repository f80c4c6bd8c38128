"""The client agrees with the OpenAPI document the node serves: every operation has a method,
every method builds a request the document describes (its route, query parameters and body
fields), and the TypedDicts have the fields of the schemas they stand for."""

from __future__ import annotations

import re
from typing import Any, get_type_hints

import pytest
from scheduler0_client import Client, types
from scheduler0_client._api import Api
from scheduler0_client._methods import Endpoint, Pages, Procedure
from scheduler0_client._request import Call

# Each operation of the document, and the client methods that send it.
METHODS_OF = {
    "POST /credentials": ["create_credential"],
    "GET /credentials": ["list_credentials", "iter_credentials"],
    "GET /credentials/{credential_id}": ["get_credential"],
    "PUT /credentials/{credential_id}": ["archive_credential"],
    "DELETE /credentials/{credential_id}": ["delete_credential"],
    "POST /projects": ["create_project"],
    "GET /projects": ["list_projects", "iter_projects"],
    "GET /projects/{project_id}": ["get_project"],
    "PATCH /projects/{project_id}": ["update_project", "rotate_signing_secret"],
    "PUT /projects/{project_id}": [],  # the same handler as PATCH, which the client sends
    "DELETE /projects/{project_id}": ["delete_project"],
    "GET /projects/{project_id}/notifications": ["list_notifications", "iter_notifications"],
    "POST /jobs": ["create_job", "create_jobs", "dry_run_job", "dry_run_jobs", "bulk_create"],
    "GET /jobs": ["list_jobs", "iter_jobs"],
    "GET /jobs/{job_id}": ["get_job"],
    "PUT /jobs/{job_id}": ["update_job", "pause_job", "resume_job"],
    "DELETE /jobs/{job_id}": ["delete_job"],
    "GET /jobs/{job_id}/executions": ["list_job_executions", "iter_job_executions"],
    "POST /jobs/{job_id}/run": ["run_job"],
    "POST /jobs/{job_id}/backfill": ["backfill_job"],
    "GET /executions": ["list_executions", "iter_executions", "export_executions_csv"],
    "GET /executions/{execution_id}": ["get_execution"],
    "POST /executions/{execution_id}/redeliver": ["redeliver_execution"],
    "GET /rollups": ["rollups"],
    "POST /jobs/bulk": ["start_bulk"],
    "GET /operations": ["list_operations", "iter_operations"],
    "GET /operations/{operation_id}": ["get_operation", "wait_operation"],
    "GET /operations/{operation_id}/executions": ["list_operation_executions",
                                                  "iter_operation_executions"],
    "GET /healthcheck": ["health"],
    "GET /schedules/preview": ["preview_schedule"],
    "GET /cluster": ["cluster"],
    "POST /cluster/members": ["add_member"],
    "DELETE /cluster/members/{raft_address}": ["remove_member"],
    "POST /pause": ["pause_cluster"],
    "POST /resume": ["resume_cluster"],
    "GET /summary": ["summary"],
    "GET /load": ["load"],
    "GET /metrics": ["metrics"],
    "GET /openapi.json": ["openapi"],
    "GET /docs": [],  # an HTML page for people
}

A_JOB: dict[str, Any] = {
    "project_id": 1, "spec": "@every 1m", "timezone": "UTC", "callback_url": "http://127.0.0.1:9/x",
    "data": "d", "start_date": 1, "end_date": 2, "paused": False, "misfire_policy": "skip",
    "name": "n", "description": "d", "labels": {"a": "b"}, "method": "PUT",
    "headers": {"X-A": "b"}, "timeout": 1.0, "retries": 1, "retry_delay": 1.0,
    "success_codes": [200], "execution_type": "http"}
EVERY_JOB_FILTER = {"project_id": 1, "paused": True, "failing": True, "labels": "a=b",
                    "name": "n", "contains": "c", "status": "active", "last_state": "failed",
                    "host": "h", "sort": "-id"}
EVERY_EXECUTION_FILTER = {"project_id": 1, "job_id": 2, "state": "failed", "since": 1,
                          "until": 2, "labels": "a=b", "host": "h", "node": 1}
PAGING = {"limit": 5, "offset": 0, "after": "7"}
# Each builder called with every argument it takes, so that each name it sends is checked.
SAMPLES: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "create_credential": ((), {"role": "read", "projects": [1], "archived": False}),
    "list_credentials": ((), PAGING),
    "get_credential": ((3,), {}),
    "archive_credential": ((3,), {}),
    "delete_credential": ((3,), {}),
    "create_project": (("p",), {"description": "d", "notification_url": "http://127.0.0.1/n",
                                "notification_format": "slack",
                                "rate_limit": {"concurrency": 1, "per_second": 2.0}}),
    "list_projects": ((), {"job_count": False, **PAGING}),
    "get_project": ((1,), {}),
    "update_project": ((1, {"name": "n", "description": "d", "notification_url": None,
                            "notification_format": "json", "rate_limit": None}), {}),
    "rotate_signing_secret": ((1,), {"grace_seconds": 5}),
    "delete_project": ((1,), {"cascade": True}),
    "list_notifications": ((1,), {"delivery": "sent", **PAGING}),
    "create_job": ((A_JOB,), {}),
    "create_jobs": (([A_JOB, {**A_JOB, "run_at": "now"}],), {}),
    "dry_run_job": ((A_JOB,), {}),
    "dry_run_jobs": (([A_JOB],), {}),
    "list_jobs": ((), {**EVERY_JOB_FILTER, **PAGING}),
    "get_job": (("night.ly",), {"project_id": 1}),
    "update_job": ((7, {k: v for k, v in A_JOB.items() if k not in ("project_id",
                                                                     "execution_type")}),
                   {"project_id": 1}),
    "pause_job": ((7,), {"project_id": 1}),
    "resume_job": ((7,), {"project_id": 1}),
    "delete_job": ((7,), {"project_id": 1}),
    "list_job_executions": ((7,), {"project_id": 1, "state": "failed", "since": 1, "until": 2,
                                   "include_job": True, **PAGING}),
    "run_job": ((7,), {"data": "d", "project_id": 1}),
    "backfill_job": ((7, 1, 2), {"dry_run": True, "project_id": 1}),
    "list_executions": ((), {**EVERY_EXECUTION_FILTER, "include_job": True, **PAGING}),
    "export_executions_csv": ((), {**EVERY_EXECUTION_FILTER, "limit": 5, "after": "7-1"}),
    "get_execution": (("7-1",), {}),
    "redeliver_execution": (("7-1",), {}),
    "rollups": ((), {"period": "hour", "project_id": 1, "since": 1, "until": 2, "limit": 3}),
    "start_bulk": (("set_labels",), {"filter": {"project_id": 1, "paused": True, "labels": "a",
                                                "name": "n", "contains": "c",
                                                "status": "active", "last_state": "failed",
                                                "host": "h"},
                                     "labels": {"a": None}, "data": "d"}),
    "list_operations": ((), {"state": "running", **PAGING}),
    "get_operation": ((4,), {}),
    "list_operation_executions": ((4,), {"limit": 5, "offset": 0, "after": "7-1-m1"}),
    "health": ((), {}),
    "preview_schedule": (("@daily",), {"timezone": "UTC", "start": 1, "count": 2, "job_id": 3}),
    "cluster": ((), {}),
    "add_member": (("127.0.0.1:10094",), {}),
    "remove_member": (("127.0.0.1:10094",), {}),
    "pause_cluster": ((), {"reason": "r"}),
    "resume_cluster": ((), {}),
    "summary": ((), {}),
    "load": ((), {"minutes": 5, "threshold": 3}),
    "metrics": ((), {}),
    "openapi": ((), {}),
}


@pytest.fixture(scope="module")
def document(base_url: str) -> dict[str, Any]:
    return Client(base_url).openapi()  # public: no credential needed


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{method.upper()} {route}": {**operation, "shared": spec.get("parameters", [])}
            for route, spec in document["paths"].items()
            for method, operation in spec.items() if method != "parameters"}


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def properties(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Every property an object of `schema` may have (through refs, allOf, oneOf, items)."""
    schema = resolve(document, schema)
    found = dict(schema.get("properties", {}))
    for part in (*schema.get("allOf", ()), *schema.get("oneOf", ()), *schema.get("anyOf", ())):
        found.update(properties(document, part))
    if "items" in schema:
        found.update(properties(document, schema["items"]))
    return found


def required(document: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    schema = resolve(document, schema)
    found = set(schema.get("required", ()))
    for part in schema.get("allOf", ()):
        found |= required(document, part)
    return found


def test_every_operation_has_a_method_and_every_method_an_operation(
        document: dict[str, Any]) -> None:
    assert set(operations(document)) == set(METHODS_OF)
    named = {name for names in METHODS_OF.values() for name in names}
    defined = {name for name, value in vars(Api).items()
               if isinstance(value, (Endpoint, Pages, Procedure))}
    assert named == defined
    for name in defined:  # each flavour has each, as a method
        assert callable(getattr(Client(), name))


def sample_call(name: str) -> Call[Any]:
    args, kwargs = SAMPLES[name]
    return vars(Api)[name].build(*args, **kwargs)


def route_pattern(route: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(route)) + "$")


@pytest.mark.parametrize("key", sorted(k for k, names in METHODS_OF.items() if names))
def test_each_method_sends_what_the_document_describes(document: dict[str, Any],
                                                       key: str) -> None:
    operation = operations(document)[key]
    method, route = key.split(" ", 1)
    accepted = {p["name"] for p in (*operation.get("parameters", ()), *operation["shared"])
                if p.get("in") == "query"}
    body_schema = (operation.get("requestBody") or {}).get("content", {}).get(
        "application/json", {}).get("schema")
    for name in METHODS_OF[key]:
        if name not in SAMPLES:
            continue  # bulk_create, wait_operation, iter_*: made of the calls checked here
        call = sample_call(name)
        assert call.method == method and route_pattern(route).match(call.path), name
        assert {param for param, _ in call.query} <= accepted, name
        for body in call.body if isinstance(call.body, list) else [call.body]:
            if body is not None:
                assert body_schema is not None, name
                allowed = properties(document, body_schema)
                assert set(body) <= set(allowed), (name, set(body) - set(allowed))
                if "filter" in body:
                    assert set(body["filter"]) <= set(properties(document, allowed["filter"]))


def test_every_sample_is_of_a_method() -> None:
    assert set(SAMPLES) <= {name for names in METHODS_OF.values() for name in names}
    assert {name for names in METHODS_OF.values() for name in names
            if not name.startswith("iter_")} - set(SAMPLES) == {"bulk_create", "wait_operation"}


ANSWERS = {  # each TypedDict the client answers with, and the schema it stands for
    types.Job: "Job", types.ListedJob: "JobListed", types.DryRunJob: "JobDryRun",
    types.Project: "Project", types.Credential: "Credential",
    types.NewCredential: "NewCredential", types.Execution: "Execution",
    types.Backfill: "Backfill", types.Operation: "Operation",
    types.OperationStarted: "OperationStarted", types.Notification: "Notification",
    types.Deleted: "Deleted", types.ProjectDeleted: "ProjectDeleted", types.Preview: "Preview",
    types.Rollups: "Rollups", types.Pause: "Pause", types.Peer: "Peer", types.Health: "Health",
    types.HealthDetail: "HealthDetail", types.Cluster: "Cluster",
    types.MemberAdded: "MemberAdded", types.MemberRemoved: "MemberRemoved",
    types.Summary: "Summary", types.Load: "Load",
}
NESTED = {  # TypedDicts of a property of a schema
    types.PreviewTime: ("Preview", "times"), types.Rollup: ("Rollups", "rollups"),
    types.BackfillSkipped: ("Backfill", "skipped"), types.RateLimit: ("Project", "rate_limit"),
}
INPUTS = {  # what the client sends, and the schema that takes it
    types.NewJob: "JobInput", types.JobChanges: "JobUpdate",
    types.ProjectChanges: "ProjectUpdate", types.BulkFilter: ("BulkRequest", "filter"),
}


def schema_of(document: dict[str, Any], where: str | tuple[str, str]) -> dict[str, Any]:
    if isinstance(where, str):
        return {"$ref": f"#/components/schemas/{where}"}
    return properties(document, schema_of(document, where[0]))[where[1]]


@pytest.mark.parametrize("typed", list(ANSWERS) + list(NESTED), ids=lambda t: t.__name__)
def test_an_answer_type_has_the_fields_of_its_schema(document: dict[str, Any],
                                                     typed: Any) -> None:
    schema = schema_of(document, ANSWERS.get(typed) or NESTED[typed])
    if isinstance(NESTED.get(typed), tuple):
        schema = next((s for s in resolve(document, schema).get("oneOf", [schema])
                       if s.get("type") != "null"), schema)
    fields = set(get_type_hints(typed))
    assert fields == set(properties(document, schema))
    assert required(document, schema) <= set(typed.__required_keys__)


@pytest.mark.parametrize("typed", list(INPUTS), ids=lambda t: t.__name__)
def test_an_input_type_sends_only_fields_its_schema_takes(document: dict[str, Any],
                                                          typed: Any) -> None:
    taken = set(properties(document, schema_of(document, INPUTS[typed])))
    assert set(get_type_hints(typed)) <= taken
