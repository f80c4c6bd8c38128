"""What the client tests share: unique names, a transport that records what it sends, and
waiting for a condition with a deadline."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from scheduler0_client import HttpTransport, Request, Response


def unique(prefix: str) -> str:
    """A project name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def far_job(project_id: int, **fields: Any) -> dict[str, Any]:
    """A paused job that would fire once a year, to a port nobody listens on: lists and
    bulk writes need jobs, not deliveries."""
    return {"project_id": project_id, "spec": "0 0 1 1 *", "paused": True,
            "callback_url": "http://127.0.0.1:9/never", **fields}


@dataclass
class Sent:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int


@dataclass
class RecordingTransport:
    """The real transport, recording each request it sends and the status it got."""

    inner: Callable[[Request, float], Response] = field(default_factory=HttpTransport)
    sent: list[Sent] = field(default_factory=list)

    def __call__(self, request: Request, timeout: float) -> Response:
        response = self.inner(request, timeout)
        parts = urlsplit(request.url)
        body = None if request.body is None else json.loads(request.body)
        self.sent.append(Sent(request.method, parts.path, parse_qs(parts.query),
                              dict(request.headers), body, response.status))
        return response

    def to(self, method: str, path_end: str) -> list[Sent]:
        return [s for s in self.sent if s.method == method and s.path.endswith(path_end)]
