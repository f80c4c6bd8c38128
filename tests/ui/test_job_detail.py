"""The job page in a real browser against a real node: run now, pause and resume, backfill
(its dry-run count first), redeliver, the history's keyset pages, the attempts of a row, and
copy as curl."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest

from scheduler0 import clock, schedule
from scheduler0.console import jobview
from scheduler0.testing import wait_for
from scheduler0.vocabulary import MAX_DATA_BYTES
from tests.integration.receiver import Receiver
from tests.ui.conftest import UiNode, screenshot, sign_in, wait_css, wait_text

NEVER = "0 0 1 1 *"  # once a year: nothing fires by itself while a test runs


@pytest.fixture(scope="module")
def project(ui_node: UiNode) -> dict[str, Any]:
    return dict(ui_node.rest("POST", "/projects", {"name": "job-page"}))


def make_job(ui_node: UiNode, project: dict[str, Any], url: str, **fields: Any) -> dict[str, Any]:
    body = {"project_id": project["id"], "spec": NEVER, "timezone": "UTC",
            "callback_url": url, **fields}
    return dict(ui_node.rest("POST", "/jobs", body))


def open_job(browser: Any, ui_node: UiNode, job_id: int, query: str = "") -> None:
    browser.get(ui_node.url(f"/ui/jobs/{job_id}{query}"))
    wait_css(browser, "#job")


def click(browser: Any, selector: str) -> None:
    from selenium.webdriver.common.by import By

    browser.find_element(By.CSS_SELECTOR, selector).click()


def history_ids(browser: Any) -> list[str]:
    return list(browser.execute_script(
        "return Array.from(document.querySelectorAll('#history-table tr.execution'))"
        ".map(function (tr) { return tr.dataset.executionId; });"))


def recorded(ui_node: UiNode, job_id: int, count: int) -> list[dict[str, Any]]:
    """The job's recorded executions once there are `count` (waits with a deadline)."""
    def enough() -> list[dict[str, Any]] | None:
        found = ui_node.rest("GET", f"/jobs/{job_id}/executions?limit=1000")["executions"]
        return found if len(found) >= count else None
    return list(wait_for(enough, timeout=30, message=f"{count} recorded executions"))


def test_run_now_records_a_manual_execution(browser: Any, ui_node: UiNode, project: Any,
                                            receiver: Receiver) -> None:
    job = make_job(ui_node, project, receiver.url("/run"), name="run-now-job",
                   labels={"team": "web"})
    sign_in(browser, ui_node)
    browser.get(ui_node.url("/ui/jobs/run-now-job"))  # by name
    wait_text(browser, "#job-name", "run-now-job")
    click(browser, "#run-now")
    link = wait_css(browser, "#run-execution")
    execution_id = link.text
    assert execution_id.startswith(f"{job['id']}-") and "-m" in execution_id
    assert ui_node.rest("GET", f"/executions/{execution_id}")["trigger"] == "manual"
    receiver.wait_for_requests(1, timeout=20)
    wait_for(lambda: ui_node.rest("GET", f"/executions/{execution_id}")["state"] == "succeeded",
             timeout=20, message="the run-now to succeed")
    link.click()  # the link opens the execution on the job's page
    wait_text(browser, "#opened-execution", execution_id)
    wait_text(browser, "#history-table", execution_id)
    row = browser.find_element("css selector", f'tr[data-execution-id="{execution_id}"]')
    assert "manual" in row.text and "succeeded" in row.text
    row.find_element("css selector", "button.expand").click()
    attempts = wait_css(browser, f'tr.attempts-row[data-execution-id="{execution_id}"]')
    assert "200" in attempts.text and "Attempts" in attempts.text
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot(browser, "job")


def test_pause_then_resume(browser: Any, ui_node: UiNode, project: Any,
                           receiver: Receiver) -> None:
    job = make_job(ui_node, project, receiver.url("/pause"))
    sign_in(browser, ui_node)
    open_job(browser, ui_node, job["id"])
    wait_text(browser, "#job-status", "active")
    click(browser, "#pause-toggle")
    wait_text(browser, "#job-status", "paused")
    assert ui_node.rest("GET", f"/jobs/{job['id']}")["paused"] is True
    wait_text(browser, "#pause-toggle", "Resume")
    click(browser, "#pause-toggle")
    wait_text(browser, "#job-status", "active")
    assert ui_node.rest("GET", f"/jobs/{job['id']}")["paused"] is False
    open_job(browser, ui_node, job["id"])  # and so the page says after a reload
    wait_text(browser, "#pause-toggle", "Pause")


def test_backfill_dry_run_counts_the_ticks_then_fires_them(
        browser: Any, ui_node: UiNode, project: Any, receiver: Receiver) -> None:
    job = make_job(ui_node, project, receiver.url("/backfill"), spec="*/5 * * * *", paused=True)
    now = int(clock.now())
    start = now - 3 * 3600 + 17  # not on a tick: the count is the ticks inside
    end = start + 3600
    expected = len(schedule.parse("*/5 * * * *").between(start - 1, end))
    sign_in(browser, ui_node)
    open_job(browser, ui_node, job["id"])
    click(browser, "#backfill-open")
    for selector, instant in (("#backfill-from", start), ("#backfill-to", end)):
        field = browser.find_element("css selector", selector)
        field.clear()
        field.send_keys(schedule.format_rfc3339_utc(instant))
    click(browser, "#backfill-check")
    summary = wait_text(browser, "#backfill-summary", "would fire")
    assert summary.get_attribute("data-count") == str(expected)
    assert summary.text.startswith(f"{expected} ticks")
    assert receiver.requests == []  # a dry run fires nothing
    click(browser, "#backfill-confirm")
    wait_text(browser, "#flash", "Backfill committed")
    receiver.wait_for_requests(expected, timeout=30)
    rows = recorded(ui_node, job["id"], expected)
    assert {row["trigger"] for row in rows} == {"backfill"}


def test_redeliver_sends_a_finished_execution_again(
        browser: Any, ui_node: UiNode, project: Any, receiver: Receiver) -> None:
    job = make_job(ui_node, project, receiver.url("/again"))
    execution_id = ui_node.rest("POST", f"/jobs/{job['id']}/run")["execution_id"]
    receiver.wait_for_requests(1, timeout=20)
    recorded(ui_node, job["id"], 1)
    sign_in(browser, ui_node)
    open_job(browser, ui_node, job["id"])
    row = wait_css(browser, f'tr.execution[data-execution-id="{execution_id}"]')
    row.find_element("css selector", "button.redeliver").click()
    wait_text(browser, "#flash", f"Redelivery of {execution_id}")
    receiver.wait_for_requests(2, timeout=20)
    wait_for(lambda: ui_node.rest("GET", f"/executions/{execution_id}")["redeliveries"] == 1,
             timeout=20, message="the redelivery to be recorded")


def test_history_pages_neither_skip_nor_repeat(browser: Any, ui_node: UiNode, project: Any,
                                               receiver: Receiver) -> None:
    # Paused: the schedule adds no tick of its own while the pages are read.
    job = make_job(ui_node, project, receiver.url("/pages"), spec="* * * * *", paused=True)
    now = int(clock.now())
    start = (now - 2 * 3600) // 60 * 60  # on a tick: both ends are ticks
    answer = ui_node.rest("POST", f"/jobs/{job['id']}/backfill",
                          {"from": start, "to": start + 59 * 60})
    total = answer["count"]
    assert total == 60
    every = {row["execution_id"] for row in recorded(ui_node, job["id"], total)}
    sign_in(browser, ui_node)
    open_job(browser, ui_node, job["id"])
    seen: list[str] = []
    for _ in range(10):  # 60 executions, 25 a page: 3 pages
        seen += history_ids(browser)
        links = browser.find_elements("css selector", ".pager a[rel=next]")
        if not links:
            break
        links[0].click()
        wait_css(browser, "#history-table")
    assert len(seen) == len(set(seen)) == total
    assert set(seen) == every
    assert seen == sorted(seen, key=lambda e: -int(e.split("-")[1]))  # newest first
    # A state filter lives in the URL and is kept by the pager.
    open_job(browser, ui_node, job["id"], "?state=failed")
    wait_css(browser, "#history-empty")
    assert browser.find_element("css selector", "#filter-state").get_attribute("value") == "failed"


def test_copy_as_curl_is_the_create_request(browser: Any, ui_node: UiNode, project: Any,
                                            receiver: Receiver) -> None:
    job = make_job(ui_node, project, receiver.url("/curl?x=1&y='2'"), name="curl-job",
                   spec="H 9 * * 1-5", timezone="Europe/Berlin", data="it's $HOME",
                   labels={"env": "prod"}, headers={"X-Token": "a b'c"},
                   success_codes=[200, 202], timeout=2.5, retries=2)
    sign_in(browser, ui_node)
    open_job(browser, ui_node, job["id"])
    click(browser, "#copy-curl")
    text = wait_css(browser, "#curl-text")
    command = wait_for(lambda: text.get_attribute("value"), timeout=10,
                       message="the curl command")
    assert text.is_displayed()
    words = shlex.split(command)
    assert words[:4] == ["curl", "-sS", "-X", "POST"]
    assert words[4] == ui_node.url("/api/v1/jobs")
    sent = json.loads(words[words.index("--data-raw") + 1])
    for name in ("project_id", "name", "spec", "timezone", "callback_url", "data", "labels",
                 "headers", "success_codes", "timeout", "retries"):
        assert sent[name] == job[name], name
    assert sent == jobview.create_body(job)
    assert "secret" not in json.dumps(sent).lower()
    # The schedule panel: the spec in words beside the raw spec, ten fire times.
    assert browser.find_element("css selector", "#spec-raw").text == "H 9 * * 1-5"
    assert len(browser.find_elements("css selector", "#fire-times tbody tr")) == 10


def test_a_missing_job_is_the_apis_404(browser: Any, ui_node: UiNode) -> None:
    sign_in(browser, ui_node)
    browser.get(ui_node.url("/ui/jobs/no-such-job"))
    message = wait_css(browser, "#error-message")
    assert "no job is named" in message.text


def test_the_schedule_panel_marks_dst_jumps(browser: Any, ui_node: UiNode, project: Any) -> None:
    spec, zone = "0 12 1 * *", "America/New_York"  # ten 1sts of a month: always a DST change
    job = make_job(ui_node, project, "http://127.0.0.1:9/dst", spec=spec, timezone=zone)
    expected = jobview.fire_times(schedule.preview(spec, zone, int(clock.now()), 10))
    sign_in(browser, ui_node)
    open_job(browser, ui_node, job["id"])
    rows = browser.find_elements("css selector", "#fire-times tbody tr")
    shown = [(row.find_elements("css selector", "td")[1].text,
              row.find_elements("css selector", "td")[3].text) for row in rows]
    assert shown == [(t.utc, t.jump_text) for t in expected]
    assert any(t.jump for t in expected)
    assert len(browser.find_elements("css selector", "#fire-times tr.dst-jump")) == sum(
        1 for t in expected if t.jump)


def test_the_page_stays_small_with_the_largest_job(browser: Any, ui_node: UiNode, project: Any,
                                                   receiver: Receiver) -> None:
    data = "'" * MAX_DATA_BYTES  # the most a job holds, and the worst to quote for a shell
    job = make_job(ui_node, project, receiver.url("/big"), spec="* * * * *", paused=True,
                   data=data, headers={f"X-H{i}": "v" * 150 for i in range(20)},
                   labels={f"k{i}": "v" * 40 for i in range(60)})
    start = (int(clock.now()) - 3 * 3600) // 60 * 60
    ui_node.rest("POST", f"/jobs/{job['id']}/backfill", {"from": start, "to": start + 29 * 60})
    recorded(ui_node, job["id"], 30)
    sign_in(browser, ui_node)
    open_job(browser, ui_node, job["id"])
    size = browser.execute_async_script(
        "var done = arguments[0]; fetch(location.href, {credentials: 'same-origin'})"
        ".then(function (r) { return r.arrayBuffer(); })"
        ".then(function (b) { done(b.byteLength); });")
    assert 0 < size < 150_000
    assert len(history_ids(browser)) == 25  # one page of the history, never all of it


def test_the_curl_text_needs_a_session(ui_node: UiNode, project: Any) -> None:
    import urllib.request

    job = make_job(ui_node, project, "http://127.0.0.1:9/anon")
    with urllib.request.urlopen(ui_node.url(f"/ui/jobs/{job['id']}/curl"), timeout=10) as answer:
        assert "/ui/signin" in answer.url  # redirected: no command for a stranger
        assert "curl -sS" not in answer.read().decode()
