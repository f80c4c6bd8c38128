"""The jobs list in a real browser against a real node: filters live in the URL (a loaded URL
filters, a changed filter changes the URL, back and forward go between them), keyset pages
neither skip nor repeat a job, a bulk pause of ticked rows shows its progress and pauses them,
"all matching" sends the label filter instead of ids, a delete asks with the count, and a read
credential sees no bulk buttons while a forced request gets the API's own 403 message.

Each test keeps to a project of its own, and every job's spec fires once a year at most (or,
for the screenshot's last runs, to a real receiver), so the tests do not see each other.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

from scheduler0.testing import wait_for
from tests.integration.receiver import Receiver
from tests.ui.conftest import (
    UiNode,
    browser_console,
    is_stale,
    json_block,
    screenshot,
    sign_in,
    wait_css,
    wait_text,
)

NEVER = "0 0 1 1 *"  # once a year: nothing fires while a test runs
CALLBACK = "http://127.0.0.1:9/never-called"


def make_project(ui_node: UiNode, prefix: str) -> int:
    made = ui_node.rest("POST", "/projects", {"name": f"{prefix}-{secrets.token_hex(3)}"})
    return int(made["id"])


def make_jobs(ui_node: UiNode, project_id: int, specs: list[dict[str, Any]]) -> list[int]:
    """Jobs of `project_id` with the given fields (spec NEVER and a dead callback unless
    given); their ids, in order."""
    body = [{"project_id": project_id, "spec": NEVER, "callback_url": CALLBACK, **fields}
            for fields in specs]
    made = ui_node.rest("POST", "/jobs", body)
    return [int(job["id"]) for job in made]


def listed_ids(browser: Any) -> list[int]:
    return [int(row.get_attribute("data-job-id"))
            for row in browser.find_elements("css selector", "#jobs tbody tr[data-job-id]")]


def query_of(browser: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(browser.current_url).query)


def open_jobs(browser: Any, ui_node: UiNode, query: str) -> None:
    browser.get(ui_node.url("/ui/jobs" + query))
    wait_css(browser, "#job-count")


def wait_rows(browser: Any, expected: list[int]) -> None:
    wait_for(lambda: listed_ids(browser) == expected, timeout=10,
             message=f"the rows {expected} (shown: {listed_ids(browser)})")


def accept_confirm(browser: Any) -> str:
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    alert = WebDriverWait(browser, 10).until(expected_conditions.alert_is_present())
    text = str(alert.text)
    alert.accept()
    return text


def wait_operation_done(browser: Any) -> dict[str, Any]:
    """The finished operation the page showed: its id, state and progress bar."""
    wait_css(browser, '#bulk-progress[data-state="succeeded"], #bulk-progress[data-state="failed"]',
             timeout=30)
    box = browser.find_element("id", "bulk-progress")
    bar = browser.find_element("id", "bulk-bar")
    return {"id": int(box.get_attribute("data-operation-id")),
            "state": box.get_attribute("data-state"),
            "value": float(bar.get_attribute("value")), "max": float(bar.get_attribute("max")),
            "status": browser.find_element("id", "bulk-status").text}


def test_filters_live_in_the_url_and_back_and_forward_work(
        browser: Any, ui_node: UiNode, receiver: Receiver) -> None:
    project = make_project(ui_node, "ui-jobs-filters")
    web = make_jobs(ui_node, project, [
        {"name": "web-report", "labels": {"team": "web"}, "spec": "0 9 * * 1-5",
         "timezone": "Europe/London"},
        {"name": "web-sync", "labels": {"team": "web", "tier": "gold"}, "spec": "@every 1s",
         "callback_url": receiver.url("/hook")},
        {"name": "web-cleanup", "labels": {"team": "web"}, "spec": "H(0-29) 3 * * *"}])
    ops = make_jobs(ui_node, project, [
        {"name": "ops-backup", "labels": {"team": "ops"}, "spec": "*/15 * * * *"},
        {"name": "ops-rotate", "labels": {"team": "ops"}, "paused": True}])
    # One real last run for the picture (and the last-run column).
    wait_for(lambda: ui_node.rest("GET", f"/jobs/{web[1]}")["last_state"], timeout=30,
             message="web-sync's first result")
    ui_node.rest("POST", "/jobs/bulk", {"action": "pause", "ids": [web[1]]})
    wait_for(lambda: ui_node.rest("GET", f"/jobs/{web[1]}")["paused"], timeout=10,
             message="web-sync paused")
    sign_in(browser, ui_node)

    open_jobs(browser, ui_node, f"?project_id={project}&labels=team%3Dweb")
    assert listed_ids(browser) == web
    schedule = browser.find_element("css selector", f'tr[data-job-id="{web[0]}"] td.schedule')
    assert schedule.text == "at 09:00, Monday to Friday, Europe/London"
    assert schedule.get_attribute("title").startswith("0 9 * * 1-5")
    wait_text(browser, f'tr[data-job-id="{web[1]}"] td.last-run', "succeeded")
    screenshot(browser, "jobs")
    # The CSP (no inline script or style, no other origin) holds: the console logs no error.
    assert [e for e in browser_console(browser) if e["level"] == "SEVERE"] == []

    # A changed select submits the form: the URL says what the list shows.
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", "f-status")).select_by_value("paused")
    wait_for(lambda: query_of(browser).get("status") == ["paused"], timeout=10,
             message="status=paused in the URL")
    wait_rows(browser, [web[1]])
    assert query_of(browser)["labels"] == ["team=web"]

    # A label chip adds its label to the selector.
    browser.get(ui_node.url(f"/ui/jobs?project_id={project}"))
    wait_rows(browser, [*web, *ops])
    browser.find_element("css selector", f'tr[data-job-id="{ops[0]}"] a.chip').click()
    wait_rows(browser, ops)
    assert query_of(browser)["labels"] == ["team=ops"]

    browser.back()
    wait_rows(browser, [*web, *ops])
    browser.back()
    wait_rows(browser, [web[1]])
    assert query_of(browser)["status"] == ["paused"]
    browser.forward()
    wait_rows(browser, [*web, *ops])
    assert "labels" not in query_of(browser)


def test_a_bad_filter_shows_the_api_message(browser: Any, ui_node: UiNode) -> None:
    sign_in(browser, ui_node)
    browser.get(ui_node.url("/ui/jobs?status=sleeping"))
    problem = wait_css(browser, "#filter-problem")
    assert "status" in problem.text and "active, paused, completed" in problem.text


def walk_pages(browser: Any, limit: int = 20) -> list[int]:
    """Every row of every page, following the Next page links."""
    seen: list[int] = []
    for _ in range(limit):
        wait_css(browser, "#job-count")
        seen += listed_ids(browser)
        links = browser.find_elements("css selector", ".pager a[rel=next]")
        if not links:
            return seen
        links[0].click()
        wait_for(partial(is_stale, links[0]), timeout=10, message="the next page")
    raise AssertionError(f"more than {limit} pages")


def test_keyset_pages_neither_skip_nor_repeat(browser: Any, ui_node: UiNode) -> None:
    project = make_project(ui_node, "ui-jobs-pages")
    ids = make_jobs(ui_node, project, [{"name": f"page-{i:03d}"} for i in range(123)])
    sign_in(browser, ui_node)

    open_jobs(browser, ui_node, f"?project_id={project}")
    assert browser.find_element("id", "job-total").text == "123"
    assert walk_pages(browser) == ids

    open_jobs(browser, ui_node, f"?project_id={project}&sort=-name")
    assert walk_pages(browser) == list(reversed(ids))  # names sort as the ids do
    # A job created meanwhile does not shift the pages already handed out.
    open_jobs(browser, ui_node, f"?project_id={project}&sort=name")
    first = listed_ids(browser)
    make_jobs(ui_node, project, [{"name": "page-000a"}])
    browser.find_element("css selector", ".pager a[rel=next]").click()
    wait_css(browser, "#job-count")
    assert set(listed_ids(browser)).isdisjoint(first)


def test_a_bulk_pause_of_ticked_rows_shows_progress(browser: Any, ui_node: UiNode) -> None:
    from selenium.webdriver.common.keys import Keys

    project = make_project(ui_node, "ui-jobs-bulk")
    ids = make_jobs(ui_node, project, [{"name": f"bulk-{i}"} for i in range(6)])
    sign_in(browser, ui_node)
    open_jobs(browser, ui_node, f"?project_id={project}")

    assert browser.find_element("css selector", '[data-bulk="pause"]').get_attribute("disabled")
    box = 'tr[data-job-id="{}"] input.job-select'
    browser.find_element("css selector", box.format(ids[0])).click()
    # Keyboard: Space ticks a focused box; Shift+click ticks a range.
    browser.find_element("css selector", box.format(ids[2])).send_keys(Keys.SPACE)
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(browser).key_down(Keys.SHIFT).click(
        browser.find_element("css selector", box.format(ids[3]))).key_up(Keys.SHIFT).perform()
    wait_text(browser, "#selection-text", "3 jobs")
    browser.find_element("css selector", '[data-bulk="pause"]').click()

    done = wait_operation_done(browser)
    assert done["state"] == "succeeded" and done["value"] == done["max"] == 3
    assert "3 of 3 jobs done" in done["status"]
    operation = ui_node.rest("GET", f"/operations/{done['id']}")
    assert operation["selection"] == {"ids": [ids[0], ids[2], ids[3]]}
    paused = {job_id: ui_node.rest("GET", f"/jobs/{job_id}")["paused"] for job_id in ids}
    assert paused == {job_id: job_id in (ids[0], ids[2], ids[3]) for job_id in ids}

    # Delete asks first, naming the count, and the jobs are gone.
    assert browser.find_element("id", "bulk-reload").is_displayed()
    open_jobs(browser, ui_node, f"?project_id={project}")
    browser.find_element("css selector", box.format(ids[4])).click()
    browser.find_element("css selector", box.format(ids[5])).click()
    browser.find_element("css selector", '[data-bulk="delete"]').click()
    assert accept_confirm(browser).startswith("Delete 2 jobs?")
    wait_operation_done(browser)
    left = ui_node.rest("GET", f"/jobs?project_id={project}&limit=100")["jobs"]
    assert [job["id"] for job in left] == ids[:4]


def test_all_matching_carries_the_label_filter(browser: Any, ui_node: UiNode) -> None:
    project = make_project(ui_node, "ui-jobs-matching")
    web = make_jobs(ui_node, project, [{"labels": {"team": "web"}} for _ in range(60)])
    ops = make_jobs(ui_node, project, [{"labels": {"team": "ops"}} for _ in range(3)])
    sign_in(browser, ui_node)
    open_jobs(browser, ui_node, f"?project_id={project}&labels=team%3Dweb")
    assert len(listed_ids(browser)) == 50  # one page of the 60

    browser.find_element("id", "select-matching").click()
    wait_text(browser, "#selection-text", "all 60 matching jobs")
    browser.find_element("css selector", '[data-bulk="set_labels"]').click()
    wait_css(browser, "#labels-form:not([hidden])")
    browser.find_element("id", "labels-changes").send_keys("tier=gold, -team")
    browser.find_element("id", "labels-apply").click()
    assert "all 60 matching jobs" in accept_confirm(browser)

    done = wait_operation_done(browser)
    assert done["state"] == "succeeded" and done["value"] == done["max"] == 60
    operation = ui_node.rest("GET", f"/operations/{done['id']}")
    assert operation["selection"] == {"filter": {"project_id": project, "labels": "team=web"}}
    labels = {job["id"]: job["labels"] for job in
              ui_node.rest("GET", f"/jobs?project_id={project}&limit=100")["jobs"]}
    assert all(labels[job_id] == {"tier": "gold"} for job_id in web)
    assert all(labels[job_id] == {"team": "ops"} for job_id in ops)


def test_all_matching_carries_the_name_filter(browser: Any, ui_node: UiNode) -> None:
    project = make_project(ui_node, "ui-jobs-contains")
    reports = make_jobs(ui_node, project, [{"name": "alpha-report"}, {"name": "beta-report"}])
    [other] = make_jobs(ui_node, project, [{"name": "gamma-export"}])
    sign_in(browser, ui_node)
    open_jobs(browser, ui_node, f"?project_id={project}&contains=report")
    assert sorted(listed_ids(browser)) == sorted(reports)
    assert json_block(browser, "jobs-page")["filter"] == {"project_id": project,
                                                          "contains": "report"}
    browser.find_element("id", "select-matching").click()
    wait_text(browser, "#selection-text", "all 2 matching jobs")
    browser.find_element("css selector", '[data-bulk="pause"]').click()
    assert "all 2 matching jobs" in accept_confirm(browser)
    done = wait_operation_done(browser)
    assert done["state"] == "succeeded" and done["value"] == done["max"] == 2
    assert [ui_node.rest("GET", f"/jobs/{job_id}")["paused"] for job_id in reports] == [
        True, True]
    assert ui_node.rest("GET", f"/jobs/{other}")["paused"] is False


def api_refusal(ui_node: UiNode, key: str, secret: str, body: dict[str, Any]) -> str:
    request = urllib.request.Request(
        ui_node.url("/api/v1/jobs/bulk"), method="POST", data=json.dumps(body).encode(),
        headers={"x-api-key": key, "x-secret-key": secret, "Content-Type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as exc:
        assert exc.code == 403
        return str(json.loads(exc.read())["error"]["message"])
    raise AssertionError("POST /jobs/bulk was not refused")


def test_a_read_credential_sees_no_bulk_buttons_and_gets_the_api_403(
        browser: Any, ui_node: UiNode) -> None:
    project = make_project(ui_node, "ui-jobs-read")
    [job_id] = make_jobs(ui_node, project, [{"name": "read-only-view"}])
    made = ui_node.rest("POST", "/credentials", {"role": "read"})
    key, secret = made["api_key"], made["api_secret"]
    sign_in(browser, ui_node, key=key, secret=secret)
    open_jobs(browser, ui_node, f"?project_id={project}")
    assert listed_ids(browser) == [job_id]
    assert not browser.find_elements("css selector", "#bulk, [data-bulk], input.job-select")

    body = {"action": "pause", "ids": [job_id]}
    expected = api_refusal(ui_node, key, secret, body)
    browser.execute_script("S0Jobs.runBulk('pause', {ids: [arguments[0]]});", job_id)
    wait_text(browser, "#errors", expected)
    assert browser.find_element("id", "errors").text == f"403: {expected}"
    assert ui_node.rest("GET", f"/jobs/{job_id}")["paused"] is False


# -- the page's pure parts (no browser) ---------------------------------------------------------


def test_all_matching_is_a_bulk_filter_of_the_lists_filters() -> None:
    from scheduler0.console.pages.jobs import FILTERS, bulk_filter, bulk_filter_fields

    blank = dict.fromkeys(FILTERS, "")
    assert bulk_filter({**blank, "project_id": "3", "labels": "team=web"}) == {
        "project_id": 3, "labels": "team=web"}
    assert bulk_filter({**blank, "status": "paused", "sort": "-name"}) == {"paused": True}
    assert bulk_filter(blank) is None  # every job: the API takes no empty filter
    assert bulk_filter({**blank, "project_id": "x1"}) is None
    every = {"name": "billing", "contains": "x", "status": "active", "last_state": "failed",
             "host": "a.example"}
    assert bulk_filter({**blank, **every, "labels": "team=web"}) == {**every, "labels": "team=web"}
    # A node whose bulk API knows only project_id, paused and labels: no "all matching".
    older = frozenset({"project_id", "paused", "labels"})
    assert bulk_filter({**blank, "labels": "team=web", "status": "paused"}, older) == {
        "labels": "team=web", "paused": True}
    for name, value in every.items():
        assert bulk_filter({**blank, "labels": "team=web", name: value}, older) is None, name
    assert set(every) <= bulk_filter_fields()


def test_a_label_chip_adds_its_label_once_and_keeps_the_other_filters() -> None:
    from scheduler0.console.pages.jobs import FILTERS, page_url, with_label

    assert with_label("", "team", "web") == "team=web"
    assert with_label("env!=dev", "team", "web") == "env!=dev,team=web"
    assert with_label("team=web,env!=dev", "team", "web") == "team=web,env!=dev"
    values = {**dict.fromkeys(FILTERS, ""), "project_id": "2", "status": "paused"}
    assert page_url(values, None, labels="team=web") == (
        "/ui/jobs?project_id=2&labels=team%3Dweb&status=paused")
    assert page_url(values, "n.abc") == "/ui/jobs?project_id=2&status=paused&after=n.abc"


def test_counts_lateness_and_ages_read_plainly() -> None:
    from scheduler0.console.pages.jobs import age_text, count_text, lateness_text

    assert count_text({"total": 42, "total_exact": True}) == "42"
    assert count_text({"total": 10000, "total_exact": False}) == "10000+"
    assert count_text({"total": 7, "total_exact": True, "scan_limited": True}) == "7+"
    assert [lateness_text(v) for v in (None, 40, 3500, 150_000)] == [
        "", "40 ms late", "3.5 s late", "2.5 min late"]
    now = 1_780_000_000
    assert age_text("2026-05-28T20:26:40Z", now) == "0 s ago"
    assert age_text(now - 125, now) == "2 min ago"
    assert age_text(now - 3 * 86400, now) == "3 d ago"
    assert age_text(None, now) == ""


def test_status_paused_is_asked_as_paused_true() -> None:
    from scheduler0.console.pages.jobs import FILTERS, api_query

    values = {**dict.fromkeys(FILTERS, ""), "status": "paused", "labels": "team=db"}
    assert api_query(values, "7") == {"paused": "true", "labels": "team=db", "limit": 50,
                                      "after": "7"}
