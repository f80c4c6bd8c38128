"""A project's rate_limit on create, update (PUT and PATCH) and read, every refusal naming the
field and the fix, and what the journal holds for it."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler0 import messages
from tests.api.helpers import Api, data, error

BASE = "/api/v1/projects"


def test_a_project_is_unlimited_until_given_a_limit(api: Api) -> None:
    project = api.project()
    assert project["rate_limit"] is None
    assert data(api.get(f"{BASE}/{project['id']}"))["rate_limit"] is None


def test_create_with_a_limit_shows_it_on_every_read(api: Api) -> None:
    project = api.project(rate_limit={"concurrency": 2, "per_second": 5})
    expected = {"concurrency": 2, "per_second": 5.0}
    assert project["rate_limit"] == expected
    assert data(api.get(f"{BASE}/{project['id']}"))["rate_limit"] == expected
    listed = data(api.get(BASE, query_string={"after": project["id"] - 1, "limit": 1}))
    assert listed["projects"][0]["rate_limit"] == expected


def test_one_kind_alone_leaves_the_other_unlimited(api: Api) -> None:
    assert api.project(rate_limit={"per_second": 0.5})["rate_limit"] == {
        "concurrency": None, "per_second": 0.5}
    assert api.project(rate_limit={"concurrency": 10000, "per_second": None})["rate_limit"] == {
        "concurrency": 10000, "per_second": None}


@pytest.mark.parametrize("nothing", [None, {}, {"concurrency": None, "per_second": None}])
def test_create_takes_null_or_an_empty_limit_for_unlimited(api: Api, nothing: Any) -> None:
    assert api.project(rate_limit=nothing)["rate_limit"] is None


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_sets_replaces_and_removes_the_limit(api: Api, method: str) -> None:
    project = api.project(name=f"limits-{method}-{id(object())}")
    path = f"{BASE}/{project['id']}"
    changed = data(api.request(method, path, json={"rate_limit": {"concurrency": 3}}))
    assert changed["rate_limit"] == {"concurrency": 3, "per_second": None}
    # A limit is replaced whole: the kind left out is no limit any more.
    changed = data(api.request(method, path, json={"rate_limit": {"per_second": 100000}}))
    assert changed["rate_limit"] == {"concurrency": None, "per_second": 100000.0}
    # Other changes leave it as it is.
    assert data(api.request(method, path, json={"description": "d"}))["rate_limit"] == {
        "concurrency": None, "per_second": 100000.0}
    removed = data(api.request(method, path, json={"rate_limit": None}))
    assert removed["rate_limit"] is None
    assert data(api.get(path))["rate_limit"] is None


@pytest.mark.parametrize(("limit", "fragments"), [
    (5, ("rate_limit: expected an object such as", "or null for no limit")),
    ([2], ("rate_limit: expected an object",)),
    ({"concurrency": 0}, ("rate_limit.concurrency: 0 is out of range; use 1-10000",)),
    ({"concurrency": 10001}, ("rate_limit.concurrency:", "use 1-10000")),
    ({"concurrency": 2.5}, ("rate_limit.concurrency: expected a whole number", "such as 2")),
    ({"concurrency": True}, ("rate_limit.concurrency: expected a whole number",)),
    ({"concurrency": "2"}, ("rate_limit.concurrency:", "got a string")),
    ({"per_second": 0}, ("rate_limit.per_second: 0 is out of range; use 0.01-100000",)),
    ({"per_second": 100000.5}, ("rate_limit.per_second:", "out of range")),
    ({"per_second": "fast"}, ("rate_limit.per_second: expected a number", "such as 5 or 0.5")),
])
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_bad_limit_is_refused_naming_the_field_and_the_fix(
        api: Api, method: str, limit: Any, fragments: tuple[str, ...]) -> None:
    path = BASE if method == "POST" else f"{BASE}/{api.project()['id']}"
    body = {"rate_limit": limit} | ({"name": "never-created"} if method == "POST" else {})
    error(api.request(method, path, json=body), 400, "invalid_rate_limit", *fragments)


def test_an_unknown_field_of_the_limit_is_named(api: Api) -> None:
    error(api.post(BASE, json={"name": "never", "rate_limit": {"burst": 3}}), 400,
          "unknown_field", "rate_limit.'burst': unknown field", "concurrency, per_second")


def test_the_journal_leaves_the_limit_out_while_it_has_its_default() -> None:
    """Old journals and old nodes read a project without a limit as before limits existed."""
    plain = messages.ProjectCreate(name="p", signing_secret="s")
    assert "rate_limit" not in plain.encode()
    limited = messages.ProjectCreate(name="p", signing_secret="s",
                                     rate_limit=messages.RateLimit(concurrency=2))
    assert limited.encode()["rate_limit"] == {"concurrency": 2}
    assert messages.ProjectCreate.decode(limited.encode()) == limited
    update = messages.ProjectUpdate.decode({"id": 1, "description": "d"})
    assert update.encode() == {"id": 1, "description": "d"}
    assert update.changes() == {"description": "d"}
    removal = messages.ProjectUpdate.decode({"id": 1, "remove_rate_limit": True})
    assert removal.changes() == {"rate_concurrency": None, "rate_per_second": None}


@pytest.mark.parametrize(("limit", "fragment"), [
    ({"concurrency": 0}, "rate_limit.concurrency must be 1-10000"),
    ({"per_second": 0.001}, "rate_limit.per_second must be a number"),
    ({"per_second": True}, "rate_limit.per_second must be a number"),
    ([1], "rate_limit must be an object"),
])
def test_a_malformed_limit_in_a_command_is_refused_naming_the_field(limit: Any,
                                                                    fragment: str) -> None:
    with pytest.raises(Exception, match=fragment.replace(".", r"\.")):
        messages.ProjectCreate.decode({"name": "p", "signing_secret": "s", "rate_limit": limit})
    with pytest.raises(Exception, match="contradict"):
        messages.ProjectUpdate.decode({"id": 1, "rate_limit": {"concurrency": 1},
                                       "remove_rate_limit": True})
