"""`H`, Jenkins's notation: a per-job value derived from the job id, so that jobs written with
the same spec spread over their period instead of all firing in the same second.

In any cron field (`H * * * *`, `H(0-29) 9 * * *`, `H/15 * * * *`), as a list item:

    H          one value of the field's range (day-of-month: 1-28, which every month has)
    H(a-b)     one value of a-b
    H/n        every n through the field's range, starting at a per-job value among its first n
    H(a-b)/n   every n through a-b, starting at a per-job value among its first n

and after an @every duration (`@every 1m H`): a per-job phase of 0 .. interval-1 seconds
(resolve.py turns it into the shift of the job's anchor).

A job's values are a function of its id alone: BLAKE2b of the id's digits (Python's hash() is
randomised per process), one 64-bit draw per H, so every node resolves a job's spec to the
same concrete spec, before and after a restart. Resolution keeps a field's daylight-saving
class (cron.py): `H` and `H(a-b)` become a number, as a fixed-time field holds; `H/n` becomes
`start-high/n`, a step like `*/n`. Pure: no I/O, no clock.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from scheduler0.errors import ScheduleError
from scheduler0.schedule.every import parse_duration
from scheduler0.schedule.fields import (
    DAY_OF_MONTH,
    DAY_OF_WEEK,
    FIELD_COUNT_HINT,
    HOUR,
    MINUTE,
    MONTH,
    SECOND,
    FieldSpec,
    field_step,
    field_value,
)

_MASK = (1 << 64) - 1
_H_ITEM = re.compile(r"H(?:\((?P<low>[^()]*)-(?P<high>[^()]*)\))?(?:/(?P<step>.*))?")
_H_FORMS = "H, H(a-b), H/n or H(a-b)/n"
# A plain H in the day-of-month field stays within the days every month has.
_PLAIN_H_HIGH = {DAY_OF_MONTH.name: 28, DAY_OF_WEEK.name: 6}
_SIX_FIELDS = (SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK)

# (slot, size) -> a value in range(size): which of `size` values the H in `slot` takes.
Chooser = Callable[[int, int], int]


def job_hash(job_id: int) -> int:
    """A 64-bit value of the job id, the same in every process and on every node."""
    digest = hashlib.blake2b(str(job_id).encode(), digest_size=8, person=b"scheduler0-H")
    return int.from_bytes(digest.digest(), "big")


def draw(seed: int, slot: int) -> int:
    """The `slot`-th 64-bit draw from `seed` (splitmix64), so the H of each field of a spec
    gets its own value: one draw for all would tie `H H * * *`'s minute to its hour."""
    z = (seed + (slot + 1) * 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def has_hash(spec: str) -> bool:
    """True when `spec` holds an H, so that what it means depends on the job's id."""
    words = spec.split()
    if not words or words[0].startswith("@"):
        return len(words) == 3 and words[0].lower() == "@every" and words[2] == "H"
    return any(item[:1] == "H" for word in words for item in word.split(","))


def resolve_hash(spec: str, job_id: int) -> tuple[str, int]:
    """(the concrete spec, the @every phase in seconds) of `spec` for job `job_id`.

    A spec without H comes back as it is (blanks collapsed), with phase 0. Raises
    ScheduleError naming the field for a malformed H.
    """
    seed = job_hash(job_id)
    return compile_hashed(spec).render(lambda slot, size: draw(seed, slot) % size)


def phase_interval(spec: str) -> int:
    """The @every interval a spec's trailing H picks a phase within; 0 without one."""
    return compile_hashed(spec).phase_size


def hash_extremes(spec: str) -> tuple[tuple[str, int], tuple[str, int]]:
    """The concrete specs (and phases) when every H takes its lowest and its highest value:
    what a spec is checked with before its job has an id."""
    template = compile_hashed(spec)
    return (template.render(lambda slot, size: 0),
            template.render(lambda slot, size: size - 1))


@dataclass(frozen=True)
class _Choice:
    """One H: `low + i` for a chosen i < size, followed by `tail` (`-high/n` for a step)."""

    low: int
    size: int
    tail: str


@dataclass(frozen=True)
class HashedSpec:
    """A spec with its H items found and checked once; `render` picks their values."""

    pieces: tuple[str | _Choice, ...]
    phase_size: int  # the @every interval when the spec ends in H, else 0

    def render(self, choose: Chooser) -> tuple[str, int]:
        out: list[str] = []
        slot = 0
        for piece in self.pieces:
            if isinstance(piece, str):
                out.append(piece)
            else:
                out.append(f"{piece.low + choose(slot, piece.size)}{piece.tail}")
                slot += 1
        phase = choose(slot, self.phase_size) if self.phase_size else 0
        return "".join(out), phase


@functools.lru_cache(maxsize=4096)
def compile_hashed(spec: str) -> HashedSpec:
    """`spec` split into literal text and H choices; raises ScheduleError for a malformed H."""
    words = spec.split()
    if len(words) == 3 and words[0].lower() == "@every" and words[2] == "H":
        return HashedSpec((f"{words[0]} {words[1]}",), parse_duration(words[1]))
    if not has_hash(spec):
        return HashedSpec((" ".join(words),), 0)
    if len(words) not in (5, 6):
        raise ScheduleError(f'spec "{spec}" has {len(words)} fields; {FIELD_COUNT_HINT}')
    specs = _SIX_FIELDS if len(words) == 6 else _SIX_FIELDS[1:]
    pieces: list[str | _Choice] = []
    for position, (word, field) in enumerate(zip(words, specs, strict=True)):
        if position:
            pieces.append(" ")
        for index, item in enumerate(word.split(",")):
            if index:
                pieces.append(",")
            pieces.append(_choice(item, field) if item[:1] == "H" else item)
    return HashedSpec(tuple(pieces), 0)


def _choice(item: str, field: FieldSpec) -> _Choice:
    match = _H_ITEM.fullmatch(item)
    if match is None:
        raise ScheduleError(f'{field.name}: "{item}" is not {_H_FORMS}')
    step_text = match["step"]
    if match["low"] is not None:
        low, high = field_value(match["low"], field), field_value(match["high"], field)
        if low > high:
            raise ScheduleError(f'{field.name}: range "{match["low"]}-{match["high"]}" in '
                                f'"{item}" is reversed; write the smaller value first')
    else:
        low = field.low
        high = _PLAIN_H_HIGH.get(field.name, field.high) if step_text is None else (
            6 if field is DAY_OF_WEEK else field.high)
    if step_text is None:
        return _Choice(low, high - low + 1, "")
    step = field_step(step_text, item, field)
    # The start is among the first `step` values, and never past the range's end.
    return _Choice(low, min(step, high - low + 1), f"-{high}/{step}")
