"""The Flask application: `create_app(settings, services, node_auth)`.

Every route answers under /api/v1 and under /v1 (the original's README spelling). Replies are
`{"success": true, "data": ...}`; errors `{"success": false, "data": null, "error": {"code",
"message"}}`, rendered by the handlers below from ApiError (scheduler0.errors) and from
werkzeug's HTTP errors (404 and 405 included, as JSON). Anything else is a bug: it is logged
and answered with a 500 in the same envelope. What waitress refuses before the app sees it (a
body over ApiMaxBodyMb, headers too large, an unreadable request) gets the same envelope from
scheduler0.api.process, with the messages below.

Request bodies are JSON: a POST, PUT or PATCH with a body must say `Content-Type:
application/json` (parameters such as charset allowed) or send no Content-Type; anything else
is a 415. The API has no static folder and no /static route.

The web console (scheduler0.console) is mounted once, at /ui; its errors are HTML pages
(render.error_page), the same statuses and messages, and its responses carry its own security
headers and caching (render.apply_headers).
"""

from __future__ import annotations

import logging
import secrets
import threading
from typing import Any

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from scheduler0 import clock
from scheduler0.api.access import authorize
from scheduler0.api.auth import require_auth
from scheduler0.api.bulk_runner import OperationRunner
from scheduler0.api.context import EXTENSION, ApiContext, api, error_response
from scheduler0.api.metrics import Metrics
from scheduler0.api.routes import BLUEPRINTS
from scheduler0.api.services import NodeServices
from scheduler0.api.session import credential_key, session_key
from scheduler0.api.validation import MAX_JOBS_PER_REQUEST
from scheduler0.config import Settings
from scheduler0.console import console
from scheduler0.console.render import error_page, is_console_path
from scheduler0.delivery.target import CallbackGuard, NetworkPolicy
from scheduler0.errors import ApiError, RaftError, StoreError, TransportError

log = logging.getLogger(__name__)

PREFIXES = (("/api/v1", ""), ("/v1", "_v1"))
RETRY_AFTER_SECONDS = 2
# A 429 says too many bulk operations run: one of their chunks takes about a second, and an
# operation of a few thousand jobs a few seconds.
BUSY_RETRY_AFTER_SECONDS = 5
JSON_MEDIA_TYPE = "application/json"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
INTERNAL_ERROR_MESSAGE = "internal error; it has been logged on the node. Please report it"

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 406: "not_acceptable", 408: "request_timeout",
              411: "length_required", 413: "payload_too_large", 414: "uri_too_long",
              415: "unsupported_media_type", 416: "range_not_satisfiable",
              429: "too_many_requests", 431: "headers_too_large", 500: "internal_error",
              501: "not_implemented"}


def max_body_bytes(settings: Settings) -> int:
    """The one body limit (ApiMaxBodyMb): waitress refuses at the header, Flask checks again."""
    return int(settings.api_max_body_mb * 1024 * 1024)


def body_too_large_message(limit_bytes: int) -> str:
    mib = round(limit_bytes / (1024 * 1024), 2)
    return (f"request body larger than {mib:g} MiB (the node's ApiMaxBodyMb); send at most "
            f"{MAX_JOBS_PER_REQUEST} jobs per request and split bigger batches")


def create_app(settings: Settings, services: NodeServices,
               node_auth: tuple[str, str] | None = None,
               stopping: threading.Event | None = None,
               secret_key: str | None = None) -> Flask:
    """The API app for one node.

    `services` is what the node gives the API (writes, reads, status, membership); `node_auth` is
    (AuthUsername, AuthPassword) from the node secrets, accepted as HTTP Basic auth (None: no
    Basic auth); `stopping`, once set, stops the bulk operations this app runs; `secret_key`
    is the node's SecretKey, which signs the console's sessions so that they work on every
    node of the cluster (None: a random key, sessions valid on this app only).
    """
    node_key = secret_key or secrets.token_urlsafe(32)
    app = Flask("scheduler0.api", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes(settings)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.compact = True  # type: ignore[attr-defined]
    app.url_map.merge_slashes = False  # `//x` is a 404, not a redirect a client must follow
    app.extensions[EXTENSION] = ApiContext(
        settings=settings, services=services, node_auth=node_auth,
        guard=CallbackGuard(NetworkPolicy.of(settings.callback_allowed_networks,
                                              settings.callback_denied_networks)),
        metrics=Metrics(), operations=OperationRunner(services, settings.node_id, stopping),
        session_key=session_key(node_key), credential_key=credential_key(node_key))
    app.before_request(_start_timer)
    app.before_request(require_auth)
    app.before_request(authorize)
    app.before_request(_require_json_body)
    app.after_request(_finish)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    for prefix, suffix in PREFIXES:
        for blueprint in BLUEPRINTS:
            app.register_blueprint(blueprint, url_prefix=prefix, name=blueprint.name + suffix)
    app.register_blueprint(console)  # once, at /ui
    return app


def _start_timer() -> None:
    g.started = clock.monotonic()


def _require_json_body() -> None:
    """Refuse a body that says it is not JSON instead of parsing it anyway."""
    if request.method not in BODY_METHODS or request.url_rule is None:
        return  # 404/405 are answered by the error handlers
    if request.blueprint == console.name:
        return  # the console's own forms post form fields, as browsers do
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if not (request.content_length or chunked):
        return
    if request.mimetype in ("", JSON_MEDIA_TYPE):
        return
    sent = request.headers.get("Content-Type", "")[:100]
    raise ApiError(f"Content-Type {sent!r} is not accepted: send the body as "
                   f"{JSON_MEDIA_TYPE} (charset utf-8) or without a Content-Type",
                   status=415, code="unsupported_media_type")


def _finish(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Cache-Control", "no-store")
    started = g.get("started")
    if started is not None:
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        api().metrics.observe(route, request.method, response.status_code,
                              clock.monotonic() - started)
    return response


def _error(status: int, code: str, message: str) -> Response:
    """The error envelope, or under /ui the console's error page with the same message."""
    if is_console_path(request.path):
        return error_page(status, message)
    return error_response(status, code, message)


def _api_error(exc: ApiError) -> Response:
    response = _error(exc.status, exc.code, exc.message)
    if exc.status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    elif exc.status == 429:
        response.headers["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
    return response


def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    if 300 <= status < 400:
        return exc  # a routing redirect keeps its Location
    code = HTTP_CODES.get(status, f"http_{status}")
    if status == 404 and is_console_path(request.path):
        message = f"the console has no page {request.path[:200]}"
    elif status == 404:
        message = (f"no route {request.path[:200]}; routes live under /api/v1 (or /v1), "
                   "see /api/v1/docs")
    elif status == 405:
        allowed = ", ".join(sorted(getattr(exc, "valid_methods", None) or ()))
        message = f"method {request.method} is not allowed here; allowed: {allowed}"
    elif status == 413:
        message = body_too_large_message(int(current_app.config["MAX_CONTENT_LENGTH"]))
    elif status == 400:
        message = f"bad request: {exc.description or 'the request could not be read'}"
    else:
        message = exc.description or exc.name
    response = _error(status, code, message)
    if status == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return response


def _unexpected(exc: Exception) -> Response:
    if isinstance(exc, (StoreError, RaftError, TransportError)):
        log.warning("%s %s: %s", request.method, request.path, exc)
        response = _error(503, "unavailable",
                          f"the node cannot serve this now ({exc}); retry shortly")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _error(500, "internal_error", INTERNAL_ERROR_MESSAGE)
