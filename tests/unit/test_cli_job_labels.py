"""The CLI's job names, descriptions and labels: what `create job`, `update job` and
`list jobs` send to the node (the node's answers are the API tests' subject)."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from scheduler0 import cli


class Recorder:
    """NodeClient's stand-in: remembers each call and answers {}."""

    calls: list[tuple[str, str, Any, Any]] = []

    def __init__(self, _settings: Any) -> None:
        pass

    def call(self, method: str, path: str, body: Any = None, query: Any = None) -> Any:
        Recorder.calls.append((method, path, body, query))
        return {}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> list[tuple[str, str, Any, Any]]:
    monkeypatch.setattr(cli, "NodeClient", Recorder)
    monkeypatch.chdir(tmp_path)
    Recorder.calls = []
    return Recorder.calls


def run(*args: str) -> Any:
    return CliRunner().invoke(cli.main, list(args), env={}, catch_exceptions=False)


def test_create_job_sends_name_description_and_labels(calls: list[Any]) -> None:
    result = run("create", "job", "--project-id", "3", "--spec", "@daily", "--callback-url",
                 "http://127.0.0.1:9/x", "--name", "nightly", "--description", "the report",
                 "--label", "team=billing", "--label", "env=prod", "--label", "empty=")
    assert result.exit_code == 0, result.output
    (method, path, body, _), = calls
    assert (method, path) == ("POST", "/jobs")
    assert body["name"] == "nightly" and body["description"] == "the report"
    assert body["labels"] == {"team": "billing", "env": "prod", "empty": ""}


def test_create_job_without_them_sends_none(calls: list[Any]) -> None:
    assert run("create", "job", "--project-id", "3", "--spec", "@daily", "--callback-url",
               "http://127.0.0.1:9/x").exit_code == 0
    assert not {"name", "description", "labels"} & set(calls[0][2])


@pytest.mark.parametrize(("labels", "fragment"), [
    (["team"], "write it as KEY=VALUE"), (["=x"], "write it as KEY=VALUE"),
    (["a=1", "a=2"], "given twice")])
def test_a_bad_label_option_is_a_usage_error(calls: list[Any], labels: list[str],
                                             fragment: str) -> None:
    options = [part for label in labels for part in ("--label", label)]
    result = run("create", "job", "--project-id", "3", "--spec", "@daily", "--callback-url",
                 "http://127.0.0.1:9/x", *options)
    assert result.exit_code == 2 and fragment in result.output and calls == []


def test_update_job_by_name_in_a_project(calls: list[Any]) -> None:
    result = run("update", "job", "nightly", "--project-id", "3", "--name", "daily",
                 "--description", "d", "--label", "team=web")
    assert result.exit_code == 0, result.output
    assert calls == [("PUT", "/jobs/nightly", {"name": "daily", "description": "d",
                                               "labels": {"team": "web"}}, {"project_id": 3})]


def test_update_job_clears(calls: list[Any]) -> None:
    assert run("update", "job", "42", "--clear-name", "--clear-labels").exit_code == 0
    assert calls == [("PUT", "/jobs/42", {"name": None, "labels": {}}, None)]


@pytest.mark.parametrize("args", [[], ["--name", "a", "--clear-name"],
                                  ["--label", "a=b", "--clear-labels"]])
def test_update_job_refuses_nothing_or_both(calls: list[Any], args: list[str]) -> None:
    result = run("update", "job", "42", *args)
    assert result.exit_code == 2 and calls == []


def test_list_jobs_by_selector_and_name_prefix(calls: list[Any]) -> None:
    result = run("list", "jobs", "--labels", "team=billing,env!=dev", "--name", "night",
                 "--project-id", "2")
    assert result.exit_code == 0, result.output
    (_, path, _, query), = calls
    assert path == "/jobs"
    assert query == {"limit": 50, "offset": 0, "project_id": 2,
                     "labels": "team=billing,env!=dev", "name": "night"}
    assert run("list", "projects", "--labels", "a=b").exit_code == 2
