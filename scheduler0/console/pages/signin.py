"""Signing in and out: /ui/signin (an API key and secret, or the node's username and
password) and POST /ui/signout.

A successful sign-in sets the session cookie (scheduler0.api.session: HttpOnly,
SameSite=Strict, Path=/, Secure when the request came over HTTPS) and sends the browser on to
`next`, a console path. A failed one shows the same message whatever was wrong and sets
nothing. The form is refused when the browser says it comes from another origin (a cross-site
form must not sign a victim in as someone else).
"""

from __future__ import annotations

from flask import g, redirect, request
from werkzeug.wrappers import Response

from scheduler0.api import auth, session
from scheduler0.console.blueprint import console
from scheduler0.console.render import page

HOME = "/ui/"
SIGN_IN_FAILED = ("sign-in failed: these do not match an active API credential (key and "
                  "secret) or the node's username and password; check them and try again")
CROSS_ORIGIN = ("sign-in refused: the form was sent from another site ({origin}); open "
                "/ui/signin on this node and sign in there")
MAX_FIELD_LENGTH = 512


def safe_next(raw: str | None) -> str:
    """Where to go after signing in: a console path of this node, never another site."""
    target = (raw or "").strip()
    if (not target.startswith("/ui") or target.startswith("//") or "\\" in target
            or any(ord(char) < 0x20 for char in target)):
        return HOME
    if target != "/ui" and not target.startswith(("/ui/", "/ui?")):
        return HOME
    return target


@console.get("/signin")
@auth.public
def signin_form() -> Response:
    target = safe_next(request.args.get("next"))
    if auth.session_principal() is not None:
        return redirect(target, code=303)
    return _form(target)


@console.post("/signin")
@auth.public
def signin() -> Response:
    form = request.form
    target = safe_next(form.get("next"))
    method = "node" if form.get("method") == "node" else "key"
    origin = request.headers.get("Origin")
    if origin and origin.rstrip("/") != request.host_url.rstrip("/"):
        return _form(target, method, CROSS_ORIGIN.format(origin=origin[:200]), status=403)
    token = _token(method, _field("username" if method == "node" else "api_key"),
                   _field("password" if method == "node" else "api_secret"))
    if token is None:
        return _form(target, method, SIGN_IN_FAILED, status=401,
                     username=_field("username"), api_key=_field("api_key"))
    response = redirect(target, code=303)
    response.set_cookie(session.COOKIE_NAME, token, max_age=session.LIFETIME_SECONDS,
                        path="/", httponly=True, samesite="Strict", secure=request.is_secure)
    return response


def _field(name: str) -> str:
    return (request.form.get(name) or "")[:MAX_FIELD_LENGTH + 1]


def _token(method: str, who: str, secret: str) -> str | None:
    if method == "node":
        return auth.issue_node_session() if who and secret and auth.node_secrets_match(
            who, secret) else None
    row = auth.credential_row(who.strip(), secret.strip())
    return None if row is None else auth.issue_credential_session(row)


def _form(target: str, method: str = "key", error: str = "", status: int = 200,
          username: str = "", api_key: str = "") -> Response:
    return page("signin.html", "Sign in", status=status, next=target, method=method,
                error=error, username=username[:MAX_FIELD_LENGTH],
                api_key=api_key[:MAX_FIELD_LENGTH])


@console.post("/signout")
def signout() -> Response:
    """Clear the cookie (the CSRF token was checked by scheduler0.api.auth). The token itself
    stays valid until it expires: a stolen one is revoked by archiving the credential or
    changing the node's password."""
    g.pop("session_token", None)
    response = redirect("/ui/signin", code=303)
    response.delete_cookie(session.COOKIE_NAME, path="/", httponly=True, samesite="Strict",
                           secure=request.is_secure)
    return response
