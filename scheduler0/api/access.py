"""Who may call which route: a credential's role and projects, and the table of what each route
needs.

A caller is the node (HTTP Basic auth with the node secrets: the CLI and the other nodes), which
may do anything, or a credential, which has
- a role: `read` (GET), `write` (also create, change, delete and run jobs, and redeliver
  their executions), `admin` (also projects, credentials and the cluster), each allowing
  everything the one before it allows;
- a scope: every project, or a list of them.
A credential created without a role or projects, and every credential made before they existed,
is admin for every project.

ROUTES declares, for every route of the app by its method and its path as the OpenAPI document
spells it ("PUT /jobs/{job_id}"), the least role it needs, and whether a credential limited to
some projects may call it at all (`all_projects`: routes whose answers or effects span projects,
such as the credentials, creating a project, the cluster and the metrics). A route missing from
the table is refused to every credential until it is declared, and tests/api/test_access.py
fails for it.

A project-limited credential sees its own projects only. Lists are filtered in their queries
(Reader.scoped), and a request naming another project's job or project (in the path, in a query
parameter, or as a job's project_id in the body) is refused with 403, not 404:
"this credential is limited to projects [1, 2]; job 7 belongs to project 3". Ids are sequential
integers, so a 404 would hide little a caller could not infer from its own ids, while a 403 that
names both scopes tells the credential's owner which credential to use; what is never shown is
the other project's object itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request

from scheduler0.api.context import api
from scheduler0.errors import AuthError, ForbiddenError
from scheduler0.store.reads import out_of_scope
from scheduler0.vocabulary import (
    CREDENTIAL_ROLES,
    DEFAULT_CREDENTIAL_ROLE,
    MAX_ID,
    CredentialRole,
)

READ, WRITE, ADMIN = (role.value for role in CredentialRole)
NODE_SECRETS = ("the node secrets (HTTP Basic auth with AuthUsername/AuthPassword), not an "
                "API credential")


@dataclass(frozen=True)
class Access:
    """What one authenticated caller may do. `projects` None: every project."""

    role: str = DEFAULT_CREDENTIAL_ROLE
    projects: tuple[int, ...] | None = None
    node: bool = False

    @property
    def every_project(self) -> bool:
        return self.projects is None

    def has_role(self, role: str) -> bool:
        return self.node or CREDENTIAL_ROLES.index(self.role) >= CREDENTIAL_ROLES.index(role)

    def sees(self, project_id: int) -> bool:
        return self.projects is None or project_id in self.projects


NODE_ACCESS = Access(node=True)


@dataclass(frozen=True)
class Need:
    """What a route asks of its caller. `role` None: a public route (no credentials needed)."""

    role: str | None
    all_projects: bool = False  # refused to a credential limited to some projects
    node_only: bool = False  # refused to every credential: only the node secrets

    def describe(self) -> str:
        """The need in a few words, for the OpenAPI document."""
        if self.role is None:
            return "no credentials"
        if self.node_only:
            return "the node secrets (Basic auth)"
        return f"role {self.role}" + (" and a credential for every project"
                                      if self.all_projects else "")


PUBLIC = Need(None)
ROUTES: dict[str, Need] = {
    "POST /credentials": Need(ADMIN, all_projects=True),
    "GET /credentials": Need(ADMIN, all_projects=True),
    "GET /credentials/{credential_id}": Need(ADMIN, all_projects=True),
    "PUT /credentials/{credential_id}": Need(ADMIN, all_projects=True),
    "DELETE /credentials/{credential_id}": Need(ADMIN, all_projects=True),
    # A project created by a limited credential would lie outside its own scope.
    "POST /projects": Need(ADMIN, all_projects=True),
    "GET /projects": Need(READ),
    "GET /projects/{project_id}": Need(READ),
    "PUT /projects/{project_id}": Need(ADMIN),
    "PATCH /projects/{project_id}": Need(ADMIN),
    "DELETE /projects/{project_id}": Need(ADMIN),
    "GET /projects/{project_id}/notifications": Need(READ),
    "POST /jobs": Need(WRITE),
    "GET /jobs": Need(READ),
    "GET /jobs/{job_id}": Need(READ),
    "PUT /jobs/{job_id}": Need(WRITE),
    "DELETE /jobs/{job_id}": Need(WRITE),
    # Its body's ids and filter are checked against the credential's projects (403).
    "POST /jobs/bulk": Need(WRITE),
    "GET /operations": Need(READ),
    "GET /operations/{operation_id}": Need(READ),
    "GET /operations/{operation_id}/executions": Need(READ),
    "GET /jobs/{job_id}/executions": Need(READ),
    "GET /executions": Need(READ),
    # Run a job, redeliver an execution, backfill past ticks: writes to the job's history,
    # within the credential's projects (an execution is its job's).
    "POST /jobs/{job_id}/run": Need(WRITE),
    "POST /jobs/{job_id}/backfill": Need(WRITE),
    "GET /executions/{execution_id}": Need(READ),
    "POST /executions/{execution_id}/redeliver": Need(WRITE),
    "GET /rollups": Need(READ),
    "GET /schedules/preview": Need(READ),
    # The overview's counts: those of the credential's projects.
    "GET /summary": Need(READ),
    # The upcoming load is the whole cluster's (the schedules are shared by every project).
    "GET /load": Need(READ, all_projects=True),
    "GET /cluster": Need(ADMIN, all_projects=True),
    "POST /cluster/members": Need(ADMIN, all_projects=True, node_only=True),
    "DELETE /cluster/members/{raft_address}": Need(ADMIN, all_projects=True, node_only=True),
    # Every project's planning stops.
    "POST /pause": Need(ADMIN, all_projects=True),
    "POST /resume": Need(ADMIN, all_projects=True),
    # The node's own counters: how many jobs and executions every project has.
    "GET /metrics": Need(READ, all_projects=True),
    "GET /healthcheck": PUBLIC,
    "GET /openapi.json": PUBLIC,
    "GET /docs": PUBLIC,
}

# The web console's pages (scheduler0.console) are not REST routes: they are not in ROUTES, need
# a signed-in caller (except sign-in and the static files, marked public) and nothing more, as
# everything a page shows or does goes through a REST call, which this module checks.
CONSOLE_BLUEPRINT = "console"
# Served to anyone: the console's static files (a view Flask makes, which cannot be marked).
PUBLIC_ENDPOINTS = frozenset({f"{CONSOLE_BLUEPRINT}.static"})


def is_public(endpoint: str | None) -> bool:
    """Whether the view `endpoint` needs no credentials (marked `public`, or the console's
    static files)."""
    if endpoint in PUBLIC_ENDPOINTS:
        return True
    return bool(getattr(current_app.view_functions.get(endpoint or ""), "public", False))

# The prefixes scheduler0.api.app mounts every blueprint under.
_PREFIX = re.compile(r"^/(?:api/)?v1(?=/)")
_VARIABLE = re.compile(r"<(?:[^:<>]+:)?(\w+)>")


def operation(method: str, rule: str) -> str:
    """`"GET", "/api/v1/jobs/<job_id>"` -> `"GET /jobs/{job_id}"` (HEAD is a GET)."""
    path = _VARIABLE.sub(r"{\1}", _PREFIX.sub("", rule, count=1))
    return f"{'GET' if method == 'HEAD' else method} {path}"


def authorize() -> None:
    """Flask before_request hook, after authentication: refuse (403) what the caller's role
    or projects do not cover."""
    if request.url_rule is None or request.method == "OPTIONS":
        return  # 404/405, and OPTIONS, which answers only the Allow header
    if request.blueprint == CONSOLE_BLUEPRINT:
        _authorize_console()
        return
    name = operation(request.method, request.url_rule.rule)
    need = ROUTES.get(name)
    if need is PUBLIC:
        return
    access: Access | None = g.get("access")
    if access is None:
        # A view marked public in code but not in ROUTES: refuse rather than guess.
        raise AuthError("unauthorized: send the headers x-api-key and x-secret-key of an "
                        "active credential (or the node's Basic auth)")
    if access.node:
        return
    if need is None:
        raise ForbiddenError(f"{name} has no declared access rule yet; only the node secrets "
                             "may call it")
    _check_need(access, need, name)
    if not access.every_project:
        _check_named_objects(access)


def _authorize_console() -> None:
    """A console page needs a signed-in caller (scheduler0.api.auth has redirected the others
    to the sign-in page); what it may see is for the REST calls it makes to decide."""
    if is_public(request.endpoint):
        return
    if g.get("access") is None:
        raise AuthError("unauthorized: sign in at /ui/signin")


def _check_need(access: Access, need: Need, name: str) -> None:
    if need.node_only:
        raise ForbiddenError(f"{name} needs {NODE_SECRETS}")
    if need.role is not None and not access.has_role(need.role):
        raise ForbiddenError(f"this credential has role {access.role}; {name} needs role "
                             f"{need.role}; create a credential with that role")
    if need.all_projects and access.projects is not None:
        raise ForbiddenError(f"this credential is limited to projects {list(access.projects)}; "
                             f"{name} needs a credential for every project")


def _check_named_objects(access: Access) -> None:
    """Refuse a project or job of another project named in the path or the query (each
    checked on its own: a query parameter must not stand in for the path's id)."""
    assert access.projects is not None
    for kind, raw in (*_named(request.view_args or {}), *_named(request.args)):
        ident = _as_id(raw)
        if ident is None:
            continue
        if kind == "project" and not access.sees(ident):
            raise out_of_scope(access.projects, f"project {ident} is not one of them")
        if kind == "job":
            owner = api().services.reader().job_project(ident)
            if owner is not None and not access.sees(owner):
                raise out_of_scope(access.projects, f"job {ident} belongs to project {owner}")


_ID_NAMES = (("project", ("project_id", "projectId")), ("job", ("job_id", "jobId")))


def _named(values: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """("project" or "job", raw id) for every value of every spelling of an id in `values`
    (the path's variables, or the query string, which may repeat a parameter)."""
    found: list[tuple[str, Any]] = []
    for kind, names in _ID_NAMES:
        for name in names:
            if name in values:
                raws = values.getlist(name) if hasattr(values, "getlist") else [values[name]]
                found += [(kind, raw) for raw in raws]
    return found


def _as_id(raw: object) -> int | None:
    """An id as the routes read one; None for anything else (the route then answers 400)."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not (text.isascii() and text.isdigit() and 0 < len(text) <= 19):
        return None
    return int(text) if 1 <= int(text) <= MAX_ID else None


def sees_every_project() -> bool:
    """Whether this request's caller is the node or a credential for every project."""
    access: Access | None = g.get("access")
    return access is not None and access.every_project
