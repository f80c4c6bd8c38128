"""`Schedule`: a validated spec in a zone, and the queries built on its `next_after`."""

from __future__ import annotations

import math
from typing import Any

from scheduler0.errors import ScheduleError
from scheduler0.schedule.at import AtRule, at_spec, is_at, parse_at
from scheduler0.schedule.cron import CronRule
from scheduler0.schedule.every import EveryRule, is_every, parse_every
from scheduler0.schedule.fields import parse_cron
from scheduler0.schedule.timefmt import format_local, format_rfc3339_utc
from scheduler0.schedule.zones import MAX_EPOCH, MIN_EPOCH, get_zone, timeline, validate_timezone

PREVIEW_MAX = 1000


class Schedule:
    """A parsed, validated schedule. Immutable; equal and hashable by (spec, timezone, anchor).

    `spec` is the text with runs of whitespace collapsed; `timezone` the canonical IANA key;
    `anchor` the @every anchor (None -> 0), and always None for cron and @at specs: they do not
    depend on it, and dropping it lets jobs created at different instants share one schedule.
    An @at spec's text is its canonical form (`@at <RFC 3339 UTC>`), so equal instants are
    one schedule however they were written.
    Raises ScheduleError (message names the field, the value and the fix) on any bad input.
    """

    __slots__ = ("spec", "timezone", "anchor", "kind", "interval", "fixed_time", "_rule", "_hash")

    spec: str
    timezone: str
    anchor: int | None
    kind: str  # "cron", "every" or "at" (a one-off)
    interval: int | None  # seconds between fires, @every only
    fixed_time: bool  # the DST class (cron.py); False for @every
    _rule: CronRule | EveryRule | AtRule
    _hash: int

    def __init__(self, spec: str, timezone: str = "UTC", anchor: int | None = None) -> None:
        if not isinstance(spec, str):
            raise ScheduleError(f'spec: expected text such as "*/5 * * * *", got {type(spec).__name__}')
        text = " ".join(spec.split())
        zone_key = validate_timezone(timezone)
        rule: CronRule | EveryRule | AtRule
        if is_every(text):
            anchor = 0 if anchor is None else _check_anchor(anchor)
            rule = EveryRule(parse_every(text), anchor)
            kind, interval, fixed = "every", rule.interval, False
        elif is_at(text):
            rule = AtRule(parse_at(text))
            text, anchor, kind, interval, fixed = at_spec(rule.instant), None, "at", None, False
        else:
            fields = parse_cron(text)
            rule = CronRule(fields, timeline(zone_key))
            if not rule.calendar.can_fire():
                raise ScheduleError(
                    f'spec "{text}" can never fire: no month in it has a matching day; '
                    "check the day-of-month and month fields"
                )
            anchor, kind, interval, fixed = None, "cron", None, fields.fixed_time
        for name, value in (
            ("spec", text),
            ("timezone", zone_key),
            ("anchor", anchor),
            ("kind", kind),
            ("interval", interval),
            ("fixed_time", fixed),
            ("_rule", rule),
            ("_hash", hash((text, zone_key, anchor))),
        ):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Schedule is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return (self.spec, self.timezone, self.anchor) == (other.spec, other.timezone, other.anchor)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Schedule({self.spec!r}, {self.timezone!r}, anchor={self.anchor!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Schedule, (self.spec, self.timezone, self.anchor))

    def next_after(self, after: int) -> int:
        """The first fire time strictly after `after` (epoch seconds).

        The supported range is 1900-01-01 .. 9999-12-30 UTC: an earlier `after` counts as the
        start of 1900. Raises ScheduleError when next_or_none would return None.
        """
        t = self.next_or_none(after)
        if t is None:
            raise ScheduleError(
                f'after: the spec "{self.spec}" has no fire time after {after} within 400 years '
                f"and before {format_rfc3339_utc(MAX_EPOCH)}"
            )
        return t

    def next_or_none(self, after: int) -> int | None:
        """next_after, but None when no fire time is left before 9999-12-30 UTC, or none within
        400 years (then none ever: every matching time falls in a DST gap of a wildcard spec)."""
        if after.__class__ is not int:
            after = _as_int(after)
        if after < MIN_EPOCH:
            after = MIN_EPOCH - 1
        elif after >= MAX_EPOCH:
            return None
        try:
            t = self._rule.next_after(after)
        except ScheduleError:  # the calendar walk ran past the year 9999
            return None
        return t if t <= MAX_EPOCH else None

    def between(self, start: int, end: int, limit: int = 10_000) -> list[int]:
        """The fire times t with start < t <= end, increasing, at most `limit` of them."""
        times: list[int] = []
        t = self.next_or_none(start) if limit > 0 else None
        while t is not None and t <= end:
            times.append(t)
            if len(times) == limit:
                break
            t = self.next_or_none(t)
        return times


def parse(spec: str, timezone: str = "UTC", anchor: int | None = None) -> Schedule:
    """Parse and validate once; see Schedule. Raises ScheduleError."""
    return Schedule(spec, timezone, anchor)


def next_fire(
    schedule: Schedule, after: int, start_date: int | None = None, end_date: int | None = None
) -> int | None:
    """The first fire time > `after`, >= `start_date`, <= `end_date`; None once the window is over."""
    if start_date is not None and start_date - 1 > after:
        after = start_date - 1
    if end_date is not None and after >= end_date:
        return None
    t = schedule.next_or_none(after)
    if t is None or (end_date is not None and t > end_date):
        return None
    return t


def preview(
    spec: str, timezone: str, start: int, count: int, anchor: int | None = None
) -> list[dict[str, Any]]:
    """The next `count` (1-1000) fire times after `start`, as UTC text, local text and epoch.

    For an @every spec pass the anchor the job would get (its creation or start date);
    without one the phase is counted from 1970-01-01T00:00:00Z.
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= PREVIEW_MAX:
        raise ScheduleError(f"count: {count!r} is out of range 1-{PREVIEW_MAX}")
    schedule = parse(spec, timezone, anchor)
    zone = get_zone(schedule.timezone)
    return [
        {"utc": format_rfc3339_utc(t), "local": format_local(t, zone), "epoch": t}
        for t in schedule.between(start, MAX_EPOCH, count)
    ]


def _check_anchor(anchor: object) -> int:
    if isinstance(anchor, bool) or not isinstance(anchor, int) or not MIN_EPOCH <= anchor <= MAX_EPOCH:
        raise ScheduleError(f"anchor: {anchor!r} is not epoch seconds in range {MIN_EPOCH}-{MAX_EPOCH}")
    return anchor


def _as_int(value: object) -> int:
    if isinstance(value, float) and math.isfinite(value):
        return math.floor(value)
    if isinstance(value, int):  # bool and int subclasses
        return int(value)
    raise TypeError(f"epoch seconds must be an int, got {type(value).__name__}")
