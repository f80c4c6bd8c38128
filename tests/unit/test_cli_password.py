"""`credential init` takes the auth password from the environment or a prompt, never argv."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from scheduler0 import cli

LONG = "correct-horse-battery"
BASE = ["credential", "init", "--secret-key", "s3cret", "--auth-username", "ops"]


def run(args, cwd, input=None, env=None):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        # None unsets: a password in the environment running the tests must not leak in.
        env = {"SCHEDULER0_AUTH_PASSWORD": None, **(env or {})}
        return CliRunner().invoke(cli.main, args, input=input, env=env, catch_exceptions=False)
    finally:
        os.chdir(old)


def _written(tmp_path):
    path = tmp_path / ".scheduler0"
    return json.loads(path.read_text()) if path.exists() else None


def test_the_password_flag_is_refused_with_exit_2_and_says_what_to_do(tmp_path):
    result = run([*BASE, "--auth-password", LONG], tmp_path)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "--auth-password" in lines[0] and "SCHEDULER0_AUTH_PASSWORD" in lines[0]
    assert LONG not in result.output
    assert _written(tmp_path) is None


def test_the_flag_is_refused_even_next_to_the_environment_and_generate(tmp_path):
    result = run([*BASE, "--generate", "--auth-password", LONG], tmp_path,
                 env={"SCHEDULER0_AUTH_PASSWORD": LONG})
    assert result.exit_code == 2 and _written(tmp_path) is None


def test_the_password_comes_from_the_environment(tmp_path):
    result = run(BASE, tmp_path, env={"SCHEDULER0_AUTH_PASSWORD": LONG})
    assert result.exit_code == 0, result.output
    assert _written(tmp_path)["AuthPassword"] == LONG


def test_a_short_password_from_the_environment_is_refused_with_exit_2(tmp_path):
    result = run(BASE, tmp_path, env={"SCHEDULER0_AUTH_PASSWORD": "elevenchars"})
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "at least 12 characters" in lines[0], result.output
    assert _written(tmp_path) is None
    twelve = run(BASE, tmp_path, env={"SCHEDULER0_AUTH_PASSWORD": "twelve-chars"})
    assert twelve.exit_code == 0 and _written(tmp_path)["AuthPassword"] == "twelve-chars"


def test_without_a_terminal_or_the_environment_it_says_how_to_pass_it(tmp_path):
    result = run(BASE, tmp_path)
    assert result.exit_code != 0
    assert "SCHEDULER0_AUTH_PASSWORD" in result.output and "--generate" in result.output
    assert _written(tmp_path) is None


@pytest.fixture
def terminal(monkeypatch):
    monkeypatch.setattr(cli, "_stdin_is_terminal", lambda: True)


def test_the_prompt_asks_twice_hides_the_password_and_writes_it(tmp_path, terminal):
    result = run(BASE, tmp_path, input=f"{LONG}\n{LONG}\n")
    assert result.exit_code == 0, result.output
    assert _written(tmp_path)["AuthPassword"] == LONG
    assert result.output.count("Auth Password") == 1
    assert "Repeat for confirmation" in result.output
    assert LONG not in result.output


def test_the_prompt_asks_again_when_the_two_entries_differ(tmp_path, terminal):
    result = run(BASE, tmp_path, input=f"{LONG}\n{LONG}x\n{LONG}y\n{LONG}y\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert _written(tmp_path)["AuthPassword"] == LONG + "y"


def test_a_short_password_at_the_prompt_is_refused_with_exit_2(tmp_path, terminal):
    result = run(BASE, tmp_path, input="short\nshort\n")
    assert result.exit_code == 2
    assert "at least 12 characters" in result.output.strip().splitlines()[-1]
    assert _written(tmp_path) is None


def test_generated_passwords_stay_as_they_were(tmp_path):
    result = run(["credential", "init", "--generate"], tmp_path)
    assert result.exit_code == 0, result.output
    assert len(_written(tmp_path)["AuthPassword"]) >= cli.MIN_PASSWORD_LENGTH


def test_help_names_the_environment_variable_not_the_flag(tmp_path):
    result = run(["credential", "init", "--help"], tmp_path)
    assert result.exit_code == 0
    assert "SCHEDULER0_AUTH_PASSWORD" in result.output
    assert "--auth-password" not in result.output
