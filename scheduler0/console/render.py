"""Rendering a console page: `page(template, title, **context)` and `error_page(status, message)`.

Every template extends base.html, which needs what `page` adds to the context: who is signed
in (`principal`, `role`, `can_write`, `is_admin`), the CSRF token for the page's writes, and the
navigation. Static files are linked with `asset(name)`, which adds `?v=<hash of the file>` so a
changed file gets a new URL and the old one can be cached for a year.

Every /ui response gets the console's security headers (`apply_headers`): a CSP without inline
scripts or styles and without any other origin, no framing, no referrer to other sites.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Response, g, render_template, request, url_for

from scheduler0 import __version__
from scheduler0.api import session
from scheduler0.api.access import Access
from scheduler0.console.blueprint import console

CONTENT_SECURITY_POLICY = "default-src 'self'; frame-ancestors 'none'; form-action 'self'"
STATIC_MAX_AGE = 365 * 24 * 3600
STATIC_FOLDER = os.path.join(os.path.dirname(__file__), "static")
HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class NavLink:
    label: str
    path: str
    admin_only: bool = False


NAV = (NavLink("Overview", "/ui/"), NavLink("Jobs", "/ui/jobs"),
       NavLink("Executions", "/ui/executions"), NavLink("Load", "/ui/load"),
       NavLink("Projects", "/ui/projects"), NavLink("Credentials", "/ui/credentials", True))


def page(template: str, title: str, status: int = 200, **context: Any) -> Response:
    """The page `template` (under templates/) with the signed-in caller's context."""
    body = render_template(template, title=title, **viewer(), **context)
    return Response(body, status=status, content_type=HTML)


def error_page(status: int, message: str) -> Response:
    """The standard error page: the status and the message as the API (or the console) gave
    it. Works signed out too (a 404 under /ui before signing in)."""
    titles = {400: "Bad request", 401: "Not signed in", 403: "Not allowed", 404: "Not found",
              405: "Method not allowed", 409: "Conflict", 429: "Too many requests",
              503: "Unavailable"}
    title = titles.get(status, "Error")
    return apply_headers(page("error.html", f"{status} {title}", status=status,
                              error_status=status, error_title=title, message=message))


def viewer() -> dict[str, Any]:
    """Who is looking: what base.html and every page may use."""
    access: Access | None = g.get("access")
    principal = str(g.get("principal") or "")
    role = "" if access is None else ("admin" if access.node else access.role)
    token = g.get("session_token")
    return {
        "principal": principal,
        "principal_label": _label(principal),
        "role": role,
        "signed_in": access is not None,
        "can_write": access is not None and access.has_role("write"),
        "is_admin": access is not None and access.has_role("admin"),
        "every_project": access is not None and access.every_project,
        "csrf_token": session.csrf_token(token) if token else "",
        "nav": [link for link in NAV if not link.admin_only
                or (access is not None and access.has_role("admin"))],
        "current_path": request.path,
        "version": __version__,
    }


def _label(principal: str) -> str:
    if principal == "node":
        return "node secrets"
    kind, _, ident = principal.partition(":")
    return f"credential {ident}" if kind == "credential" else principal


def is_current(link_path: str, path: str) -> bool:
    """Whether the nav link `link_path` is the section `path` is in."""
    if link_path == "/ui/":
        return path in ("/ui", "/ui/")
    return path == link_path or path.startswith(link_path + "/")


def asset(filename: str) -> str:
    """The URL of a static file, versioned by its content."""
    return url_for("console.static", filename=filename, v=_file_version(filename))


def _file_version(filename: str) -> str:
    path = os.path.join(STATIC_FOLDER, filename)
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        return __version__
    return _hash_of(path, mtime)


@lru_cache(maxsize=256)
def _hash_of(path: str, mtime: int) -> str:
    # mtime is part of the cache key: an edited file (while developing) gets a new hash.
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()[:12]


def apply_headers(response: Response) -> Response:
    """The console's security headers, and caching for versioned static files only."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.endpoint == "console.static" and response.status_code in (200, 304):
        response.headers["Cache-Control"] = (
            f"public, max-age={STATIC_MAX_AGE}, immutable" if request.args.get("v")
            else "no-cache")  # an unversioned URL: revalidate each time (ETag)
    return response


def to_datetime(value: Any) -> datetime | None:
    """An instant as the API writes it (RFC 3339 text) or as epoch seconds; None otherwise."""
    if isinstance(value, bool) or value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso_time(value: Any) -> str:
    """For `<time datetime=...>`: the instant in UTC, ISO 8601 (the text itself if unreadable)."""
    moment = to_datetime(value)
    return str(value) if moment is None else moment.astimezone(UTC).isoformat().replace(
        "+00:00", "Z")


def show_time(value: Any, zone: str | None = None) -> str:
    """The instant as people read it, in `zone` (UTC when none or unknown)."""
    moment = to_datetime(value)
    if moment is None:
        return str(value)
    try:
        tz = ZoneInfo(zone) if zone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        tz = UTC
    local = moment.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or 'UTC'}"


console.after_request(apply_headers)
console.add_app_template_global(asset, "asset")
console.add_app_template_global(is_current, "is_current")
console.add_app_template_filter(iso_time, "iso_time")
console.add_app_template_filter(show_time, "show_time")


def is_console_path(path: str) -> bool:
    """Whether `path` is the console's (its errors are pages, not JSON)."""
    return path == console.url_prefix or path.startswith(f"{console.url_prefix}/")
