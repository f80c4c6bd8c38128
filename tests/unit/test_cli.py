"""The CLI through click's runner (commands that need no running node)."""

from __future__ import annotations

import json
import os
import stat

import yaml
from click.testing import CliRunner

from scheduler0 import __version__, config
from scheduler0.cli import main


def run(args, cwd, input=None, env=None):
    runner = CliRunner()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(main, args, input=input, env=env or {}, catch_exceptions=False)
    finally:
        os.chdir(old)


def test_every_command_has_help(tmp_path):
    for args in (["--help"], ["config", "init", "--help"], ["credential", "init", "--help"],
                 ["credential", "show", "--help"], ["start", "--help"],
                 ["create", "credential", "--help"], ["list", "--help"], ["reset", "--help"],
                 ["version", "--help"], ["schedule", "preview", "--help"],
                 ["cluster", "status", "--help"], ["update", "job", "--help"],
                 ["job", "run", "--help"], ["job", "backfill", "--help"],
                 ["execution", "get", "--help"], ["execution", "redeliver", "--help"]):
        result = run(args, tmp_path)
        assert result.exit_code == 0, args
        assert "Usage:" in result.output


def test_version(tmp_path):
    result = run(["version"], tmp_path)
    assert result.output.strip() == f"scheduler0 {__version__}"


def test_config_init_writes_every_key_and_refuses_to_overwrite(tmp_path):
    assert run(["config", "init"], tmp_path).exit_code == 0
    doc = yaml.safe_load((tmp_path / "config.yml").read_text())
    assert doc["Port"] == 9091 and doc["DataDir"] == "./scheduler0-data"
    assert config.load({}, str(tmp_path / "config.yml")) == config.load({}, None)
    again = run(["config", "init"], tmp_path)
    assert again.exit_code != 0 and "--force" in again.output


def test_credential_init_with_flags_writes_0600(tmp_path):
    result = run(["credential", "init", "--secret-key", "s3cret", "--auth-username", "ops"],
                 tmp_path, env={"SCHEDULER0_AUTH_PASSWORD": "pw-from-the-env"})
    assert result.exit_code == 0, result.output
    path = tmp_path / ".scheduler0"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"SecretKey": "s3cret", "AuthUsername": "ops",
                                            "AuthPassword": "pw-from-the-env"}


def test_credential_init_generate_and_missing_flags(tmp_path):
    missing = run(["credential", "init", "--secret-key", "x"], tmp_path)
    assert missing.exit_code != 0 and "--auth-username" in missing.output
    assert run(["credential", "init", "--generate"], tmp_path).exit_code == 0
    values = json.loads((tmp_path / ".scheduler0").read_text())
    assert all(len(values[k]) >= 5 for k in ("SecretKey", "AuthUsername", "AuthPassword"))
    exists = run(["credential", "init", "--generate"], tmp_path)
    assert exists.exit_code != 0 and "--force" in exists.output
    assert run(["credential", "init", "--generate", "--force"], tmp_path).exit_code == 0
    assert json.loads((tmp_path / ".scheduler0").read_text()) != values


def test_credential_show_masks_unless_reveal(tmp_path):
    run(["credential", "init", "--secret-key", "abcdefgh", "--auth-username", "ops"], tmp_path,
        env={"SCHEDULER0_AUTH_PASSWORD": "hunter2hunter2"})
    masked = run(["credential", "show"], tmp_path)
    assert "hunter2" not in masked.output and "ops" in masked.output
    revealed = run(["credential", "show", "--reveal"], tmp_path)
    assert json.loads(revealed.output)["AuthPassword"] == "hunter2hunter2"


def test_credential_show_without_secrets_says_what_to_run(tmp_path):
    result = run(["credential", "show"], tmp_path)
    assert result.exit_code == 1 and "credential init" in result.output


def test_reset_asks_then_removes(tmp_path):
    data = tmp_path / "scheduler0-data"
    data.mkdir()
    (data / "scheduler0.db").write_text("x")
    declined = run(["reset"], tmp_path, input="n\n")
    assert declined.exit_code != 0 and data.exists()
    assert run(["reset", "--yes"], tmp_path).exit_code == 0
    assert not data.exists()


def test_bad_config_is_one_line_naming_the_key(tmp_path):
    (tmp_path / "config.yml").write_text("Port: eighty\n")
    result = run(["list", "jobs"], tmp_path)
    assert result.exit_code == 1
    assert "Port" in result.output and "'eighty'" in result.output
    assert "Traceback" not in result.output


def test_calls_to_a_stopped_node_explain_themselves(tmp_path):
    run(["credential", "init", "--generate"], tmp_path)
    env = {"SCHEDULER0_PORT": str(_free_port())}
    result = run(["create", "credential"], tmp_path, env=env)
    assert result.exit_code == 1 and "is `scheduler0 start` running?" in result.output


def test_create_job_takes_one_of_spec_and_run_at(tmp_path):
    for extra in ([], ["--spec", "* * * * *", "--run-at", "now"]):
        result = run(["create", "job", "--project-id", "1", "--callback-url",
                      "http://127.0.0.1:9/x", *extra], tmp_path)
        assert result.exit_code == 2 and "give one of --spec" in result.output, extra
    assert "--dry-run" in run(["create", "job", "--help"], tmp_path).output


def test_schedule_preview_resolves_h_for_a_job_id(tmp_path):
    from scheduler0.schedule import resolve_job_spec

    resolved = resolve_job_spec("H/15 * * * *", 42, 0).spec
    start = int(resolved.split("-")[0])
    result = run(["schedule", "preview", "H/15 * * * *", "--job-id", "42", "--count", "2",
                  "--from", "2030-01-01T00:00:00Z"], tmp_path)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"resolved spec: {resolved}",
        f"2030-01-01T00:{start:02d}:00Z  2030-01-01T00:{start:02d}:00+00:00",
        f"2030-01-01T00:{start + 15:02d}:00Z  2030-01-01T00:{start + 15:02d}:00+00:00"]
    without = run(["schedule", "preview", "H/15 * * * *"], tmp_path)
    assert without.exit_code == 1 and "pass --job-id" in without.output


def _free_port() -> int:
    from scheduler0.testing import free_port

    return free_port()


def test_project_commands_refuse_contradictions_before_calling_the_node(tmp_path):
    for args in (["update", "project", "1", "--notification-url", "http://127.0.0.1:9/n",
                  "--no-notifications"], ["update", "project", "1"]):
        result = run(args, tmp_path)
        assert result.exit_code == 2, args
    assert "nothing to change" in run(["update", "project", "1"], tmp_path).output
    bad = run(["create", "project", "--name", "p", "--notification-format", "xml"], tmp_path)
    assert bad.exit_code == 2 and "'xml' is not one of 'json', 'slack'" in bad.output
    assert "--notification-url" in run(["create", "project", "--help"], tmp_path).output


def test_rate_limit_options_refuse_bad_values_and_contradictions_before_calling_the_node(
        tmp_path):
    both = run(["update", "project", "1", "--concurrency", "2", "--no-rate-limit"], tmp_path)
    assert both.exit_code == 2 and "not both" in both.output
    zero = run(["create", "project", "--name", "p", "--concurrency", "0"], tmp_path)
    assert zero.exit_code == 2 and "0 is not in the range 1<=x<=10000" in zero.output
    slow = run(["create", "project", "--name", "p", "--per-second", "0.001"], tmp_path)
    assert slow.exit_code == 2 and "--per-second" in slow.output
    assert "--no-rate-limit" in run(["update", "project", "1", "--help"], tmp_path).output
    assert "nothing to change" in run(["update", "project", "1"], tmp_path).output
