"""@at: the one-off schedule, its resolution from "now", and how the planner's core plans it
(once, then no fire time left)."""

from __future__ import annotations

import pytest

from scheduler0.errors import ScheduleError
from scheduler0.schedule import ScheduleCache, job_spec_text, parse, planning, resolve_job_spec

T = 1_800_000_000  # 2027-01-15T08:00:00Z


def test_an_at_spec_fires_once_at_its_instant_whatever_its_offset():
    one_off = parse("@at 2027-01-15T09:00:00+01:00", "Europe/Berlin")
    assert (one_off.spec, one_off.kind) == ("@at 2027-01-15T08:00:00Z", "at")
    assert one_off.next_or_none(T - 10) == T
    assert one_off.next_or_none(T) is None
    assert one_off.between(0, T + 10**6) == [T]
    assert parse("@at 2027-01-15T08:00:00Z") == parse("@AT  2027-01-15T08:00:00z")


@pytest.mark.parametrize(("spec", "message"), [
    ("@at 2027-01-15T08:00:00", "with a UTC offset"),
    ("@at 1800000000", "with a UTC offset"),
    ("@at", 'must be "@at" and one RFC 3339 instant'),
    ("@at 2027-01-15T08:00:00Z H", 'must be "@at" and one RFC 3339 instant'),
    ("@at 2027-02-30T08:00:00Z", "is not a time"),
    ("@at now", '"now" is resolved when a job is created'),
])
def test_a_bad_at_spec_names_the_instant_and_the_fix(spec, message):
    with pytest.raises(ScheduleError) as caught:
        parse(spec)
    assert caught.value.message.startswith("@at instant: ") and message in caught.value.message


def test_at_now_resolves_to_the_second_after_the_job_is_created():
    resolved = resolve_job_spec("@at  NOW", 5, T)
    assert resolved == ("@at 2027-01-15T08:00:01Z", 0)
    assert job_spec_text("@at  NOW", resolved) == "@at 2027-01-15T08:00:01Z"
    # Anything else is kept as written: only "now" would mean another instant later.
    written = "@at 2027-01-15T09:00:00+01:00"
    assert job_spec_text(written, resolve_job_spec(written, 5, T)) == written


def _job(job_id):
    return planning.PlannedJob(job_id, 1, "http://127.0.0.1:9/hook", "", None, None,
                               "run_once", "@at 2027-01-15T08:00:00Z", "UTC", T - 100)


def _plan(next_fire_at, now):
    due = planning.DueSchedule(3, "@at 2027-01-15T08:00:00Z", "UTC", 17, next_fire_at)
    return planning.plan_due(ScheduleCache(), [(due, [_job(1), _job(2)])], now, now + 5, 60, 100)


def test_the_planner_fires_a_one_off_once_and_leaves_it_no_next_fire_time():
    plan = _plan(T, now=T - 2)
    assert {tick: [j.id for j in jobs] for tick, jobs in plan.fires.items()} == {T: [1, 2]}
    assert plan.advances == [(3, None, T)]


def test_a_one_off_missed_while_the_cluster_was_down_follows_the_misfire_policy():
    plan = _plan(T, now=T + 600)
    assert list(plan.fires) == [T] and plan.advances == [(3, None, T)]  # run_once: the latest
