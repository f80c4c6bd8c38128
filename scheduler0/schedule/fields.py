"""Parse and validate the cron dialect (the README's Cron specs) into expanded field sets.

Grammar of one field: a comma list of items; an item is `*`, `?` (same as `*`), a value,
or a range `a-b`, each optionally followed by a step `/n`; a bare `a/n` means `a-max/n`
(as in Quartz, Dkron and Go's robfig/cron, which the original scheduler0 used).
Month and weekday names (JAN-DEC, SUN-SAT) are accepted in their fields, any case.

We parse ourselves instead of calling `croniter.expand` because the dialect must be exact:
croniter also accepts `L`, `W`, `#` and `H`, its errors do not name the field, and its
expansion loses what Vixie cron needs to know: whether a field *starts with* `*` (that
decides the day-of-month / day-of-week AND/OR rule and the DST class of a job).
croniter remains the oracle the tests compare the expansion against. A job's `H` (Jenkins's
per-job value) is resolved to numbers and ranges from the job id before a spec reaches this
parser (hashed.py), so here `H` is refused.

Every error is a `ScheduleError` whose message starts with the field's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler0.errors import ScheduleError

MACROS: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

FIELD_COUNT_HINT = "use 5 (min hour dom month dow), 6 (sec first) or a macro such as @daily or @every 5m"

_MONTH_NAMES = {
    n: i + 1
    for i, n in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    )
}
_DAY_NAMES = {n: i for i, n in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}


@dataclass(frozen=True, eq=False)
class FieldSpec:
    """How one position of the spec is named, bounded and spelled."""

    name: str
    low: int
    high: int
    names: dict[str, int] | None = None
    hint: str = ""  # how to write a valid value, for error messages

    @property
    def allowed(self) -> str:
        return f"{self.low}-{self.high}" + (f" or {self.hint}" if self.hint else "")


SECOND = FieldSpec("second field", 0, 59)
MINUTE = FieldSpec("minute field", 0, 59)
HOUR = FieldSpec("hour field", 0, 23)
DAY_OF_MONTH = FieldSpec("day-of-month field", 1, 31)
MONTH = FieldSpec("month field", 1, 12, _MONTH_NAMES, "JAN-DEC")
# 7 is Sunday too (crontab(5)); `*` for weekdays means 0-6 so steps do not count Sunday twice.
DAY_OF_WEEK = FieldSpec("day-of-week field", 0, 7, _DAY_NAMES, "SUN-SAT")


@dataclass(frozen=True)
class CronFields:
    """A validated cron spec, each field expanded to the sorted values it matches."""

    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: tuple[int, ...]
    months: tuple[int, ...]
    days_of_week: tuple[int, ...]  # 0 = Sunday; 7 already folded into 0
    dom_star: bool  # the day-of-month field starts with `*` or `?` (Vixie's DOM_STAR)
    dow_star: bool  # the day-of-week field starts with `*` or `?` (Vixie's DOW_STAR)
    fixed_time: bool  # no `*`, `?` or `/` in the second, minute and hour fields (see cron.py)


def split_spec(spec: str) -> list[str]:
    """Expand a macro and split into fields; raises ScheduleError on an empty spec or bad count."""
    words = spec.split()
    if not words:
        raise ScheduleError(f'spec: "{spec}" is empty; {FIELD_COUNT_HINT}')
    if words[0].startswith("@"):
        macro = words[0].lower()
        if macro not in MACROS:
            raise ScheduleError(
                f'spec "{spec}" uses the unknown macro {words[0]}; use @yearly, @annually, @monthly, '
                "@weekly, @daily, @midnight, @hourly or @every <duration>"
            )
        if len(words) > 1:
            raise ScheduleError(f'spec "{spec}": the macro {words[0]} takes no arguments')
        return MACROS[macro].split()
    if len(words) not in (5, 6):
        raise ScheduleError(f'spec "{spec}" has {len(words)} fields; {FIELD_COUNT_HINT}')
    return words


def parse_cron(spec: str) -> CronFields:
    """Parse a 5-field, 6-field (seconds first) or macro spec; raises ScheduleError."""
    words = split_spec(spec)
    if len(words) == 5:
        words = ["0", *words]
    sec, minute, hour, dom, month, dow = words
    return CronFields(
        seconds=expand(sec, SECOND),
        minutes=expand(minute, MINUTE),
        hours=expand(hour, HOUR),
        days_of_month=expand(dom, DAY_OF_MONTH),
        months=expand(month, MONTH),
        days_of_week=tuple(sorted({d % 7 for d in expand(dow, DAY_OF_WEEK)})),
        dom_star=dom[0] in "*?",
        dow_star=dow[0] in "*?",
        fixed_time=not any(c in "*?/" for c in sec + minute + hour),
    )


def expand(text: str, field: FieldSpec) -> tuple[int, ...]:
    """The sorted values one field matches; raises ScheduleError naming the field."""
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise ScheduleError(
                f'{field.name}: "{text}" has an empty list item; separate values with single commas'
            )
        values.update(_expand_item(item, field))
    return tuple(sorted(values))


def _expand_item(item: str, field: FieldSpec) -> range:
    if item[:1] == "H":
        # The engine sees concrete specs only: a job's H is resolved from its id (hashed.py).
        raise ScheduleError(
            f'{field.name}: "{item}" uses H, a value derived from a job\'s id; only a job\'s '
            "spec may hold it (it is resolved when the job is created)")
    base, slash, step_text = item.partition("/")
    # `*` for weekdays is 0-6: 7 would repeat Sunday, and `*/2` must mean 0,2,4,6 as in Vixie cron.
    high = 6 if field is DAY_OF_WEEK else field.high
    if base in ("*", "?"):
        low = field.low
    elif "-" in base:
        low_text, _, high_text = base.partition("-")
        if not low_text or not high_text:
            raise ScheduleError(f'{field.name}: "{item}" is not a number or range; use {field.allowed}')
        low, high = _value(low_text, field), _value(high_text, field)
        if low > high:
            raise ScheduleError(
                f'{field.name}: range "{base}" is reversed ({low}-{high}); write the smaller value first '
                "or use a list"
            )
    else:
        low = _value(base, field)
        if not slash:
            return range(low, low + 1)
        if field is DAY_OF_WEEK and low == 7:
            low = 0  # `7/2` is `0/2`: Sunday is 0 as well as 7
    step = _step(step_text, item, field) if slash else 1
    return range(low, high + 1, step)


def field_value(text: str, field: FieldSpec) -> int:
    """One value of `field` (a number or, in the month and weekday fields, a name); raises
    ScheduleError naming the field."""
    return _value(text, field)


def field_step(text: str, item: str, field: FieldSpec) -> int:
    """The step `n` of `item` (`.../n`), within the field's span; raises ScheduleError."""
    return _step(text, item, field)


def _value(text: str, field: FieldSpec) -> int:
    if text.isdigit() and text.isascii():
        value = int(text)
        if not field.low <= value <= field.high:
            raise ScheduleError(f"{field.name}: {value} is out of range {field.allowed}")
        return value
    if field.names is not None and text.upper() in field.names:
        return field.names[text.upper()]
    kind = "month" if field is MONTH else "weekday" if field is DAY_OF_WEEK else "number"
    raise ScheduleError(f'{field.name}: "{text}" is not a {kind}; use {field.allowed}')


def _step(text: str, item: str, field: FieldSpec) -> int:
    # A step above the field's span would select only the start value: almost surely a typo.
    span = (6 if field is DAY_OF_WEEK else field.high) - field.low
    if not (text.isdigit() and text.isascii()):
        raise ScheduleError(f'{field.name}: step "{text}" in "{item}" is not a number; use 1-{span}')
    step = int(text)
    if not 1 <= step <= span:
        raise ScheduleError(f'{field.name}: step {step} in "{item}" is out of range 1-{span}')
    return step
