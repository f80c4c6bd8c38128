"""IANA time zones: validation, and each zone's UTC offset as constant-offset segments.

The fire-time walk (cron.py) needs, for an instant t, the segment [start, end) of constant UTC
offset that holds t, and the offset just before `start` (to see a spring-forward gap or a
fall-back repeat at `start`). zoneinfo answers "offset at t" but does not list transitions, so
each zone's transitions are found once per ~1-year chunk of UTC time, by sampling the offset
daily and bisecting to the second where it changes, then memoised. This is a pure function of
the tz database, cached like zoneinfo caches its own files. Limit (documented in the README): two
transitions less than a day apart that restore the same offset would go unseen; the tz
database has none in the supported range.
"""

from __future__ import annotations

import zoneinfo
from bisect import bisect_right
from datetime import UTC, datetime, timedelta, tzinfo

from scheduler0.errors import ScheduleError

MIN_EPOCH = int(datetime(1900, 1, 1, tzinfo=UTC).timestamp())
# Two days short of year 10000 so that every zone's wall clock stays inside `datetime`'s range.
MAX_EPOCH = int(datetime(9999, 12, 30, tzinfo=UTC).timestamp())

CHUNK = 365 * 86400
LOOKBACK = 86400  # a chunk also keeps the transitions of the day before it (see segment())
_SECOND = timedelta(seconds=1)
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})  # machine-dependent or placeholders
_UTC_KEYS = frozenset(
    {
        "UTC",
        "Etc/UTC",
        "Etc/UCT",
        "UCT",
        "Etc/Universal",
        "Universal",
        "Etc/Zulu",
        "Zulu",
        "GMT",
        "Etc/GMT",
        "Etc/GMT0",
        "GMT0",
        "Etc/GMT+0",
        "Etc/GMT-0",
        "GMT+0",
        "GMT-0",
        "Etc/Greenwich",
        "Greenwich",
    }
)
_folded: dict[str, str] = {}  # lower-case key -> canonical key, built on the first miss


def validate_timezone(name: str) -> str:
    """The canonical IANA key for `name` (case-insensitive); raises ScheduleError (field "timezone")."""
    if isinstance(name, str):
        key = name.strip()
        if _loads(key):
            return key
        if not _folded:
            _folded.update({k.lower(): k for k in zoneinfo.available_timezones() if k not in _NOT_ZONES})
        if key.lower() in _folded:
            return _folded[key.lower()]
    raise ScheduleError(f'timezone: "{name}" is not an IANA time zone; use e.g. "UTC" or "America/New_York"')


def _loads(key: str) -> bool:
    if key in _NOT_ZONES or not key:
        return False
    try:
        zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def get_zone(key: str) -> tzinfo:
    """The tzinfo of a key already returned by validate_timezone."""
    return zoneinfo.ZoneInfo(key)


class ZoneTimeline:
    """A zone's UTC offset as segments of constant offset, loaded lazily by chunk."""

    __slots__ = ("zone", "_chunks")

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self._chunks: dict[int, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], int, int]] = {}

    def offset(self, t: int) -> int:
        """Seconds to add to UTC instant t to read the zone's wall clock."""
        offset = datetime.fromtimestamp(t, self.zone).utcoffset()
        assert offset is not None  # a ZoneInfo always has one
        return offset // _SECOND

    def segment(self, t: int) -> tuple[int, int, int, int]:
        """(start, end, offset, offset before start) with start <= t < end and a constant offset.

        `start` is a real transition when the two offsets differ. Otherwise it may be an
        arbitrary cut, but then no transition happened in the day before t, which is all the
        DST rule needs to know (no offset drop in the tz database exceeds a day).
        """
        k = t // CHUNK
        chunk = self._chunks.get(k)
        if chunk is None:
            chunk = self._load(k)
        starts, befores, afters, first, chunk_start = chunk
        i = bisect_right(starts, t)
        end = starts[i] if i < len(starts) else chunk_start + CHUNK
        if i:
            return starts[i - 1], end, afters[i - 1], befores[i - 1]
        return chunk_start - LOOKBACK, end, first, first

    def _load(self, k: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], int, int]:
        chunk_start = k * CHUNK
        found: list[tuple[int, int, int]] = []
        x = chunk_start - LOOKBACK
        first = offset = self.offset(x)
        # datetime ends with the year 9999: past MAX_EPOCH + 1 day the offset counts as constant
        last = min(chunk_start + CHUNK - 1, MAX_EPOCH + 86400)
        while x < last:
            y = min(x + 86400, last)
            y_offset = self.offset(y)
            if y_offset != offset:
                self._find(x, offset, y, y_offset, found)
            x, offset = y, y_offset
        chunk = (
            tuple(f[0] for f in found),
            tuple(f[1] for f in found),
            tuple(f[2] for f in found),
            first,
            chunk_start,
        )
        self._chunks[k] = chunk
        return chunk

    def _find(
        self, lo: int, lo_offset: int, hi: int, hi_offset: int, out: list[tuple[int, int, int]]
    ) -> None:
        """Append the transitions in (lo, hi]; offsets differ at lo and hi."""
        while lo_offset != hi_offset:
            a, b = lo, hi  # invariant: offset(a) == lo_offset != offset(b)
            while b - a > 1:
                mid = (a + b) // 2
                if self.offset(mid) == lo_offset:
                    a = mid
                else:
                    b = mid
            new_offset = self.offset(b)
            out.append((b, lo_offset, new_offset))
            lo, lo_offset = b, new_offset


class FixedTimeline(ZoneTimeline):
    """UTC and the Etc/ zones: one offset for all time, no table to build."""

    __slots__ = ("_offset",)

    def __init__(self, zone: tzinfo) -> None:
        super().__init__(zone)
        self._offset = super().offset(0)

    def offset(self, t: int) -> int:
        return self._offset

    def segment(self, t: int) -> tuple[int, int, int, int]:
        return MIN_EPOCH - LOOKBACK, MAX_EPOCH + CHUNK, self._offset, self._offset


_timelines: dict[str, ZoneTimeline] = {}


def timeline(key: str) -> ZoneTimeline:
    """The memoised timeline of a validated zone key."""
    line = _timelines.get(key)
    if line is None:
        zone = get_zone(key)
        fixed = key in _UTC_KEYS or key.startswith("Etc/")
        line = _timelines[key] = FixedTimeline(zone) if fixed else ZoneTimeline(zone)
    return line
