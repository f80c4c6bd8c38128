"""`@every <duration>`: elapsed-time schedules anchored at a fixed instant.

The k-th fire time (k >= 1) is `anchor + k * interval`. It is elapsed time: time zones and
daylight saving do not move it, and the phase depends only on the anchor, never on the
instant a node asks from (so a restart or a failover does not shift it).

Durations follow Go's `time.ParseDuration` for the units that make sense here: `h`, `m`, `s`
and `ms` (decimals allowed: `1.5h`), summing to a whole number of seconds, at least 1 s.
"""

from __future__ import annotations

import re
from fractions import Fraction

from scheduler0.errors import ScheduleError

FIELD = "@every duration"
_HINT = "use e.g. 90s, 5m, 1h30m or 72h"
_TERM = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|h|m|s)")
_UNIT_SECONDS = {"h": Fraction(3600), "m": Fraction(60), "s": Fraction(1), "ms": Fraction(1, 1000)}


def is_every(spec: str) -> bool:
    """True when `spec` is an `@every` spec (any case), valid or not."""
    head = spec.split(None, 1)
    return bool(head) and head[0].lower() == "@every"


def parse_every(spec: str) -> int:
    """The interval in whole seconds of an `@every` spec; raises ScheduleError."""
    words = spec.split()
    if len(words) == 1:
        raise ScheduleError(f'{FIELD}: missing in "{spec}"; {_HINT}')
    if len(words) == 3 and words[2] == "H":
        # The engine sees concrete specs only: a job's phase is resolved from its id (hashed.py).
        raise ScheduleError(f'{FIELD}: "H" after the duration is a per-job phase; only a '
                            "job's spec may hold it (it is resolved when the job is created)")
    if len(words) > 2:
        raise ScheduleError(f'{FIELD}: "{spec}" must be "@every" and one duration, optionally '
                            f"followed by H (a per-job phase); {_HINT}")
    return parse_duration(words[1])


def parse_duration(text: str) -> int:
    """Seconds in a Go-style duration such as `1h30m`; raises ScheduleError."""
    lowered = text.lower()
    total = Fraction(0)
    position = 0
    for match in _TERM.finditer(lowered):
        if match.start() != position:
            break
        total += Fraction(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(lowered) or not lowered:
        raise ScheduleError(f'{FIELD}: "{text}" is not a duration; {_HINT}')
    if total < 1:
        raise ScheduleError(f'{FIELD}: "{text}" is below the minimum of 1s')
    if total.denominator != 1:
        raise ScheduleError(
            f'{FIELD}: "{text}" is not a whole number of seconds; round it, e.g. to {int(total)}s'
        )
    return int(total)


class EveryRule:
    """Fire times `anchor + k * interval`, k >= 1."""

    __slots__ = ("interval", "anchor")

    def __init__(self, interval: int, anchor: int) -> None:
        self.interval = interval
        self.anchor = anchor

    def next_after(self, after: int) -> int:
        k = (after - self.anchor) // self.interval + 1
        return self.anchor + max(k, 1) * self.interval
