"""Daylight saving, Vixie-style: exact UTC instants around real 2026 transitions.

Transitions used (UTC instant: offset before -> after):
  America/New_York     2026-03-08T07:00Z -5 -> -4      2026-11-01T06:00Z -4 -> -5
  Europe/London        2026-03-29T01:00Z  0 -> +1      2026-10-25T01:00Z +1 ->  0
  Australia/Lord_Howe  2026-10-03T15:30Z +10:30 -> +11 2026-04-04T15:00Z +11 -> +10:30
  Australia/Sydney     2026-10-03T16:00Z +10 -> +11    2026-04-04T16:00Z +11 -> +10
  America/Santiago     2026-09-06T04:00Z -4 -> -3      2026-04-05T03:00Z -3 -> -4  (at local midnight)
  Asia/Kathmandu       1985-12-31T18:30Z +5:30 -> +5:45 (a 15-minute gap), fixed since
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scheduler0.errors import ScheduleError
from scheduler0.schedule import parse, preview
from scheduler0.schedule.cron import CronRule
from scheduler0.schedule.fields import parse_cron


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S")


# (zone, spec, window start, window end, fire times in the window, UTC)
CASES = [
    # ---- America/New_York -------------------------------------------------------------------
    # fixed time in the skipped hour: once, at the jump (03:00 EDT)
    (
        "America/New_York",
        "30 2 * * *",
        "2026-03-07T12:00",
        "2026-03-09T12:00",
        ["2026-03-08T07:00:00", "2026-03-09T06:30:00"],
    ),
    # several fixed times in the gap collapse into one fire at the jump
    ("America/New_York", "0,30 2 * * *", "2026-03-08T00:00", "2026-03-08T12:00", ["2026-03-08T07:00:00"]),
    # 02:00 is pushed to the jump, which is 03:00 itself: one fire, not two
    (
        "America/New_York",
        "0 2,3 * * *",
        "2026-03-08T00:00",
        "2026-03-09T08:00",
        ["2026-03-08T07:00:00", "2026-03-09T06:00:00", "2026-03-09T07:00:00"],
    ),
    # a time after the gap in the same hour range is untouched
    ("America/New_York", "0 4 * * *", "2026-03-07T12:00", "2026-03-08T12:00", ["2026-03-08T08:00:00"]),
    # six fields, fixed
    ("America/New_York", "15 30 2 * * *", "2026-03-08T00:00", "2026-03-08T12:00", ["2026-03-08T07:00:00"]),
    # fixed time in the repeated hour: once, at the first (EDT) occurrence
    (
        "America/New_York",
        "30 1 * * *",
        "2026-10-31T12:00",
        "2026-11-02T12:00",
        ["2026-11-01T05:30:00", "2026-11-02T06:30:00"],
    ),
    # fixed hour range: 01:00 once; 02:00 and 03:00 are EST
    (
        "America/New_York",
        "0 1-3 * * *",
        "2026-11-01T04:30",
        "2026-11-01T09:00",
        ["2026-11-01T05:00:00", "2026-11-01T07:00:00", "2026-11-01T08:00:00"],
    ),
    # wildcard hour: as the wall clock says, 01:30 twice in fall-back ...
    (
        "America/New_York",
        "30 * * * *",
        "2026-11-01T04:00",
        "2026-11-01T08:00",
        ["2026-11-01T04:30:00", "2026-11-01T05:30:00", "2026-11-01T06:30:00", "2026-11-01T07:30:00"],
    ),
    (
        "America/New_York",
        "@hourly",
        "2026-11-01T03:30",
        "2026-11-01T07:30",
        ["2026-11-01T04:00:00", "2026-11-01T05:00:00", "2026-11-01T06:00:00", "2026-11-01T07:00:00"],
    ),
    # ... and 02:30 never in spring-forward
    (
        "America/New_York",
        "30 * * * *",
        "2026-03-08T05:00",
        "2026-03-08T09:00",
        ["2026-03-08T05:30:00", "2026-03-08T06:30:00", "2026-03-08T07:30:00", "2026-03-08T08:30:00"],
    ),
    (
        "America/New_York",
        "0 */2 * * *",
        "2026-03-08T04:00",
        "2026-03-08T09:00",
        ["2026-03-08T05:00:00", "2026-03-08T08:00:00"],
    ),
    # a step in the minute field makes a wildcard spec too: both passes of 01:xx ...
    (
        "America/New_York",
        "*/30 1 * * *",
        "2026-11-01T04:00",
        "2026-11-01T08:00",
        ["2026-11-01T05:00:00", "2026-11-01T05:30:00", "2026-11-01T06:00:00", "2026-11-01T06:30:00"],
    ),
    # ... and nothing at all on the day 02:xx does not exist
    ("America/New_York", "*/30 2 * * *", "2026-03-08T00:00", "2026-03-09T00:00", []),
    (
        "America/New_York",
        "*/20 30 1 * * *",
        "2026-11-01T05:00",
        "2026-11-01T07:00",
        [
            "2026-11-01T05:30:00",
            "2026-11-01T05:30:20",
            "2026-11-01T05:30:40",
            "2026-11-01T06:30:00",
            "2026-11-01T06:30:20",
            "2026-11-01T06:30:40",
        ],
    ),
    # ---- Europe/London ----------------------------------------------------------------------
    (
        "Europe/London",
        "30 1 * * *",
        "2026-03-28T12:00",
        "2026-03-30T12:00",
        ["2026-03-29T01:00:00", "2026-03-30T00:30:00"],
    ),
    (
        "Europe/London",
        "30 1 * * *",
        "2026-10-24T12:00",
        "2026-10-26T12:00",
        ["2026-10-25T00:30:00", "2026-10-26T01:30:00"],
    ),
    (
        "Europe/London",
        "30 * * * *",
        "2026-03-29T00:00",
        "2026-03-29T03:00",
        ["2026-03-29T00:30:00", "2026-03-29T01:30:00", "2026-03-29T02:30:00"],
    ),
    (
        "Europe/London",
        "30 * * * *",
        "2026-10-25T00:00",
        "2026-10-25T03:00",
        ["2026-10-25T00:30:00", "2026-10-25T01:30:00", "2026-10-25T02:30:00"],
    ),
    (
        "Europe/London",
        "*/30 1 * * *",
        "2026-10-24T23:00",
        "2026-10-25T03:00",
        ["2026-10-25T00:00:00", "2026-10-25T00:30:00", "2026-10-25T01:00:00", "2026-10-25T01:30:00"],
    ),
    # ---- Australia/Lord_Howe: a 30-minute shift ----------------------------------------------
    # spring (October): 02:00-02:30 does not exist; 02:15 fires at the jump, 02:30 +11
    (
        "Australia/Lord_Howe",
        "15 2 * * *",
        "2026-10-02T12:00",
        "2026-10-04T16:00",
        ["2026-10-02T15:45:00", "2026-10-03T15:30:00", "2026-10-04T15:15:00"],
    ),
    ("Australia/Lord_Howe", "45 2 * * *", "2026-10-03T12:00", "2026-10-04T12:00", ["2026-10-03T15:45:00"]),
    (
        "Australia/Lord_Howe",
        "*/15 2 * * *",
        "2026-10-03T15:00",
        "2026-10-03T16:30",
        ["2026-10-03T15:30:00", "2026-10-03T15:45:00"],
    ),
    # autumn (April): 01:30-02:00 happens twice
    (
        "Australia/Lord_Howe",
        "45 1 * * *",
        "2026-04-04T00:00",
        "2026-04-05T23:00",
        ["2026-04-04T14:45:00", "2026-04-05T15:15:00"],
    ),
    (
        "Australia/Lord_Howe",
        "*/15 1 * * *",
        "2026-04-04T13:00",
        "2026-04-04T16:00",
        [
            "2026-04-04T14:00:00",
            "2026-04-04T14:15:00",
            "2026-04-04T14:30:00",
            "2026-04-04T14:45:00",
            "2026-04-04T15:00:00",
            "2026-04-04T15:15:00",
        ],
    ),
    # ---- Australia/Sydney: southern hemisphere -----------------------------------------------
    (
        "Australia/Sydney",
        "30 2 * * *",
        "2026-10-03T00:00",
        "2026-10-04T23:00",
        ["2026-10-03T16:00:00", "2026-10-04T15:30:00"],
    ),
    (
        "Australia/Sydney",
        "30 2 * * *",
        "2026-04-04T00:00",
        "2026-04-05T23:00",
        ["2026-04-04T15:30:00", "2026-04-05T16:30:00"],
    ),
    (
        "Australia/Sydney",
        "30 * * * *",
        "2026-04-04T14:00",
        "2026-04-04T17:00",
        ["2026-04-04T14:30:00", "2026-04-04T15:30:00", "2026-04-04T16:30:00"],
    ),
    (
        "Australia/Sydney",
        "30 * * * *",
        "2026-10-03T14:00",
        "2026-10-03T17:00",
        ["2026-10-03T14:30:00", "2026-10-03T15:30:00", "2026-10-03T16:30:00"],
    ),
    # ---- America/Santiago: transitions at local midnight -------------------------------------
    # spring (September): Sep 6 00:00 does not exist; @daily fires at the jump (01:00 -03)
    (
        "America/Santiago",
        "@daily",
        "2026-09-05T00:00",
        "2026-09-07T12:00",
        ["2026-09-05T04:00:00", "2026-09-06T04:00:00", "2026-09-07T03:00:00"],
    ),
    ("America/Santiago", "*/30 0 * * *", "2026-09-06T00:00", "2026-09-06T12:00", []),
    # autumn (April): Saturday 23:00-24:00 happens twice
    (
        "America/Santiago",
        "30 23 * * *",
        "2026-04-04T12:00",
        "2026-04-06T12:00",
        ["2026-04-05T02:30:00", "2026-04-06T03:30:00"],
    ),
    (
        "America/Santiago",
        "30 * * * *",
        "2026-04-05T01:00",
        "2026-04-05T05:00",
        ["2026-04-05T01:30:00", "2026-04-05T02:30:00", "2026-04-05T03:30:00", "2026-04-05T04:30:00"],
    ),
    (
        "America/Santiago",
        "@daily",
        "2026-04-03T12:00",
        "2026-04-06T12:00",
        ["2026-04-04T03:00:00", "2026-04-05T04:00:00", "2026-04-06T04:00:00"],
    ),
    # ---- Asia/Kathmandu: +05:45, and its 15-minute gap of 1986-01-01 -------------------------
    ("Asia/Kathmandu", "45 5 * * *", "2026-06-01T00:00", "2026-06-02T12:00", ["2026-06-02T00:00:00"]),
    (
        "Asia/Kathmandu",
        "5 0 * * *",
        "1985-12-30T12:00",
        "1986-01-01T23:00",
        ["1985-12-30T18:35:00", "1985-12-31T18:30:00", "1986-01-01T18:20:00"],
    ),
    (
        "Asia/Kathmandu",
        "*/5 * * * *",
        "1985-12-31T18:20",
        "1985-12-31T18:40",
        ["1985-12-31T18:25:00", "1985-12-31T18:30:00", "1985-12-31T18:35:00", "1985-12-31T18:40:00"],
    ),
]


@pytest.mark.parametrize(("zone", "spec", "start", "end", "expected"), CASES)
def test_dst_fire_times(zone: str, spec: str, start: str, end: str, expected: list[str]) -> None:
    schedule = parse(spec, zone)
    times = schedule.between(at(start), at(end))
    assert [iso(t) for t in times] == expected
    # every fire is reachable from just before it, and from the previous fire
    assert [schedule.next_after(t - 1) for t in times] == times
    assert [schedule.next_after(t) for t in times[:-1]] == times[1:]


def test_wildcard_spring_forward_resumes_the_next_day() -> None:
    schedule = parse("*/30 2 * * *", "America/New_York")
    assert iso(schedule.next_after(at("2026-03-08T00:00"))) == "2026-03-09T06:00:00"


def test_preview_shows_the_jump_and_both_passes() -> None:
    spring = preview("30 2 * * *", "America/New_York", at("2026-03-08T00:00"), 1)
    assert spring[0]["local"] == "2026-03-08T03:00:00-04:00"
    fall = preview("30 1 * * *", "America/New_York", at("2026-11-01T00:00"), 2)
    assert [p["local"] for p in fall] == ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]
    wild = preview("30 * * * *", "America/New_York", at("2026-11-01T05:00"), 2)
    assert [p["local"] for p in wild] == ["2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00"]
    howe = preview("15 2 * * *", "Australia/Lord_Howe", at("2026-10-03T12:00"), 1)
    assert howe[0] == {
        "utc": "2026-10-03T15:30:00Z",
        "local": "2026-10-04T02:30:00+11:00",
        "epoch": at("2026-10-03T15:30"),
    }


def test_after_inside_the_repeated_hour() -> None:
    """Asking from the second pass of 01:xx must not bring back the first pass's fixed fire."""
    fixed = parse("45 1 * * *", "America/New_York")
    assert iso(fixed.next_after(at("2026-11-01T06:10"))) == "2026-11-02T06:45:00"  # 01:10 EST
    assert iso(fixed.next_after(at("2026-11-01T05:10"))) == "2026-11-01T05:45:00"  # 01:10 EDT
    wild = parse("45 * * * *", "America/New_York")
    assert iso(wild.next_after(at("2026-11-01T06:10"))) == "2026-11-01T06:45:00"


def test_after_is_the_transition_instant() -> None:
    fixed = parse("30 2 * * *", "America/New_York")
    jump = at("2026-03-08T07:00")
    assert fixed.next_after(jump - 1) == jump
    assert iso(fixed.next_after(jump)) == "2026-03-09T06:30:00"


class DailyGap:
    """A made-up zone: +0 from 00:00Z to 12:00Z, then -1 h: 11:00-12:00 repeats, 23:00-24:00 never is."""

    def segment(self, t: int) -> tuple[int, int, int, int]:
        day, second = divmod(t, 86400)
        if second < 43200:
            return day * 86400, day * 86400 + 43200, 0, -3600
        return day * 86400 + 43200, (day + 1) * 86400, -3600, 0


def test_a_wildcard_spec_whose_times_all_fall_in_gaps_gives_up_after_400_years() -> None:
    fixed = CronRule(parse_cron("30 23 * * *"), DailyGap())  # type: ignore[arg-type]
    assert fixed.next_after(0) == 86400  # at the jump, every day
    assert fixed.next_after(86400) == 2 * 86400
    repeated = CronRule(parse_cron("30 11 * * *"), DailyGap())  # type: ignore[arg-type]
    assert repeated.next_after(0) == 11 * 3600 + 1800  # first pass only
    assert repeated.next_after(11 * 3600 + 1800) == 86400 + 11 * 3600 + 1800
    wildcard = CronRule(parse_cron("*/30 23 * * *"), DailyGap())  # type: ignore[arg-type]
    with pytest.raises(ScheduleError, match="no fire time within 400 years"):
        wildcard.next_after(0)
