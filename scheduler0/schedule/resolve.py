"""What a job's spec means for that job: its `H` values (hashed.py) and its `@at now` (at.py)
resolved, given the job's id and the second it is created or changed. Pure: `now` is an
argument.

The store resolves a job's spec when it applies the command that creates or changes it (the
only place the job's id is known); the job keeps the spec as written and points at the shared
schedule row of the resolved one. The API checks a spec before any id exists, with
`spec_variants`.
"""

from __future__ import annotations

from typing import NamedTuple

from scheduler0.schedule.at import at_spec, is_at_now
from scheduler0.schedule.hashed import has_hash, hash_extremes, phase_interval, resolve_hash


class ResolvedSpec(NamedTuple):
    spec: str  # concrete: what the engine parses (no H, no "now")
    anchor_shift: int  # seconds an @every job's anchor moves by (its H), else 0


def _shifted(spec: str, concrete: str, phase: int) -> ResolvedSpec:
    """An `@every <d> H` job runs at anchor + phase + k * interval for k >= 0 (after its
    creation second): its first run falls within its first period, as a job's without H ends
    it. The engine counts k >= 1, so the anchor moves by phase - interval."""
    interval = phase_interval(spec)
    return ResolvedSpec(concrete, phase - interval if interval else 0)


def depends_on_job(spec: str) -> bool:
    """True when the spec means something else for each job (it holds an H)."""
    return has_hash(spec)


def resolve_job_spec(spec: str, job_id: int, now: int) -> ResolvedSpec:
    """The concrete spec of job `job_id` written `spec`, created or changed at `now` (epoch
    s). Raises ScheduleError for a malformed H."""
    if is_at_now(spec):
        return ResolvedSpec(at_spec(now + 1), 0)
    return _shifted(spec, *resolve_hash(spec, job_id))


def job_spec_text(spec: str, resolved: ResolvedSpec) -> str:
    """The spec as the job keeps and shows it: as written (blanks collapsed), H included;
    only `@at now`, which would mean another instant at every reading, becomes its instant."""
    return resolved.spec if is_at_now(spec) else " ".join(spec.split())


def spec_variants(spec: str, now: int) -> tuple[ResolvedSpec, ...]:
    """The concrete specs to check `spec` with before its job has an id: the one it resolves
    to, or, with H, the lowest and the highest value of every H (the day-of-month and end
    date checks fail, when they fail for some job, at the highest or the lowest)."""
    if is_at_now(spec):
        return (ResolvedSpec(at_spec(now + 1), 0),)
    if not has_hash(spec):
        return (ResolvedSpec(" ".join(spec.split()), 0),)
    low, high = hash_extremes(spec)
    return _shifted(spec, *low), _shifted(spec, *high)
