"""A project's failure notification settings (notification_url, notification_format) on
create, update and read, every refusal naming the field, and GET /projects/{id}/notifications
over what the node's apply recorded."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler0 import messages
from scheduler0.vocabulary import execution_id
from tests.api.helpers import Api, commit, data, error, unique

BASE = "/api/v1/projects"
URL = "http://127.0.0.1:9/notify"
TICK = 1_900_000_000


def test_a_project_has_no_notifications_until_given_a_url(api: Api) -> None:
    project = api.project()
    assert (project["notification_url"], project["notification_format"]) == (None, "json")
    shown = data(api.get(f"{BASE}/{project['id']}"))
    assert (shown["notification_url"], shown["notification_format"]) == (None, "json")


def test_create_with_a_url_and_a_format_shows_them(api: Api) -> None:
    project = api.project(notification_url=URL, notification_format="slack")
    assert (project["notification_url"], project["notification_format"]) == (URL, "slack")
    shown = data(api.get(f"{BASE}/{project['id']}"))
    assert (shown["notification_url"], shown["notification_format"]) == (URL, "slack")
    listed = data(api.get(BASE, query_string={"after": project["id"] - 1, "limit": 1}))
    assert listed["projects"][0]["notification_url"] == URL


def test_create_takes_null_for_none_and_for_the_default_format(api: Api) -> None:
    project = api.project(notification_url=None, notification_format=None)
    assert (project["notification_url"], project["notification_format"]) == (None, "json")


def test_update_sets_changes_and_removes_the_url(api: Api) -> None:
    project = api.project()
    path = f"{BASE}/{project['id']}"
    changed = data(api.put(path, json={"notification_url": URL}))
    assert (changed["notification_url"], changed["notification_format"]) == (URL, "json")
    changed = data(api.put(path, json={"notification_format": "slack"}))
    assert (changed["notification_url"], changed["notification_format"]) == (URL, "slack")
    other = "http://127.0.0.1:8/elsewhere"
    changed = data(api.put(path, json={"notification_url": other, "notification_format": None}))
    assert (changed["notification_url"], changed["notification_format"]) == (other, "json")
    removed = data(api.put(path, json={"notification_url": None}))
    assert removed["notification_url"] is None
    assert data(api.get(path))["notification_url"] is None


@pytest.mark.parametrize(("url", "fragments"), [
    (5, ("expected a string (or null for no notifications), got a number",)),
    (["http://127.0.0.1/x"], ("got an array",)),
    ("", ("must not be empty",)),
    ("ftp://127.0.0.1/x", ("is not an absolute http(s) URL with a host",
                           "https://example.com/hook")),
    ("/relative/path", ("is not an absolute http(s) URL",)),
    ("http://127.0.0.1:99999/x", ("is not a valid URL",)),
    ("http://127.0.0.1/a b", ("whitespace",)),
    ("http://10.0.0.1/hook", ("notifications follow the callbacks' network policy",
                              "outside the networks callbacks may reach (127.0.0.0/8)",
                              "CallbackAllowedNetworks")),
    ("http://169.254.169.254/latest", ("169.254.0.0/16", "CallbackDeniedNetworks")),
    ("http://127.0.0.1/" + "x" * 2100, ("too long",)),
])
def test_a_bad_url_is_refused_naming_the_field(api: Api, url: Any,
                                               fragments: tuple[str, ...]) -> None:
    error(api.post(BASE, json={"name": unique("p"), "notification_url": url}), 400,
          "invalid_notification_url", "notification_url", *fragments)
    project = api.project()
    error(api.put(f"{BASE}/{project['id']}", json={"notification_url": url}), 400,
          "invalid_notification_url", "notification_url", *fragments)
    assert data(api.get(f"{BASE}/{project['id']}"))["notification_url"] is None


@pytest.mark.parametrize(("fmt", "fragment"), [
    ("xml", "'xml' is not a notification format; use json"),
    ("JSON", "'JSON' is not a notification format"),
    (1, "expected a string, got a number; use json"),
    (True, "got a boolean"),
])
def test_a_bad_format_is_refused_naming_the_field(api: Api, fmt: Any, fragment: str) -> None:
    error(api.post(BASE, json={"name": unique("p"), "notification_format": fmt}), 400,
          "invalid_notification_format", "notification_format", fragment, "slack")
    project = api.project()
    error(api.put(f"{BASE}/{project['id']}", json={"notification_format": fmt}), 400,
          "invalid_notification_format", fragment)


def test_an_empty_update_names_the_notification_fields(api: Api) -> None:
    project = api.project()
    error(api.put(f"{BASE}/{project['id']}", json={}), 400, "invalid_body",
          "notification_url, notification_format")


def _fail_then_recover(node: Any, project: dict[str, Any], job: dict[str, Any]) -> None:
    """A failed tick, then a succeeded one, recorded as the pipeline records them."""
    row = messages.PlanRow(job["id"], project["id"])
    batch = unique("batch")
    commit(node, messages.Plan(batches=[
        messages.PlanBatch(batch_id=f"{batch}-{n}", node_id=1, scheduled_at=TICK + 60 * n,
                           rows=[row]) for n in (0, 1)]))
    for n, state, status in ((0, "failed", 500), (1, "succeeded", 200)):
        commit(node, messages.Result(rows=[messages.ResultRow(
            execution_id(job["id"], TICK + 60 * n), state, 4 if status == 500 else 1, status,
            "HTTP 500" if status == 500 else None, 1, None, None, f"{batch}-{n}")]))


def test_notifications_list_newest_first_with_their_delivery(api: Api, node: Any) -> None:
    project = api.project(notification_url=URL)
    path = f"{BASE}/{project['id']}/notifications"
    empty = data(api.get(path))
    assert (empty["notifications"], empty["total"]) == ([], 0)
    job = api.job(project["id"], name=unique("nightly"))
    _fail_then_recover(node, project, job)
    page = data(api.get(path))
    assert page["total"] == 2 and page["next_after"] is None
    recovered, failed = page["notifications"]
    assert failed == {
        "id": failed["id"], "type": "job.failed", "project_id": project["id"],
        "job_id": job["id"], "job_name": job["name"],
        "execution_id": execution_id(job["id"], TICK), "state": "failed",
        "previous_state": None, "scheduled_at": "2030-03-17T17:46:40Z", "http_status": 500,
        "error": "HTTP 500", "attempts": 4, "created_at": failed["created_at"],
        "delivery": "pending", "delivery_attempts": 0, "delivery_status": None,
        "delivery_error": None, "settled_at": None}
    assert (recovered["type"], recovered["previous_state"]) == ("job.recovered", "failed")
    assert recovered["id"] > failed["id"]

    commit(node, messages.NotificationSettle(rows=[
        messages.NotificationOutcome(failed["id"], "sent", 2, 204)]))
    sent = data(api.get(path, query_string={"delivery": "sent"}))["notifications"]
    assert [(n["id"], n["delivery"], n["delivery_attempts"], n["delivery_status"])
            for n in sent] == [(failed["id"], "sent", 2, 204)]
    assert sent[0]["settled_at"] is not None
    pending = data(api.get(path, query_string={"delivery": "pending"}))["notifications"]
    assert [n["id"] for n in pending] == [recovered["id"]]
    first = data(api.get(path, query_string={"limit": 1}))
    assert first["next_after"] == str(recovered["id"])
    rest = data(api.get(path, query_string={"after": first["next_after"]}))
    assert [n["id"] for n in rest["notifications"]] == [failed["id"]]


def test_notifications_of_a_project_without_a_url_stay_empty(api: Api, node: Any) -> None:
    project = api.project()
    _fail_then_recover(node, project, api.job(project["id"]))
    assert data(api.get(f"{BASE}/{project['id']}/notifications"))["total"] == 0


def test_notification_list_errors(api: Api) -> None:
    project = api.project()
    path = f"{BASE}/{project['id']}/notifications"
    error(api.get(path, query_string={"delivery": "lost"}), 400, "invalid_delivery",
          "'lost' is not a delivery state; use one of pending, sent, failed")
    error(api.get(path, query_string={"limit": 0}), 400, "invalid_limit", "limit")
    error(api.get(path, query_string={"after": "x"}), 400, "invalid_after", "after")
    error(api.get(f"{BASE}/999999999/notifications"), 404, "not_found",
          "project 999999999 does not exist")
    error(api.get(f"{BASE}/abc/notifications"), 400, "invalid_id")
