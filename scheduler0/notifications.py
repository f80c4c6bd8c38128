"""Failure notifications: what a state change of a job is, and the body that announces it.

A project may name a `notification_url`. When one of its jobs' executions ends `failed` or
`missed` while the job's last recorded result was neither (or there was none), or ends
`succeeded` while it was one of them, the apply records a notification in the outbox
(scheduler0.store.notifications) on every node alike; the leader's notifier
(scheduler0.coordinator.notifier) POSTs it, signed like a callback, and commits how that went.
A job that keeps failing is one change, so it is announced once, not at every failure.

Pure: no I/O, no clock. Bodies are bytes, exactly what is signed and sent.

    json   {"type": "job.failed", "notification_id", "project_id", "job_id", "job_name",
            "execution_id", "state", "previous_state", "scheduled_at", "http_status", "error",
            "attempts", "created_at"}
    slack  {"text": <one line>, "blocks": [...]}: a Slack incoming-webhook message
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from scheduler0.schedule.timefmt import format_rfc3339_utc, format_rfc3339_utc_ms
from scheduler0.vocabulary import NOTIFICATION_FORMATS, ExecutionState, execution_id

FORMATS = NOTIFICATION_FORMATS
JSON, SLACK = FORMATS
DEFAULT_FORMAT = JSON
FORMAT_MEANINGS = ("json (a JSON object per event) or slack (a Slack incoming-webhook "
                   "message: {\"text\": ...})")

FAILED, MISSED, RECOVERED = "job.failed", "job.missed", "job.recovered"
TYPES = (FAILED, MISSED, RECOVERED)

# Where a notification is: waiting for the leader, delivered (a 2xx), or given up on.
PENDING, SENT, GIVEN_UP = "pending", "sent", "failed"
DELIVERY_STATES = (PENDING, SENT, GIVEN_UP)

_BAD = frozenset((ExecutionState.FAILED.value, ExecutionState.MISSED.value))
_SUCCEEDED = ExecutionState.SUCCEEDED.value


def change_type(state: str, previous: str | None) -> str | None:
    """The notification a job's new result makes, given the result before it (None: the
    job had none): failed or missed after anything else, recovered after failed or missed,
    and None when the job stays as it was."""
    if state in _BAD:
        return None if previous in _BAD else f"job.{state}"
    if state == _SUCCEEDED and previous in _BAD:
        return RECOVERED
    return None


@dataclass(frozen=True)
class Change:
    """A job's state change, as the apply records it in the outbox."""

    project_id: int
    job_id: int
    scheduled_at: int
    type: str
    state: str
    previous_state: str | None
    attempts: int
    http_status: int | None
    error: str | None


@dataclass(frozen=True)
class Notification:
    """A notification as it is announced: its change and where the outbox holds it."""

    id: int
    project_id: int
    job_id: int
    job_name: str | None
    type: str
    state: str
    previous_state: str | None
    scheduled_at: int
    attempts: int
    http_status: int | None
    error: str | None
    created_at_ms: int

    @property
    def execution_id(self) -> str:
        return execution_id(self.job_id, self.scheduled_at)

    @property
    def key(self) -> str:
        """Its Idempotency-Key: the same at every attempt, from every leader."""
        return f"notification-{self.id}"


@dataclass(frozen=True)
class Outgoing:
    """A pending notification with where it goes and what signs it: the project's
    signing secret, and the one its last rotation replaced while that one's grace period
    lasts (`previous_secret` until `previous_expires_at`, epoch s)."""

    notification: Notification
    url: str
    format: str
    secret: str
    previous_secret: str | None = None
    previous_expires_at: int | None = None


def event(notification: Notification) -> dict[str, Any]:
    """The JSON body's object (and the fields a listing shows)."""
    return {"type": notification.type, "notification_id": notification.id,
            "project_id": notification.project_id, "job_id": notification.job_id,
            "job_name": notification.job_name, "execution_id": notification.execution_id,
            "state": notification.state, "previous_state": notification.previous_state,
            "scheduled_at": format_rfc3339_utc(notification.scheduled_at),
            "http_status": notification.http_status, "error": notification.error,
            "attempts": notification.attempts,
            "created_at": format_rfc3339_utc_ms(notification.created_at_ms)}


def body(notification: Notification, fmt: str) -> bytes:
    """What is POSTed (and signed) for `notification` in format `fmt`."""
    document = slack_message(notification) if fmt == SLACK else event(notification)
    return json.dumps(document, separators=(",", ":")).encode()


_VERBS = {FAILED: "failed", MISSED: "missed a run", RECOVERED: "recovered"}


def summary(notification: Notification) -> str:
    """One readable line, e.g. `job 42 "nightly" (project 1) failed at 2026-11-27T13:06:00Z:
    HTTP 500 after 4 attempts`."""
    name = f' "{notification.job_name}"' if notification.job_name else ""
    line = (f"job {notification.job_id}{name} (project {notification.project_id}) "
            f"{_VERBS.get(notification.type, notification.type)} at "
            f"{format_rfc3339_utc(notification.scheduled_at)}")
    if notification.type == RECOVERED:
        return f"{line}, after {notification.previous_state}"
    reason = notification.error or notification.state
    if notification.attempts:
        reason += f" after {notification.attempts} attempt{'s' * (notification.attempts != 1)}"
    return f"{line}: {reason}"


def _slack_text(text: str) -> str:
    """Slack reads &, < and > as markup (links, mentions): they are escaped as it asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_ICONS = {FAILED: ":red_circle:", MISSED: ":large_orange_circle:",
          RECOVERED: ":large_green_circle:"}


def slack_message(notification: Notification) -> dict[str, Any]:
    """A Slack incoming-webhook message: `text` (what notifications and clients without
    blocks show) and blocks with the same line and the execution's details."""
    line = _slack_text(f"scheduler0: {summary(notification)}")
    details = (f"execution `{notification.execution_id}` · state {notification.state} · "
               f"previous {notification.previous_state or 'none'}")
    if notification.http_status is not None:
        details += f" · HTTP {notification.http_status}"
    return {"text": line, "blocks": [
        {"type": "section", "text": {
            "type": "mrkdwn", "text": f"{_ICONS.get(notification.type, '')} {line}".strip()}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _slack_text(details)}]}]}
