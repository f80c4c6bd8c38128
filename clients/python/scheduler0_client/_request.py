"""A request as data (`Call`) and the helpers that build one: path segments, query pairs,
instants and bodies as the API reads them. Nothing here sends anything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar
from urllib.parse import quote

T = TypeVar("T")

Instant = datetime | int | float | str
"""An instant as the API takes it: an aware datetime, epoch seconds, or RFC 3339 text."""

JobRef = int | str
"""A job in a path: its id, or its name (unique within its project)."""


def _unchanged(data: Any) -> Any:
    return data


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API request: the method, the path under /api/v1, the query, the JSON body, and
    `decode`, which turns the answer's `data` into the result. `text_answer`: the answer is
    text (/metrics, a CSV export), handed to `decode` as str."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    body: Any = None
    decode: Callable[[Any], T] = _unchanged
    idempotency_key: str | None = None
    text_answer: bool = False

    @property
    def is_write(self) -> bool:
        """Whether it changes something, and so carries an Idempotency-Key."""
        return self.method not in ("GET", "HEAD")


def path(*segments: str | int) -> str:
    """`/jobs/nightly.report` from ("jobs", "nightly.report"): each segment quoted, so a
    name or an execution id can never reach another route."""
    return "".join("/" + quote(str(segment), safe="") for segment in segments)


def query(**params: Any) -> tuple[tuple[str, str], ...]:
    """The query pairs, in the order given: None left out, booleans as true/false,
    datetimes as RFC 3339 UTC. A name ending in `_` loses it (`from_` -> `from`)."""
    return tuple((name.rstrip("_"), _query_value(value)) for name, value in params.items()
                 if value is not None)


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(instant(value))


def instant(value: Instant) -> str | int | float:
    """An aware datetime as RFC 3339 UTC; epoch seconds and text as given (the server
    checks them and says what it accepts)."""
    if not isinstance(value, datetime):
        return value
    if value.utcoffset() is None:
        raise ValueError(f"{value!r} is a naive datetime: give it a tzinfo (e.g. timezone.utc) "
                         "so the instant it means is not a guess")
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def fields(**given: Any) -> dict[str, Any]:
    """A JSON body of the fields given; None means "not sent" (to send JSON null, as in
    `{"rate_limit": null}`, pass a dict of changes instead)."""
    return {name: value for name, value in given.items() if value is not None}
