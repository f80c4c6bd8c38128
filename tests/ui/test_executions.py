"""The executions page in a real browser against a real node: failed and missed executions of
the last day by default, filters in the URL (a GET form), and the CSV export, which holds what
the REST API's JSON holds for the same filter."""

from __future__ import annotations

import base64
import csv
import io
import urllib.request
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from scheduler0.console.pages import executions
from scheduler0.testing import wait_for
from tests.integration.receiver import Receiver
from tests.ui.conftest import UiNode, screenshot, sign_in, wait_css, wait_text


@pytest.fixture(scope="module")
def project(ui_node: UiNode) -> dict[str, Any]:
    return dict(ui_node.rest("POST", "/projects", {"name": "executions-page"}))


@pytest.fixture(scope="module")
def settled(ui_node: UiNode, project: dict[str, Any]) -> Any:
    """A one-off job whose receiver answers 500 and one whose receiver answers 200, each
    recorded: {"failed": (job, execution), "succeeded": (job, execution)}."""
    with Receiver() as rx:
        rx.respond([500] * 20, path="/fail")
        found = {}
        for state, path in (("failed", "/fail"), ("succeeded", "/ok")):
            job = ui_node.rest("POST", "/jobs", {
                "project_id": project["id"], "run_at": "now", "retries": 0, "timezone": "Europe/Paris",
                "name": f"executions-{state}", "labels": {"outcome": state},
                "callback_url": rx.url(path)})
            execution = wait_for(lambda job=job, state=state: _recorded(ui_node, job["id"], state),
                                 timeout=30, message=f"job {job['id']} recorded {state}")
            found[state] = (job, execution)
        yield found


def _recorded(ui_node: UiNode, job_id: int, state: str) -> dict[str, Any] | None:
    rows = ui_node.rest("GET", f"/executions?job_id={job_id}&state={state}")["executions"]
    return rows[0] if rows else None


def row_ids(browser: Any) -> list[str]:
    return list(browser.execute_script(
        "return Array.from(document.querySelectorAll('#executions tbody tr[data-execution-id]'))"
        ".map(function (tr) { return tr.dataset.executionId; });"))


def field_value(browser: Any, element_id: str) -> str:
    return str(browser.find_element("id", element_id).get_attribute("value"))


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def test_defaults_to_failed_and_missed_of_the_last_day(browser: Any, ui_node: UiNode,
                                                       settled: Any) -> None:
    failed_job, failed = settled["failed"]
    _, succeeded = settled["succeeded"]
    sign_in(browser, ui_node)
    browser.get(ui_node.url("/ui/executions"))
    wait_css(browser, "#executions")
    assert field_value(browser, "f-state") == "failed,missed"
    assert field_value(browser, "f-since") == "24h"
    shown = row_ids(browser)
    assert failed["execution_id"] in shown and succeeded["execution_id"] not in shown
    row = browser.find_element("css selector", f'tr[data-execution-id="{failed["execution_id"]}"]')
    assert "executions-failed" in row.text and "500" in row.text and "failed" in row.text
    link = row.find_element("css selector", "a")
    assert link.get_attribute("href").endswith(f"/ui/jobs/{failed_job['id']}")
    shown_time = row.find_element("css selector", "time")
    assert shown_time.text.endswith(("CET", "CEST"))  # the job's zone, Europe/Paris
    assert "(UTC)" in shown_time.get_attribute("title")
    screenshot(browser, "executions")

    browser.find_element("css selector", "#f-state option[value='succeeded']").click()
    browser.find_element("id", "apply-filters").click()
    wait_for(lambda: "state=succeeded" in browser.current_url, timeout=10,
             message="the state filter in the URL")
    wait_css(browser, "#executions")
    shown = row_ids(browser)
    assert succeeded["execution_id"] in shown and failed["execution_id"] not in shown


def test_the_filters_are_in_the_url_and_the_form_shows_them(browser: Any, ui_node: UiNode,
                                                            project: Any, settled: Any) -> None:
    failed_job, failed = settled["failed"]
    succeeded_job, succeeded = settled["succeeded"]
    sign_in(browser, ui_node)
    query = {"project_id": project["id"], "job": "executions-succeeded", "state": "",
             "since": "2h", "until": ""}
    browser.get(ui_node.url("/ui/executions?" + urlencode(query)))
    wait_css(browser, "#executions")
    assert row_ids(browser) == [succeeded["execution_id"]]
    assert field_value(browser, "f-job") == "executions-succeeded"
    assert field_value(browser, "f-since") == "2h"
    assert field_value(browser, "f-state") == ""

    # The form writes every filter into the URL: what it shows is what a bookmark keeps.
    job_field = browser.find_element("id", "f-job")
    job_field.clear()
    job_field.send_keys(str(failed_job["id"]))
    browser.find_element("id", "apply-filters").click()
    wait_for(lambda: query_of(browser.current_url).get("job") == str(failed_job["id"]),
             timeout=10, message="the job filter in the URL")
    wait_css(browser, "#executions")
    assert query_of(browser.current_url)["project_id"] == str(project["id"])
    assert row_ids(browser) == [failed["execution_id"]]
    assert succeeded_job["id"] != failed_job["id"]


def shown_for(browser: Any, ui_node: UiNode, project: Any, **filters: str) -> list[str]:
    query = {"project_id": project["id"], "state": "", "since": "1d", **filters}
    browser.get(ui_node.url("/ui/executions?" + urlencode(query)))
    wait_css(browser, "#executions")
    return row_ids(browser)


def test_the_label_host_and_node_filters(browser: Any, ui_node: UiNode, project: Any,
                                         settled: Any) -> None:
    _, failed = settled["failed"]
    _, succeeded = settled["succeeded"]
    sign_in(browser, ui_node)
    browser.get(ui_node.url("/ui/executions"))
    wait_css(browser, "#executions")
    if not browser.find_elements("id", "f-labels"):
        pytest.skip("this node's API has no labels/host/node filters for GET /executions yet")
    both = sorted([failed["execution_id"], succeeded["execution_id"]])
    assert shown_for(browser, ui_node, project, labels="outcome=failed") == [
        failed["execution_id"]]
    assert field_value(browser, "f-labels") == "outcome=failed"
    assert sorted(shown_for(browser, ui_node, project, host="127.0.0.1")) == both
    assert shown_for(browser, ui_node, project, host="elsewhere.example") == []
    node_id = str(failed["node_id"])
    assert sorted(shown_for(browser, ui_node, project, node=node_id)) == both
    assert field_value(browser, "f-node") == node_id
    assert shown_for(browser, ui_node, project, node=str(int(node_id) + 1)) == []


def test_a_filter_the_api_refuses_shows_its_message(browser: Any, ui_node: UiNode) -> None:
    sign_in(browser, ui_node)
    browser.get(ui_node.url("/ui/executions?since=yesterday-ish"))
    problem = wait_css(browser, "#filter-problem")
    assert problem.text.startswith("since:")
    browser.get(ui_node.url("/ui/executions?job=no-such-job-here"))
    wait_text(browser, "#filter-problem", "no-such-job-here")


def test_a_duration_back_from_now_becomes_an_instant() -> None:
    assert executions.instant_text("24h", 100_000) == str(100_000 - 86_400)
    assert executions.instant_text("30m", 10_000) == "8200"
    assert executions.instant_text("2026-01-02T00:00:00Z", 0) == "2026-01-02T00:00:00Z"
    assert executions.instant_text("", 0) is None


def _get(ui_node: UiNode, path: str) -> tuple[str, bytes]:
    token = base64.b64encode(f"{ui_node.username}:{ui_node.password}".encode()).decode()
    request = urllib.request.Request(ui_node.url(path), headers={"Authorization": "Basic " + token})
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(response.headers.get("Content-Type", "")), response.read()


def test_the_csv_export_holds_what_the_json_holds(browser: Any, ui_node: UiNode, project: Any,
                                                  settled: Any) -> None:
    sign_in(browser, ui_node)
    browser.get(ui_node.url(f"/ui/executions?project_id={project['id']}&state=&since=1d"))
    wait_css(browser, "#executions")
    links = browser.find_elements("id", "export-csv")
    if not links:
        pytest.skip("this node's API has no GET /executions?format=csv yet (the page says so)")
    href = links[0].get_attribute("href")
    query = query_of(href)
    assert query.pop("format") == "csv" and query["project_id"] == str(project["id"])
    content_type, raw = _get(ui_node, urlsplit(href).path + "?" + urlsplit(href).query)
    assert content_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))
    listed = ui_node.rest("GET", "/executions?" + urlencode({**query, "limit": 1000}))
    expected = listed["executions"]
    assert [row["execution_id"] for row in rows] == [e["execution_id"] for e in expected]
    assert len(expected) == 2
    for row, execution in zip(rows, expected, strict=True):
        for name, value in row.items():
            if name in execution:
                shown = execution[name]
                assert value == ("" if shown is None else str(shown)), name
