"""The pure schedule engine: cron dialect, fire times, daylight saving, misfires, grouping.

No I/O, no clock, no threads: every function takes `now` / `after` as an argument. Instants
are integer epoch seconds (UTC) throughout.

    fields.py    parse and validate the cron dialect (the README's Cron specs) into expanded field sets
    every.py     @every <duration>, anchored elapsed time
    zones.py     IANA zone validation; each zone's offset as constant-offset segments
    cron.py      the wall-clock walk and the DST rule (fixed-time vs wildcard specs)
    schedule.py  Schedule, parse, next_fire, preview
    at.py        @at <instant>, the one-off schedule
    hashed.py    H: per-job values derived from the job id (Jenkins's notation)
    resolve.py   a job's spec for that job: H and @at now resolved from its id and `now`
    misfire.py   decide_misfires and the three policies
    grouping.py  ScheduleCache and group_next_fires (evaluate once per distinct schedule)
    timefmt.py   RFC 3339 output, instant parsing
    planning.py  which ticks are due, misfire decisions, the batches: the planner's pure core

The user-facing description of the daylight-saving rule is the README's "Daylight saving time".

The DST rule in short (cron.py has it exactly): a FIXED-TIME spec (no `*`, `?` or `/` in its
second, minute and hour fields) fires at the first instant the zone's clock reads the
scheduled time or later: once in a repeated hour, at the jump in a skipped one. Any other
spec fires whenever the clock reads a matching time: twice in a repeated hour, never in a
skipped one. @every is elapsed time: anchor + k * interval.
"""

from scheduler0.schedule.at import at_spec, is_at
from scheduler0.schedule.grouping import ScheduleCache, group_next_fires
from scheduler0.schedule.hashed import has_hash, job_hash
from scheduler0.schedule.misfire import MisfireDecision, decide_misfires
from scheduler0.schedule.resolve import (
    ResolvedSpec,
    depends_on_job,
    job_spec_text,
    resolve_job_spec,
    spec_variants,
)
from scheduler0.schedule.schedule import PREVIEW_MAX, Schedule, next_fire, parse, preview
from scheduler0.schedule.timefmt import (
    format_local,
    format_rfc3339_utc,
    format_rfc3339_utc_ms,
    parse_instant,
)
from scheduler0.schedule.zones import MAX_EPOCH, MIN_EPOCH, validate_timezone
from scheduler0.vocabulary import MISFIRE_POLICIES

__all__ = [
    "MAX_EPOCH",
    "MIN_EPOCH",
    "MISFIRE_POLICIES",
    "PREVIEW_MAX",
    "MisfireDecision",
    "ResolvedSpec",
    "Schedule",
    "ScheduleCache",
    "at_spec",
    "decide_misfires",
    "depends_on_job",
    "format_local",
    "format_rfc3339_utc",
    "format_rfc3339_utc_ms",
    "group_next_fires",
    "has_hash",
    "is_at",
    "job_hash",
    "job_spec_text",
    "next_fire",
    "parse",
    "parse_instant",
    "preview",
    "resolve_job_spec",
    "spec_variants",
    "validate_timezone",
]
