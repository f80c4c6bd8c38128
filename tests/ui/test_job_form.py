"""The job forms in a real browser against a real node: checked by the server as you type
(POST /jobs?dry_run=true), each error under its field; a job created through the form fires;
edit sends what changed; duplicate creates a copy."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler0.testing import wait_for
from tests.integration.receiver import Receiver
from tests.ui.conftest import UiNode, screenshot, sign_in, wait_css, wait_text


@pytest.fixture(scope="module")
def project(ui_node: UiNode) -> dict[str, Any]:
    return dict(ui_node.rest("POST", "/projects", {"name": "job-forms"}))


def field(browser: Any, name: str) -> Any:
    return browser.find_element("css selector", f"#f-{name}")


def type_into(browser: Any, name: str, text: str) -> None:
    """Replace what field `name` holds with `text`, as a person types it."""
    from selenium.webdriver.common.keys import Keys

    element = field(browser, name)
    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.DELETE)
    if text:
        element.send_keys(text)


def error_of(browser: Any, name: str) -> str:
    return str(browser.find_element("css selector", f"#e-{name}").text)


def wait_accepted(browser: Any) -> None:
    wait_text(browser, "#check-status", "The server accepts this job")


def test_a_job_made_in_the_form_fires(browser: Any, ui_node: UiNode, project: Any,
                                      receiver: Receiver) -> None:
    sign_in(browser, ui_node)
    browser.get(ui_node.url(f"/ui/jobs/new?project_id={project['id']}"))
    wait_css(browser, "#job-form")
    assert field(browser, "project_id").get_attribute("value") == str(project["id"])
    type_into(browser, "callback_url", receiver.url("/made"))
    type_into(browser, "spec", "61 * * * *")
    wait_text(browser, "#e-spec", "61")  # the server's own message, under the spec
    assert error_of(browser, "spec").startswith("spec: ")
    type_into(browser, "spec", "@every 1s")
    wait_accepted(browser)
    assert error_of(browser, "spec") == ""
    wait_css(browser, "#preview-table tbody tr")
    assert len(browser.find_elements("css selector", "#preview-table tbody tr")) == 5
    wait_text(browser, "#spec-words-live", "second")
    type_into(browser, "name", "made-in-form")
    type_into(browser, "labels", "team=web\nenv=test")
    type_into(browser, "data", "héllo")
    wait_text(browser, "#data-bytes", "6 of")  # bytes of UTF-8, not characters
    type_into(browser, "success_codes", "200, 202")
    type_into(browser, "timezone", "Europe/Berlin")
    wait_accepted(browser)
    screenshot(browser, "job-form")
    browser.find_element("css selector", "#job-submit").click()
    wait_text(browser, "#job-name", "made-in-form")
    job_id = int(browser.find_element("css selector", "#job").get_attribute("data-job-id"))
    job = ui_node.rest("GET", f"/jobs/{job_id}")
    assert job["labels"] == {"team": "web", "env": "test"} and job["data"] == "héllo"
    assert job["success_codes"] == [200, 202] and job["timezone"] == "Europe/Berlin"
    receiver.wait_for_requests(1, timeout=20)

    def in_history() -> bool:
        browser.refresh()
        wait_css(browser, "#history")
        return bool(browser.find_elements("css selector", "#history-table tr.execution"))
    wait_for(in_history, timeout=30, interval=0.5, message="an execution in the job's history")
    ui_node.rest("DELETE", f"/jobs/{job_id}")  # no more ticks for the other tests


def test_each_error_shows_under_its_field(browser: Any, ui_node: UiNode, project: Any) -> None:
    sign_in(browser, ui_node)
    browser.get(ui_node.url(f"/ui/jobs/new?project_id={project['id']}"))
    wait_css(browser, "#job-form")
    type_into(browser, "spec", "*/5 * * * *")
    type_into(browser, "callback_url", "http://10.1.2.3/hook")  # outside 127.0.0.0/8
    wait_text(browser, "#e-callback_url", "callback_url: ")
    assert browser.find_element("css selector", "#ok-callback_url").is_displayed() is False
    type_into(browser, "callback_url", "http://127.0.0.1:9/hook")
    wait_accepted(browser)
    assert browser.find_element("css selector", "#ok-callback_url").is_displayed()
    type_into(browser, "timeout", "soon")
    wait_text(browser, "#e-timeout", "timeout: ")
    type_into(browser, "timeout", "5")
    type_into(browser, "headers", "no colon here")
    wait_text(browser, "#e-headers", "line 1")
    type_into(browser, "headers", "X-Scheduler0-Signature: forged")
    wait_text(browser, "#e-headers", "set by the server")
    type_into(browser, "headers", "")
    type_into(browser, "timezone", "Mars/Olympus")
    wait_text(browser, "#e-timezone", "Mars/Olympus")
    type_into(browser, "timezone", "UTC")
    wait_accepted(browser)
    # A create the API refuses keeps what was typed.
    type_into(browser, "project_id", "999999")
    browser.find_element("css selector", "#job-submit").click()
    wait_text(browser, "#e-project_id", "does not exist")
    assert field(browser, "spec").get_attribute("value") == "*/5 * * * *"
    assert "/ui/jobs/new" in browser.current_url


def test_edit_sends_what_changed(browser: Any, ui_node: UiNode, project: Any) -> None:
    job = ui_node.rest("POST", "/jobs", {"project_id": project["id"], "name": "to-edit",
                                         "spec": "0 9 * * *", "timezone": "UTC",
                                         "callback_url": "http://127.0.0.1:9/x",
                                         "retries": 1})
    sign_in(browser, ui_node)
    browser.get(ui_node.url(f"/ui/jobs/{job['id']}/edit"))
    wait_css(browser, "#job-form")
    wait_accepted(browser)  # its own name is not "taken"
    type_into(browser, "retries", "99")
    wait_text(browser, "#e-retries", "retries: ")
    type_into(browser, "retries", "")
    type_into(browser, "timeout", "7.5")
    type_into(browser, "description", "edited in the browser")
    wait_accepted(browser)
    browser.find_element("css selector", "#job-submit").click()
    wait_text(browser, "#job-name", "to-edit")
    after = ui_node.rest("GET", f"/jobs/{job['id']}")
    assert after["timeout"] == 7.5 and after["description"] == "edited in the browser"
    assert after["retries"] is None  # emptied: back to the node's setting
    assert after["spec"] == "0 9 * * *" and after["updated_at"] != job["updated_at"]


def test_duplicate_creates_a_copy(browser: Any, ui_node: UiNode, project: Any) -> None:
    job = ui_node.rest("POST", "/jobs", {"project_id": project["id"], "name": "original",
                                         "spec": "30 6 * * 1", "timezone": "America/New_York",
                                         "callback_url": "http://127.0.0.1:9/y",
                                         "labels": {"k": "v"}, "headers": {"X-A": "1"}})
    sign_in(browser, ui_node)
    browser.get(ui_node.url(f"/ui/jobs/{job['id']}/duplicate"))
    wait_css(browser, "#job-form")
    assert field(browser, "name").get_attribute("value") == "original-copy"
    wait_accepted(browser)
    browser.find_element("css selector", "#job-submit").click()
    wait_text(browser, "#job-name", "original-copy")
    copy_id = int(browser.find_element("css selector", "#job").get_attribute("data-job-id"))
    copy = ui_node.rest("GET", f"/jobs/{copy_id}")
    assert copy_id != job["id"]
    for name in ("spec", "timezone", "callback_url", "labels", "headers", "project_id"):
        assert copy[name] == job[name], name
