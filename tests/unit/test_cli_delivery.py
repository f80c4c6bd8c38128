"""The CLI's delivery settings options: what `create job` and `update job` send the node (the
node's client is replaced by one that keeps the call; the node checks the values)."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from scheduler0 import cli

CREATE = ["create", "job", "--project-id", "1", "--spec", "@every 1m", "--callback-url",
          "http://127.0.0.1:9/x"]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any]]:
    kept: list[tuple[str, str, Any]] = []

    class Client:
        def __init__(self, settings: Any) -> None:
            pass

        def call(self, method: str, path: str, body: Any = None, query: Any = None) -> Any:
            kept.append((method, path, body))
            return {"ok": True}

    monkeypatch.setattr(cli, "NodeClient", Client)
    monkeypatch.setattr(cli, "load_settings", lambda path: None)
    return kept


def run(*args: str) -> Any:
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


def test_create_sends_every_setting_given(calls: list[tuple[str, str, Any]]) -> None:
    result = run(*CREATE, "--method", "PUT", "--header", "Authorization: Bearer a:b",
                 "--header", "X-Tenant:acme", "--timeout", "2.5", "--retries", "0",
                 "--retry-delay", "0.5", "--success-code", "200", "--success-code", "404")
    assert result.exit_code == 0, result.output
    [(method, path, body)] = calls
    assert (method, path) == ("POST", "/jobs")
    assert {k: body[k] for k in cli.DELIVERY_SETTINGS} == {
        "method": "PUT", "headers": {"Authorization": "Bearer a:b", "X-Tenant": "acme"},
        "timeout": 2.5, "retries": 0, "retry_delay": 0.5, "success_codes": [200, 404]}


def test_create_without_settings_sends_none(calls: list[tuple[str, str, Any]]) -> None:
    assert run(*CREATE).exit_code == 0
    assert not set(calls[0][2]) & set(cli.DELIVERY_SETTINGS)


def test_update_sets_and_resets_settings(calls: list[tuple[str, str, Any]]) -> None:
    result = run("update", "job", "7", "--method", "GET", "--node-default", "headers",
                 "--node-default", "success_codes")
    assert result.exit_code == 0, result.output
    assert calls == [("PUT", "/jobs/7", {"method": "GET", "headers": None,
                                         "success_codes": None})]


def test_bad_options_are_refused_before_any_call(calls: list[tuple[str, str, Any]]) -> None:
    refused = run(*CREATE, "--header", "no colon here")
    assert refused.exit_code == 2 and 'write it as "NAME: VALUE"' in refused.output
    refused = run("update", "job", "7", "--timeout", "3", "--node-default", "timeout")
    assert refused.exit_code == 2 and "--node-default timeout: the same command sets it" in (
        refused.output)
    refused = run(*CREATE, "--method", "PATCH")
    assert refused.exit_code == 2
    assert calls == []
