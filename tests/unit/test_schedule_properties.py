"""Property tests: the engine against a brute-force reference that reads the clock step by step.

The reference is independent of the engine's parser and walk: field sets come from
croniter.expand, the day AND/OR rule and the DST class from the spec's raw text, and the wall
clock from zoneinfo at every minute (5 fields) or second (6 fields) of the window. It encodes
the documented DST rule directly: a wildcard spec fires when the clock reads a matching time;
a fixed-time spec fires at the first instant the clock reaches (or passes) a matching time.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler0.schedule import group_next_fires, parse

_EPOCH = datetime(1970, 1, 1)  # noqa: DTZ001  # naive: the origin of wall-clock readings
_ONE_VALUE_RANGE = re.compile(r"(?<!\d)(\d+)-\1(?:/\d+)?(?!\d)")

# Zones and instants near which to look (their 2026 transitions; Kathmandu's +05:45 gap of 1986).
ZONES = {
    "America/New_York": [1772953200, 1793512800],
    "Europe/London": [1774746000, 1792890000],
    "Australia/Lord_Howe": [1775314800, 1791041400],
    "Australia/Sydney": [1775318400, 1791043200],
    "America/Santiago": [1775358000, 1788667200],
    "Asia/Kathmandu": [504901800, 1780000000],
    "UTC": [1772953200],
}


def _field(low: int, high: int, step_max: int) -> st.SearchStrategy[str]:
    value = st.integers(low, high)
    step = st.integers(1, step_max)
    item = st.one_of(
        value.map(str),
        st.tuples(value, value).map(lambda ab: f"{min(ab)}-{max(ab)}"),
        st.tuples(value, value, step).map(lambda abk: f"{min(abk[:2])}-{max(abk[:2])}/{abk[2]}"),
        st.tuples(st.integers(low, min(high, low + step_max)), step).map(lambda vk: f"{vk[0]}/{vk[1]}"),
    )
    star = st.one_of(st.sampled_from(["*", "?"]), step.map(lambda k: f"*/{k}"))
    return st.one_of(star, st.lists(item, min_size=1, max_size=3).map(",".join))


def _fixed(low: int, high: int) -> st.SearchStrategy[str]:
    """Numbers and ranges only: the fields of a fixed-time spec."""
    value = st.integers(low, high)
    item = st.one_of(value.map(str), st.tuples(value, value).map(lambda ab: f"{min(ab)}-{max(ab)}"))
    return st.lists(item, min_size=1, max_size=3).map(",".join)


SECONDS = st.one_of(st.just("0"), _fixed(0, 59), _field(0, 59, 59))
MINUTES = st.one_of(_fixed(0, 59), _field(0, 59, 59))
HOURS = st.one_of(_fixed(0, 23), _fixed(0, 4), _field(0, 23, 23))
DAYS = st.one_of(st.just("*"), st.just("*"), _field(1, 31, 30))
MONTHS = st.one_of(
    st.just("*"), st.just("*"), _field(1, 12, 11), st.sampled_from(["JAN-JUN", "mar,Apr,SEP,oct,nov", "*/2"])
)
WEEKDAYS = st.one_of(st.just("*"), _field(0, 7, 6), st.sampled_from(["MON-FRI", "sun,SAT", "0,7", "7"]))


@st.composite
def cron_specs(draw: st.DrawFn, six: bool) -> str:
    fields = [draw(MINUTES), draw(HOURS), draw(DAYS), draw(MONTHS), draw(WEEKDAYS)]
    if six:
        fields.insert(0, draw(SECONDS))
    return " ".join(fields)


class Reference:
    """Brute-force matcher and fire-time generator for one spec in one zone."""

    def __init__(self, spec: str, zone: str) -> None:
        words = spec.split()
        self.six = len(words) == 6
        # croniter takes `?` only in the day fields (the dialect: anywhere, as `*`), and croniter
        # 7.0.0 reads a one-value range `a-a` (or `a-a/k`) as `*`: hand it plain `a` instead.
        text = _ONE_VALUE_RANGE.sub(r"\1", spec.replace("?", "*"))
        expanded = croniter.expand(text, second_at_beginning=self.six)[0]
        expanded = [expanded[5], *expanded[:5]] if self.six else [[0], *expanded]
        raw = words if self.six else ["0", *words]
        full = [range(60), range(60), range(24), range(1, 32), range(1, 13), range(7)]
        self.sets = [set(full[i]) if f == ["*"] else {int(x) for x in f} for i, f in enumerate(expanded)]
        self.sets[5] = {d % 7 for d in self.sets[5]}
        self.day_and = raw[3][0] in "*?" or raw[5][0] in "*?"
        self.fixed = not any(c in "*?/" for c in raw[0] + raw[1] + raw[2])
        self.zone = ZoneInfo(zone)

    def wall(self, t: int) -> int:
        local = datetime.fromtimestamp(t, self.zone).replace(tzinfo=None)
        return (local - _EPOCH) // timedelta(seconds=1)

    def matches(self, wall: int) -> bool:
        d = _EPOCH + timedelta(seconds=wall)
        sec, minute, hour, dom, month, dow = self.sets
        if d.second not in sec or d.minute not in minute or d.hour not in hour or d.month not in month:
            return False
        in_dom, in_dow = d.day in dom, d.isoweekday() % 7 in dow
        return (in_dom and in_dow) if self.day_and else (in_dom or in_dow)

    def fires(self, start: int, end: int) -> list[int]:
        """Fire instants t with start < t <= end, by reading the clock at every step."""
        step = 1 if self.six else 60
        origin = (start - 7200) // step * step  # begin early so the high-water mark is right
        high = self.wall(origin)  # the highest wall-clock reading so far
        fires = []
        for t in range(origin + step, end + 1, step):
            wall = self.wall(t)
            if self.fixed:
                due = wall > high and any(self.matches(w) for w in range(high + step, wall + 1, step))
            else:
                due = self.matches(wall)
            high = max(high, wall)
            if due and t > start:
                fires.append(t)
        return fires


@st.composite
def windows(draw: st.DrawFn, seconds: int) -> tuple[str, int, int]:
    zone = draw(st.sampled_from(sorted(ZONES)))
    around = draw(st.sampled_from(ZONES[zone]))
    start = around + draw(st.integers(-seconds, seconds // 2))
    return zone, start, start + seconds


def _check(spec: str, zone: str, start: int, end: int) -> None:
    schedule = parse(spec, zone)
    reference = Reference(spec, zone)
    times = schedule.between(start, end, limit=100_000)
    assert times == reference.fires(start, end)
    assert all(a < b for a, b in zip(times, times[1:], strict=False))  # strictly increasing, so never twice
    for t in times:
        jumped = schedule.fixed_time and reference.wall(t - 1) + 1 < reference.wall(t)
        assert reference.matches(reference.wall(t)) or jumped  # matches, or is the DST-gap shift
        assert schedule.next_after(t - 1) == t


@settings(max_examples=80, deadline=None)
@given(spec=cron_specs(six=False), window=windows(2 * 86400))
def test_five_field_specs_match_the_reference(spec: str, window: tuple[str, int, int]) -> None:
    _check(spec, *window)


@settings(max_examples=25, deadline=None)
@given(spec=cron_specs(six=True), window=windows(3 * 3600))
def test_six_field_specs_match_the_reference(spec: str, window: tuple[str, int, int]) -> None:
    _check(spec, *window)


@settings(max_examples=40, deadline=None)
@given(
    zone=st.sampled_from(sorted(ZONES)),
    minute=st.integers(0, 59),
    hour=st.integers(0, 3),
    window=windows(3 * 86400),
)
def test_fixed_times_near_transitions_match_the_reference(
    zone: str, minute: int, hour: int, window: tuple[str, int, int]
) -> None:
    """Fixed times in the small hours, where transitions happen, in every zone."""
    _, start, end = window
    _check(f"{minute} {hour},{hour + 1} * * *", zone, start, end)
    _check(f"{minute} * * * *", zone, start, end)


@settings(max_examples=200, deadline=None)
@given(
    interval=st.integers(1, 10**6),
    anchor=st.integers(0, 2 * 10**9),
    after=st.integers(0, 2 * 10**9),
    zone=st.sampled_from(sorted(ZONES)),
)
def test_every_is_anchor_plus_k_intervals(interval: int, anchor: int, after: int, zone: str) -> None:
    t = parse(f"@every {interval}s", zone, anchor).next_after(after)
    k, remainder = divmod(t - anchor, interval)
    assert remainder == 0 and k >= 1 and t > after
    assert k == 1 or t - interval <= after  # the previous tick is not after `after`


@settings(max_examples=30, deadline=None)
@given(
    jobs=st.lists(
        st.tuples(
            st.sampled_from(
                ["*/7 * * * *", "0 2 * * *", "30 1 * * 0", "@hourly", "@every 45m", "15 */10 * * * *"]
            ),
            st.sampled_from(sorted(ZONES)),
            st.sampled_from([None, 1_700_000_000, 1_700_000_123]),
            st.integers(1_770_000_000, 1_800_000_000),
        ),
        max_size=40,
    )
)
def test_grouping_equals_per_job(jobs: list[tuple[str, str, int | None, int]]) -> None:
    items = [(i, *job) for i, job in enumerate(jobs)]
    expected = {i: parse(spec, zone, anchor).next_after(after) for i, spec, zone, anchor, after in items}
    assert group_next_fires(items) == expected
