"""What the handlers share: the app's settings, services and helpers, and the envelope.

`create_app` stores one ApiContext in `app.extensions["scheduler0"]`; handlers reach it with
`api()`. Replies go through `ok()`; errors are raised (scheduler0.errors) and rendered by the
one error handler in app.py with `error_response()`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Response, current_app, g, jsonify

from scheduler0.api.bulk_runner import OperationRunner
from scheduler0.api.metrics import Metrics
from scheduler0.api.services import NodeServices
from scheduler0.config import Settings
from scheduler0.delivery.target import CallbackGuard

if TYPE_CHECKING:
    from scheduler0.store.reads import Reader

EXTENSION = "scheduler0"


@dataclass
class ApiContext:
    settings: Settings
    services: NodeServices
    node_auth: tuple[str, str] | None
    guard: CallbackGuard
    metrics: Metrics
    operations: OperationRunner
    # Signs the console's session cookies (scheduler0.api.session.session_key).
    session_key: bytes = b""
    # Derives credentials created with an Idempotency-Key (session.credential_key).
    credential_key: bytes = b""


def api() -> ApiContext:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def reader() -> Reader:
    """The store's read view for this request (one per thread, from the services), limited
    to the caller's projects when its credential is (scheduler0.api.access)."""
    if "reader" not in g:
        access = g.get("access")
        base = api().services.reader()
        g.reader = base if access is None else base.scoped(access.projects)
    return g.reader  # type: ignore[no-any-return]  # flask.g holds Any


def ok(data: Any, status: int = 200) -> Response:
    response = jsonify({"success": True, "data": data})
    response.status_code = status
    return response


def ok_json(data_json: Iterable[str], status: int = 200) -> Response:
    """`ok(data)` for `data` already written as JSON, in pieces, the way the app writes it
    (compact, ASCII only: serialize.jobs_json): the same envelope, byte for byte, without
    building the objects only to encode them."""
    text = "".join(itertools.chain(('{"success":true,"data":',), data_json, ("}\n",)))
    response: Response = current_app.response_class(text, mimetype="application/json")
    response.status_code = status
    return response


def error_envelope(code: str, message: str) -> dict[str, Any]:
    """The error body, also written by the server itself (scheduler0.api.process) for requests
    it refuses before Flask sees them."""
    return {"success": False, "data": None, "error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str) -> Response:
    response = jsonify(error_envelope(code, message))
    response.status_code = status
    return response
