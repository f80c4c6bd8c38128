"""A job's spec in English words, for people scanning a list of jobs.

    0 9 * * 1-5 (Europe/London)  ->  at 09:00, Monday to Friday, Europe/London
    */15 * * * *                 ->  every 15 minutes
    H(0-29) 9 * * *              ->  once between 09:00 and 09:29 (fixed per job), UTC
    @every 90s H                 ->  every 90 seconds (phase spread by job)

Pure: no I/O, no clock. The engine's own parser reads the spec (schedule.py, fields.py,
hashed.py, every.py, at.py); this module only phrases what that parser found, so it accepts
exactly the specs the engine accepts. A spec it cannot phrase briefly and truthfully comes
back as it is (blanks collapsed): the raw spec is never wrong, a clever sentence might be.
The zone is named whenever the phrase depends on the wall clock's hours, days or months.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from scheduler0.errors import ScheduleError
from scheduler0.schedule.at import is_at, is_at_now, parse_at
from scheduler0.schedule.every import is_every, parse_duration
from scheduler0.schedule.fields import (
    DAY_OF_MONTH,
    DAY_OF_WEEK,
    HOUR,
    MINUTE,
    MONTH,
    SECOND,
    FieldSpec,
    expand,
    split_spec,
)
from scheduler0.schedule.hashed import compile_hashed, has_hash
from scheduler0.schedule.resolve import spec_variants
from scheduler0.schedule.schedule import parse
from scheduler0.schedule.zones import get_zone

MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")
DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_WEEK_ORDER = (1, 2, 3, 4, 5, 6, 0)  # weeks read Monday first
_MAX_LISTED = 12  # more values than this in one list reads worse than the raw spec
_MAX_TIMES = 6  # "at 09:00, 12:00 and 17:00": at most this many times of day
_FIXED = "fixed per job"
_SIX_FIELDS = (SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK)


class _CannotPhrase(Exception):
    """Raised inside this module when the raw spec reads better than any phrase would."""


@dataclass(frozen=True)
class _Field:
    """What one cron field matches, in the shape it is phrased in.

    kind: "all", "one", "list", "range", "step" (values first, first+step, ... last),
    "pick" (one value fixed per job, from values[0] to values[1]) or "spread" (every `step`
    from a start fixed per job among values[0]..values[1], up to values[2]).
    """

    kind: str
    values: tuple[int, ...]
    spec: FieldSpec
    step: int = 0

    @property
    def low(self) -> int:
        return self.spec.low

    @property
    def high(self) -> int:
        return 6 if self.spec is DAY_OF_WEEK else self.spec.high

    @property
    def first(self) -> int:
        return self.values[0]

    @property
    def last(self) -> int:
        return self.values[-1]

    @property
    def cyclic(self) -> bool:
        """A step that repeats evenly across the field's wrap: `*/15` minutes, not `*/7`."""
        span = self.high - self.low + 1
        start_ok = self.first - self.low < self.step
        return span % self.step == 0 and start_ok and self.last + self.step > self.high

    @property
    def hashed(self) -> bool:
        return self.kind in ("pick", "spread")


@functools.lru_cache(maxsize=4096)
def spec_in_words(spec: str, timezone: str = "UTC") -> str:
    """`spec` (as a job keeps it: H and macros allowed) in words, for a job in `timezone`.

    Never raises for text: a spec the engine refuses, or one without a good phrase, comes
    back as written, blanks collapsed.
    """
    text = " ".join(spec.split())
    try:
        for variant in spec_variants(text, 0):
            parse(variant.spec, timezone)
        return _phrase(text, timezone)
    except (ScheduleError, _CannotPhrase):
        return text


def _phrase(text: str, timezone: str) -> str:
    if is_every(text):
        return _every_words(text)
    if is_at(text):
        return _at_words(text, timezone)
    return _cron_words(text, timezone)


def _every_words(text: str) -> str:
    words = text.split()
    phrase = "every " + _duration(parse_duration(words[1]))
    return phrase + " (phase spread by job)" if len(words) == 3 else phrase


def _duration(seconds: int) -> str:
    for size, unit in ((3600, "hour"), (60, "minute"), (1, "second")):
        if seconds % size == 0:
            count = seconds // size
            return unit if count == 1 else f"{count} {unit}s"
    raise AssertionError("every whole number of seconds divides by 1")


def _at_words(text: str, timezone: str) -> str:
    if is_at_now(text):
        return "once, right after it is created"
    instant = parse_at(text)
    phrase = f"once, at {_instant(instant, UTC)} UTC"
    if timezone != "UTC":
        phrase += f" ({_instant(instant, get_zone(timezone))} {timezone})"
    return phrase


def _instant(instant: int, zone: tzinfo) -> str:
    moment = datetime.fromtimestamp(instant, zone)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if moment.second else "%Y-%m-%d %H:%M")


# -- cron specs -------------------------------------------------------------------------------


def _cron_words(text: str, timezone: str) -> str:
    second, minute, hour, dom, month, dow = _fields(text)
    words = split_spec(text)
    dom_star, dow_star = words[-3][0] in "*?", words[-1][0] in "*?"
    parts = [_time_phrase(second, minute, hour)]
    days = _days_phrase(dom, dow, dom_star or dow_star)
    months = _months_phrase(month)
    parts += [p for p in (days, months) if p]
    if days or months or hour.kind != "all":
        parts.append(timezone)
    return ", ".join(parts)


def _fields(text: str) -> list[_Field]:
    """The six fields, seconds first; an H field phrased from its lowest and highest values."""
    words = split_spec(text)
    lowest = highest = words
    if has_hash(text):
        template = compile_hashed(text)
        lowest = template.render(lambda slot, size: 0)[0].split()
        highest = template.render(lambda slot, size: size - 1)[0].split()
    if len(words) == 5:
        words, lowest, highest = ["0", *words], ["0", *lowest], ["0", *highest]
    return [_field(*four) for four in zip(words, lowest, highest, _SIX_FIELDS, strict=True)]


def _field(word: str, lowest: str, highest: str, spec: FieldSpec) -> _Field:
    if not any(item[:1] == "H" for item in word.split(",")):  # THU is not an H
        return _concrete(expand(word, spec), spec)
    if "," in word:
        raise _CannotPhrase("H in a list")
    low, high = expand(lowest, spec), expand(highest, spec)
    if "/" not in word:
        return _Field("pick", (low[0], high[0]), spec)
    step = int(word.rpartition("/")[2])
    return _Field("spread", (low[0], high[0], low[-1] if len(low) > 1 else low[0]), spec, step)


def _concrete(values: tuple[int, ...], spec: FieldSpec) -> _Field:
    if spec is DAY_OF_WEEK:
        values = tuple(sorted({v % 7 for v in values}))
    high = 6 if spec is DAY_OF_WEEK else spec.high
    if values == tuple(range(spec.low, high + 1)):
        return _Field("all", values, spec)
    if len(values) == 1:
        return _Field("one", values, spec)
    gaps = {b - a for a, b in zip(values, values[1:], strict=False)}
    if len(gaps) == 1 and len(values) >= 3:
        gap = gaps.pop()
        return _Field("range", values, spec) if gap == 1 else _Field("step", values, spec, gap)
    return _Field("list", values, spec)


def _time_phrase(second: _Field, minute: _Field, hour: _Field) -> str:
    fields = (hour, minute, second)
    if all(f.kind in ("one", "pick") for f in fields) and any(f.hashed for f in fields):
        return _once_between(hour, minute, second)
    if not any(f.hashed or f.kind == "all" for f in fields):
        count = len(hour.values) * len(minute.values) * len(second.values)
        if count <= _MAX_TIMES:
            return "at " + _join([_clock(h, m, s, second) for h in hour.values
                                  for m in minute.values for s in second.values])
    if second.kind != "one":
        if minute.kind != "all":
            raise _CannotPhrase("seconds that repeat within chosen minutes")
        return _repeating(second, "second", "minute") + _hour_window(hour, minute, second)
    if minute.kind != "one":
        at_second = f", at second {second.first}" if second.first else ""
        return _repeating(minute, "minute", "hour") + at_second + _hour_window(hour, minute, second)
    return _hourly(hour, minute.first, second)


def _once_between(hour: _Field, minute: _Field, second: _Field) -> str:
    start = _clock(hour.first, minute.first, second.first, second)
    end = _clock(hour.values[1 if hour.hashed else 0], minute.values[1 if minute.hashed else 0],
                 second.values[1 if second.hashed else 0], second)
    return f"once between {start} and {end} ({_FIXED})"


def _clock(hour: int, minute: int, second: int, seconds_field: _Field) -> str:
    """`09:30`, or `09:30:15` when the spec's seconds are not all zero."""
    if seconds_field.values == (0,):
        return f"{hour:02}:{minute:02}"
    return f"{hour:02}:{minute:02}:{second:02}"


def _repeating(field: _Field, unit: str, per: str) -> str:
    """How often `field` (the finest field that varies) fires within one `per`."""
    if field.kind == "all":
        return f"every {unit}"
    if field.kind == "pick":
        span = "" if (field.first, field.values[1]) == (field.low, field.high) else (
            f" from {field.first} to {field.values[1]}")
        return f"once {_article(per)} {per}, at a {unit}{span} {_FIXED}"
    if field.kind == "spread":
        if field.values[2] + field.step <= field.high or (field.high + 1 - field.low) % field.step:
            raise _CannotPhrase("a spread step that does not cover its field evenly")
        return f"every {field.step} {unit}s (offset {_FIXED})"
    if field.kind == "step" and field.cyclic:
        start = f" from {unit} {field.first}" if field.first != field.low else ""
        return f"every {field.step} {unit}s{start}"
    if field.kind in ("step", "range"):
        every = f"every {field.step} {unit}s" if field.kind == "step" else f"every {unit}"
        return f"{every} from {unit} {field.first} to {field.last}"
    return f"at {unit}s {_join([str(v) for v in _listed(field.values)])}"


def _hour_window(hour: _Field, minute: _Field, second: _Field) -> str:
    """Which hours of the day the finer repetition happens in."""
    if hour.kind == "all":
        return ""
    if hour.kind in ("one", "range"):
        exact = not (minute.hashed or second.hashed)
        first_minute, last_minute = (minute.first, minute.last) if exact else (0, 59)
        last_second = second.last if exact else 59
        start = _clock(hour.first, first_minute, second.first if exact else 0, second)
        end = _clock(hour.last, last_minute, last_second, second)
        return f", between {start} and {end}"
    if hour.kind == "pick":
        return f", in one hour from {hour.first:02} to {hour.values[1]:02} {_FIXED}"
    if hour.kind == "step" and hour.cyclic:
        start = f" from {hour.first:02}:00" if hour.first else ""
        return f", in every {_ordinal(hour.step)} hour{start}"
    if hour.kind == "spread":
        raise _CannotPhrase("hours spread by job under a finer repetition")
    return ", in hours " + _join([f"{h:02}" for h in _listed(hour.values)])


def _hourly(hour: _Field, minute: int, second: _Field) -> str:
    """Seconds and minutes are one value each; the hours repeat."""
    past = f" at minute {minute}" if minute else ""
    if second.first:
        past = f" at minute {minute}, second {second.first}"
    if hour.kind == "all":
        return "every hour" + past
    if hour.kind == "spread":
        if hour.values[2] + hour.step <= hour.high or 24 % hour.step:
            raise _CannotPhrase("an hour spread that does not cover the day evenly")
        return f"every {hour.step} hours{past} (offset {_FIXED})"
    first, last = _clock(hour.first, minute, second.first, second), _clock(
        hour.last, minute, second.first, second)
    if hour.kind == "step" and hour.cyclic:
        return f"every {hour.step} hours{past}" if not hour.first else f"every {hour.step} hours from {first}"
    if hour.kind == "step":
        return f"every {hour.step} hours from {first} to {last}"
    if hour.kind == "range":
        return f"every hour from {first} to {last}"
    return "at " + _join([_clock(h, minute, second.first, second) for h in _listed(hour.values)])


# -- days and months --------------------------------------------------------------------------


def _days_phrase(dom: _Field, dow: _Field, and_mode: bool) -> str:
    """Vixie cron's rule: a day field starting with `*` makes both fields apply (AND);
    otherwise a day matching either field fires (OR)."""
    if dom.kind == "spread" or dow.kind == "spread":
        raise _CannotPhrase("days spread by job")
    if and_mode:
        if dom.kind == "all":
            return "" if dow.kind == "all" else _weekdays(dow)
        if dow.kind == "all":
            return _month_days(dom)
        names = _join([DAY_NAMES[d] for d in _week_ordered(dow.values)], "or") if not dow.hashed else (
            "one weekday " + _FIXED)
        return f"{_month_days(dom)}, if it is {_article(names)} {names}"
    if dom.kind == "all" or dow.kind == "all":
        return ""
    return f"{_month_days(dom)} or {_weekdays(dow)}"


def _month_days(dom: _Field) -> str:
    if dom.kind == "pick":
        return f"on one day of the month from the {_ordinal(dom.first)} to the {_ordinal(dom.values[1])}" \
               f" ({_FIXED})"
    if dom.kind == "range":
        return f"on the {_ordinal(dom.first)} to the {_ordinal(dom.last)} of the month"
    if dom.kind == "step":
        through = f" to the {_ordinal(dom.last)}" if dom.last + dom.step <= dom.high else ""
        return f"on every {_ordinal(dom.step)} day of the month from the {_ordinal(dom.first)}{through}"
    return f"on the {_join([_ordinal(d) for d in _listed(dom.values)])} of the month"


def _weekdays(dow: _Field) -> str:
    if dow.kind == "pick":
        span = "" if (dow.first, dow.values[1]) == (0, 6) else (
            f" from {DAY_NAMES[dow.first]} to {DAY_NAMES[dow.values[1]]}")
        return f"on one day of the week{span} ({_FIXED})"
    ordered = _week_ordered(dow.values)
    positions = [_WEEK_ORDER.index(d) for d in ordered]
    if len(ordered) >= 3 and positions == list(range(positions[0], positions[0] + len(positions))):
        return f"{DAY_NAMES[ordered[0]]} to {DAY_NAMES[ordered[-1]]}"
    if len(ordered) == 1:
        return f"on {DAY_NAMES[ordered[0]]}s"
    return "on " + _join([DAY_NAMES[d] for d in ordered])


def _months_phrase(month: _Field) -> str:
    if month.kind == "all":
        return ""
    if month.kind == "pick":
        return f"in one month from {MONTH_NAMES[month.first - 1]} to {MONTH_NAMES[month.values[1] - 1]}" \
               f" ({_FIXED})"
    if month.kind == "spread":
        raise _CannotPhrase("months spread by job")
    if month.kind == "range":
        return f"from {MONTH_NAMES[month.first - 1]} to {MONTH_NAMES[month.last - 1]}"
    return "in " + _join([MONTH_NAMES[m - 1] for m in month.values])


# -- words ------------------------------------------------------------------------------------


def _week_ordered(days: tuple[int, ...]) -> list[int]:
    return sorted(days, key=_WEEK_ORDER.index)


def _listed(values: tuple[int, ...]) -> tuple[int, ...]:
    if len(values) > _MAX_LISTED:
        raise _CannotPhrase("too many values to list")
    return values


def _join(items: list[str], last: str = "and") -> str:
    """`a`, `a and b`, `a, b and c`."""
    if len(items) <= 2:
        return f" {last} ".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiouAEIOU" or word == "hour" else "a"
