"""The cluster pause on fakes: while the store says planning is paused the leader plans no
tick, but still watches what it already sent; on resume the ticks that fell in the pause follow
each job's misfire policy, as after an outage, and no more. Fake time; no processes."""

from __future__ import annotations

import pytest

from scheduler0.vocabulary import ExecutionState, execution_id

THRESHOLD = 10  # MisfireThreshold of these tests, seconds
PAUSE = 40  # seconds the cluster stays paused: ticks older than THRESHOLD are misfires


def pushed_ticks(rig, job_id: int) -> list[int]:
    return [e["scheduled_at"] for _, m in rig.pusher.of_type("batch") for e in m["executions"]
            if e["id"] == job_id]


def missed_ticks(rig, job_id: int) -> list[int]:
    return sorted(entry["scheduled_at"] for plan in rig.plans() for entry in plan["missed"]
                  for row in entry["rows"] if row[0] == job_id)


def test_nothing_is_planned_while_paused_and_planning_goes_on_after(rig):
    rig.deliver = True
    rig.lead()
    now = int(rig.clock.now())
    rig.schedule(1, now + 30, rig.job(5, spec="@every 1s"), spec="@every 1s", anchor=now)
    rig.reader.paused = True
    rig.run(40)
    assert rig.batches() == [] and rig.plans() == []
    assert rig.planner.stats["paused"] is True
    # The planner still runs its rounds (the health check's "has not run a round" stays quiet).
    assert rig.clock.monotonic() - rig.planner.stats["last_round_at"] <= 0.25
    rig.reader.paused = False
    rig.run(1)
    assert rig.planner.stats["paused"] is False
    assert pushed_ticks(rig, 5)[0] == now + 30


def test_a_batch_sent_before_the_pause_is_still_resent_when_overdue(rig):
    rig.losing.update((2, 3))  # their executors lose what they get: never listed as held
    rig.lead()
    fire_at = int(rig.clock.now()) + 2
    rig.schedule(7, fire_at, rig.job(1))
    rig.tick()
    [(node, batch_id)] = rig.batches()
    rig.reader.paused = True
    rig.run_until(lambda: len(rig.sent_to(batch_id)) > 1)
    assert rig.sent_to(batch_id)[1] != node
    assert rig.planner.stats["redispatched_by"]["deadline"] == 1


@pytest.mark.parametrize("policy", ["run_once", "run_all", "skip"])
def test_on_resume_the_paused_ticks_follow_the_misfire_policy_and_no_more(make_rig, policy):
    rig = make_rig(misfire_threshold=THRESHOLD)
    rig.deliver = True
    rig.lead()
    start = int(rig.clock.now())
    rig.schedule(1, start + 1, rig.job(5, policy, spec="@every 1s"), spec="@every 1s",
                 anchor=start)
    rig.run(3)
    rig.reader.paused = True
    rig.tick()  # the round that sees the pause
    planned = max(pushed_ticks(rig, 5))  # the look-ahead planned before the pause
    rig.run(PAUSE)
    assert max(pushed_ticks(rig, 5)) == planned  # nothing new while paused
    rig.reader.paused = False
    rig.tick()
    resumed = int(rig.clock.now())  # the resuming round's `now`
    fired = [t for t in pushed_ticks(rig, 5) if t > planned]
    missed = missed_ticks(rig, 5)
    late = [t for t in fired if t <= resumed]
    paused_ticks = list(range(planned + 1, resumed + 1))
    misfires = [t for t in paused_ticks if t < resumed - THRESHOLD]
    assert sorted(late + missed) == paused_ticks  # each tick of the pause once: fired or missed
    within = [t for t in paused_ticks if t >= resumed - THRESHOLD]
    expected_late = {"run_once": misfires[-1:] + within, "run_all": paused_ticks,
                     "skip": within}[policy]
    assert late == expected_late
    assert missed == [t for t in paused_ticks if t not in expected_late]
    # After that the job fires once a second again, on time.
    rig.run(3)
    assert [t for t in pushed_ticks(rig, 5) if t > resumed] == list(
        range(resumed + 1, int(rig.clock.now() + rig.settings.planner_look_ahead) + 1))
    recorded = rig.reader.states()
    assert all(recorded[execution_id(5, t)] == ExecutionState.MISSED.value for t in missed)
