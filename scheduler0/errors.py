"""The one exception tree of scheduler0.

    Scheduler0Error                  root; never raised itself
    ├── ConfigError                  a bad config value or file (start-up exits with code 2)
    ├── ApiError                     carries an HTTP status and a stable machine code
    │   ├── ValidationError          400 bad_request / invalid_<field>
    │   │   └── ScheduleError        400 invalid_spec: a cron spec or zone that cannot be used
    │   ├── AuthError                401 unauthorized
    │   ├── ForbiddenError           403 forbidden: authenticated, but outside its role or projects
    │   ├── NotFoundError            404 not_found
    │   ├── ConflictError            409 conflict
    │   ├── PayloadTooLargeError     413 payload_too_large
    │   └── UnavailableError         503 unavailable (no leader, coordinator down, election)
    ├── StoreError                   SQLite failed (sqlite3 errors are wrapped at that door)
    ├── RaftError                    pysyncobj failed or timed out (outcome may be unknown)
    └── TransportError               ZeroMQ failed or timed out

Each library is imported in one module, which turns its failures into one of these.
"""

from __future__ import annotations


class Scheduler0Error(Exception):
    """Root of every error scheduler0 raises on purpose."""


class ConfigError(Scheduler0Error):
    """A config key has a value that cannot be used; the message names key, value and fix."""


class ApiError(Scheduler0Error):
    """An error the API renders as JSON with `status` and a stable `code`."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class ValidationError(ApiError):
    status = 400
    code = "bad_request"


class ScheduleError(ValidationError):
    """A spec, zone or date range that cannot produce fire times; names the field and the fix."""

    code = "invalid_spec"


class AuthError(ApiError):
    status = 401
    code = "unauthorized"


class ForbiddenError(ApiError):
    status = 403
    code = "forbidden"


class NotFoundError(ApiError):
    status = 404
    code = "not_found"


class ConflictError(ApiError):
    status = 409
    code = "conflict"


class PayloadTooLargeError(ApiError):
    status = 413
    code = "payload_too_large"


class UnavailableError(ApiError):
    status = 503
    code = "unavailable"


class StoreError(Scheduler0Error):
    """SQLite failed underneath us."""


class RaftError(Scheduler0Error):
    """The replicated log did not take a command (timeout, no leader, queue full)."""


class TransportError(Scheduler0Error):
    """A ZeroMQ exchange failed or timed out."""
