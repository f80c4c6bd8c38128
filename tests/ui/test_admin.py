"""The projects and credentials pages in a real browser against a real node: a new signing
secret and a new API secret are shown once (a reload does not show them), the secret shown is
the one callbacks are signed with, deleting a project names its jobs, and a read credential
signed in gets the API's own 403 on both pages."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from scheduler0.testing import wait_for
from tests.integration.receiver import Receiver
from tests.ui.conftest import UiNode, is_stale, screenshot, sign_in, wait_css, wait_text

NEVER = "0 0 1 1 *"  # once a year: nothing fires by itself while a test runs


def click(browser: Any, selector: str) -> None:
    browser.find_element("css selector", selector).click()


def fill(browser: Any, selector: str, text: str) -> None:
    field = browser.find_element("css selector", selector)
    field.clear()
    field.send_keys(text)


def accept_confirm(browser: Any) -> str:
    """Accept the page's window.confirm and return its text."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    alert = WebDriverWait(browser, 10).until(expected_conditions.alert_is_present())
    text = str(alert.text)
    alert.accept()
    return text


def shown_secret(browser: Any, element_id: str = "secret-value") -> str:
    """The secret in the open secret dialog, once it is there."""
    wait_css(browser, f"#secret-dialog[open] #{element_id}")
    return str(browser.find_element("id", element_id).get_attribute("value"))


def close_secret(browser: Any) -> None:
    """"I have copied it": the dialog closes and the page reloads."""
    old = browser.find_element("tag name", "html")
    click(browser, "#secret-done")
    wait_for(lambda: is_stale(old), timeout=10, message="the page to reload")
    wait_css(browser, "main h1")


def project_row(browser: Any, name: str) -> Any:
    rows = [row for row in browser.find_elements("css selector", "#projects tr[data-project-id]")
            if row.get_attribute("data-name") == name]
    assert len(rows) == 1, f"one row for project {name}, found {len(rows)}"
    return rows[0]


def api_refusal(ui_node: UiNode, method: str, path: str, key: str, secret: str) -> str:
    """The API's 403 message to the credential for `method` `path` (nothing is changed: the
    access check refuses before the route runs)."""
    request = urllib.request.Request(
        ui_node.url("/api/v1" + path), method=method,
        data=b"{}" if method != "GET" else None,
        headers={"x-api-key": key, "x-secret-key": secret, "Content-Type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as exc:
        assert exc.code == 403
        return str(json.loads(exc.read())["error"]["message"])
    raise AssertionError(f"{method} {path} was not refused")


def test_create_a_project_and_rotate_its_secret_each_shown_once(
        browser: Any, ui_node: UiNode) -> None:
    sign_in(browser, ui_node)
    browser.get(ui_node.url("/ui/projects"))
    wait_css(browser, "#project-create")
    fill(browser, "#new-project-name", "console-rotation")
    fill(browser, "#new-project-description", "made in the browser")
    click(browser, "#create-project")
    first = shown_secret(browser)
    assert len(first) == 64 and int(first, 16) >= 0
    close_secret(browser)
    row = project_row(browser, "console-rotation")
    assert first not in browser.page_source
    assert "one secret" in row.text and "made in the browser" in row.text

    row.find_element("css selector", "[data-admin-action=rotate-secret]").click()
    wait_css(browser, "#rotate-dialog[open]")
    fill(browser, "#rotate-grace", "3600")
    click(browser, "#rotate-confirm")
    second = shown_secret(browser)
    assert second != first and len(second) == 64
    assert "old secret still signs" in browser.find_element("id", "secret-note").text
    screenshot(browser, "projects")
    close_secret(browser)
    row = project_row(browser, "console-rotation")
    assert "old secret still signs until" in row.find_element("css selector", ".grace").text
    assert first not in browser.page_source and second not in browser.page_source

    # The secret shown is the one callbacks are signed with now.
    project_id = int(row.get_attribute("data-project-id"))
    with Receiver() as rx:
        ui_node.rest("POST", "/jobs", {"project_id": project_id, "run_at": "now",
                                       "callback_url": rx.url("/signed")})
        [request] = rx.wait_for_requests(1, timeout=30)
        assert request.signed_by(second)


def test_rename_then_delete_naming_its_jobs(browser: Any, ui_node: UiNode) -> None:
    project = ui_node.rest("POST", "/projects", {"name": "console-doomed"})
    for i in range(2):
        ui_node.rest("POST", "/jobs", {"project_id": project["id"], "spec": NEVER,
                                       "callback_url": f"http://127.0.0.1:9/{i}"})
    sign_in(browser, ui_node)
    browser.get(ui_node.url("/ui/projects"))
    row = project_row(browser, "console-doomed")
    assert row.find_element("css selector", ".project-jobs").text == "2"
    row.find_element("css selector", "[data-admin-action=rename-project]").click()
    wait_css(browser, "#rename-dialog[open]")
    fill(browser, "#rename-name", "console-renamed")
    click(browser, "#rename-save")
    wait_text(browser, f"#project-{project['id']} .project-name", "console-renamed")
    assert ui_node.rest("GET", f"/projects/{project['id']}")["name"] == "console-renamed"

    row = project_row(browser, "console-renamed")
    row.find_element("css selector", "[data-admin-action=delete-project]").click()
    assert "its 2 jobs" in accept_confirm(browser)
    wait_for(lambda: not browser.find_elements("id", f"project-{project['id']}"), timeout=10,
             message="the deleted project's row to go")
    jobs = ui_node.rest("GET", f"/jobs?project_id={project['id']}")
    assert jobs["total"] == 0


def test_a_settings_error_is_the_apis_message(browser: Any, ui_node: UiNode) -> None:
    project = ui_node.rest("POST", "/projects", {"name": "console-settings"})
    sign_in(browser, ui_node)
    browser.get(ui_node.url("/ui/projects"))
    project_row(browser, "console-settings").find_element(
        "css selector", "[data-admin-action=project-settings]").click()
    wait_css(browser, "#settings-dialog[open]")
    fill(browser, "#settings-concurrency", "3")
    click(browser, "#settings-save")
    wait_text(browser, f"#project-{project['id']}", "3 at once")
    assert ui_node.rest("GET", f"/projects/{project['id']}")["rate_limit"]["concurrency"] == 3
    project_row(browser, "console-settings").find_element(
        "css selector", "[data-admin-action=project-settings]").click()
    wait_css(browser, "#settings-dialog[open]")
    fill(browser, "#settings-per-second", "0.001")
    browser.execute_script("document.getElementById('settings-per-second').removeAttribute('min')")
    click(browser, "#settings-save")
    wait_text(browser, "#settings-dialog .dialog-error", "rate_limit.per_second")


def test_a_read_credential_shown_once_is_refused_the_admin_pages(
        browser: Any, ui_node: UiNode) -> None:
    sign_in(browser, ui_node)
    browser.get(ui_node.url("/ui/credentials"))
    wait_css(browser, "#credential-create")
    click(browser, "#new-credential-role option[value=read]")
    click(browser, "#create-credential")
    secret = shown_secret(browser)
    key = shown_secret(browser, "secret-api-key")
    screenshot(browser, "credentials")
    close_secret(browser)
    assert secret not in browser.page_source
    [row] = [r for r in browser.find_elements("css selector", "#credentials tr[data-api-key]")
             if r.get_attribute("data-api-key") == key]
    assert "read" in row.text and "every project" in row.text and "active" in row.text

    browser.find_element("id", "sign-out").click()
    wait_css(browser, "#signin-form")
    sign_in(browser, ui_node, key=key, secret=secret)
    project = ui_node.rest("POST", "/projects", {"name": "console-read-only"})
    browser.get(ui_node.url("/ui/credentials"))
    message = wait_css(browser, "#error-message").text
    assert message == api_refusal(ui_node, "GET", "/credentials", key, secret)
    assert "role read" in message
    browser.get(ui_node.url("/ui/projects"))
    message = wait_css(browser, "#error-message").text
    assert message == api_refusal(ui_node, "PATCH", f"/projects/{project['id']}", key, secret)
    browser.get(ui_node.url("/ui/executions"))  # a read page still works
    wait_css(browser, "#executions")


def test_archive_and_delete_a_credential(browser: Any, ui_node: UiNode) -> None:
    made = ui_node.rest("POST", "/credentials", {"role": "write"})
    sign_in(browser, ui_node)
    browser.get(ui_node.url("/ui/credentials"))
    row = wait_css(browser, f"#credential-{made['id']}")
    assert made["api_secret"] not in browser.page_source
    row.find_element("css selector", "[data-admin-action=archive-credential]").click()
    wait_text(browser, f"#credential-{made['id']}", "archived")
    assert ui_node.rest("GET", f"/credentials/{made['id']}")["archived"] is True
    browser.find_element("css selector", f"#credential-{made['id']} "
                                         "[data-admin-action=delete-credential]").click()
    accept_confirm(browser)
    wait_for(lambda: not browser.find_elements("id", f"credential-{made['id']}"), timeout=10,
             message="the deleted credential's row to go")
