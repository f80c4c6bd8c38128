"""/credentials: API keys. The secret is generated here, shown once, and stored only hashed.

A credential may be limited to a role and to some projects (scheduler0.api.access); both are
fixed at creation."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, Response, request

from scheduler0 import messages
from scheduler0.api import serialize, session, validation, writes
from scheduler0.api.auth import hash_secret
from scheduler0.api.context import api, ok, reader
from scheduler0.api.writes import submit
from scheduler0.errors import ConflictError, NotFoundError

bp = Blueprint("credentials", __name__)


@bp.post("/credentials")
def create() -> Response:
    fields = validation.credential_create(validation.parse_json(request.get_data(),
                                                                required=False))
    _require_projects(fields["projects"])
    api_key, api_secret = _new_key_and_secret()
    row = submit(messages.CREDENTIAL_CREATE, {"api_key": api_key,
                                              "secret_hash": hash_secret(api_secret),
                                              "archived": fields["archived"],
                                              "role": fields["role"],
                                              "projects": fields["projects"]})
    if row["api_key"] != api_key:
        # A retry with the same Idempotency-Key reaching a node with another SecretKey: the
        # first request's secret is known only as a hash, so it cannot be shown again.
        raise ConflictError(f"this Idempotency-Key already created credential {row['id']}; its "
                            "secret was shown once and cannot be shown again: create another "
                            "credential (with a new key) if it was lost")
    return ok({**serialize.credential(row), "api_secret": api_secret}, 201)


def _new_key_and_secret() -> tuple[str, str]:
    """Random, or with an Idempotency-Key derived from the request: its retry (the first
    attempt's answer lost) gets the same credential back, secret included."""
    request_id = writes.request_id()
    if request_id is None:
        return secrets.token_hex(16), secrets.token_urlsafe(32)
    return session.derived_credential(api().credential_key, request_id)


def _require_projects(project_ids: list[int] | None) -> None:
    store = reader()
    for index, project_id in enumerate(project_ids or ()):
        if store.get_project(project_id) is None:
            raise NotFoundError(f"projects[{index}]: project {project_id} does not exist; "
                                "limit the credential to existing projects (GET /projects)")


@bp.get("/credentials")
def list_all() -> Response:
    limit, offset = validation.pagination(request.args)
    found = reader().list_credentials(limit=limit, offset=offset,
                                 after=validation.query_id(request.args, "after"))
    return ok(serialize.page("credentials", found, limit, offset, serialize.credential))


@bp.get("/credentials/<credential_id>")
def get_one(credential_id: str) -> Response:
    return ok(serialize.credential(_existing(validation.path_id(credential_id))))


@bp.put("/credentials/<credential_id>")
def update(credential_id: str) -> Response:
    ident = validation.path_id(credential_id)
    fields = validation.credential_update(validation.parse_json(request.get_data()))
    row = submit(messages.CREDENTIAL_UPDATE, {"id": ident, "archived": fields["archived"]})
    return ok(serialize.credential(row))


@bp.delete("/credentials/<credential_id>")
def delete(credential_id: str) -> Response:
    ident = validation.path_id(credential_id)
    return ok(submit(messages.CREDENTIAL_DELETE, {"id": ident}))


def _existing(ident: int) -> dict[str, Any]:
    row = reader().get_credential(ident)
    if row is None:
        raise NotFoundError(f"credential {ident} does not exist")
    return dict(row)
