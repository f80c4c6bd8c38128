"""A new leader's planner on fakes: it waits until it heard from every node (at most one lease),
adopts what live nodes hold, re-sends only the rest, settles stale ticks by their misfire
policy, and then places its first round on the followers. Fake time; no processes."""

from __future__ import annotations

from scheduler0.coordinator.planner import RECONCILE_SETTLE
from scheduler0.leases import HEARTBEAT_INTERVAL, LEASE_PERIOD
from scheduler0.vocabulary import ExecutionState, execution_id


def test_a_new_leader_waits_for_every_node_then_resends_only_what_no_live_node_holds(rig):
    fire_at = int(rig.clock.now()) + 2
    rig.reader.planned("held", fire_at, [rig.job(1)])
    rig.reader.planned("orphan", fire_at, [rig.job(2)])
    rig.holding[2].add("held")
    rig.tick()
    took_over = rig.clock.monotonic()
    rig.run_until(rig.batches)
    # Not before every node was heard after the settle time: until then a batch the old leader
    # sent may not be listed in any heartbeat yet.
    assert rig.clock.monotonic() - took_over > RECONCILE_SETTLE
    [(node, batch_id)] = rig.batches()
    assert batch_id == "orphan" and node in (2, 3)
    assert rig.planner.in_flight["held"].node_id == 2  # adopted where it is, not re-sent
    assert rig.planner.stats["redispatched_by"]["reconcile"] == 1
    rig.run(2)
    assert rig.batches() == [(node, "orphan")]


def test_a_new_leader_that_does_not_hear_a_node_waits_one_lease_before_resending(rig):
    rig.reader.planned("orphan", int(rig.clock.now()) + 2, [rig.job(2)])
    rig.silent.add(3)
    rig.tick()
    took_over = rig.clock.monotonic()
    rig.run_until(rig.batches)
    assert rig.clock.monotonic() - took_over >= LEASE_PERIOD - HEARTBEAT_INTERVAL
    assert rig.batches() == [(2, "orphan")]  # the silent node gets nothing


def test_reconcile_replays_stale_ticks_of_run_all_jobs_and_records_the_others_missed(rig):
    stale = int(rig.clock.now()) - rig.settings.misfire_threshold - 5
    rig.reader.planned("stale", stale, [rig.job(1, "run_once"), rig.job(2, "skip"),
                                        rig.job(3, "run_all")])
    rig.lead()
    [(_, message)] = rig.pusher.of_type("batch")
    assert message["batch_id"] == "stale"
    assert [e["id"] for e in message["executions"]] == [3]
    missed = ExecutionState.MISSED.value
    assert [(r[0], r[1]) for r in rig.results()] == [(execution_id(1, stale), missed),
                                                     (execution_id(2, stale), missed)]
    assert rig.reader.states() == {execution_id(1, stale): missed,
                                   execution_id(2, stale): missed,
                                   execution_id(3, stale): ExecutionState.SCHEDULED.value}


def test_the_first_round_of_a_new_leader_goes_to_the_followers(rig):
    """After a restart of every node the jobs are due at once: the leader must not plan them
    before the followers' leases are confirmed, or it would run them all itself."""
    now = int(rig.clock.now())
    for tick in range(1, 5):
        rig.schedule(tick, now + tick, rig.job(tick * 10), rig.job(tick * 10 + 1))
    rig.run_until(rig.batches)
    placed = [node for node, _ in rig.batches()]
    assert len(placed) == 4 and set(placed) == {2, 3}, placed
    for _, message in rig.pusher.of_type("batch"):
        assert message["term"] == rig.term and message["lease"] == [rig.term, 1]
