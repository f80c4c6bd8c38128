"""The admin pages: `/ui/projects` (create, rename, rotate the signing secret, notification and
rate-limit settings, delete) and `/ui/credentials` (create with a role and projects, archive,
restore, delete).

Both are rendered from the REST API (one keyset page of each list); every change is made by the
browser against the API (static/admin.js), and a new signing secret or API secret is shown once,
from the API's answer, never rendered by the server. A viewer whose role cannot make those
changes gets the API's own 403 on the error page: GET /credentials says so by itself; the
projects list is readable by every role, so the projects page asks the API's access rules what
they answer the change this page exists for (PATCH /projects/{project_id}).
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, request

from scheduler0.api import access
from scheduler0.console import render, rest
from scheduler0.console.blueprint import console
from scheduler0.console.rest import RestError
from scheduler0.errors import ForbiddenError
from scheduler0.vocabulary import CREDENTIAL_ROLES

PAGE_SIZE = 50
ADMIN_CHANGE = "PATCH /projects/{project_id}"


def refusal(route: str) -> str | None:
    """What the API answers this viewer for `route` ("PATCH /projects/{project_id}") when its
    role or scope does not cover it (scheduler0.api.access's own rule and words); None when
    it does. Nothing is sent: the answer is the one the route's access check gives."""
    who: access.Access | None = g.get("access")
    if who is None or who.node:
        return None
    try:
        access._check_need(who, access.ROUTES[route], route)
    except ForbiddenError as exc:
        return exc.message
    return None


def _after() -> str | None:
    return request.args.get("after") or None


def _pager(path: str, next_after: str | None) -> dict[str, Any]:
    """The pager macro's links: the next page, and the first when this is not it."""
    return {"next_url": f"{path}?after={next_after}" if next_after else None,
            "first_url": path if _after() else None}


# -- projects -----------------------------------------------------------------------------------


def job_count(project: dict[str, Any]) -> tuple[int | None, bool]:
    """(the project's jobs, exact): the project's job_count, or on a node whose API has none
    the total of GET /jobs?project_id= (None: not readable)."""
    value = project.get("job_count")
    if isinstance(value, int) and not isinstance(value, bool):
        return value, True
    try:
        data = rest.call("GET", "/jobs", {"project_id": project["id"], "limit": 1})
    except RestError:
        return None, True
    return int(data.get("total") or 0), bool(data.get("total_exact", True))


def project_rows(projects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for project in projects:
        count, exact = job_count(project)
        limit = project.get("rate_limit") or {}
        rows.append({**project, "job_count": count, "job_count_exact": exact,
                     "rate_concurrency": limit.get("concurrency"),
                     "rate_per_second": limit.get("per_second")})
    return rows


@console.get("/projects")
def projects_page() -> Response:
    refused = refusal(ADMIN_CHANGE)
    if refused is not None:
        return render.error_page(403, refused)
    try:
        items, next_after, total = rest.page_of("/projects", {"limit": PAGE_SIZE,
                                                             "after": _after()})
        rows = project_rows(items)
    except RestError as exc:
        return render.error_page(exc.status, exc.message)
    return render.page("projects.html", "Projects", projects=rows, total=total,
                       can_create=refusal("POST /projects") is None,
                       **_pager("/ui/projects", next_after))


# -- credentials --------------------------------------------------------------------------------




@console.get("/credentials")
def credentials_page() -> Response:
    try:
        items, next_after, total = rest.page_of("/credentials", {"limit": PAGE_SIZE,
                                                                "after": _after()})
    except RestError as exc:
        return render.error_page(exc.status, exc.message)
    choices, all_choices = rest.project_choices()
    names = {int(p["id"]): str(p["name"]) for p in choices}
    return render.page("credentials.html", "Credentials", credentials=items, total=total,
                       roles=CREDENTIAL_ROLES, project_choices=choices,
                       all_project_choices=all_choices, project_names=names,
                       **_pager("/ui/credentials", next_after))
