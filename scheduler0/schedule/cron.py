"""Fire times of a cron spec in an IANA zone, with Vixie cron's daylight-saving rule.

Two steps. `next_wall` walks the zone's *wall clock* (naive local seconds: the local date and
time read as if they were UTC) to the first matching local time at or after a given one; it
knows calendars, not zones. `CronRule.next_after` then maps wall times to instants segment by
segment of constant UTC offset (zones.ZoneTimeline), which is where daylight saving enters.

The DST rule (README "Daylight saving time"):

* A spec is FIXED-TIME when its second (6-field specs only), minute and hour fields contain no
  `*`, `?` or `/`: only numbers, lists and ranges (`30 2 * * *`, `0 9-17 * * 1-5`, `@daily`).
  Otherwise it is a WILDCARD spec (`30 * * * *`, `0 */2 * * *`, `*/5 1 * * *`, `@hourly`).
  This is Vixie cron's rule (a field starting with `*` makes a wildcard job), extended to steps
  as the README's Cron specs section says.
* A fixed-time spec fires, for each matching local time w, at the FIRST instant at which the
  zone's clock reads w or later. So a time in the repeated hour fires once, at its first
  occurrence; a time in the skipped hour fires at the jump (the first instant after the gap);
  several skipped times collapse into that one fire.
* A wildcard spec fires at every instant whose local reading matches: twice for a matching
  time in a repeated hour (two real instants an hour apart), never for one in a skipped hour.
* Every fire time is a distinct instant; the sequence is strictly increasing.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import date

from scheduler0.errors import ScheduleError
from scheduler0.schedule.fields import CronFields
from scheduler0.schedule.zones import MAX_EPOCH, ZoneTimeline

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
HORIZON = 146_097 * 86400  # the 400-year Gregorian cycle, in seconds
_MONTH_LENGTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def month_length(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _MONTH_LENGTH[month]


class WallCalendar:
    """Matching local (wall-clock) times of a cron spec; no zone, no DST."""

    __slots__ = (
        "seconds",
        "minutes",
        "hours",
        "months",
        "hour_set",
        "minute_set",
        "month_set",
        "first_time",
        "_dom",
        "_dow",
        "_and",
        "_days",
    )

    def __init__(self, fields: CronFields) -> None:
        self.seconds, self.minutes, self.hours = fields.seconds, fields.minutes, fields.hours
        self.months = fields.months
        self.hour_set, self.minute_set = frozenset(self.hours), frozenset(self.minutes)
        self.month_set = frozenset(self.months)
        self.first_time = self.hours[0] * 3600 + self.minutes[0] * 60 + self.seconds[0]
        self._dom, self._dow = frozenset(fields.days_of_month), frozenset(fields.days_of_week)
        # Vixie cron: when either day field starts with `*` both must match, else either may.
        self._and = fields.dom_star or fields.dow_star
        self._days: dict[int, tuple[int, ...]] = {}

    def can_fire(self) -> bool:
        """False when no month in the spec ever has a matching day (e.g. Feb 30).

        In OR mode any weekday matches some day. In AND mode, over the years every (month,
        day) falls on every weekday, so a valid (month, day) pair is enough.
        """
        if not self._and:
            return True
        first_day = min(self._dom)
        return any(first_day <= (29 if m == 2 else _MONTH_LENGTH[m]) for m in self.months)

    def days_for(self, first_dow: int, length: int) -> tuple[int, ...]:
        """Matching days of a month that starts on weekday `first_dow` (0 = Sunday) and has `length` days."""
        key = first_dow * 32 + length
        days = self._days.get(key)
        if days is None:
            dom, dow = self._dom, self._dow
            if self._and:
                days = tuple(d for d in range(1, length + 1) if d in dom and (first_dow + d - 1) % 7 in dow)
            else:
                days = tuple(d for d in range(1, length + 1) if d in dom or (first_dow + d - 1) % 7 in dow)
            self._days[key] = days
        return days

    def next_wall(self, wall: int) -> int:
        """The first matching wall time >= `wall` (both naive local seconds since 1970-01-01)."""
        days, second_of_day = divmod(wall, 86400)
        day = self.next_day(days)
        if day == days:
            time = self.next_time(second_of_day)
            if time >= 0:
                return days * 86400 + time
            day = self.next_day(days + 1)
        return day * 86400 + self.first_time

    def next_time(self, second_of_day: int) -> int:
        """The first matching time of day >= the given second of day, or -1."""
        hour, rest = divmod(second_of_day, 3600)
        minute, second = divmod(rest, 60)
        if hour in self.hour_set:
            if minute in self.minute_set:
                i = bisect_left(self.seconds, second)
                if i < len(self.seconds):
                    return hour * 3600 + minute * 60 + self.seconds[i]
            i = bisect_right(self.minutes, minute)
            if i < len(self.minutes):
                return hour * 3600 + self.minutes[i] * 60 + self.seconds[0]
        i = bisect_right(self.hours, hour)
        if i < len(self.hours):
            return self.hours[i] * 3600 + self.minutes[0] * 60 + self.seconds[0]
        return -1

    def next_day(self, days: int) -> int:
        """The first matching day >= `days` (days since 1970-01-01)."""
        ordinal = days + EPOCH_ORDINAL
        today = date.fromordinal(ordinal)
        year, month, day = today.year, today.month, today.day
        while True:
            if month in self.month_set:
                first = ordinal - day + 1  # ordinal of the 1st; ordinal % 7 is the cron weekday
                matches = self.days_for(first % 7, month_length(year, month))
                i = bisect_left(matches, day)
                if i < len(matches):
                    return first + matches[i] - 1 - EPOCH_ORDINAL
            i = bisect_right(self.months, month)
            if i == len(self.months):
                year, month = year + 1, self.months[0]
            else:
                month = self.months[i]
            if year > 9999:
                raise ScheduleError("after: the spec has no fire time before the year 10000")
            ordinal, day = date(year, month, 1).toordinal(), 1


class CronRule:
    """A cron spec bound to a zone: instants of the fire times, under the DST rule above."""

    __slots__ = ("calendar", "timeline", "fixed_time")

    def __init__(self, fields: CronFields, timeline: ZoneTimeline) -> None:
        self.calendar = WallCalendar(fields)
        self.timeline = timeline
        self.fixed_time = fields.fixed_time

    def next_after(self, after: int) -> int:
        """The first fire instant strictly after `after` (epoch seconds)."""
        t = after + 1
        segment = self.timeline.segment
        next_wall = self.calendar.next_wall
        asked, found = 1, 0  # the last wall-clock query and its answer (none yet: asked > found)
        # Every (month, day, weekday) recurs within the 400-year Gregorian cycle, so a spec
        # with no fire time in 400 years never fires again: its times all fall in DST gaps.
        limit = min(MAX_EPOCH, t + HORIZON)
        while t <= limit:
            start, end, offset, before = segment(t)
            if self.fixed_time:
                # Wall times up to start + before were already read in the previous segment
                # (fall-back repeat: skip them). At a spring-forward `start`, wall times in the
                # gap [start + before, start + offset) are due: they fire at `start`.
                floor = start + before
                wall = floor if t == start else max(t + offset, floor)
            else:
                wall = t + offset
            if not asked <= wall <= found:  # else `found` is still the first match at or after `wall`
                asked, found = wall, next_wall(wall)
            if found < end + offset:
                return max(start, found - offset)
            t = end
        raise ScheduleError("after: the spec has no fire time within 400 years or before the year 10000")
