"""The planner's pure core: ticks, misfires per policy, start/end windows, batches, commands."""

from __future__ import annotations

from scheduler0 import messages
from scheduler0.coordinator.planner import PLAN_COMMAND_ROWS, _pack
from scheduler0.messages.wire import RateLimit
from scheduler0.schedule import ScheduleCache, planning
from scheduler0.vocabulary import execution_id

T0 = 1_800_000_000 - 1_800_000_000 % 60  # a whole minute


def job(job_id, policy="run_once", start=None, end=None, project=1):
    return planning.PlannedJob(job_id, project, f"http://127.0.0.1:9/{job_id}", "d", start, end,
                               policy, "@every 1m", "UTC")


def due(next_fire_at, anchor=T0 - 600):
    return planning.DueSchedule(7, "@every 1m", "UTC", anchor, next_fire_at)


def plan(jobs, next_fire_at, now, horizon=None):
    return planning.plan_due(ScheduleCache(), [(due(next_fire_at), jobs)], now,
                             horizon if horizon is not None else now + 2, 60, 100)


def test_execution_id_depends_only_on_job_and_tick():
    assert execution_id(5, T0) == execution_id(5, T0) == f"5-{T0}"
    assert execution_id(5, T0) != execution_id(5, T0 + 60)


def test_a_tick_within_the_horizon_fires_and_the_schedule_advances():
    p = plan([job(1), job(2)], T0, now=T0 - 1)
    assert sorted(p.fires) == [T0]
    assert [j.id for j in p.fires[T0]] == [1, 2]
    assert p.advances == [(7, T0 + 60, T0)]
    assert p.missed == {}


def test_a_late_tick_under_the_threshold_still_fires():
    p = plan([job(1)], T0, now=T0 + 30)
    assert list(p.fires) == [T0] and p.missed == {}


def test_misfire_policies_after_three_minutes_down():
    now = T0 + 3 * 60 + 5  # ticks T0, T0+60, T0+120, T0+180 are due; three are over 60 s late
    once = plan([job(1, "run_once")], T0, now)
    assert sorted(once.fires) == [T0 + 120, T0 + 180]
    assert sorted(once.missed) == [T0, T0 + 60]
    every = plan([job(1, "run_all")], T0, now)
    assert sorted(every.fires) == [T0, T0 + 60, T0 + 120, T0 + 180] and every.missed == {}
    skip = plan([job(1, "skip")], T0, now)
    assert sorted(skip.fires) == [T0 + 180]
    assert sorted(skip.missed) == [T0, T0 + 60, T0 + 120]
    for p in (once, every, skip):
        assert p.advances == [(7, T0 + 240, T0 + 180)]


def test_start_and_end_dates_filter_each_tick():
    jobs = [job(1, end=T0 + 59), job(2, start=T0 + 60), job(3)]
    p = plan(jobs, T0, now=T0 + 60, horizon=T0 + 61)
    assert [j.id for j in p.fires[T0]] == [1, 3]
    assert [j.id for j in p.fires[T0 + 60]] == [2, 3]


def test_batches_are_deterministic_and_bounded():
    jobs = [job(i) for i in range(1, 2501)]
    p = plan(jobs, T0, now=T0 - 1)
    batches = planning.make_batches(p, lambda i: 1)
    assert [len(b.jobs) for b in batches] == [1000, 1000, 500]
    again = planning.make_batches(plan(jobs, T0, now=T0 - 1), lambda i: 1)
    assert [b.id for b in batches] == [b.id for b in again]
    assert len({b.id for b in batches}) == 3


def test_a_limited_projects_jobs_go_to_its_node_and_the_rest_are_placed_per_batch():
    jobs = [job(i, project=1 + i % 2) for i in range(1, 2401)]  # 1200 in each of projects 1, 2
    placed = []
    batches = planning.make_batches(
        plan(jobs, T0, now=T0 - 1), lambda i: placed.append(i) or 10 + i,
        {2: RateLimit(concurrency=4)}, lambda project_id: 99)
    free = [b for b in batches if b.rate_limit is None]
    limited = [b for b in batches if b.rate_limit is not None]
    assert [b.node_id for b in free] == [10, 11] and placed == [0, 1]
    assert {j.project_id for b in free for j in b.jobs} == {1}
    assert limited and {b.node_id for b in limited} == {99}
    assert sum(len(b.jobs) for b in limited) == 1200
    assert {j.project_id for b in limited for j in b.jobs} == {2}


def test_batch_message_carries_the_callback_contract():
    p = plan([job(1, project=3)], T0, now=T0 - 1)
    [batch] = planning.make_batches(p, lambda i: 1)
    message = messages.Batch.of(batch.id, batch.fire_at, batch.jobs, {3: "sig"}, T0 + 10)
    [element] = message.executions
    assert element == messages.Execution(
        execution_id=f"1-{T0}", id=1, project_id=3, scheduled_at=T0, spec="@every 1m",
        timezone="UTC", data="d", callback_url="http://127.0.0.1:9/1")
    assert message.signing_secrets == {"3": "sig"} and message.fire_at == T0


def test_plan_commands_stay_under_the_row_limit():
    jobs = [job(i) for i in range(1, 3001)]
    p = plan(jobs, T0, now=T0 - 1)
    bodies = _pack(planning.make_batches(p, lambda i: 1), planning.missed_entries(p))
    assert sum(len(e.rows) for b in bodies for e in b.batches) == 3000
    assert all(sum(len(e.rows) for e in [*b.batches, *b.missed]) <= PLAN_COMMAND_ROWS
               for b in bodies)


def test_result_deadline_covers_every_attempt():
    assert planning.result_deadline(100, 2.0, 1.0, 3) == 100 + 8 + 7 + planning.RESULT_GRACE


def test_batches_from_an_older_term_are_stale():
    from scheduler0.coordinator.intake import is_stale

    def batch(**term: int) -> messages.Batch:
        return messages.Batch(batch_id="b", fire_at=T0, deadline=T0, executions=[], **term)

    assert is_stale(batch(term=3), 4) is True
    assert is_stale(batch(term=4), 4) is False
    assert is_stale(batch(), 4) is False  # a batch without a term (a local tool) is not fenced
