"""H (a per-job value from the job id) and its resolution: stable, spread, within its range,
keeping each field's daylight-saving class, refused with the field named when malformed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest

from scheduler0.errors import ScheduleError
from scheduler0.schedule import parse, resolve_job_spec, spec_variants
from scheduler0.schedule.fields import parse_cron
from scheduler0.schedule.hashed import draw, has_hash, hash_extremes, job_hash, resolve_hash

IDS = range(1, 10_001)


def test_the_hash_is_a_fixed_function_of_the_id():
    # Written down once: a change here would move every job's H on upgrade.
    assert job_hash(1) == 14738899725964844025
    assert job_hash(42) == 17460706999981281142
    assert resolve_hash("H * * * *", 1) == ("43 * * * *", 0)
    assert resolve_hash("@every 1m H", 1) == ("@every 1m", 43)


def test_the_hash_does_not_depend_on_the_process_hash_seed():
    code = ("from scheduler0.schedule.hashed import resolve_hash;"
            "print(resolve_hash('H H * * *', 7), resolve_hash('@every 1h H', 7))")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}, check=True).stdout
               for seed in ("1", "2", "random")}
    assert outputs == {f"{resolve_hash('H H * * *', 7)} {resolve_hash('@every 1h H', 7)}\n"}


def test_plain_h_spreads_over_the_field_and_stays_in_range():
    minutes = Counter(int(resolve_hash("H * * * *", i)[0].split()[0]) for i in IDS)
    assert set(minutes) == set(range(60))
    assert max(minutes.values()) < 2 * len(IDS) / 60  # no minute gets twice its share
    days = {int(resolve_hash("0 0 H * *", i)[0].split()[2]) for i in IDS}
    assert days == set(range(1, 29))  # every month has the day
    weekdays = {int(resolve_hash("0 0 * * H", i)[0].split()[4]) for i in IDS}
    assert weekdays == set(range(7))


def test_each_h_of_a_spec_draws_its_own_value():
    pairs = {tuple(resolve_hash("H H * * *", i)[0].split()[:2]) for i in IDS}
    # Of the 1440 (minute, hour) pairs nearly all occur; one draw for both (minute = v % 60,
    # hour = v % 24) could give only 120.
    assert len(pairs) > 1400
    assert draw(5, 0) != draw(5, 1)


def test_a_range_bounds_the_value():
    values = {int(resolve_hash("H(0-29) 9 * * *", i)[0].split()[0]) for i in IDS}
    assert values == set(range(30))
    assert {resolve_hash("0 0 * * H(MON-FRI)", i)[0] for i in IDS} == {
        f"0 0 * * {d}" for d in range(1, 6)}


def test_a_step_starts_at_a_per_job_offset_within_the_step():
    specs = {resolve_hash("H/15 * * * *", i)[0] for i in IDS}
    assert specs == {f"{start}-59/15 * * * *" for start in range(15)}
    ranged = {resolve_hash("H(10-40)/20 * * * *", i)[0] for i in IDS}
    assert ranged == {f"{start}-40/20 * * * *" for start in range(10, 30)}
    # A step wider than the range starts inside it, so the field always matches something.
    assert {resolve_hash("H(0-5)/10 * * * *", i)[0].split("-")[0] for i in IDS} == {
        str(start) for start in range(6)}


def test_resolution_keeps_the_dst_class_of_each_field():
    assert parse_cron(resolve_hash("H 2 * * *", 3)[0]).fixed_time  # like "30 2 * * *"
    assert parse_cron(resolve_hash("H(0-29) 2 * * *", 3)[0]).fixed_time
    assert not parse_cron(resolve_hash("H/30 2 * * *", 3)[0]).fixed_time  # like "*/30 2 * * *"


def test_every_h_is_a_phase_within_the_interval():
    phases = Counter(resolve_hash("@every 1m H", i)[1] for i in IDS)
    assert set(phases) == set(range(60))
    assert {resolve_hash("@every 90s H", i)[1] for i in IDS} == set(range(90))
    assert resolve_hash("@every 1s H", 9) == ("@every 1s", 0)


def test_fire_times_of_jobs_with_one_spec_spread_over_the_period():
    now = 1_800_000_000
    firsts = Counter()
    for job_id in IDS:
        spec, shift = resolve_job_spec("@every 1m H", job_id, now)
        first = parse(spec, "UTC", now + shift).next_after(now)
        assert now < first <= now + 60  # within the first period, as without H
        assert first == now + (resolve_hash("@every 1m H", job_id)[1] or 60)
        firsts[first % 60] += 1
    assert len(firsts) == 60 and max(firsts.values()) < 2 * len(IDS) / 60


def test_a_spec_without_h_is_left_as_written():
    assert not has_hash("*/5 * * * MON-THU") and not has_hash("@hourly")
    assert resolve_hash("*/5  *  * * MON-THU", 3) == ("*/5 * * * MON-THU", 0)
    assert resolve_hash("@every 1H", 3) == ("@every 1H", 0)  # an hour, not a phase


def test_extremes_take_every_h_at_its_lowest_and_highest():
    assert hash_extremes("H(10-20) H/6 * * *") == (("10 0-23/6 * * *", 0),
                                                  ("20 5-23/6 * * *", 0))
    assert hash_extremes("@every 2m H") == (("@every 2m", 0), ("@every 2m", 119))
    assert spec_variants("H * * * *", 0) == (("0 * * * *", 0), ("59 * * * *", 0))
    assert spec_variants("*/5  * * * *", 0) == (("*/5 * * * *", 0),)
    # An @every phase becomes the shift of the anchor: phase - interval.
    assert spec_variants("@every 2m H", 0) == (("@every 2m", -120), ("@every 2m", -1))


@pytest.mark.parametrize(("spec", "message"), [
    ("H(5) * * * *", 'minute field: "H(5)" is not H, H(a-b), H/n or H(a-b)/n'),
    ("H(1-2 * * * *", 'minute field: "H(1-2" is not H, H(a-b), H/n or H(a-b)/n'),
    ("0 H(20-10) * * *", 'hour field: range "20-10" in "H(20-10)" is reversed'),
    ("0 H(0-24) * * *", "hour field: 24 is out of range 0-23"),
    ("H/0 * * * *", 'minute field: step 0 in "H/0" is out of range 1-59'),
    ("0 0 H(X-Y) * *", 'day-of-month field: "X" is not a number'),
    ("H * * *", 'spec "H * * *" has 4 fields'),
    ("@every 0s H", '@every duration: "0s" is below the minimum of 1s'),
])
def test_a_malformed_h_names_the_field(spec, message):
    with pytest.raises(ScheduleError) as caught:
        resolve_hash(spec, 1)
    assert message in caught.value.message


def test_the_engine_refuses_an_unresolved_h_and_says_why():
    for spec in ("H * * * *", "@every 1m H"):
        with pytest.raises(ScheduleError, match="only a job's spec may hold it"):
            parse(spec)
