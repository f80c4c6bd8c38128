"""examples/node-client/verify.js accepts what scheduler0 signs, by either signature header,
and nothing else. Runs the file under Node.js (skipped where there is no `node`)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scheduler0.delivery.core import PREVIOUS_SIGNATURE_HEADER, SIGNATURE_HEADER, sign
from scheduler0.notifications import FAILED, FORMATS, Notification, body

VERIFY_JS = Path(__file__).resolve().parents[2] / "examples" / "node-client" / "verify.js"
NODE = shutil.which("node")
NOW = 1_800_000_000
BODY = b'[{"id":1,"execution_id":"1-1800000000"}]'
NEW, OLD = "the-new-secret", "the-old-secret"

# Reads cases from stdin, answers verifiedBy(...) for each: the header name or null.
RUNNER = """
const { verifiedBy } = require(process.argv[1]);
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const answers = cases.map((c) => verifiedBy(
  c.secrets, (name) => c.headers[name], Buffer.from(c.body, 'base64'), c.now));
process.stdout.write(JSON.stringify(answers));
"""


def headers(*, current: str | None, previous: str | None = None, timestamp: int = NOW,
            body: bytes = BODY) -> dict[str, str]:
    found = {"X-Scheduler0-Timestamp": str(timestamp)}
    if current is not None:
        found[SIGNATURE_HEADER] = sign(current, timestamp, body)
    if previous is not None:
        found[PREVIOUS_SIGNATURE_HEADER] = sign(previous, timestamp, body)
    return found


def verified_by(cases: list[tuple[list[str], dict[str, str]]], body: bytes = BODY) -> list[Any]:
    payload = [{"secrets": secrets, "headers": sent, "now": NOW,
                "body": base64.b64encode(body).decode()} for secrets, sent in cases]
    assert NODE is not None
    done = subprocess.run([NODE, "-e", RUNNER, str(VERIFY_JS)], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=30, check=True)
    return list(json.loads(done.stdout))


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
def test_either_signature_verifies_during_a_rotation() -> None:
    during = headers(current=NEW, previous=OLD)
    assert verified_by([
        ([OLD], during),        # a receiver not switched yet: the previous signature
        ([NEW], during),        # a receiver already switched: the current one
        ([NEW, OLD], during),   # holding both
        ([NEW], headers(current=NEW)),  # after the grace period
    ]) == [PREVIOUS_SIGNATURE_HEADER, SIGNATURE_HEADER, SIGNATURE_HEADER, SIGNATURE_HEADER]


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
def test_anything_else_is_refused() -> None:
    assert verified_by([
        ([OLD], headers(current=NEW)),  # the grace period is over: the old secret is done
        (["another"], headers(current=NEW, previous=OLD)),
        ([NEW], headers(current=NEW, timestamp=NOW - 301)),  # stale
        ([NEW], {**headers(current=NEW), "X-Scheduler0-Timestamp": "soon"}),
        ([NEW], {SIGNATURE_HEADER: sign(NEW, NOW, BODY)}),  # no timestamp
        ([NEW], headers(current=NEW, body=BODY + b" ")),  # another body than the one signed
    ]) == [None] * 6


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
def test_a_notification_verifies_as_a_callback_does() -> None:
    event = Notification(id=7, project_id=1, job_id=42, job_name="nightly", type=FAILED,
                         state="failed", previous_state="succeeded", scheduled_at=NOW - 60,
                         attempts=4, http_status=500, error="HTTP 500",
                         created_at_ms=NOW * 1000)
    for fmt in FORMATS:
        sent = body(event, fmt)
        assert verified_by([([NEW], headers(current=NEW, previous=OLD, body=sent)),
                            ([OLD], headers(current=NEW, previous=OLD, body=sent)),
                            ([NEW], headers(current=NEW, body=sent + b" "))], body=sent) == [
            SIGNATURE_HEADER, PREVIOUS_SIGNATURE_HEADER, None]
