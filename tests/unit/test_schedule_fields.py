"""The cron dialect: every field form expands to the exact values, every bad spec names its field."""

from __future__ import annotations

import pytest
from croniter import croniter

from scheduler0.errors import ScheduleError
from scheduler0.schedule import decide_misfires, parse, parse_instant, preview, validate_timezone
from scheduler0.schedule.every import parse_duration
from scheduler0.schedule.fields import parse_cron

ALL_MINUTES = tuple(range(60))
ALL_HOURS = tuple(range(24))
ALL_DAYS = tuple(range(1, 32))
ALL_MONTHS = tuple(range(1, 13))
ALL_WEEKDAYS = tuple(range(7))

# spec -> (seconds, minutes, hours, days of month, months, days of week)
EXPANSIONS = [
    ("* * * * *", ((0,), ALL_MINUTES, ALL_HOURS, ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS)),
    ("*/15 * * * *", ((0,), (0, 15, 30, 45), ALL_HOURS, ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS)),
    ("5/20 * * * *", ((0,), (5, 25, 45), ALL_HOURS, ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS)),
    ("1-10/3 * * * *", ((0,), (1, 4, 7, 10), ALL_HOURS, ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS)),
    ("5-5 * * * *", ((0,), (5,), ALL_HOURS, ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS)),
    ("0,30,15 9-11 * * *", ((0,), (0, 15, 30), (9, 10, 11), ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS)),
    ("0 0-23/6 * * *", ((0,), (0,), (0, 6, 12, 18), ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS)),
    ("0 0 1,15 * *", ((0,), (0,), (0,), (1, 15), ALL_MONTHS, ALL_WEEKDAYS)),
    ("0 0 */10 * *", ((0,), (0,), (0,), (1, 11, 21, 31), ALL_MONTHS, ALL_WEEKDAYS)),
    ("0 0 ? * ?", ((0,), (0,), (0,), ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS)),
    ("0 0 1 JAN-MAR *", ((0,), (0,), (0,), (1,), (1, 2, 3), ALL_WEEKDAYS)),
    ("0 0 1 jan,Jun,DEC *", ((0,), (0,), (0,), (1,), (1, 6, 12), ALL_WEEKDAYS)),
    ("0 0 1 */3 *", ((0,), (0,), (0,), (1,), (1, 4, 7, 10), ALL_WEEKDAYS)),
    ("0 0 * * MON-FRI", ((0,), (0,), (0,), ALL_DAYS, ALL_MONTHS, (1, 2, 3, 4, 5))),
    ("0 0 * * sun,Sat", ((0,), (0,), (0,), ALL_DAYS, ALL_MONTHS, (0, 6))),
    ("0 0 * * 7", ((0,), (0,), (0,), ALL_DAYS, ALL_MONTHS, (0,))),
    ("0 0 * * 0,7", ((0,), (0,), (0,), ALL_DAYS, ALL_MONTHS, (0,))),
    ("0 0 * * 5-7", ((0,), (0,), (0,), ALL_DAYS, ALL_MONTHS, (0, 5, 6))),
    ("0 0 * * */2", ((0,), (0,), (0,), ALL_DAYS, ALL_MONTHS, (0, 2, 4, 6))),
    ("0 0 * * 3/2", ((0,), (0,), (0,), ALL_DAYS, ALL_MONTHS, (3, 5))),
    ("0 0 * * 7/2", ((0,), (0,), (0,), ALL_DAYS, ALL_MONTHS, (0, 2, 4, 6))),
    ("0 0 * * 1-7/3", ((0,), (0,), (0,), ALL_DAYS, ALL_MONTHS, (0, 1, 4))),
    (
        "30 */5 * * * *",
        (
            (30,),
            (0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55),
            ALL_HOURS,
            ALL_DAYS,
            ALL_MONTHS,
            ALL_WEEKDAYS,
        ),
    ),
    ("*/20 0 12 * * *", ((0, 20, 40), (0,), (12,), ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS)),
    ("@yearly", ((0,), (0,), (0,), (1,), (1,), ALL_WEEKDAYS)),
    ("@ANNUALLY", ((0,), (0,), (0,), (1,), (1,), ALL_WEEKDAYS)),
    ("@monthly", ((0,), (0,), (0,), (1,), ALL_MONTHS, ALL_WEEKDAYS)),
    ("@weekly", ((0,), (0,), (0,), ALL_DAYS, ALL_MONTHS, (0,))),
    ("@Daily", ((0,), (0,), (0,), ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS)),
    ("@midnight", ((0,), (0,), (0,), ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS)),
    ("@hourly", ((0,), (0,), ALL_HOURS, ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS)),
]


@pytest.mark.parametrize(("spec", "expected"), EXPANSIONS)
def test_field_expansion(spec: str, expected: tuple[tuple[int, ...], ...]) -> None:
    f = parse_cron(spec)
    assert (f.seconds, f.minutes, f.hours, f.days_of_month, f.months, f.days_of_week) == expected


CRONITER_DIFFERS = {"5-5 * * * *"}  # croniter 7.0.0 expands a one-value range to `*`


@pytest.mark.parametrize(
    ("spec", "expected"), [e for e in EXPANSIONS if not e[0].startswith("@") and e[0] not in CRONITER_DIFFERS]
)
def test_expansion_agrees_with_croniter(spec: str, expected: tuple[tuple[int, ...], ...]) -> None:
    """croniter is the reference for field matching; '*' in its answer means the whole range."""
    six = len(spec.split()) == 6
    fields = croniter.expand(spec, second_at_beginning=six)[0]
    if six:  # croniter returns the seconds last
        fields = [fields[5], *fields[:5]]
    else:
        fields = [[0], *fields]
    full = [range(60), range(60), range(24), range(1, 32), range(1, 13), range(7)]
    theirs = tuple(tuple(full[i]) if f == ["*"] else tuple(sorted(set(f))) for i, f in enumerate(fields))
    assert theirs == expected


@pytest.mark.parametrize(
    ("spec", "dom_star", "dow_star", "fixed"),
    [
        ("0 0 1 * MON", False, False, True),
        ("0 0 */2 * MON", True, False, True),
        ("0 0 ? * MON", True, False, True),
        ("0 0 1 * *", False, True, True),
        ("30 2 * * *", True, True, True),
        ("0,30 1-3 * * *", True, True, True),
        ("30 * * * *", True, True, False),
        ("0 */2 * * *", True, True, False),
        ("0 1-23/2 * * *", True, True, False),
        ("*/5 1 * * *", True, True, False),
        ("? 1 * * *", True, True, False),
        ("15 30 2 * * *", True, True, True),
        ("*/10 30 2 * * *", True, True, False),
        ("@daily", True, True, True),
        ("@hourly", True, True, False),
    ],
)
def test_day_and_dst_flags(spec: str, dom_star: bool, dow_star: bool, fixed: bool) -> None:
    f = parse_cron(spec)
    assert (f.dom_star, f.dow_star, f.fixed_time) == (dom_star, dow_star, fixed)


FIELD_COUNT = "use 5 (min hour dom month dow), 6 (sec first) or a macro such as @daily or @every 5m"

# spec -> the exact error message
SPEC_ERRORS = [
    ("", f'spec: "" is empty; {FIELD_COUNT}'),
    ("   ", f'spec: "" is empty; {FIELD_COUNT}'),
    ("x y", f'spec "x y" has 2 fields; {FIELD_COUNT}'),
    ("* * * *", f'spec "* * * *" has 4 fields; {FIELD_COUNT}'),
    ("0 0 0 * * * 2026", f'spec "0 0 0 * * * 2026" has 7 fields; {FIELD_COUNT}'),
    (
        "@fortnightly",
        'spec "@fortnightly" uses the unknown macro @fortnightly; use @yearly, @annually, '
        "@monthly, @weekly, @daily, @midnight, @hourly or @every <duration>",
    ),
    ("@daily 5", 'spec "@daily 5": the macro @daily takes no arguments'),
    ("60 * * * * *", "second field: 60 is out of range 0-59"),
    ("61 * * * *", "minute field: 61 is out of range 0-59"),
    ("0 24 * * *", "hour field: 24 is out of range 0-23"),
    ("0 0 0 * *", "day-of-month field: 0 is out of range 1-31"),
    ("0 0 32 * *", "day-of-month field: 32 is out of range 1-31"),
    ("0 0 * 13 *", "month field: 13 is out of range 1-12 or JAN-DEC"),
    ("0 0 * 0 *", "month field: 0 is out of range 1-12 or JAN-DEC"),
    ("0 0 * * 8", "day-of-week field: 8 is out of range 0-7 or SUN-SAT"),
    ("0 0 * FOO *", 'month field: "FOO" is not a month; use 1-12 or JAN-DEC'),
    ("0 0 * * MOO", 'day-of-week field: "MOO" is not a weekday; use 0-7 or SUN-SAT'),
    ("0 0 * MON *", 'month field: "MON" is not a month; use 1-12 or JAN-DEC'),
    ("0 0 * * JAN", 'day-of-week field: "JAN" is not a weekday; use 0-7 or SUN-SAT'),
    ("x * * * *", 'minute field: "x" is not a number; use 0-59'),
    ("-1 * * * *", 'minute field: "-1" is not a number or range; use 0-59'),
    ("0 1- * * *", 'hour field: "1-" is not a number or range; use 0-23'),
    ("0 0 * 1-2-3 *", 'month field: "2-3" is not a month; use 1-12 or JAN-DEC'),
    ("0 5-2 * * *", 'hour field: range "5-2" is reversed (5-2); write the smaller value first or use a list'),
    (
        "0 0 * * SAT-SUN",
        'day-of-week field: range "SAT-SUN" is reversed (6-0); write the smaller value first or use a list',
    ),
    ("*/0 * * * *", 'minute field: step 0 in "*/0" is out of range 1-59'),
    ("*/60 * * * *", 'minute field: step 60 in "*/60" is out of range 1-59'),
    ("0 */24 * * *", 'hour field: step 24 in "*/24" is out of range 1-23'),
    ("0 0 */31 * *", 'day-of-month field: step 31 in "*/31" is out of range 1-30'),
    ("0 0 * */12 *", 'month field: step 12 in "*/12" is out of range 1-11'),
    ("0 0 * * */7", 'day-of-week field: step 7 in "*/7" is out of range 1-6'),
    ("*/x * * * *", 'minute field: step "x" in "*/x" is not a number; use 1-59'),
    ("1,,2 * * * *", 'minute field: "1,,2" has an empty list item; separate values with single commas'),
    (
        "0 0 30 2 *",
        'spec "0 0 30 2 *" can never fire: no month in it has a matching day; '
        "check the day-of-month and month fields",
    ),
    (
        "0 0 31 4 *",
        'spec "0 0 31 4 *" can never fire: no month in it has a matching day; '
        "check the day-of-month and month fields",
    ),
    (
        "0 0 31 2,4,6,9,11 *",
        'spec "0 0 31 2,4,6,9,11 *" can never fire: no month in it has a matching day; '
        "check the day-of-month and month fields",
    ),
    (
        "0 0 30,31 FEB */2",
        'spec "0 0 30,31 FEB */2" can never fire: no month in it has a matching day; '
        "check the day-of-month and month fields",
    ),
    # `*/2` starts with `*`, so (Vixie) both day fields must match: April 31 never comes.
    (
        "0 0 31 4 */2",
        'spec "0 0 31 4 */2" can never fire: no month in it has a matching day; '
        "check the day-of-month and month fields",
    ),
    ("@every", '@every duration: missing in "@every"; use e.g. 90s, 5m, 1h30m or 72h'),
    (
        "@every 5m 3s",
        '@every duration: "@every 5m 3s" must be "@every" and one duration, optionally followed '
        "by H (a per-job phase); use e.g. 90s, 5m, 1h30m or 72h",
    ),
    ("@every 5x", '@every duration: "5x" is not a duration; use e.g. 90s, 5m, 1h30m or 72h'),
    ("@every 5", '@every duration: "5" is not a duration; use e.g. 90s, 5m, 1h30m or 72h'),
    ("@every -5s", '@every duration: "-5s" is not a duration; use e.g. 90s, 5m, 1h30m or 72h'),
    ("@every 0s", '@every duration: "0s" is below the minimum of 1s'),
    ("@every 500ms", '@every duration: "500ms" is below the minimum of 1s'),
    ("@every 1.5s", '@every duration: "1.5s" is not a whole number of seconds; round it, e.g. to 1s'),
]


@pytest.mark.parametrize(("spec", "message"), SPEC_ERRORS)
def test_spec_errors_name_field_value_and_fix(spec: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse(spec)
    assert str(caught.value) == message
    assert caught.value.status == 400 and caught.value.code == "invalid_spec"


@pytest.mark.parametrize("spec", ["0 0 29 2 *", "0 0 31 * *", "0 0 30,31 2 MON", "0 0 31 4 1"])
def test_rare_but_possible_specs_are_accepted(spec: str) -> None:
    assert parse(spec).kind == "cron"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("1m", 60),
        ("1h30m", 5400),
        ("72h", 259200),
        ("1.5h", 5400),
        ("2m30s", 150),
        ("1500ms", None),
        ("2000ms", 2),
        ("1s500ms", None),
        ("1s1000ms", 2),
        ("1H", 3600),
        (".5m", 30),
    ],
)
def test_durations(text: str, seconds: int | None) -> None:
    if seconds is None:
        with pytest.raises(ScheduleError, match="is not a whole number of seconds"):
            parse_duration(text)
    else:
        assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("UTC", "UTC"),
        ("America/New_York", "America/New_York"),
        (" Europe/London ", "Europe/London"),
        ("america/new_york", "America/New_York"),
        ("utc", "UTC"),
        ("ASIA/KATHMANDU", "Asia/Kathmandu"),
    ],
)
def test_valid_timezones(name: str, canonical: str) -> None:
    assert validate_timezone(name) == canonical


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Base",
        "",
        "America",
        "../etc/passwd",
        "localtime",
        "Factory",
        "America/New_York/",
        "+05:00",
        None,
        5,
    ],
)
def test_invalid_timezones(name: object) -> None:
    with pytest.raises(ScheduleError) as caught:
        validate_timezone(name)  # type: ignore[arg-type]
    assert str(caught.value) == (
        f'timezone: "{name}" is not an IANA time zone; use e.g. "UTC" or "America/New_York"'
    )


def test_parse_rejects_a_bad_zone_with_the_timezone_message() -> None:
    with pytest.raises(ScheduleError, match='^timezone: "Mars/Base" is not an IANA time zone'):
        parse("* * * * *", "Mars/Base")


@pytest.mark.parametrize("anchor", [True, 1.5, "0", -(10**12)])
def test_bad_anchor(anchor: object) -> None:
    with pytest.raises(ScheduleError, match=r"^anchor: .* is not epoch seconds in range"):
        parse("@every 5m", "UTC", anchor)  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [0, 1001, -1, True, 2.0])
def test_preview_count_out_of_range(count: object) -> None:
    with pytest.raises(ScheduleError) as caught:
        preview("@daily", "UTC", 0, count)  # type: ignore[arg-type]
    assert str(caught.value) == f"count: {count!r} is out of range 1-1000"


@pytest.mark.parametrize(
    "text", ["yesterday", "2026-13-01T00:00:00Z", "2026-03-08T25:00:00Z", "", "1e9", "12:00", "-5"]
)
def test_parse_instant_errors_name_the_field(text: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_instant(text, "start_date")
    assert str(caught.value) == (
        f'start_date: "{text}" is not a time; use RFC 3339 such as "2026-03-08T07:00:00Z" or epoch seconds'
    )


@pytest.mark.parametrize("text", ["1969-12-31T23:59:59Z", "9999-12-31T00:00:00Z"])
def test_parse_instant_range(text: str) -> None:
    with pytest.raises(
        ScheduleError,
        match=f'^end_date: "{text}" is out of range 1970-01-01T00:00:00Z to 9999-12-30T00:00:00Z$',
    ):
        parse_instant(text, "end_date")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"policy": "sometimes"}, 'misfire_policy: "sometimes" is not one of run_once, run_all, skip'),
        ({"policy": "skip", "threshold": -1}, "misfire_threshold: -1 must be a whole number of seconds >= 0"),
        ({"policy": "run_all", "run_all_cap": 0}, "run_all_cap: 0 must be a whole number >= 1"),
    ],
)
def test_misfire_argument_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        decide_misfires([1, 2], 100, **kwargs)  # type: ignore[arg-type]
    assert str(caught.value) == message
