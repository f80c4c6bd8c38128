"""Instants in and out of text: RFC 3339 UTC for output; RFC 3339 / ISO 8601 or epoch seconds in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from scheduler0.errors import ScheduleError
from scheduler0.schedule.zones import MAX_EPOCH

# Naive on purpose: local wall-clock readings are counted from it, with no zone attached.
_EPOCH_NAIVE = datetime(1970, 1, 1)  # noqa: DTZ001
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def format_rfc3339_utc(epoch: int | float) -> str:
    """`2026-03-08T07:00:00Z` for epoch 1772953200 (a fraction of a second is dropped).

    The one RFC 3339 formatter: the API's replies, the callbacks' bodies and the schedule
    engine all write instants with it (or with format_rfc3339_utc_ms), so they read alike.
    """
    return _utc_seconds(int(epoch)) + "Z"


def format_rfc3339_utc_ms(epoch_ms: int) -> str:
    """`2026-03-08T07:00:00.250Z` for epoch milliseconds 1772953200250."""
    seconds, millis = divmod(int(epoch_ms), 1000)
    return f"{_utc_seconds(seconds)}.{millis:03d}Z"


def _utc_seconds(epoch: int) -> str:
    return (_EPOCH_NAIVE + timedelta(seconds=epoch)).isoformat()


def format_local(epoch: int, zone: tzinfo) -> str:
    """The zone's wall clock with its offset: `2026-03-08T03:00:00-04:00`."""
    return datetime.fromtimestamp(epoch, zone).isoformat()


def parse_instant(text: str | int, field: str) -> int:
    """Epoch seconds of RFC 3339 / ISO 8601 text (naive means UTC) or of epoch digits.

    Fractions of a second are dropped (floor). Raises ScheduleError naming `field` for
    anything else or for an instant outside 1970-01-01 .. 9999-12-30 UTC.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    elif isinstance(text, str) and text.strip().isdigit() and text.strip().isascii():
        value = int(text.strip())
    elif isinstance(text, str):
        value = _parse_iso(text, field)
    else:
        raise ScheduleError(f"{field}: {text!r} is not a time; {_HINT}")
    if not 0 <= value <= MAX_EPOCH:
        raise ScheduleError(
            f'{field}: "{text}" is out of range 1970-01-01T00:00:00Z to {format_rfc3339_utc(MAX_EPOCH)}'
        )
    return value


_HINT = 'use RFC 3339 such as "2026-03-08T07:00:00Z" or epoch seconds'


def _parse_iso(text: str, field: str) -> int:
    cleaned = text.strip()
    if cleaned[-1:] in ("z", "Z"):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ScheduleError(f'{field}: "{text}" is not a time; {_HINT}') from None
    if moment.tzinfo is None:
        return (moment - _EPOCH_NAIVE) // _SECOND
    return (moment - _EPOCH_UTC) // _SECOND
