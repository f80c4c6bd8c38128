"""scheduler0.console.jobview: DST marks, the job as a curl command, the form's values and
the history's filters."""

from __future__ import annotations

import json
import shlex

import pytest

from scheduler0 import schedule
from scheduler0.console import jobview

# 2026-03-08 is the US spring-forward day, 2026-11-01 the fall-back day.
MARCH_7 = 1772841600  # 2026-03-07T00:00:00Z


def test_offsets_are_read_from_iso_times() -> None:
    assert jobview.offset_of("2026-03-08T03:00:00-04:00") == -4 * 3600
    assert jobview.offset_of("2026-03-08T03:00:00+05:45") == 5 * 3600 + 45 * 60
    assert jobview.offset_of("2026-03-08T07:00:00Z") == 0
    assert jobview.offset_of("2026-03-08T07:00:00+00:00") == 0
    with pytest.raises(ValueError):
        jobview.offset_of("2026-03-08T07:00:00")


def test_offsets_are_written_with_sign_hours_and_minutes() -> None:
    assert jobview.format_offset(-4 * 3600) == "-04:00"
    assert jobview.format_offset(5 * 3600 + 45 * 60) == "+05:45"
    assert jobview.format_offset(0) == "+00:00"


def test_spring_forward_is_marked_on_the_first_time_after_it() -> None:
    times = schedule.preview("0 12 * * *", "America/New_York", MARCH_7, 3)
    shown = jobview.fire_times(times)
    assert [t.jump for t in shown] == [0, 3600, 0]
    assert shown[1].jump_text == "clocks +1:00"
    assert shown[1].offset_text == "-04:00" and shown[0].offset_text == "-05:00"
    assert [t.epoch for t in shown] == [t["epoch"] for t in times]


def test_fall_back_is_a_negative_jump() -> None:
    october_31 = 1793404800  # 2026-10-31T00:00:00Z
    shown = jobview.fire_times(schedule.preview("0 12 * * *", "Europe/Berlin", october_31, 3))
    assert [t.jump_text for t in shown] == ["", "", ""]  # Berlin fell back on 2026-10-25
    shown = jobview.fire_times(schedule.preview("0 12 * * *", "America/New_York", october_31, 3))
    assert [t.jump for t in shown] == [0, -3600, 0]
    assert shown[1].jump_text == "clocks -1:00"


def test_a_given_utc_offset_is_used_as_is() -> None:
    shown = jobview.fire_times([
        {"epoch": 1, "utc": "a", "local": "x+00:00", "utc_offset_seconds": 3600},
        {"epoch": 2, "utc": "b", "local": "y+00:00", "utc_offset_seconds": 5400}])
    assert [t.jump for t in shown] == [0, 1800]
    assert shown[1].jump_text == "clocks +0:30"


def test_utc_never_jumps() -> None:
    shown = jobview.fire_times(schedule.preview("*/5 * * * *", "UTC", MARCH_7, 10))
    assert {t.jump for t in shown} == {0}


JOB = {
    "id": 7, "project_id": 3, "spec": "H */5 * * * *", "resolved_spec": "17 */5 * * * *",
    "timezone": "Europe/Berlin", "callback_url": "https://example.com/hook?a=1&b=2",
    "data": "it's $HOME and \"quotes\"\nand a line", "execution_type": "http",
    "start_date": None, "end_date": "2030-01-01T00:00:00Z", "paused": False,
    "misfire_policy": "run_once", "name": "nightly-report", "description": "",
    "labels": {"team": "billing", "env": "prod"}, "method": "PUT",
    "headers": {"Authorization": "Bearer a'b"}, "timeout": 2.5, "retries": 3,
    "retry_delay": None, "success_codes": [200, 204], "created_at": "2026-01-01T00:00:00.000Z",
    "updated_at": "2026-01-01T00:00:00.000Z", "next_execution_at": "2026-01-01T00:05:17Z",
    "completed": False, "last_execution_at": None, "last_state": None,
    "last_http_status": None,
}


def test_create_body_keeps_what_a_create_takes_and_drops_the_empty() -> None:
    body = jobview.create_body(JOB)
    assert body == {
        "project_id": 3, "spec": "H */5 * * * *", "timezone": "Europe/Berlin",
        "callback_url": "https://example.com/hook?a=1&b=2", "data": JOB["data"],
        "end_date": "2030-01-01T00:00:00Z", "misfire_policy": "run_once",
        "name": "nightly-report", "labels": {"team": "billing", "env": "prod"},
        "method": "PUT", "headers": {"Authorization": "Bearer a'b"}, "timeout": 2.5,
        "retries": 3, "success_codes": [200, 204]}


def test_create_body_keeps_paused_when_true() -> None:
    assert jobview.create_body({**JOB, "paused": True})["paused"] is True


def test_curl_command_parses_back_to_the_job() -> None:
    words = shlex.split(jobview.curl_command(JOB, "http://127.0.0.1:9000/"))
    assert words[:5] == ["curl", "-sS", "-X", "POST", "http://127.0.0.1:9000/api/v1/jobs"]
    headers = [words[i + 1] for i, word in enumerate(words) if word == "-H"]
    assert headers == ["Content-Type: application/json",
                       "x-api-key: $SCHEDULER0_API_KEY", "x-secret-key: $SCHEDULER0_API_SECRET"]
    data = words[words.index("--data-raw") + 1]
    assert json.loads(data) == jobview.create_body(JOB)


def test_curl_command_quotes_what_a_shell_would_expand() -> None:
    line = jobview.curl_command({**JOB, "data": "$(rm -rf /) `id` ; & |"}, "http://h")
    data = shlex.split(line)[shlex.split(line).index("--data-raw") + 1]
    assert json.loads(data)["data"] == "$(rm -rf /) `id` ; & |"
    assert "'$(rm" not in line.split("--data-raw", 1)[0]


def test_form_values_of_a_job() -> None:
    values = jobview.form_values(JOB, "edit")
    assert values["labels"] == "team=billing\nenv=prod"
    assert values["headers"] == "Authorization: Bearer a'b"
    assert values["success_codes"] == "200, 204"
    assert values["timeout"] == "2.5" and values["retries"] == "3" and values["retry_delay"] == ""
    assert values["name"] == "nightly-report" and values["paused"] == ""


def test_form_values_of_a_duplicate_and_of_a_new_job() -> None:
    assert jobview.form_values(JOB, "duplicate")["name"] == "nightly-report-copy"
    assert jobview.form_values({**JOB, "name": None}, "duplicate")["name"] == ""
    fresh = jobview.form_values(None, "new")
    assert fresh["spec"] == "" and fresh["labels"] == "" and fresh["timeout"] == ""
    assert jobview.form_values({"timeout": 30.0}, "new")["timeout"] == "30"
    with pytest.raises(ValueError):
        jobview.form_values(None, "copy")


def test_history_query_passes_filters_and_turns_a_window_into_since() -> None:
    now = 1_800_000_000
    query = jobview.history_query({"state": "failed", "window": "24h", "after": "7-1"}, now, 25)
    assert query == {"state": "failed", "after": "7-1", "since": str(now - 86400),
                     "limit": "25"}
    given = jobview.history_query({"since": "2026-01-01T00:00:00Z", "window": "1h"}, now, 25)
    assert given["since"] == "2026-01-01T00:00:00Z"
    assert jobview.history_query({"window": "forever", "state": " "}, now, 5) == {"limit": "5"}


def test_known_state() -> None:
    assert jobview.known_state("missed") == "missed"
    assert jobview.known_state("exploded") == "" and jobview.known_state(None) == ""
