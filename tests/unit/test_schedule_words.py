"""A spec in words: the common shapes read as people say them, anything else reads as the spec.

The property tests draw specs in the engine's whole dialect (names, lists, ranges, steps, `?`,
six fields, macros, H, @every, @at), keep the ones the engine accepts, and require a phrase
for each without an exception; where a phrase claims a plain interval, the engine's own fire
times must bear it out.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scheduler0.errors import ScheduleError
from scheduler0.schedule import parse, spec_variants
from scheduler0.schedule.words import spec_in_words


@pytest.mark.parametrize(("spec", "zone", "words"), [
    ("0 9 * * 1-5", "Europe/London", "at 09:00, Monday to Friday, Europe/London"),
    ("*/15 * * * *", "UTC", "every 15 minutes"),
    ("@every 1m", "UTC", "every minute"),
    ("@every 90s H", "UTC", "every 90 seconds (phase spread by job)"),
    ("@every 1h30m", "UTC", "every 90 minutes"),
    ("@every 2h", "UTC", "every 2 hours"),
    ("H(0-29) 9 * * *", "UTC", "once between 09:00 and 09:29 (fixed per job), UTC"),
    ("@at 2027-01-01T00:00:00Z", "UTC", "once, at 2027-01-01 00:00 UTC"),
    ("@at 2027-01-01T00:00:30+01:00", "Europe/Paris",
     "once, at 2026-12-31 23:00:30 UTC (2027-01-01 00:00:30 Europe/Paris)"),
    ("*/10 * * * * *", "UTC", "every 10 seconds"),
    ("30 0 * * * *", "UTC", "every hour at minute 0, second 30"),
    ("0 0 * * MON", "UTC", "at 00:00, on Mondays, UTC"),
    ("0 9 * * thu", "UTC", "at 09:00, on Thursdays, UTC"),
    ("0 0 * * 5-7", "UTC", "at 00:00, Friday to Sunday, UTC"),
    ("5 4 * * 0,6", "UTC", "at 04:05, on Saturday and Sunday, UTC"),
    ("0 0 1 JAN-MAR *", "UTC", "at 00:00, on the 1st of the month, from January to March, UTC"),
    ("0 0 1 */3 *", "UTC", "at 00:00, on the 1st of the month, in January, April, July and October, UTC"),
    ("@daily", "Asia/Tokyo", "at 00:00, Asia/Tokyo"),
    ("@hourly", "UTC", "every hour"),
    ("30 * * * *", "UTC", "every hour at minute 30"),
    ("0 */2 * * *", "UTC", "every 2 hours, UTC"),
    ("15 1/2 * * *", "UTC", "every 2 hours from 01:15, UTC"),
    ("0 9-17 * * *", "UTC", "every hour from 09:00 to 17:00, UTC"),
    ("*/15 9-17 * * 1-5", "America/New_York",
     "every 15 minutes, between 09:00 and 17:45, Monday to Friday, America/New_York"),
    ("0,30 9,17 * * *", "UTC", "at 09:00, 09:30, 17:00 and 17:30, UTC"),
    ("*/7 * * * *", "UTC", "every 7 minutes from minute 0 to 56"),
    ("0-9 * * * *", "UTC", "every minute from minute 0 to 9"),
    ("0 0 1-7 * *", "UTC", "at 00:00, on the 1st to the 7th of the month, UTC"),
    # Vixie cron: two restricted day fields fire on either; one starting with * on both.
    ("0 0 13 * 5", "UTC", "at 00:00, on the 13th of the month or on Fridays, UTC"),
    ("0 0 */2 * 1", "UTC", "at 00:00, on every 2nd day of the month from the 1st, if it is a Monday, UTC"),
    ("0 0 1 * 0-6", "UTC", "at 00:00, UTC"),
    ("H * * * *", "UTC", "once an hour, at a minute fixed per job"),
    ("H/15 * * * *", "UTC", "every 15 minutes (offset fixed per job)"),
    ("H H * * *", "UTC", "once between 00:00 and 23:59 (fixed per job), UTC"),
    ("0 H/4 * * *", "UTC", "every 4 hours (offset fixed per job), UTC"),
    ("0 0 H * *", "UTC", "at 00:00, on one day of the month from the 1st to the 28th (fixed per job), UTC"),
])
def test_common_specs_read_as_people_say_them(spec: str, zone: str, words: str) -> None:
    assert spec_in_words(spec, zone) == words


@pytest.mark.parametrize("spec", [
    "H H/4 * * *",  # a spread hour under a per-job minute: no short true sentence
    "H,30 * * * *",  # H inside a list
    "1,2,3,5,8,13,21,34,55,56,57,58,59 * * * *",  # too many values to list
])
def test_a_spec_without_a_good_phrase_reads_as_itself(spec: str) -> None:
    assert spec_in_words(spec) == spec


@pytest.mark.parametrize(("spec", "zone"), [
    ("0 0 L * *", "UTC"),  # the dialect has no L, W or #
    ("0 0 ? * 1#2", "UTC"),
    ("0 0 31 2 *", "UTC"),  # never fires
    ("61 * * * *", "UTC"),
    ("0 9 * * *", "Mars/Olympus"),
    ("@every 0s", "UTC"),
    ("", "UTC"),
])
def test_a_spec_the_engine_refuses_reads_as_written(spec: str, zone: str) -> None:
    assert spec_in_words(spec, zone) == spec


def test_blanks_are_collapsed() -> None:
    assert spec_in_words("  */15   *  * * *  ") == "every 15 minutes"
    assert spec_in_words(" 0 0  L * * ") == "0 0 L * *"


# -- properties -------------------------------------------------------------------------------


def _item(low: int, high: int, names: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    value = st.integers(low, high).map(str)
    if names:
        value = st.one_of(value, st.sampled_from(names), st.sampled_from(names).map(str.lower))
    step = st.integers(1, high - low).map(str)
    return st.one_of(
        value,
        st.tuples(value, value).map("-".join),
        st.tuples(value, value, step).map(lambda t: f"{t[0]}-{t[1]}/{t[2]}"),
        st.tuples(value, step).map("/".join),
        st.sampled_from(["*", "?"]),
        step.map(lambda k: f"*/{k}"),
        st.just("H"),
        st.tuples(value, value).map(lambda ab: f"H({ab[0]}-{ab[1]})"),
        step.map(lambda k: f"H/{k}"),
        st.tuples(value, value, step).map(lambda t: f"H({t[0]}-{t[1]})/{t[2]}"),
    )


def _field(low: int, high: int, names: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    return st.lists(_item(low, high, names), min_size=1, max_size=3).map(",".join)


MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
STAR_MOSTLY = st.just("*")  # drawn often: most real specs leave the day fields open


@st.composite
def cron_specs(draw: st.DrawFn) -> str:
    fields = [
        draw(_field(0, 59)),
        draw(st.one_of(STAR_MOSTLY, _field(0, 23))),
        draw(st.one_of(STAR_MOSTLY, _field(1, 31))),
        draw(st.one_of(STAR_MOSTLY, _field(1, 12, MONTHS))),
        draw(st.one_of(STAR_MOSTLY, _field(0, 7, DAYS))),
    ]
    if draw(st.booleans()):
        fields.insert(0, draw(st.one_of(st.just("0"), _field(0, 59))))
    return " ".join(fields)


DURATIONS = st.one_of(
    st.integers(1, 200_000).map(lambda s: f"{s}s"),
    st.integers(1, 3000).map(lambda m: f"{m}m"),
    st.tuples(st.integers(0, 48), st.integers(0, 59)).map(lambda hm: f"{hm[0]}h{hm[1]}m"),
    st.sampled_from(["1.5h", "1500ms", "0.5s"]),
)
EVERY = st.tuples(DURATIONS, st.booleans()).map(lambda d: f"@every {d[0]}" + (" H" if d[1] else ""))
MACROS = st.sampled_from(["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"])
ZONES = st.sampled_from(["UTC", "Europe/London", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe"])


@st.composite
def at_specs(draw: st.DrawFn) -> str:
    year, month, day = draw(st.integers(1970, 9998)), draw(st.integers(1, 12)), draw(st.integers(1, 28))
    hour, minute, second = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    offset = draw(st.sampled_from(["Z", "+01:00", "-05:30"]))
    return f"@at {year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{offset}"


SPECS = st.one_of(cron_specs(), cron_specs(), EVERY, MACROS, at_specs(), st.just("@at now"))


def _accepted(spec: str, zone: str) -> bool:
    try:
        for variant in spec_variants(spec, 0):
            parse(variant.spec, zone)
    except ScheduleError:
        return False
    return True


@settings(max_examples=600, deadline=None)
@given(SPECS, ZONES)
def test_every_spec_the_engine_accepts_gets_a_phrase(spec: str, zone: str) -> None:
    assume(_accepted(spec, zone))
    words = spec_in_words(spec, zone)
    assert words.strip() and words == words.strip()


@settings(max_examples=300, deadline=None)
@given(SPECS, ZONES)
def test_words_never_raise_even_for_refused_specs(spec: str, zone: str) -> None:
    words = spec_in_words(spec, zone)
    assert isinstance(words, str)
    if not _accepted(spec, zone):
        assert words == " ".join(spec.split())


_PLAIN_INTERVAL = re.compile(r"every (\d+ )?(second|minute)s?( from (second|minute) \d+)?")


DIVISORS = st.sampled_from([1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30])
STEPS = st.one_of(st.just("*"), DIVISORS.map(lambda k: f"*/{k}"),
                  DIVISORS.flatmap(lambda k: st.integers(0, k - 1).map(lambda a: f"{a}/{k}")))
INTERVAL_SPECS = st.one_of(STEPS.map(lambda m: f"{m} * * * *"),
                           STEPS.map(lambda s: f"{s} * * * * *"))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(INTERVAL_SPECS)
def test_a_plain_interval_is_what_the_engine_fires(spec: str) -> None:
    """`every 15 minutes` (from minute 5) and nothing else: the engine's fires are 15 minutes apart."""
    assume(_accepted(spec, "UTC"))
    match = _PLAIN_INTERVAL.fullmatch(spec_in_words(spec))
    assume(match is not None)
    assert match is not None
    step = int(match[1] or 1) * (60 if match[2] == "minute" else 1)
    times = parse(spec).between(1_780_000_000, 1_780_000_000 + 3 * 3600, limit=500)
    assert len(times) > 1
    assert {b - a for a, b in zip(times, times[1:], strict=False)} == {step}
