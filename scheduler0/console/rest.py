"""The console's REST calls: the node's own API, in-process, with the caller's own credentials.

`call("GET", "/jobs", {"limit": 50})` runs the request through this same Flask app (its WSGI
callable, in a fresh application context so the inner request's `g` is its own) with the
current request's session cookie, Basic auth or credential headers, CSRF header and client
address: authentication, roles and scopes, validation and error messages are exactly the
API's, and a page can never show more than the API would tell its viewer. No socket is opened.

A success returns the envelope's `data`; an error envelope raises RestError with its status,
code and message, which a page shows as is (render.error_page).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import current_app, request
from werkzeug.test import EnvironBuilder, run_wsgi_app

from scheduler0.api import session

API_PREFIX = "/api/v1"
# What the inner request carries over from the outer one: who the caller is, nothing else.
FORWARDED_HEADERS = ("Cookie", "Authorization", "x-api-key", "x-secret-key",
                     session.CSRF_HEADER, "User-Agent")
# A list answer's keys other than its items (serialize.page).
PAGE_KEYS = frozenset({"total", "total_exact", "limit", "offset", "next_after"})


class RestError(Exception):
    """An error envelope from the API."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def call(method: str, path: str, query: Mapping[str, Any] | None = None,
         body: Any = None) -> Any:
    """`method` `/api/v1` + `path` as the current caller; the answer's `data` (a non-JSON
    answer, such as /metrics: its text). `query` values that are None are left out; a list
    value repeats the parameter."""
    path, _, inline_query = path.partition("?")  # "/jobs?limit=1" works too
    query_string = "&".join(part for part in (inline_query, _query_string(query)) if part)
    builder = EnvironBuilder(path=API_PREFIX + path, method=method.upper(),
                             query_string=query_string, headers=_forwarded_headers(),
                             data=None if body is None else json.dumps(body),
                             content_type=None if body is None else "application/json",
                             environ_base={"REMOTE_ADDR": request.remote_addr or "127.0.0.1"})
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    environ = builder.get_environ()
    builder.close()
    # A fresh app context: otherwise the inner request would share (and overwrite) this
    # request's `g` (g.started, g.reader, g.principal).
    with app.app_context():
        chunks, status, headers = run_wsgi_app(app.wsgi_app, environ, buffered=True)
    mimetype = (headers.get("Content-Type") or "").split(";")[0].strip()
    return _answer(int(status.split(" ", 1)[0]), mimetype, b"".join(chunks))


def page_of(path: str, query: Mapping[str, Any] | None = None
            ) -> tuple[list[dict[str, Any]], str | None, int]:
    """A list answer (GET `path`): its items, the `after=` cursor of the next page (None on
    the last) and its total (capped by the API: see `total_exact`)."""
    data = call("GET", path, query)
    items = next((value for key, value in data.items()
                  if key not in PAGE_KEYS and isinstance(value, list)), [])
    after = data.get("next_after")
    return items, None if after in (None, "") else str(after), int(data.get("total") or 0)


def _query_string(query: Mapping[str, Any] | None) -> str:
    pairs: list[tuple[str, str]] = []
    for key, value in (query or {}).items():
        values = value if isinstance(value, (list, tuple)) else [value]
        pairs += [(key, _text(item)) for item in values if item is not None]
    return urlencode(pairs)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _forwarded_headers() -> list[tuple[str, str]]:
    found = [(name, request.headers[name]) for name in FORWARDED_HEADERS
             if name in request.headers]
    if session.CSRF_HEADER not in request.headers and request.form.get(session.CSRF_FIELD):
        # A console form's token (sign-out and other form posts) stands for the header.
        found.append((session.CSRF_HEADER, request.form[session.CSRF_FIELD]))
    return found


def _answer(status: int, mimetype: str, raw: bytes) -> Any:
    if mimetype != "application/json":
        if status >= 400:
            raise RestError(status, f"http_{status}", raw.decode("utf-8", "replace")[:500])
        return raw.decode("utf-8", "replace")
    envelope = json.loads(raw)
    if isinstance(envelope, dict) and envelope.get("success") is True:
        return envelope.get("data")
    error = envelope.get("error") if isinstance(envelope, dict) else None
    error = error if isinstance(error, dict) else {}
    raise RestError(status, str(error.get("code") or f"http_{status}"),
                    str(error.get("message") or f"the API answered {status}"))


PROJECT_CHOICES = 200  # projects a picker offers (past that, an id to type)


def project_choices() -> tuple[list[dict[str, Any]], bool]:
    """The projects for a picker (the first PROJECT_CHOICES the caller may see), and whether
    that is every one of them; none when the API refuses the list."""
    try:
        items, next_after, _ = page_of("/projects", {"limit": PROJECT_CHOICES,
                                                     "job_count": "false"})
    except RestError:
        return [], False
    return items, next_after is None
