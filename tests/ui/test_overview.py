"""The overview page (/ui/) on a real node: the cluster, a real delivery in the last hour's
counts, what a read-only credential sees, the theme toggle, and that the console loads nothing
from anywhere but the node itself."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from scheduler0.testing import wait_for
from tests.integration.receiver import Receiver
from tests.ui.conftest import (
    UiNode,
    browser_console,
    loaded_resources,
    screenshot,
    sign_in,
    wait_css,
    wait_text,
)

NEVER = "0 0 1 1 *"  # a schedule that does not fire during the test: the job runs when asked


def delivered_last_hour(ui_node: UiNode) -> int:
    rows = ui_node.rest("GET", "/rollups?period=minute&limit=120")["rollups"]
    return sum(int(row["succeeded"]) for row in rows)


def test_the_overview_shows_the_leader_and_a_real_delivery(browser: Any, ui_node: UiNode,
                                                          receiver: Receiver) -> None:
    before = delivered_last_hour(ui_node)
    project = ui_node.rest("POST", "/projects", {"name": "overview-delivery"})
    job = ui_node.rest("POST", "/jobs", {"project_id": project["id"], "spec": NEVER,
                                         "callback_url": receiver.url("/overview")})
    ui_node.rest("POST", f"/jobs/{job['id']}/run", {"data": "from the overview test"})
    receiver.wait_for_requests(1, timeout=30)
    wait_for(lambda: delivered_last_hour(ui_node) > before, timeout=30,
             message="the delivery in the minute rollups")
    expected = delivered_last_hour(ui_node)

    sign_in(browser, ui_node)
    health = ui_node.node.health()
    assert health is not None
    wait_text(browser, "#leader", f"node {health['leader_id']}")
    assert browser.find_element("id", "term").text == str(health["raft"]["term"])
    assert browser.find_element("id", "healthy").text == "yes"
    assert browser.find_element("id", "memory-pressure").text == "no"
    assert browser.find_element("id", "lag").text.isdigit()
    assert browser.find_element("id", "hour-delivered").text == str(expected)
    assert browser.find_elements("css selector", "#hour-chart rect.bar-ok")
    assert browser.find_elements("css selector", "#minutes tbody tr")
    assert int(browser.find_element("id", "jobs-total").text.rstrip("+")) >= 1
    assert browser.find_element("id", "misfires-day").text.isdigit()
    screenshot(browser, "overview")


def test_a_read_only_credential_sees_what_it_may_and_the_apis_message_for_the_rest(
        browser: Any, ui_node: UiNode) -> None:
    made = ui_node.rest("POST", "/credentials", {"role": "read"})
    sign_in(browser, ui_node, key=made["api_key"], secret=made["api_secret"])
    refused = wait_text(browser, "#cluster .panel-error", "403")
    assert "GET /cluster needs role admin" in refused.text
    wait_css(browser, "#leader")  # the health check's public part still shows
    wait_css(browser, "#hour-delivered")
    wait_css(browser, "#jobs-total")


def test_the_console_loads_nothing_but_the_node(browser: Any, ui_node: UiNode) -> None:
    sign_in(browser, ui_node)
    wait_css(browser, "#hour-chart")
    origin = ui_node.base
    resources = loaded_resources(browser)
    assert resources and all(url.startswith(origin + "/") for url in resources), resources
    assert {urlsplit(url).path for url in resources} >= {"/ui/", "/ui/static/console.css",
                                                         "/ui/static/console.js"}
    problems = [entry for entry in browser_console(browser) if entry["level"] == "SEVERE"]
    assert not problems, problems  # no CSP violation, no failed load
    # The browser itself cannot reach anything else (the test's isolation holds).
    from selenium.common.exceptions import WebDriverException

    try:
        browser.get("http://203.0.113.7/")
        failure = browser.page_source
    except WebDriverException as exc:  # chromedriver reports the failed navigation itself
        failure = str(exc)
    assert "ERR_" in failure, failure[:500]


def test_dark_mode_is_kept_across_pages_and_the_keyboard_reaches_the_content(
        browser: Any, ui_node: UiNode) -> None:
    sign_in(browser, ui_node)
    toggle = wait_css(browser, "#theme-toggle")
    assert toggle.tag_name == "button"
    toggle.click()
    wait_text(browser, "#theme-toggle", "Light mode")
    assert browser.execute_script(
        "return document.documentElement.getAttribute('data-theme');") == "dark"
    browser.get(ui_node.url("/ui/"))
    wait_css(browser, "#hour-chart")
    assert browser.execute_script(
        "return document.documentElement.getAttribute('data-theme');") == "dark"
    assert browser.find_element("id", "theme-toggle").get_attribute("aria-pressed") == "true"
    screenshot(browser, "overview-dark")
    # The first Tab lands on the skip link, which moves focus to the content.
    from selenium.webdriver.common.keys import Keys

    browser.find_element("tag name", "body").send_keys(Keys.TAB)
    active = browser.switch_to.active_element
    assert active.get_attribute("class") == "skip-link"
    active.send_keys(Keys.ENTER)
    assert browser.execute_script("return location.hash;") == "#main"
