"""Exact fire instants for every macro and field form, @every, windows, preview and formats."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from scheduler0.errors import ScheduleError
from scheduler0.schedule import (
    MAX_EPOCH,
    Schedule,
    format_rfc3339_utc,
    next_fire,
    parse,
    parse_instant,
    preview,
)


def at(text: str) -> int:
    """Epoch seconds of a naive ISO text read as UTC (independent of the engine's parser)."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def next_three(spec: str, zone: str, after: str) -> list[str]:
    schedule = parse(spec, zone)
    times, t = [], at(after)
    for _ in range(3):
        t = schedule.next_after(t)
        times.append(iso(t))
    return times


AFTER = "2026-01-15T10:20:30"  # a Thursday

# (spec, zone, next three fire times after AFTER, in UTC)
CASES = [
    ("* * * * *", "UTC", ["2026-01-15T10:21:00", "2026-01-15T10:22:00", "2026-01-15T10:23:00"]),
    ("*/15 * * * *", "UTC", ["2026-01-15T10:30:00", "2026-01-15T10:45:00", "2026-01-15T11:00:00"]),
    ("5/20 * * * *", "UTC", ["2026-01-15T10:25:00", "2026-01-15T10:45:00", "2026-01-15T11:05:00"]),
    ("1-10/3 11 * * *", "UTC", ["2026-01-15T11:01:00", "2026-01-15T11:04:00", "2026-01-15T11:07:00"]),
    ("0,30,15 9-11 * * *", "UTC", ["2026-01-15T10:30:00", "2026-01-15T11:00:00", "2026-01-15T11:15:00"]),
    ("0 0-23/6 * * *", "UTC", ["2026-01-15T12:00:00", "2026-01-15T18:00:00", "2026-01-16T00:00:00"]),
    ("0 0 1,15 * *", "UTC", ["2026-02-01T00:00:00", "2026-02-15T00:00:00", "2026-03-01T00:00:00"]),
    ("0 0 */10 * *", "UTC", ["2026-01-21T00:00:00", "2026-01-31T00:00:00", "2026-02-01T00:00:00"]),
    ("0 0 31 * *", "UTC", ["2026-01-31T00:00:00", "2026-03-31T00:00:00", "2026-05-31T00:00:00"]),
    ("0 0 ? * ?", "UTC", ["2026-01-16T00:00:00", "2026-01-17T00:00:00", "2026-01-18T00:00:00"]),
    ("0 0 1 JAN-MAR *", "UTC", ["2026-02-01T00:00:00", "2026-03-01T00:00:00", "2027-01-01T00:00:00"]),
    ("0 0 1 feb,Jun *", "UTC", ["2026-02-01T00:00:00", "2026-06-01T00:00:00", "2027-02-01T00:00:00"]),
    ("0 0 * * MON-FRI", "UTC", ["2026-01-16T00:00:00", "2026-01-19T00:00:00", "2026-01-20T00:00:00"]),
    ("0 12 * * sun,Sat", "UTC", ["2026-01-17T12:00:00", "2026-01-18T12:00:00", "2026-01-24T12:00:00"]),
    ("0 0 * * 7", "UTC", ["2026-01-18T00:00:00", "2026-01-25T00:00:00", "2026-02-01T00:00:00"]),
    ("0 0 * * 0,7", "UTC", ["2026-01-18T00:00:00", "2026-01-25T00:00:00", "2026-02-01T00:00:00"]),
    # both day fields restricted: either may match (Vixie OR)
    ("0 0 20 * MON", "UTC", ["2026-01-19T00:00:00", "2026-01-20T00:00:00", "2026-01-26T00:00:00"]),
    ("0 0 29 2 MON", "UTC", ["2026-02-02T00:00:00", "2026-02-09T00:00:00", "2026-02-16T00:00:00"]),
    # a day field starting with `*` (or `?`): both must match (Vixie AND): odd days that are Mondays
    ("0 0 */2 * MON", "UTC", ["2026-01-19T00:00:00", "2026-02-09T00:00:00", "2026-02-23T00:00:00"]),
    ("0 0 1 * ?", "UTC", ["2026-02-01T00:00:00", "2026-03-01T00:00:00", "2026-04-01T00:00:00"]),
    ("0 0 29 2 *", "UTC", ["2028-02-29T00:00:00", "2032-02-29T00:00:00", "2036-02-29T00:00:00"]),
    ("59 23 31 12 *", "UTC", ["2026-12-31T23:59:00", "2027-12-31T23:59:00", "2028-12-31T23:59:00"]),
    # six fields: seconds first
    ("30 */5 * * * *", "UTC", ["2026-01-15T10:25:30", "2026-01-15T10:30:30", "2026-01-15T10:35:30"]),
    ("*/20 0 12 * * *", "UTC", ["2026-01-15T12:00:00", "2026-01-15T12:00:20", "2026-01-15T12:00:40"]),
    ("* * * * * *", "UTC", ["2026-01-15T10:20:31", "2026-01-15T10:20:32", "2026-01-15T10:20:33"]),
    ("0 0 0 * * *", "UTC", ["2026-01-16T00:00:00", "2026-01-17T00:00:00", "2026-01-18T00:00:00"]),
    ("15 20 10 15 1 *", "UTC", ["2027-01-15T10:20:15", "2028-01-15T10:20:15", "2029-01-15T10:20:15"]),
    # macros
    ("@yearly", "UTC", ["2027-01-01T00:00:00", "2028-01-01T00:00:00", "2029-01-01T00:00:00"]),
    ("@annually", "UTC", ["2027-01-01T00:00:00", "2028-01-01T00:00:00", "2029-01-01T00:00:00"]),
    ("@monthly", "UTC", ["2026-02-01T00:00:00", "2026-03-01T00:00:00", "2026-04-01T00:00:00"]),
    ("@weekly", "UTC", ["2026-01-18T00:00:00", "2026-01-25T00:00:00", "2026-02-01T00:00:00"]),
    ("@daily", "UTC", ["2026-01-16T00:00:00", "2026-01-17T00:00:00", "2026-01-18T00:00:00"]),
    ("@MIDNIGHT", "UTC", ["2026-01-16T00:00:00", "2026-01-17T00:00:00", "2026-01-18T00:00:00"]),
    ("@hourly", "UTC", ["2026-01-15T11:00:00", "2026-01-15T12:00:00", "2026-01-15T13:00:00"]),
    # fields are matched in the job's zone
    ("0 9 * * *", "America/New_York", ["2026-01-15T14:00:00", "2026-01-16T14:00:00", "2026-01-17T14:00:00"]),
    ("0 9 * * *", "Asia/Kathmandu", ["2026-01-16T03:15:00", "2026-01-17T03:15:00", "2026-01-18T03:15:00"]),
    ("*/30 * * * *", "Asia/Kathmandu", ["2026-01-15T10:45:00", "2026-01-15T11:15:00", "2026-01-15T11:45:00"]),
    ("@daily", "Asia/Tokyo", ["2026-01-15T15:00:00", "2026-01-16T15:00:00", "2026-01-17T15:00:00"]),
    ("@weekly", "Pacific/Kiritimati", ["2026-01-17T10:00:00", "2026-01-24T10:00:00", "2026-01-31T10:00:00"]),
    ("0 0 1 * *", "Etc/GMT+5", ["2026-02-01T05:00:00", "2026-03-01T05:00:00", "2026-04-01T05:00:00"]),
]


@pytest.mark.parametrize(("spec", "zone", "expected"), CASES)
def test_next_fire_times(spec: str, zone: str, expected: list[str]) -> None:
    assert next_three(spec, zone, AFTER) == expected


def test_next_after_is_strict() -> None:
    schedule = parse("0 * * * *")
    assert schedule.next_after(at("2026-01-15T10:00:00")) == at("2026-01-15T11:00:00")
    assert schedule.next_after(at("2026-01-15T09:59:59")) == at("2026-01-15T10:00:00")


def test_float_after_is_floored() -> None:
    assert parse("* * * * * *").next_after(1.5) == 2  # type: ignore[arg-type]


# ---- @every -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (0, 1090),
        (999, 1090),
        (1000, 1090),
        (1089, 1090),
        (1090, 1180),
        (1091, 1180),
        (10_000, 10_090),
    ],
)
def test_every_is_anchored(after: int, expected: int) -> None:
    assert parse("@every 90s", "UTC", anchor=1000).next_after(after) == expected


def test_every_phase_does_not_depend_on_the_instant_asked_from() -> None:
    anchor = at("2026-01-01T00:00:07")
    schedule = parse("@every 1h30m", "UTC", anchor=anchor)
    for after in range(anchor - 3 * 5400, anchor + 2 * 86400, 977):
        t = schedule.next_after(after)
        assert (t - anchor) % 5400 == 0
        assert after < t
        assert t - 5400 <= after or t == anchor + 5400  # nothing skipped; the anchor itself never fires


def test_every_is_elapsed_time_across_fall_back() -> None:
    schedule = parse("@every 1h", "America/New_York", anchor=at("2026-11-01T00:00:00"))
    times = schedule.between(at("2026-11-01T03:30:00"), at("2026-11-01T07:30:00"))
    assert [iso(t) for t in times] == [
        "2026-11-01T04:00:00",
        "2026-11-01T05:00:00",
        "2026-11-01T06:00:00",
        "2026-11-01T07:00:00",
    ]
    shown = preview("@every 1h", "America/New_York", at("2026-11-01T04:30:00"), 3, at("2026-11-01T00:00:00"))
    assert [p["local"] for p in shown] == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T02:00:00-05:00",
    ]


def test_every_24h_keeps_elapsed_time_across_spring_forward() -> None:
    shown = preview("@every 24h", "America/New_York", at("2026-03-06T06:00:00"), 3, at("2026-03-01T05:00:00"))
    assert [p["local"] for p in shown] == [
        "2026-03-07T00:00:00-05:00",
        "2026-03-08T00:00:00-05:00",
        "2026-03-09T01:00:00-04:00",
    ]


def test_every_without_anchor_counts_from_the_epoch() -> None:
    schedule = parse("@every 7m")
    assert schedule.anchor == 0
    assert schedule.next_after(at("2026-01-15T10:20:30")) % 420 == 0


# ---- identity -----------------------------------------------------------------------------


def test_schedule_identity_and_immutability() -> None:
    a = parse("0  *  * * *", "America/New_York", anchor=5)
    b = Schedule("0 * * * *", "america/new_york", anchor=6)
    assert a == b and hash(a) == hash(b)  # cron specs drop the anchor; zone is canonical
    assert (a.spec, a.timezone, a.anchor, a.kind, a.interval, a.fixed_time) == (
        "0 * * * *",
        "America/New_York",
        None,
        "cron",
        None,
        False,
    )
    e1, e2 = parse("@every 5m", anchor=5), parse("@every 5m", anchor=6)
    assert e1 != e2 and (e1.kind, e1.interval, e1.anchor) == ("every", 300, 5)
    assert parse("30 2 * * *").fixed_time is True
    assert len({a, b, e1, e2}) == 3
    with pytest.raises(AttributeError):
        a.spec = "x"
    assert pickle.loads(pickle.dumps(e1)) == e1
    assert repr(e1) == "Schedule('@every 5m', 'UTC', anchor=5)"


# ---- windows ------------------------------------------------------------------------------


def test_next_fire_respects_start_and_end_dates() -> None:
    hourly = parse("@hourly")
    after = at("2026-01-15T10:20:30")
    assert next_fire(hourly, after) == at("2026-01-15T11:00:00")
    assert next_fire(hourly, after, start_date=at("2026-01-20T00:00:00")) == at("2026-01-20T00:00:00")
    assert next_fire(hourly, after, start_date=at("2026-01-20T00:30:00")) == at("2026-01-20T01:00:00")
    assert next_fire(hourly, after, start_date=at("2026-01-01T00:00:00")) == at("2026-01-15T11:00:00")
    end = at("2026-01-15T12:00:00")
    assert next_fire(hourly, after, end_date=end) == at("2026-01-15T11:00:00")
    assert next_fire(hourly, at("2026-01-15T11:00:00"), end_date=end) == end  # end is inclusive
    assert next_fire(hourly, end, end_date=end) is None
    assert next_fire(hourly, after, end_date=at("2026-01-15T10:59:59")) is None
    assert next_fire(hourly, after, start_date=at("2026-02-01T00:00:00"), end_date=end) is None


def test_between_is_start_exclusive_end_inclusive_and_limited() -> None:
    s = parse("0 * * * *")
    start, end = at("2026-01-15T10:00:00"), at("2026-01-15T13:00:00")
    assert [iso(t) for t in s.between(start, end)] == [
        "2026-01-15T11:00:00",
        "2026-01-15T12:00:00",
        "2026-01-15T13:00:00",
    ]
    assert [iso(t) for t in s.between(start, end, limit=2)] == ["2026-01-15T11:00:00", "2026-01-15T12:00:00"]
    assert s.between(start, end, limit=0) == []
    assert s.between(end, start) == []
    assert len(parse("* * * * * *").between(start, start + 86400, limit=100_000)) == 86400
    assert len(parse("* * * * * *").between(start, start + 86400)) == 10_000  # the default limit


def test_end_of_supported_range() -> None:
    yearly = parse("@yearly")
    assert yearly.next_or_none(MAX_EPOCH - 10) is None
    assert yearly.between(MAX_EPOCH - 86400 * 400, MAX_EPOCH + 10**6) == [at("9999-01-01T00:00:00")]
    with pytest.raises(
        ScheduleError,
        match=r'^after: the spec "@yearly" has no fire time after \d+ within 400 years and before 9999',
    ):
        yearly.next_after(MAX_EPOCH - 10)
    assert next_fire(yearly, MAX_EPOCH - 10) is None
    in_new_york = parse("@yearly", "America/New_York")  # the zone tables stop at the year 9999
    assert in_new_york.between(MAX_EPOCH - 86400 * 800, MAX_EPOCH + 10) == [
        at("9998-01-01T05:00:00"),
        at("9999-01-01T05:00:00"),
    ]
    assert parse("59 23 29 12 *", "Australia/Sydney").next_after(MAX_EPOCH - 3 * 86400) == at(
        "9999-12-29T12:59:00"
    )
    assert parse("0 0 29 2 *").next_or_none(at("9996-03-01T00:00:00")) is None  # 10000 is past the end


def test_before_1900_counts_as_1900() -> None:
    assert parse("@yearly").next_after(-(10**11)) == at("1900-01-01T00:00:00")


# ---- preview and text ---------------------------------------------------------------------


def test_preview_format() -> None:
    assert preview("30 2 * * *", "America/New_York", at("2026-03-07T12:00:00"), 2) == [
        {"utc": "2026-03-08T07:00:00Z", "local": "2026-03-08T03:00:00-04:00", "epoch": 1772953200},
        {"utc": "2026-03-09T06:30:00Z", "local": "2026-03-09T02:30:00-04:00", "epoch": 1773037800},
    ]
    assert preview("0 9 * * *", "Asia/Kathmandu", at("2026-01-15T00:00:00"), 1) == [
        {"utc": "2026-01-15T03:15:00Z", "local": "2026-01-15T09:00:00+05:45", "epoch": 1768446900},
    ]
    assert preview("@daily", "UTC", 0, 1) == [
        {"utc": "1970-01-02T00:00:00Z", "local": "1970-01-02T00:00:00+00:00", "epoch": 86400},
    ]
    assert len(preview("* * * * * *", "UTC", 0, 1000)) == 1000


@pytest.mark.parametrize(
    ("epoch", "text"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (1772953200, "2026-03-08T07:00:00Z"),
        (951782400, "2000-02-29T00:00:00Z"),
        (MAX_EPOCH, "9999-12-30T00:00:00Z"),
    ],
)
def test_format_rfc3339_utc(epoch: int, text: str) -> None:
    assert format_rfc3339_utc(epoch) == text


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2026-03-08T07:00:00Z", 1772953200),
        ("2026-03-08t07:00:00z", 1772953200),
        ("2026-03-08T03:00:00-04:00", 1772953200),
        ("2026-03-08T12:45:00+05:45", 1772953200),
        ("2026-03-08T07:00:00", 1772953200),  # naive = UTC
        ("2026-03-08 07:00:00+00:00", 1772953200),
        ("2026-03-08T07:00:00.999Z", 1772953200),  # fractions are dropped
        ("2026-03-08", 1772928000),
        ("1772953200", 1772953200),
        (" 1772953200 ", 1772953200),
        (1772953200, 1772953200),
        ("0", 0),
    ],
)
def test_parse_instant(text: str | int, epoch: int) -> None:
    assert parse_instant(text, "start_date") == epoch
