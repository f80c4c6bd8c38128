"""Authentication, run before every request to a route that is not marked `public`.

Two ways in:
- a credential: headers `x-api-key` and `x-secret-key`; the store keeps only the sha256 hex of
  the secret, compared with hmac.compare_digest; archived credentials are refused;
- the node secrets (node-to-node calls and the CLI): HTTP Basic auth with AuthUsername and
  AuthPassword, compared in constant time. `x-peer` (the original's marker) is not required.

Every failure is the same 401 body, whatever was wrong, so a caller cannot probe which keys
exist. Unknown routes and wrong methods are answered (404/405) without asking for auth, as the
original's router did.

A `public` view needs no credentials. An `optional_auth` view (the health check) needs none
either, but checks them when they are sent (a wrong one is the same 401), so it can answer a
caller who proved who it is in more detail.

Authentication sets g.principal (who: "credential:<id>" or "node") and g.access (what it may
do: scheduler0.api.access, which refuses with 403 what the role or projects do not cover).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request

from scheduler0.api.access import NODE_ACCESS, Access
from scheduler0.api.context import api
from scheduler0.errors import AuthError

UNAUTHORIZED = ("unauthorized: send the headers x-api-key and x-secret-key of an active "
                "credential (or the node's Basic auth)")
MAX_HEADER_LENGTH = 512
# Compared against when the key is unknown, so an unknown key costs the same as a wrong secret.
_DUMMY_HASH = hashlib.sha256(b"scheduler0-no-such-credential").hexdigest()

View = TypeVar("View", bound=Callable[..., Any])


def public(view: View) -> View:
    """Mark a view as open to anyone (health check, OpenAPI document, docs page)."""
    view.public = True  # type: ignore[attr-defined]
    return view


def optional_auth(view: View) -> View:
    """Open to anyone; credentials, when sent, are checked like anywhere else (a wrong one is
    the usual 401) and a right one sets g.principal for the view to see."""
    view.public = True  # type: ignore[attr-defined]
    view.optional_auth = True  # type: ignore[attr-defined]
    return view


def hash_secret(secret: str) -> str:
    """What the store keeps instead of an API secret."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def require_auth() -> None:
    """Flask before_request hook: set g.principal and g.access or raise AuthError."""
    if request.url_rule is None or request.endpoint is None:
        return  # 404/405: rendered by the error handlers, nothing to protect
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "public", False) and not (getattr(view, "optional_auth", False)
                                               and _offers_credentials()):
        return
    found = _credential_principal() or _node_principal()
    if found is None:
        raise AuthError(UNAUTHORIZED)
    g.principal, g.access = found


def _offers_credentials() -> bool:
    headers = request.headers
    return bool(headers.get("x-api-key") or headers.get("x-secret-key")
                or headers.get("Authorization"))


def _credential_principal() -> tuple[str, Access] | None:
    api_key = request.headers.get("x-api-key", "")
    secret = request.headers.get("x-secret-key", "")
    if not api_key or not secret:
        return None
    if len(api_key) > MAX_HEADER_LENGTH or len(secret) > MAX_HEADER_LENGTH:
        return None
    # The services' reader, not the request's: that one is limited to what this finds.
    row = api().services.reader().credential_by_api_key(api_key)
    stored = str(row["secret_hash"]) if row is not None else _DUMMY_HASH
    matches = hmac.compare_digest(hash_secret(secret).encode(), stored.encode())
    if row is None or not matches or row.get("archived"):
        return None
    projects = row.get("projects")
    access = Access(role=str(row["role"]),
                    projects=None if projects is None else tuple(projects))
    return f"credential:{row['id']}", access


def _node_principal() -> tuple[str, Access] | None:
    expected = api().node_auth
    auth = request.authorization
    if expected is None or auth is None or auth.type != "basic":
        return None
    username = auth.username or ""
    password = auth.password or ""
    # Hash both sides first: compare_digest leaks the length of its inputs, sha256 hides it.
    user_ok = hmac.compare_digest(_digest(username), _digest(expected[0]))
    password_ok = hmac.compare_digest(_digest(password), _digest(expected[1]))
    return ("node", NODE_ACCESS) if user_ok and password_ok else None


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()
