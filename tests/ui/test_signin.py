"""Signing in and out of the console, the session cookie and the CSRF check, on a real node:
in chromium, and with a plain HTTP client (urllib) holding the cookie the way a browser would."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from tests.ui.conftest import UiNode, screenshot, sign_in, wait_css, wait_text


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 303 itself is the answer to look at (its Set-Cookie, its Location)


OPENER = urllib.request.build_opener(_NoRedirect)


def http(ui_node: UiNode, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    """(status, headers, body) of one request, redirects not followed."""
    request = urllib.request.Request(ui_node.url(path), data=body, method=method,
                                     headers=headers or {})
    try:
        with OPENER.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read()


def form_sign_in(ui_node: UiNode, **fields: str) -> tuple[int, Any, bytes]:
    return http(ui_node, "POST", "/ui/signin", urllib.parse.urlencode(fields).encode(),
                {"Content-Type": "application/x-www-form-urlencoded"})


def session_cookie(ui_node: UiNode) -> str:
    status, headers, _ = form_sign_in(ui_node, method="node", username=ui_node.username,
                                      password=ui_node.password)
    assert status == 303
    cookie = headers["Set-Cookie"]
    return cookie.split(";", 1)[0]  # "s0_session=<token>"


def csrf_of_page(ui_node: UiNode, cookie: str) -> str:
    status, _, body = http(ui_node, "GET", "/ui/", headers={"Cookie": cookie})
    assert status == 200
    found = re.search(rb'<meta name="csrf-token" content="([^"]+)">', body)
    assert found, body[:500]
    return found.group(1).decode()


def create_project(ui_node: UiNode, cookie: str, token: str | None,
                   name: str) -> tuple[int, Any]:
    headers = {"Cookie": cookie, "Content-Type": "application/json"}
    if token is not None:
        headers["X-CSRF-Token"] = token
    status, _, body = http(ui_node, "POST", "/api/v1/projects",
                           json.dumps({"name": name}).encode(), headers)
    return status, json.loads(body)


def credential(ui_node: UiNode, role: str) -> dict[str, Any]:
    return dict(ui_node.rest("POST", "/credentials", {"role": role}))


# -- in the browser ----------------------------------------------------------------------------


def test_a_page_sends_a_signed_out_browser_to_sign_in_and_back(browser: Any,
                                                                ui_node: UiNode) -> None:
    browser.get(ui_node.url("/ui/?from=test"))
    wait_css(browser, "#signin-form")
    assert urllib.parse.urlsplit(browser.current_url).path == "/ui/signin"
    screenshot(browser, "signin")
    browser.find_element("id", "method-node").click()
    browser.find_element("id", "username").send_keys(ui_node.username)
    browser.find_element("id", "password").send_keys(ui_node.password)
    browser.find_element("id", "signin-submit").click()
    wait_css(browser, "#sign-out")
    assert browser.current_url == ui_node.url("/ui/?from=test")


def test_sign_in_with_the_node_secrets_sets_a_strict_http_only_cookie_and_signs_out(
        browser: Any, ui_node: UiNode) -> None:
    sign_in(browser, ui_node)
    wait_text(browser, ".principal", "node secrets")
    cookie = browser.get_cookie("s0_session")
    assert cookie is not None
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/"
    # HttpOnly: the page's own script cannot read it.
    assert "s0_session" not in browser.execute_script("return document.cookie;")
    browser.find_element("id", "sign-out").click()
    wait_css(browser, "#signin-form")
    assert browser.get_cookie("s0_session") is None
    browser.get(ui_node.url("/ui/"))
    wait_css(browser, "#signin-form")


def test_sign_in_with_an_api_key_and_secret(browser: Any, ui_node: UiNode) -> None:
    made = credential(ui_node, "write")
    sign_in(browser, ui_node, key=made["api_key"], secret=made["api_secret"])
    wait_text(browser, ".principal", f"credential {made['id']}")
    wait_text(browser, ".role", "write")
    names = [link.text for link in browser.find_elements("css selector", ".nav a")]
    assert "Credentials" not in names and "Jobs" in names  # the admin links are for admins


def test_a_wrong_secret_shows_the_error_and_sets_no_cookie(browser: Any, ui_node: UiNode) -> None:
    made = credential(ui_node, "read")
    browser.get(ui_node.url("/ui/signin"))
    wait_css(browser, "#signin-form")
    browser.find_element("id", "api_key").send_keys(made["api_key"])
    browser.find_element("id", "api_secret").send_keys(made["api_secret"] + "x")
    browser.find_element("id", "signin-submit").click()
    error = wait_text(browser, "#signin-error", "sign-in failed")
    assert "API credential" in error.text
    assert browser.get_cookie("s0_session") is None
    assert browser.find_element("id", "api_key").get_attribute("value") == made["api_key"]
    assert browser.find_element("id", "api_secret").get_attribute("value") == ""
    screenshot(browser, "signin-error")


def test_a_write_without_the_csrf_header_is_refused_from_the_browser(browser: Any,
                                                                     ui_node: UiNode) -> None:
    sign_in(browser, ui_node)
    answer = browser.execute_async_script("""
        var done = arguments[arguments.length - 1];
        fetch('/api/v1/projects', {method: 'POST', credentials: 'same-origin',
              headers: {'Content-Type': 'application/json'},
              body: JSON.stringify({name: 'no-csrf-from-the-browser'})})
          .then(function (r) { return r.json().then(function (b) { done([r.status, b]); }); })
          .catch(function (e) { done([0, String(e)]); });
    """)
    status, body = answer
    assert status == 403 and "X-CSRF-Token" in body["error"]["message"], answer
    made = browser.execute_async_script("""
        var done = arguments[arguments.length - 1];
        S0.api('POST', '/projects', {name: 'with-csrf-from-the-browser'})
          .then(function (data) { done(data); }, function (e) { done({failed: e.message}); });
    """)
    assert made.get("name") == "with-csrf-from-the-browser", made


def test_a_read_only_credentials_write_shows_the_apis_403(browser: Any, ui_node: UiNode) -> None:
    made = credential(ui_node, "read")
    sign_in(browser, ui_node, key=made["api_key"], secret=made["api_secret"])
    browser.execute_script(
        "S0.api('POST', '/projects', {name: 'read-only-try'}).catch(S0.showError);")
    shown = wait_text(browser, "#errors", "this credential has role read")
    assert "403" in shown.text and "POST /projects needs role admin" in shown.text
    screenshot(browser, "write-refused")


# -- with a plain HTTP client ------------------------------------------------------------------


def test_the_cookie_without_or_with_a_wrong_csrf_token_cannot_write(ui_node: UiNode) -> None:
    cookie = session_cookie(ui_node)
    for token in (None, "", "not-the-token"):
        status, body = create_project(ui_node, cookie, token, "no-csrf")
        assert status == 403, body
        message = body["error"]["message"]
        assert "X-CSRF-Token" in message and 'meta name="csrf-token"' in message, message
    # Another session's token is wrong too.
    other = csrf_of_page(ui_node, session_cookie(ui_node))
    assert create_project(ui_node, cookie, other, "other-session")[0] == 403
    status, body = create_project(ui_node, cookie, csrf_of_page(ui_node, cookie), "with-csrf")
    assert status == 201 and body["data"]["name"] == "with-csrf", body
    # A read needs no token, and sign-out needs one.
    status, _, _ = http(ui_node, "GET", "/api/v1/projects", headers={"Cookie": cookie})
    assert status == 200
    form = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    status, _, page = http(ui_node, "POST", "/ui/signout", b"", form)
    assert status == 403 and b"X-CSRF-Token" in page


def test_sign_in_answers_and_cookie_flags(ui_node: UiNode) -> None:
    status, headers, page = form_sign_in(ui_node, method="node", username=ui_node.username,
                                         password="wrong")
    assert status == 401 and "Set-Cookie" not in headers and b"sign-in failed" in page
    status, headers, _ = form_sign_in(ui_node, method="node", username=ui_node.username,
                                      password=ui_node.password, next="https://evil.example/")
    assert status == 303 and headers["Location"] == "/ui/"  # never another site
    flags = {part.strip().lower() for part in headers["Set-Cookie"].split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= flags
    # The same 401 as any wrong credential for a forged or stale cookie on the API.
    status, _, body = http(ui_node, "GET", "/api/v1/projects",
                           headers={"Cookie": "s0_session=v1.node.bm9kZQ.1.2.bm9uY2U.forged"})
    assert status == 401 and json.loads(body)["error"]["code"] == "unauthorized"
    # A form posted from another site is refused.
    status, headers, page = http(
        ui_node, "POST", "/ui/signin", urllib.parse.urlencode(
            {"method": "node", "username": ui_node.username,
             "password": ui_node.password}).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"})
    assert status == 403 and "Set-Cookie" not in headers and b"another site" in page


def test_sign_out_clears_the_cookie(ui_node: UiNode) -> None:
    cookie = session_cookie(ui_node)
    token = csrf_of_page(ui_node, cookie)
    status, headers, _ = http(ui_node, "POST", "/ui/signout",
                              urllib.parse.urlencode({"csrf_token": token}).encode(),
                              {"Cookie": cookie,
                               "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 303 and headers["Location"] == "/ui/signin"
    cleared = headers["Set-Cookie"]
    assert cleared.startswith("s0_session=;") and "Max-Age=0" in cleared


def test_an_archived_credential_is_signed_out(ui_node: UiNode) -> None:
    made = credential(ui_node, "read")
    status, headers, _ = form_sign_in(ui_node, method="key", api_key=made["api_key"],
                                      api_secret=made["api_secret"])
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    assert http(ui_node, "GET", "/ui/", headers={"Cookie": cookie})[0] == 200
    ui_node.rest("DELETE", f"/credentials/{made['id']}")
    status, headers, _ = http(ui_node, "GET", "/ui/", headers={"Cookie": cookie})
    assert status == 303 and headers["Location"].startswith("/ui/signin?next=")


@pytest.mark.parametrize("path", ["/ui/", "/ui/signin"])
def test_console_pages_carry_the_security_headers(ui_node: UiNode, path: str) -> None:
    cookie = session_cookie(ui_node)
    status, headers, page = http(ui_node, "GET", path, headers={"Cookie": cookie}
                                 if path == "/ui/" else {})
    assert status == 200
    assert headers["Content-Security-Policy"] == (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'")
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"
    assert b"<script>" not in page and b" style=" not in page  # nothing inline
    asset = re.search(rb'href="(/ui/static/console\.css\?v=[0-9a-f]+)"', page)
    assert asset, page[:800]
    status, headers, _ = http(ui_node, "GET", asset.group(1).decode())
    assert status == 200 and "immutable" in headers["Cache-Control"]
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
