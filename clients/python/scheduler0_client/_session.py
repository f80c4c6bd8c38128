"""What one client knows about its node (`Session`: where it is, how to authenticate, how to
wait and retry, how to send) and the HTTP both flavours exchange: a `Call` becomes a
`Request`, a `Response` becomes the call's result or an `ApiError`."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from scheduler0_client._request import Call
from scheduler0_client._retry import Clock, RetryPolicy, SystemClock, retry_after_seconds
from scheduler0_client.errors import ApiError

T = TypeVar("T")

API_PREFIXES = ("/api/v1", "/v1")  # the node answers under both
MAX_IDEMPOTENCY_KEY = 200  # characters: the server refuses a longer key
USER_AGENT = "scheduler0-client-python"


@dataclass(frozen=True)
class Request:
    """A call as HTTP, sent unchanged at every attempt."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None


@dataclass(frozen=True)
class Response:
    """What came back: the status, the headers (names lower-case) and the raw body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


Transport = Callable[[Request, float], Response]
"""Sends a request once and returns the response, raising TransportError when none came;
the float is the timeout in seconds. Blocking: the async client runs it in a thread."""


class Session:
    """The settings of one client: its node, credentials, timeout, retries, clock and
    transport. `api_key` and `api_secret` are an API credential; `basic_auth` is the node's
    (AuthUsername, AuthPassword)."""

    def __init__(self, base_url: str, *, api_key: str | None, api_secret: str | None,
                 basic_auth: tuple[str, str] | None, timeout: float,
                 retry: RetryPolicy | None, clock: Clock | None,
                 transport: Transport) -> None:
        self.base_url = api_root(base_url)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.clock: Clock = clock or SystemClock()
        self.transport = transport
        self._auth = auth_headers(api_key, api_secret, basic_auth)

    def prepare(self, call: Call[Any]) -> Request:
        """The request of `call`; a write gets its Idempotency-Key here, once, so every
        retry of it is the same request to the server."""
        url = self.base_url + call.path + ("?" + urlencode(call.query) if call.query else "")
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **self._auth}
        body = None
        if call.body is not None:
            body = json.dumps(call.body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        if call.is_write:
            headers["Idempotency-Key"] = checked_key(call.idempotency_key or uuid.uuid4().hex)
        return Request(call.method, url, headers, body)

    def result(self, call: Call[T], response: Response) -> T:
        """The result of `call` from its response; ApiError unless it is a success."""
        if not 200 <= response.status < 300:
            raise api_error(response, self.clock.wall())
        if call.text_answer:
            return call.decode(response.body.decode("utf-8", "replace"))
        decoded = _json(response.body)
        if isinstance(decoded, dict) and decoded.keys() >= {"success", "data"}:
            return call.decode(decoded["data"])
        return call.decode(decoded)  # /openapi.json is the document itself, not an envelope

    def retry_after(self, response: Response) -> float | None:
        return retry_after_seconds(response.headers.get("retry-after"), self.clock.wall())


def api_root(base_url: str) -> str:
    """`http://host:9091` -> `http://host:9091/api/v1`; a URL already ending in /api/v1
    or /v1 (behind a proxy, say) is kept."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url: {base_url!r} is not an http(s) URL such as "
                         "http://127.0.0.1:9091")
    root = base_url.rstrip("/")
    return root if parts.path.rstrip("/").endswith(API_PREFIXES) else root + "/api/v1"


def auth_headers(api_key: str | None, api_secret: str | None,
                 basic_auth: tuple[str, str] | None) -> dict[str, str]:
    if (api_key is None) != (api_secret is None):
        raise ValueError("api_key and api_secret: give both (a credential) or neither")
    if api_key is not None and basic_auth is not None:
        raise ValueError("give a credential (api_key, api_secret) or basic_auth, not both")
    if api_key is not None and api_secret is not None:
        return {"x-api-key": api_key, "x-secret-key": api_secret}
    if basic_auth is not None:
        token = base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()).decode()
        return {"Authorization": "Basic " + token}
    return {}  # the health check, /openapi.json and /docs need none


def checked_key(key: str) -> str:
    if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise ValueError(f"idempotency_key: {len(key)} characters; the server takes "
                         f"1-{MAX_IDEMPOTENCY_KEY}")
    return key


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def api_error(response: Response, now: float) -> ApiError:
    """The error a response carries: the envelope's code and message when it has one."""
    decoded = _json(response.body)
    error = decoded.get("error") if isinstance(decoded, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        code, message = str(error.get("code") or f"http_{response.status}"), error["message"]
    else:  # not the API's answer (a proxy's page, say): show its start
        code = f"http_{response.status}"
        message = response.body[:500].decode("utf-8", "replace") or f"HTTP {response.status}"
    retry_after = retry_after_seconds(response.headers.get("retry-after"), now)
    return ApiError(response.status, code, message, decoded, retry_after)
