"""/projects: a name, a description, the signing secret callbacks are signed with, and where
failure notifications go; /projects/{id}/notifications lists the recent ones.

Rotating the secret keeps the old one signing too (a second signature header) for a grace
period, so receivers can switch to the new secret without refusing a callback. A
notification_url is checked as a job's callback_url is (the node's network policy). A
rate_limit bounds what the project's receivers get (scheduler0.rationing): ticks above it wait,
recorded late, never dropped."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, Response, request

from scheduler0 import messages
from scheduler0.api import serialize, validation
from scheduler0.api.context import api, ok, reader
from scheduler0.api.writes import submit
from scheduler0.errors import NotFoundError

bp = Blueprint("projects", __name__)


def new_signing_secret() -> str:
    return secrets.token_hex(32)


@bp.post("/projects")
def create() -> Response:
    fields = validation.project_create(validation.parse_json(request.get_data()),
                                       api().guard.problem)
    row = submit(messages.PROJECT_CREATE, {**fields, "signing_secret": new_signing_secret()})
    return ok(serialize.project(row), 201)


@bp.get("/projects")
def list_all() -> Response:
    limit, offset = validation.pagination(request.args)
    found = reader().list_projects(limit=limit, offset=offset,
                                 after=validation.query_id(request.args, "after"))
    if validation.query_bool(request.args, "job_count") is False:
        return ok(serialize.page("projects", found, limit, offset, serialize.project))
    counts = reader().project_job_counts([row["id"] for row in found.rows])
    return ok(serialize.page("projects", found, limit, offset,
                             lambda row: serialize.project_counted(row, counts[row["id"]])))


@bp.get("/projects/<project_id>")
def get_one(project_id: str) -> Response:
    ident = validation.path_id(project_id)
    row = reader().get_project(ident)
    if row is None:
        raise NotFoundError(f"project {ident} does not exist")
    counts = reader().project_job_counts([ident])
    return ok(serialize.project_counted(row, counts[ident]))


@bp.route("/projects/<project_id>", methods=["PUT", "PATCH"])
def update(project_id: str) -> Response:
    ident = validation.path_id(project_id)
    changes = validation.project_update(validation.parse_json(request.get_data()),
                                        api().guard.problem)
    body: dict[str, Any] = {"id": ident}
    body.update({k: v for k, v in changes.items()
                 if k not in ("rotate_signing_secret", "grace_seconds", "notification_url",
                              "rate_limit")})
    if "notification_url" in changes:
        url = changes["notification_url"]
        body.update({"notification_url": url} if url is not None
                    else {"remove_notification_url": True})
    if "rate_limit" in changes:
        limit = changes["rate_limit"]
        body.update({"rate_limit": limit} if limit is not None else {"remove_rate_limit": True})
    if changes.get("rotate_signing_secret"):
        body["signing_secret"] = new_signing_secret()
        body["grace_seconds"] = changes.get("grace_seconds",
                                            api().settings.signing_secret_grace_seconds)
    return ok(serialize.project(submit(messages.PROJECT_UPDATE, body)))


@bp.get("/projects/<project_id>/notifications")
def notifications(project_id: str) -> Response:
    """The project's recent failure notifications, newest first, with how sending went."""
    ident = validation.path_id(project_id)
    if reader().get_project(ident) is None:
        raise NotFoundError(f"project {ident} does not exist")
    limit, offset = validation.pagination(request.args)
    found = reader().list_notifications(
        ident, validation.notification_delivery(request.args), limit=limit, offset=offset,
        after=validation.query_id(request.args, "after"))
    return ok(serialize.page("notifications", found, limit, offset, serialize.notification))


@bp.delete("/projects/<project_id>")
def delete(project_id: str) -> Response:
    ident = validation.path_id(project_id)
    cascade = validation.query_bool(request.args, "cascade") or False
    return ok(submit(messages.PROJECT_DELETE, {"id": ident, "cascade": cascade}))
