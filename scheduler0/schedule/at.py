"""`@at <RFC 3339 instant>`: a one-off schedule, which fires once, at that instant.

`@at 2027-01-01T09:00:00Z` (any UTC offset; one without an offset is refused, since it would
be ambiguous next to the job's time zone). A job's `@at now` (the API's `"run_at": "now"`)
is resolved when the job is created, to the second after its creation (a job never fires at
or before the second it was created), so the engine never sees it. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re

from scheduler0.errors import ScheduleError
from scheduler0.schedule.timefmt import format_rfc3339_utc, parse_instant
from scheduler0.schedule.zones import MAX_EPOCH

FIELD = "@at instant"
NOW = "now"
_EXAMPLE = '"@at 2027-01-01T09:00:00Z"'
# An explicit UTC offset: Z, or +hh:mm / -hh:mm (RFC 3339's time-offset).
_OFFSET = re.compile(r".*T.*([Zz]|[+-]\d\d:\d\d)", re.DOTALL)
# What AtRule answers once its instant is past: beyond MAX_EPOCH, which Schedule reads as none.
NEVER = MAX_EPOCH + 1


def is_at(spec: str) -> bool:
    """True when `spec` is an `@at` spec (any case), valid or not."""
    head = spec.split(None, 1)
    return bool(head) and head[0].lower() == "@at"


def is_at_now(spec: str) -> bool:
    """True for `@at now` (any case): a job's "fire at once", resolved when it is created."""
    words = spec.split()
    return len(words) == 2 and words[0].lower() == "@at" and words[1].lower() == NOW


def at_spec(instant: int) -> str:
    """The canonical spec of a one-off at `instant` (epoch s): `@at 2027-01-01T09:00:00Z`."""
    return f"@at {format_rfc3339_utc(instant)}"


def parse_at(spec: str) -> int:
    """The instant (epoch s) of an `@at` spec; raises ScheduleError."""
    words = spec.split()
    if len(words) != 2:
        raise ScheduleError(f'{FIELD}: "{spec}" must be "@at" and one RFC 3339 instant, e.g. '
                            f"{_EXAMPLE}")
    text = words[1]
    if text.lower() == NOW:
        raise ScheduleError(f'{FIELD}: "now" is resolved when a job is created (to the next '
                            f"second); elsewhere write the instant, e.g. {_EXAMPLE}")
    if _OFFSET.fullmatch(text) is None:
        raise ScheduleError(f'{FIELD}: "{text}" is not an RFC 3339 instant with a UTC offset; '
                            f"write e.g. {_EXAMPLE} or an offset such as +01:00")
    return parse_instant(text, FIELD)


class AtRule:
    """The one fire time `instant`."""

    __slots__ = ("instant",)

    def __init__(self, instant: int) -> None:
        self.instant = instant

    def next_after(self, after: int) -> int:
        return self.instant if after < self.instant else NEVER
