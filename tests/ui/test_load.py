"""The upcoming-load page: 50 jobs on `* * * * *` make a burst every minute, flagged with the
schedule and the H spreading that would flatten it; the same number of jobs spread with H make
none. And the chart's drawing (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler0.console.pages import load
from tests.integration.receiver import Receiver
from tests.ui.conftest import UiNode, screenshot, sign_in, wait_css

JOBS = 50


# -- the drawing --------------------------------------------------------------------------------


def test_the_outline_merges_equal_neighbours_and_closes_on_the_baseline() -> None:
    assert load.outline_path([0, 0, 2, 2, 1, 0], peak=2, height=10) == "M0 10V10h2V0h2V5h1V10h1V10Z"
    assert load.outline_path([], peak=0, height=10) == "M0 10V10Z"


def test_a_bar_of_any_count_is_visible() -> None:
    assert load.bar_height(1, 1000, 600) == 1
    assert load.bar_height(0, 1000, 600) == 0
    assert load.bar_height(1000, 1000, 600) == 600


def test_the_totals_per_minute_flag_the_minutes_with_a_burst() -> None:
    counts = [0] * 120
    counts[0], counts[61] = 50, 3
    found = load.Load(start=1_800_000_000, counts=counts,
                      bursts=[load.Burst(at=1_800_000_000, count=50)])
    rows = load.per_minute(found)
    assert [(r["total"], r["peak"], r["burst"]) for r in rows] == [(50, 50, True), (3, 3, False)]


def test_an_hour_of_busy_seconds_stays_small() -> None:
    counts = [i % 97 for i in range(3600)]  # hardly two neighbours equal
    drawn = load.chart(load.Load(start=0, counts=counts, bursts=[]))
    assert len(drawn["bars"]) < 40_000


# -- the page -----------------------------------------------------------------------------------


def _jobs(ui_node: UiNode, project: dict[str, Any], spec: str, url: str,
          count: int = JOBS) -> None:
    ui_node.rest("POST", "/jobs", [{"project_id": project["id"], "spec": spec,
                                    "callback_url": url} for _ in range(count)])


def causes(browser: Any) -> dict[str, dict[str, Any]]:
    """Every schedule named behind a burst: its group's peak, its jobs and its suggestion."""
    found = {}
    for group in browser.find_elements("css selector", "#bursts .burst"):
        for row in group.find_elements("css selector", "tr.cause"):
            cells = row.find_elements("css selector", "td")
            found[cells[0].text] = {"peak": int(group.get_attribute("data-count")),
                                    "jobs": int(cells[2].text), "suggestion": cells[3].text}
    return found


def test_fifty_jobs_on_the_same_second_are_a_burst_and_spread_ones_are_not(
        browser: Any, ui_node: UiNode) -> None:
    sign_in(browser, ui_node)
    browser.get(ui_node.url("/ui/load"))
    wait_css(browser, "main h1")
    if browser.find_elements("id", "load-unavailable"):
        pytest.skip("this node's API has no upcoming-load route yet (the page says so)")
    with Receiver() as rx:
        project = ui_node.rest("POST", "/projects", {"name": "load-page"})
        _jobs(ui_node, project, "H * * * * *", rx.url("/spread"))
        browser.get(ui_node.url("/ui/load"))
        wait_css(browser, "#load-chart")
        assert browser.find_elements("id", "no-bursts")
        assert not browser.find_elements("css selector", "#bursts .burst")

        _jobs(ui_node, project, "* * * * *", rx.url("/burst"))
        # Every other minute at second 30, more jobs: among the busiest seconds (the API names
        # the busiest 50 of them) whatever the `* * * * *` crowd does.
        _jobs(ui_node, project, "30 */2 * * * *", rx.url("/burst30"), count=60)
        browser.get(ui_node.url("/ui/load"))
        wait_css(browser, "#bursts .burst")
        named = causes(browser)
        # The spread jobs may add one of theirs to a burst's second.
        assert JOBS <= named["* * * * *"]["peak"] <= JOBS + 5
        assert named["* * * * *"]["jobs"] == JOBS
        assert named["30 */2 * * * *"]["jobs"] >= 60
        assert named["30 */2 * * * *"]["suggestion"] == "H */2 * * * *"
        assert not [spec for spec, cause in named.items()
                    if cause["jobs"] < 5 and cause["peak"] < 20]  # no burst of spread jobs alone
        minutes = browser.find_elements("css selector", "#load-minutes tbody tr")
        assert 60 <= len(minutes) <= 61
        assert len(browser.page_source.encode()) < 150_000
        screenshot(browser, "load")
