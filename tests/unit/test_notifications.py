"""scheduler0.notifications: which results are state changes, and the bodies that announce
them (json, and Slack's incoming-webhook message with its markup escaped)."""

from __future__ import annotations

import json

import pytest

from scheduler0.notifications import (
    FAILED,
    MISSED,
    RECOVERED,
    Notification,
    body,
    change_type,
    summary,
)

T = 1_800_000_000


@pytest.mark.parametrize(("state", "previous", "expected"), [
    ("failed", None, FAILED), ("failed", "succeeded", FAILED), ("failed", "failed", None),
    ("failed", "missed", None), ("missed", None, MISSED), ("missed", "succeeded", MISSED),
    ("missed", "failed", None), ("missed", "missed", None),
    ("succeeded", None, None), ("succeeded", "succeeded", None),
    ("succeeded", "failed", RECOVERED), ("succeeded", "missed", RECOVERED),
])
def test_a_change_is_leaving_or_reaching_failed_or_missed(state: str, previous: str | None,
                                                          expected: str | None) -> None:
    assert change_type(state, previous) == expected


def note(**fields: object) -> Notification:
    base: dict[str, object] = dict(
        id=3, project_id=1, job_id=42, job_name=None, type=FAILED, state="failed",
        previous_state=None, scheduled_at=T, attempts=4, http_status=500, error="HTTP 500",
        created_at_ms=T * 1000 + 250)
    return Notification(**{**base, **fields})  # type: ignore[arg-type]


def test_the_json_body_is_the_event() -> None:
    assert json.loads(body(note(job_name="nightly"), "json")) == {
        "type": "job.failed", "notification_id": 3, "project_id": 1, "job_id": 42,
        "job_name": "nightly", "execution_id": f"42-{T}", "state": "failed",
        "previous_state": None, "scheduled_at": "2027-01-15T08:00:00Z", "http_status": 500,
        "error": "HTTP 500", "attempts": 4, "created_at": "2027-01-15T08:00:00.250Z"}


def test_summaries_read_as_one_line() -> None:
    assert summary(note(job_name="nightly")) == (
        'job 42 "nightly" (project 1) failed at 2027-01-15T08:00:00Z: HTTP 500 after 4 attempts')
    assert summary(note(type=MISSED, state="missed", attempts=0, error=None,
                        http_status=None)) == (
        "job 42 (project 1) missed a run at 2027-01-15T08:00:00Z: missed")
    assert summary(note(type=RECOVERED, state="succeeded", previous_state="failed",
                        attempts=1, error=None, http_status=200)) == (
        "job 42 (project 1) recovered at 2027-01-15T08:00:00Z, after failed")


def test_the_slack_body_has_text_and_blocks_with_markup_escaped() -> None:
    message = json.loads(body(note(job_name="a<b>&c", error="<!channel> down"), "slack"))
    assert set(message) == {"text", "blocks"}
    assert message["text"] == ('scheduler0: job 42 "a&lt;b&gt;&amp;c" (project 1) failed at '
                               "2027-01-15T08:00:00Z: &lt;!channel&gt; down after 4 attempts")
    section, context = message["blocks"]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert section["text"]["text"].endswith(message["text"])
    assert context["type"] == "context" and "HTTP 500" in context["elements"][0]["text"]
    assert "<" not in json.dumps(message)
