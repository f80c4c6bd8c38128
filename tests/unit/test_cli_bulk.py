"""The CLI's bulk operations and cluster pause: what `job bulk`, `operation get/list` and
`cluster pause/resume` send to the node (the node's answers are the API tests' subject)."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from scheduler0 import cli


class Recorder:
    """NodeClient's stand-in: remembers each call; answers an operation that finishes on the
    second read."""

    calls: list[tuple[str, str, Any, Any]] = []

    def __init__(self, _settings: Any) -> None:
        pass

    def call(self, method: str, path: str, body: Any = None, query: Any = None) -> Any:
        Recorder.calls.append((method, path, body, query))
        reads = sum(1 for m, p, _, _ in Recorder.calls if m == "GET" and "/operations/" in p)
        state = "succeeded" if reads >= 2 else "running"
        return {"id": 7, "state": state, "done": 0, "total": 1}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> list[tuple[str, str, Any, Any]]:
    monkeypatch.setattr(cli, "NodeClient", Recorder)
    monkeypatch.setattr(cli.time, "sleep", lambda _s: None)
    monkeypatch.chdir(tmp_path)
    Recorder.calls = []
    return Recorder.calls


def run(*args: str) -> Any:
    return CliRunner().invoke(cli.main, list(args), env={}, catch_exceptions=False)


def test_job_bulk_sends_ids_or_a_filter(calls: list[Any]) -> None:
    assert run("job", "bulk", "pause", "--id", "3", "--id", "4").exit_code == 0
    assert run("job", "bulk", "delete", "--project-id", "2", "--active",
               "--labels", "team=web").exit_code == 0
    assert [(m, p, b) for m, p, b, _ in calls] == [
        ("POST", "/jobs/bulk", {"action": "pause", "ids": [3, 4]}),
        ("POST", "/jobs/bulk", {"action": "delete", "filter": {
            "project_id": 2, "paused": False, "labels": "team=web"}})]


def test_job_bulk_set_labels_sends_the_labels_to_set_and_to_remove(calls: list[Any]) -> None:
    result = run("job", "bulk", "set_labels", "--paused", "--label", "env=prod",
                 "--remove-label", "legacy")
    assert result.exit_code == 0, result.output
    [(_, _, body, _)] = calls
    assert body == {"action": "set_labels", "filter": {"paused": True},
                    "labels": {"env": "prod", "legacy": None}}


def test_job_bulk_wait_follows_the_operation_until_it_finishes(calls: list[Any]) -> None:
    result = run("job", "bulk", "resume", "--id", "1", "--wait")
    assert result.exit_code == 0, result.output
    assert [(m, p) for m, p, _, _ in calls] == [
        ("POST", "/jobs/bulk"), ("GET", "/operations/7"), ("GET", "/operations/7")]
    assert '"state": "succeeded"' in result.output


@pytest.mark.parametrize("args", [("pause",), ("pause", "--id", "1", "--project-id", "2")])
def test_job_bulk_needs_ids_or_filters_not_both(calls: list[Any], args: tuple[str, ...]) -> None:
    result = run("job", "bulk", *args)
    assert result.exit_code == 2 and "name the jobs with --id" in result.output
    assert calls == []


def test_job_bulk_refuses_an_action_the_node_does_not_have(calls: list[Any]) -> None:
    result = run("job", "bulk", "stop", "--id", "1")
    assert result.exit_code == 2 and "'stop' is not one of" in result.output
    assert calls == []


def test_job_bulk_run_sends_its_data_and_operation_executions_pages_them(
        calls: list[Any]) -> None:
    assert run("job", "bulk", "run", "--id", "3", "--data", "now").exit_code == 0
    assert run("job", "bulk", "run", "--active").exit_code == 0
    assert run("operation", "executions", "7", "--limit", "5", "--after", "3-9-m1"
               ).exit_code == 0
    assert [(m, p, b, q) for m, p, b, q in calls] == [
        ("POST", "/jobs/bulk", {"action": "run", "ids": [3], "data": "now"}, None),
        ("POST", "/jobs/bulk", {"action": "run", "filter": {"paused": False}}, None),
        ("GET", "/operations/7/executions", None, {"limit": 5, "after": "3-9-m1"})]


def test_operation_get_list_and_the_cluster_pause(calls: list[Any]) -> None:
    for args in (("operation", "get", "7"), ("operation", "list", "--state", "running"),
                 ("cluster", "pause", "--reason", "upgrade"), ("cluster", "pause"),
                 ("cluster", "resume")):
        assert run(*args).exit_code == 0, args
    assert [(m, p, b, q) for m, p, b, q in calls] == [
        ("GET", "/operations/7", None, None),
        ("GET", "/operations", None, {"state": "running", "limit": 50}),
        ("POST", "/pause", {"reason": "upgrade"}, None), ("POST", "/pause", {}, None),
        ("POST", "/resume", {}, None)]
