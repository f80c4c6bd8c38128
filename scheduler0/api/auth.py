"""Authentication, run before every request to a route that is not marked `public`.

Three ways in:
- a credential: headers `x-api-key` and `x-secret-key`; the store keeps only the sha256 hex of
  the secret, compared with hmac.compare_digest; archived credentials are refused;
- the node secrets (node-to-node calls and the CLI): HTTP Basic auth with AuthUsername and
  AuthPassword, compared in constant time. `x-peer` (the original's marker) is not required;
- the web console's session: the cookie `s0_session` (scheduler0.api.session), issued by
  /ui/signin for one of the two above and re-checked on every request (an archived credential
  is signed out). It is used only when a request sends no credential headers or Basic auth.
  A browser sends a cookie on its own, so a request it authenticates with a method other than
  GET or HEAD must also send `X-CSRF-Token` (the token the console's pages carry), or the field
  `csrf_token` in a console form; without it: 403, so a cross-site form can never act.

Every failure is the same 401 body, whatever was wrong, so a caller cannot probe which keys
exist; a console page answers it with a redirect to /ui/signin instead. Unknown routes and
wrong methods are answered (404/405) without asking for auth, as the original's router did.

A `public` view needs no credentials. An `optional_auth` view (the health check) needs none
either, but checks them when they are sent (a wrong one is the same 401; a stale session
cookie, which the browser sends unasked, is ignored), so it can answer a caller who proved who
it is in more detail.

Authentication sets g.principal (who: "credential:<id>" or "node") and g.access (what it may
do: scheduler0.api.access, which refuses with 403 what the role or projects do not cover), and
for a session g.session_token (the cookie's token, whose CSRF token the pages show).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from flask import current_app, g, redirect, request
from werkzeug.wrappers import Response

from scheduler0 import clock
from scheduler0.api import session
from scheduler0.api.access import CONSOLE_BLUEPRINT, NODE_ACCESS, Access, is_public
from scheduler0.api.context import api
from scheduler0.errors import AuthError, ForbiddenError

UNAUTHORIZED = ("unauthorized: send the headers x-api-key and x-secret-key of an active "
                "credential (or the node's Basic auth)")
MAX_HEADER_LENGTH = 512
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_MISSING = (f"this request is signed in with the console's session cookie, so a "
                f"{{method}} needs the header {session.CSRF_HEADER}: send the value of the "
                f"<meta name=\"csrf-token\"> of any /ui page (the console's S0.api does), or "
                f"authenticate with x-api-key and x-secret-key instead of the cookie")
SIGN_IN_PATH = "/ui/signin"
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


def require_auth() -> Response | None:
    """Flask before_request hook: set g.principal and g.access, or raise AuthError (a console
    page: answer with the redirect to its sign-in page)."""
    if request.url_rule is None or request.endpoint is None:
        return None  # 404/405: rendered by the error handlers, nothing to protect
    view = current_app.view_functions.get(request.endpoint)
    if is_public(request.endpoint):
        if getattr(view, "optional_auth", False):
            _optional_principal()
        return None
    found = _explicit_principal() if _offers_credentials() else session_principal()
    if found is None:
        if request.blueprint == CONSOLE_BLUEPRINT:
            return _to_sign_in()
        raise AuthError(UNAUTHORIZED)
    g.principal, g.access = found
    if g.get("session_token") is not None and request.method not in SAFE_METHODS:
        _require_csrf(g.session_token)
    return None


def _optional_principal() -> None:
    """Credentials sent to an optional_auth view must be right; a session cookie that no
    longer is (signed out elsewhere, expired) is ignored, as the browser sends it unasked."""
    if _offers_credentials():
        found = _explicit_principal()
        if found is None:
            raise AuthError(UNAUTHORIZED)
    else:
        found = session_principal()
    if found is not None:
        g.principal, g.access = found


def _offers_credentials() -> bool:
    headers = request.headers
    return bool(headers.get("x-api-key") or headers.get("x-secret-key")
                or headers.get("Authorization"))


def _explicit_principal() -> tuple[str, Access] | None:
    return _credential_principal() or _node_principal()


def _to_sign_in() -> Response:
    path = request.full_path.rstrip("?") if request.method in SAFE_METHODS else request.path
    return redirect(f"{SIGN_IN_PATH}?next={quote(path, safe='/')}", code=303)


def _require_csrf(token: str) -> None:
    sent = request.headers.get(session.CSRF_HEADER)
    if not sent and request.blueprint == CONSOLE_BLUEPRINT:
        sent = request.form.get(session.CSRF_FIELD)  # a console form: no headers to send
    if not session.csrf_matches(token, sent):
        raise ForbiddenError(CSRF_MISSING.format(method=request.method))


def _credential_principal() -> tuple[str, Access] | None:
    row = credential_row(request.headers.get("x-api-key", ""),
                         request.headers.get("x-secret-key", ""))
    return None if row is None else (f"credential:{row['id']}", access_of(row))


def credential_row(api_key: str, secret: str) -> dict[str, Any] | None:
    """The active credential `api_key` when `secret` is its secret (with `secret_hash`), else
    None; an unknown key costs the same as a wrong secret."""
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
    return row


def access_of(row: dict[str, Any]) -> Access:
    projects = row.get("projects")
    return Access(role=str(row["role"]), projects=None if projects is None else tuple(projects))


def _node_principal() -> tuple[str, Access] | None:
    auth = request.authorization
    if auth is None or auth.type != "basic":
        return None
    return ("node", NODE_ACCESS) if node_secrets_match(auth.username or "",
                                                       auth.password or "") else None


def node_secrets_match(username: str, password: str) -> bool:
    """Whether these are the node's AuthUsername and AuthPassword (constant time)."""
    expected = api().node_auth
    if expected is None:
        return False
    # Hash both sides first: compare_digest leaks the length of its inputs, sha256 hides it.
    user_ok = hmac.compare_digest(_digest(username), _digest(expected[0]))
    password_ok = hmac.compare_digest(_digest(password), _digest(expected[1]))
    return user_ok and password_ok


# -- the console's session ---------------------------------------------------------------------


def issue_credential_session(row: dict[str, Any]) -> str:
    """A session token for the credential `row` (from credential_row)."""
    return session.issue(api().session_key, "credential", str(row["api_key"]),
                         str(row["secret_hash"]), clock.now())


def issue_node_session() -> str:
    """A session token for the node secrets (call after node_secrets_match)."""
    expected = api().node_auth
    assert expected is not None, "no node secrets: node_secrets_match refused them"
    return session.issue(api().session_key, "node", session.NODE_SUBJECT,
                         session.node_binding(*expected), clock.now())


def session_principal() -> tuple[str, Access] | None:
    """Who the session cookie names, re-checked now (archived, expired, a changed secret:
    None); sets g.session_token when it is valid."""
    token = request.cookies.get(session.COOKIE_NAME, "")
    claims = session.peek(token)
    if claims is None:
        return None
    context = api()
    found: tuple[str, Access]
    if claims.kind == "node":
        if context.node_auth is None:
            return None
        binding, found = session.node_binding(*context.node_auth), ("node", NODE_ACCESS)
    else:
        row = context.services.reader().credential_by_api_key(claims.subject)
        if row is None or row.get("archived"):
            return None
        binding, found = str(row["secret_hash"]), (f"credential:{row['id']}", access_of(row))
    if session.verify(context.session_key, token, binding, clock.now()) is None:
        return None
    g.session_token = token
    return found


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()
