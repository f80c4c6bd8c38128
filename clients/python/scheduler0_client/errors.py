"""The errors the client raises: one root, so `except Scheduler0ClientError` catches them all."""

from __future__ import annotations

from typing import Any


class Scheduler0ClientError(Exception):
    """Root of every error this package raises on purpose."""


class ApiError(Scheduler0ClientError):
    """The server answered with an error.

    `status` is the HTTP status, `code` the server's stable machine code (`not_found`,
    `invalid_spec`, `unavailable`, ...), `message` its explanation, which names the field and
    the fix; `body` is the decoded answer; `retry_after` the seconds its Retry-After asked
    for (503), if any."""

    def __init__(self, status: int, code: str, message: str, body: Any = None,
                 retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body
        self.retry_after = retry_after


class TransportError(Scheduler0ClientError):
    """No HTTP answer came (connection refused or reset, timeout, bad address)."""


class PaginationError(Scheduler0ClientError):
    """A list answered the cursor it was given: following it again would loop for ever."""


class SignatureError(Scheduler0ClientError):
    """A callback failed verification. `reason` is a stable word: `missing_timestamp`,
    `bad_timestamp`, `missing_signature`, `bad_signature`, `stale_timestamp` or
    `replayed`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class BulkCreateError(Scheduler0ClientError):
    """A request of `bulk_create` failed; those before it created their jobs.

    `created` holds the jobs created, in order; `failed_at` is the index, in the list given,
    of the first job not created; the cause is `__cause__`. Calling bulk_create again with
    the same jobs and `idempotency_key` answers the requests that went through with their
    first result and sends the rest."""

    def __init__(self, created: list[Any], failed_at: int, cause: Exception) -> None:
        super().__init__(f"bulk_create stopped at job {failed_at} after creating "
                         f"{len(created)} jobs: {cause}")
        self.created = created
        self.failed_at = failed_at
