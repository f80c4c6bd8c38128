"""Writes: every change becomes one replicated command, submitted through the node services.

`submit` returns the command's data, or raises the ApiError its refusal carries, or a 503
UnavailableError (rendered with Retry-After) when the cluster could not commit it in time.

Clients may send `Idempotency-Key: <token>`: the command's request_id is then derived from the
caller, the route and that token, so a retried request returns the first result instead of
applying twice (the state machine deduplicates by request_id). The request_id ends with a
fingerprint of the query and the body: the same key sent again with another request is
refused (422 idempotency_key_reused, by the state machine) instead of answering the first
request's result as if it were this one's.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import g, request

from scheduler0 import messages
from scheduler0.api.context import api
from scheduler0.api.validation import MAX_IDEMPOTENCY_KEY
from scheduler0.errors import ApiError, RaftError, TransportError, UnavailableError, ValidationError
from scheduler0.store import dedup

RETRY_HINT = ("retry the request in a few seconds; a write that timed out may still be applied, "
              "so send an Idempotency-Key header to make the retry safe")


def submit(command_type: str, body: dict[str, Any]) -> Any:
    ctx = api()
    command = messages.make(command_type, body, request_id=request_id())
    try:
        result = ctx.services.submit(command, timeout=ctx.settings.write_timeout)
    except UnavailableError as exc:
        raise UnavailableError(_with_hint(exc.message)) from exc
    except (RaftError, TransportError) as exc:
        raise UnavailableError(_with_hint(f"the write could not be replicated ({exc})")) from exc
    if result.get("ok"):
        return result.get("data")
    raise _refusal(result.get("error"))


def _with_hint(message: str) -> str:
    return message if "retry" in message.lower() else f"{message}; {RETRY_HINT}"


def _refusal(error: Any) -> ApiError:
    error = error if isinstance(error, dict) else {}
    status = error.get("status")
    status = status if isinstance(status, int) and 400 <= status <= 599 else 400
    message = str(error.get("message") or "the write was refused")
    if status == 503:
        return UnavailableError(_with_hint(message))
    return ApiError(message, code=str(error.get("code") or "refused"), status=status)


def request_id() -> str | None:
    """The request_id of this request's command: None without an Idempotency-Key, else
    dedup.keyed(scope, fingerprint), the same for a retry of the same request."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise ValidationError(f"Idempotency-Key: must be 1-{MAX_IDEMPOTENCY_KEY} characters",
                              code="invalid_idempotency_key")
    scope = "\0".join((g.get("principal", ""), request.method, request.path, key))
    sent = hashlib.sha256(request.query_string + b"\0" + request.get_data())
    return dedup.keyed(hashlib.sha256(scope.encode("utf-8", "surrogatepass")).hexdigest()[:32],
                       sent.hexdigest()[:16])
