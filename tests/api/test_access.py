"""Roles and project scopes on every route of the app (scheduler0.api.access).

Driven by the app's URL map, so a route added later cannot be forgotten: it fails here until
scheduler0.api.access.ROUTES declares what it needs. Every route is called with every role,
for every project and limited to one, on a real node; the answers are compared with what
ROUTES declares, and ROUTES itself with the policy (read: GET only; write: also the jobs;
admin: the rest).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from scheduler0 import messages
from scheduler0.api import access, openapi
from scheduler0.vocabulary import execution_id
from tests.api.helpers import NODE_AUTH, Api, basic_auth, commit, data, error, job_body, unique

ROLES = ("read", "write", "admin")
IGNORED_METHODS = {"HEAD", "OPTIONS"}  # answered by Flask itself, HEAD as its GET


def rest_rules(app: Any) -> list[Any]:
    """The app's REST routes: every rule but the web console's pages (/ui, tested below)."""
    return [rule for rule in app.url_map.iter_rules()
            if not rule.endpoint.startswith(access.CONSOLE_BLUEPRINT + ".")]


def url_map_operations(app: Any) -> list[str]:
    """Every (method, route) the app answers, as access.operation names them."""
    found = {access.operation(method, rule.rule)
             for rule in rest_rules(app)
             for method in (rule.methods or ()) if method not in IGNORED_METHODS}
    return sorted(found)


def test_every_route_of_the_app_declares_what_it_needs(app: Any) -> None:
    operations = url_map_operations(app)
    undeclared = [name for name in operations if name not in access.ROUTES]
    assert not undeclared, f"add these routes to scheduler0.api.access.ROUTES: {undeclared}"
    assert set(access.ROUTES) == set(operations), "ROUTES names a route the app does not have"
    documented = {f"{method.upper()} {path}" for path, item in openapi.DOCUMENT["paths"].items()
                  for method in item if method != "parameters"}
    assert documented == set(operations)


def test_public_routes_are_exactly_the_views_marked_public(app: Any) -> None:
    for rule in rest_rules(app):
        view = app.view_functions[rule.endpoint]
        for method in (rule.methods or set()) - IGNORED_METHODS:
            need = access.ROUTES[access.operation(method, rule.rule)]
            assert (need is access.PUBLIC) == bool(getattr(view, "public", False)), rule.rule


CONSOLE_OPEN = {"/ui/signin", "/ui/static/<path:filename>"}


def test_console_pages_need_a_session_except_sign_in_and_static_files(app: Any) -> None:
    rules = [rule for rule in app.url_map.iter_rules() if rule not in rest_rules(app)]
    assert {rule.rule for rule in rules} >= {"/ui/", "/ui/signin", "/ui/signout"} | CONSOLE_OPEN
    assert all(rule.rule.startswith("/ui/") for rule in rules), "the console lives under /ui"
    client = app.test_client()
    for rule in rules:
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            url = re.sub(r"<(?:[^:<>]+:)?(\w+)>", "1", rule.rule)
            if rule.rule == "/ui/static/<path:filename>":
                url = "/ui/static/console.css"
            response = client.open(url, method=method)
            response.close()  # a static file is streamed from an open file
            with app.app_context():
                public = access.is_public(rule.endpoint)
            if rule.rule in CONSOLE_OPEN:
                assert public, rule.rule
                # Answered, not sent to sign in (an empty sign-in form is its own 401 page).
                assert "Location" not in response.headers and response.status_code < 500, (
                    method, rule.rule, response.status_code)
            else:
                assert not public, rule.rule
                assert response.status_code == 303, (method, rule.rule, response.status_code)
                assert response.headers["Location"].startswith("/ui/signin?next="), rule.rule


def test_the_declared_roles_follow_the_policy() -> None:
    for name, need in access.ROUTES.items():
        method, path = name.split(" ", 1)
        if need is access.PUBLIC:
            assert method == "GET", name
        elif method == "GET":
            assert need.role in ("read", "admin"), name  # admin: credentials and the cluster
        elif path.startswith(("/jobs", "/executions")):  # running jobs is writing them
            assert need.role == "write", name
        else:
            assert need.role == "admin", name
    assert access.ROUTES["GET /credentials"].role == "admin"
    assert access.ROUTES["GET /cluster"].role == "admin"


# -- every route, every role -------------------------------------------------------------------


@dataclass
class World:
    """Two projects with a job each, and a way to make credentials; `mine` is what the
    limited credentials are limited to."""

    node: Api  # the node's Basic auth
    mine: dict[str, Any]
    theirs: dict[str, Any]
    my_job: dict[str, Any]
    their_job: dict[str, Any]

    def credential(self, role: str, projects: list[int] | None = None) -> Api:
        body: dict[str, Any] = {"role": role}
        if projects is not None:
            body["projects"] = projects
        created = data(self.node.post("/api/v1/credentials", json=body), 201)
        assert (created["role"], created["projects"]) == (role, projects)
        return Api(self.node.client, {"x-api-key": created["api_key"],
                                      "x-secret-key": created["api_secret"]})


@pytest.fixture(scope="module")
def world(app: Any) -> World:
    node = Api(app.test_client(), basic_auth(*NODE_AUTH))
    mine, theirs = node.project(), node.project()
    return World(node, mine, theirs, node.job(mine["id"]), node.job(theirs["id"]))


@pytest.fixture(scope="module")
def callers(world: World) -> dict[tuple[str, bool], Api]:
    """(role, limited to world.mine) -> a credential."""
    return {(role, limited): world.credential(role, [world.mine["id"]] if limited else None)
            for role in ROLES for limited in (False, True)}


def _request(world: World, name: str, own: bool) -> tuple[str, Any]:
    """(URL, JSON body) for one operation, naming objects of world.mine (`own`) or of
    world.theirs; an object a request would change or delete is made fresh for it."""
    method, path = name.split(" ", 1)
    project = world.mine if own else world.theirs
    changes = method in ("PUT", "DELETE")
    values: dict[str, Callable[[], Any]] = {
        # The project itself, even to delete: it has a job, so a DELETE is a 409, not a loss.
        "project_id": lambda: project["id"],
        "job_id": lambda: (world.node.job(project["id"]) if changes
                           else world.my_job if own else world.their_job)["id"],
        "credential_id": lambda: data(world.node.post("/api/v1/credentials"), 201)["id"],
        "raft_address": lambda: "127.0.0.1:1",
        "operation_id": lambda: data(world.node.post("/api/v1/jobs/bulk", json={
            "action": "pause", "ids": [world.node.job(project["id"])["id"]]}), 202)["id"],
        # A finished run-now of its own for each call (a redelivery sends it again).
        "execution_id": lambda: finished_run(world, own),
    }
    url = "/api/v1" + re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]()), path)
    if path == "/schedules/preview":
        url += "?spec=@hourly"
    bodies = {"POST /credentials": {}, "PUT /credentials/{credential_id}": {"archived": False},
              "POST /projects": {"name": unique("access")},
              "PUT /projects/{project_id}": {"description": "changed"},
              "POST /jobs": job_body(project["id"]), "PUT /jobs/{job_id}": {"paused": True},
              "POST /cluster/members": {"raft_address": "127.0.0.1:1"},
              "POST /jobs/{job_id}/run": {"data": "access"},
              "POST /jobs/{job_id}/backfill": {"from": "2020-01-01T00:00:00Z",
                                               "to": "2020-01-01T01:00:00Z"}}
    if name == "POST /jobs/bulk":  # a job of its own for each call, which it pauses
        return url, {"action": "pause", "ids": [world.node.job(project["id"])["id"]]}
    return url, bodies.get(name)


def _expect_refused(need: access.Need, role: str, limited: bool) -> str | None:
    """The words the 403 must hold, or None when the call must get through."""
    if need is access.PUBLIC:
        return None
    if need.node_only:
        return "needs the node secrets"
    if ROLES.index(role) < ROLES.index(str(need.role)):
        return f"this credential has role {role}; "
    if limited and need.all_projects:
        return "needs a credential for every project"
    return None


OPERATIONS = sorted(access.ROUTES)


@pytest.mark.parametrize("limited", [False, True], ids=["every-project", "one-project"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", OPERATIONS)
def test_every_route_with_every_role(world: World, callers: dict, name: str, role: str,
                                     limited: bool) -> None:
    need = access.ROUTES[name]
    caller = callers[(role, limited)]
    url, body = _request(world, name, own=True)
    response = caller.request(name.split(" ", 1)[0], url, json=body)
    refused = _expect_refused(need, role, limited)
    if refused is None:
        assert response.status_code not in (401, 403) and response.status_code < 500, (
            name, role, limited, response.get_json())
    else:
        message = error(response, 403, "forbidden", refused)
        assert name in message or "limited to projects" in message, message


@pytest.mark.parametrize("name", [name for name in OPERATIONS if "{project_id}" in name
                                  or "{job_id}" in name or "{operation_id}" in name
                                  or "{execution_id}" in name
                                  or name in ("POST /jobs", "POST /jobs/bulk")])
def test_a_limited_credential_is_refused_another_projects_objects(world: World, callers: dict,
                                                                  name: str) -> None:
    caller = callers[("admin", True)]
    url, body = _request(world, name, own=False)
    response = caller.request(name.split(" ", 1)[0], url, json=body)
    mine, theirs = world.mine["id"], world.theirs["id"]
    message = error(response, 403, "forbidden", f"limited to projects [{mine}]")
    assert f"project {theirs}" in message, message


def test_the_node_may_call_every_route(world: World) -> None:
    for name in OPERATIONS:
        url, body = _request(world, name, own=True)
        if name.startswith(("POST /cluster/members", "DELETE /cluster/members")):
            continue  # a real membership change; its node auth is tested in test_schema_agreement
        response = world.node.request(name.split(" ", 1)[0], url, json=body)
        assert response.status_code not in (401, 403) and response.status_code < 500, (
            name, response.get_json())


# -- what a limited credential sees ----------------------------------------------------------


def test_lists_show_a_limited_credential_its_projects_only(world: World, callers: dict) -> None:
    reader = callers[("read", True)]
    mine = world.mine["id"]
    projects = data(reader.get("/api/v1/projects"))
    assert [p["id"] for p in projects["projects"]] == [mine] and projects["total"] == 1
    jobs = data(reader.get("/api/v1/jobs", query_string={"limit": 1000}))
    assert jobs["jobs"] and {j["project_id"] for j in jobs["jobs"]} == {mine}
    assert jobs["total"] == len(jobs["jobs"])
    everything = data(world.node.get("/api/v1/jobs", query_string={"limit": 1000}))
    assert {j["project_id"] for j in everything["jobs"]} > {mine}


def test_history_shows_a_limited_credential_its_projects_only(world: World, node: Any,
                                                               callers: dict) -> None:
    tick = 1_900_000_800  # a minute's start: the rollup's period is the tick's
    for job in (world.my_job, world.their_job):
        record_success(node, job, tick)
    reader = callers[("read", True)]
    rows = data(reader.get("/api/v1/executions", query_string={"since": tick}))["executions"]
    assert [r["job_id"] for r in rows] == [world.my_job["id"]]
    everyone = data(world.node.get("/api/v1/executions", query_string={"since": tick}))
    assert len(everyone["executions"]) == 2
    [minute] = data(reader.get("/api/v1/rollups", query_string={"since": tick}))["rollups"]
    assert minute["succeeded"] == 1
    [both] = data(world.node.get("/api/v1/rollups", query_string={"since": tick}))["rollups"]
    assert both["succeeded"] == 2


def finished_run(world: World, own: bool) -> str:
    """The id of a run-now of world.my_job (or their_job) whose result is committed."""
    job = world.my_job if own else world.their_job
    run = data(world.node.post(f"/api/v1/jobs/{job['id']}/run"), 202)
    tick = int(run["execution_id"].split("-")[1])
    result = world.node.client.application.extensions["scheduler0"].services.submit(
        messages.command(messages.Result(rows=[messages.ResultRow(
            run["execution_id"], "succeeded", 1, 200, None, 1, tick * 1000, tick * 1000 + 5,
            run["batch_id"])])))
    assert result["ok"] and result["data"] == {"settled": 1}, result
    return str(run["execution_id"])


def record_success(node: Any, job: dict[str, Any], tick: int) -> None:
    """One succeeded execution of `job` at `tick`, committed as the pipeline commits it."""
    batch_id = unique("access-batch")
    commit(node, messages.Plan(batches=[messages.PlanBatch(
        batch_id=batch_id, node_id=1, scheduled_at=tick,
        rows=[messages.PlanRow(job["id"], job["project_id"])])]))
    commit(node, messages.Result(rows=[messages.ResultRow(
        execution_id(job["id"], tick), "succeeded", 1, 200, None, 1, tick * 1000,
        tick * 1000 + 5, batch_id)]))


@pytest.mark.parametrize(("path", "query"), [
    ("/api/v1/jobs", {"project_id": "THEIRS"}),
    ("/api/v1/jobs", {"projectId": "THEIRS"}),
    ("/api/v1/executions", {"project_id": "THEIRS"}),
    ("/api/v1/executions", {"job_id": "THEIR_JOB"}),
    ("/api/v1/executions", {"jobId": "THEIR_JOB"}),
    ("/api/v1/rollups", {"project_id": "THEIRS"}),
])
def test_a_filter_naming_another_project_is_refused(world: World, callers: dict, path: str,
                                                    query: dict[str, str]) -> None:
    values = {"THEIRS": world.theirs["id"], "THEIR_JOB": world.their_job["id"]}
    query = {k: values[v] for k, v in query.items()}
    error(callers[("read", True)].get(path, query_string=query), 403, "forbidden",
          f"limited to projects [{world.mine['id']}]")


@pytest.mark.parametrize("raw", ["9" * 19, "9" * 40, "0", "-1", "abc", "1e3", " "])
def test_odd_ids_from_a_limited_credential_are_the_routes_usual_400(callers: dict,
                                                                    raw: str) -> None:
    caller = callers[("admin", True)]
    for response in (caller.get(f"/api/v1/jobs/{raw}"), caller.delete(f"/api/v1/jobs/{raw}"),
                     caller.get("/api/v1/executions", query_string={"job_id": raw}),
                     caller.get("/api/v1/jobs", query_string={"project_id": raw})):
        assert response.status_code in (400, 404), (raw, response.get_json())


def test_a_query_id_cannot_stand_in_for_the_paths(world: World, callers: dict) -> None:
    theirs = world.node.project()
    caller = callers[("admin", True)]
    response = caller.delete(f"/api/v1/projects/{theirs['id']}",
                             query_string={"project_id": world.mine["id"]})
    error(response, 403, "forbidden", f"project {theirs['id']} is not one of them")
    data(world.node.get(f"/api/v1/projects/{theirs['id']}"))  # still there


def test_a_batch_of_jobs_with_one_foreign_project_creates_nothing(world: World,
                                                                  callers: dict) -> None:
    caller = callers[("write", True)]
    before = data(world.node.get("/api/v1/jobs", query_string={"limit": 1}))["total"]
    body = [job_body(world.mine["id"]), job_body(world.theirs["id"])]
    error(caller.post("/api/v1/jobs", json=body), 403, "forbidden",
          f"project {world.theirs['id']} is not one of them")
    assert data(world.node.get("/api/v1/jobs", query_string={"limit": 1}))["total"] == before


def test_a_limited_credential_gets_the_short_health_answer(world: World, callers: dict) -> None:
    short = data(callers[("admin", True)].get("/api/v1/healthcheck"))
    assert "peers" not in short
    assert "peers" in data(callers[("read", False)].get("/api/v1/healthcheck"))


def test_the_refusal_names_the_role_needed(callers: dict) -> None:
    error(callers[("read", False)].post("/api/v1/jobs", json={}), 403, "forbidden",
          "this credential has role read; POST /jobs needs role write")
    error(callers[("write", False)].post("/api/v1/projects", json={"name": "x"}), 403,
          "forbidden", "role write; POST /projects needs role admin")


# -- creating scoped credentials ---------------------------------------------------------------


@pytest.mark.parametrize(("body", "status", "code", "fragment"), [
    ({"role": "owner"}, 400, "invalid_role", "'owner' is not a role; use read"),
    ({"role": 3}, 400, "invalid_role", "expected a string"),
    ({"role": None}, 400, "invalid_role", "expected a string"),
    ({"projects": []}, 400, "invalid_projects", "must not be empty"),
    ({"projects": "1"}, 400, "invalid_projects", "expected a list of project ids"),
    ({"projects": [1.5]}, 400, "invalid_projects", "projects[0]: expected an integer"),
    ({"projects": [True]}, 400, "invalid_projects", "projects[0]: expected an integer"),
    ({"projects": [0]}, 400, "invalid_projects", "projects[0]: 0 is out of range"),
    ({"projects": ["MINE", "MINE"]}, 400, "invalid_projects", "projects[1]: project"),
    ({"projects": ["MINE", 999_999_999]}, 404, "not_found",
     "projects[1]: project 999999999 does not exist"),
    ({"projects": list(range(1, 1002))}, 400, "invalid_projects", "at most 1000"),
])
def test_bad_scopes_are_refused_naming_the_field(world: World, body: dict, status: int,
                                                 code: str, fragment: str) -> None:
    if isinstance(body.get("projects"), list):
        body = {"projects": [world.mine["id"] if p == "MINE" else p for p in body["projects"]]}
    error(world.node.post("/api/v1/credentials", json=body), status, code, fragment)


def test_credential_answers_show_role_and_projects(world: World) -> None:
    created = data(world.node.post("/api/v1/credentials", json={
        "role": "write", "projects": [world.theirs["id"], world.mine["id"]]}), 201)
    expected = ("write", sorted([world.mine["id"], world.theirs["id"]]))
    assert (created["role"], created["projects"]) == expected
    shown = data(world.node.get(f"/api/v1/credentials/{created['id']}"))
    assert (shown["role"], shown["projects"]) == expected
    listed = data(world.node.get("/api/v1/credentials"))["credentials"]
    assert {(c["id"], c["role"]) for c in listed} >= {(created["id"], "write")}
