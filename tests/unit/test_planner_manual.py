"""Requested batches (run-now, redelivery, backfill: scheduler0.manual) on the planner's fakes:
sent within a round of their commit and once, with their own execution ids; re-sent by a new
leader however late, never recorded missed; recorded failed under their own ids when no result
ever comes; sent even while the cluster is paused. Fake time; no processes."""

from __future__ import annotations

import dataclasses

from scheduler0.coordinator.planner import REDISPATCH_LIMIT
from scheduler0.vocabulary import ExecutionState, execution_id, manual_execution_id


def test_a_run_now_committed_while_leading_goes_out_in_the_next_round_once(rig):
    rig.lead()
    tick = int(rig.clock.now())
    job = dataclasses.replace(rig.job(4), data="the override")
    rig.reader.planned("manual-7", tick, [job])  # job.run committed by the API
    rig.tick()
    [(node, message)] = rig.pusher.of_type("batch")
    assert node in (2, 3) and message["batch_id"] == "manual-7"
    [execution] = message["executions"]
    assert (execution["execution_id"], execution["data"]) == (manual_execution_id(4, tick, 7),
                                                              "the override")
    assert rig.planner.stats["requested"] == 1
    rig.run(2)  # still in flight, within its deadline: not sent again
    assert rig.sent_to("manual-7") == [node]


def test_a_new_leader_sends_an_old_backfilled_tick_instead_of_recording_it_missed(rig):
    old = int(rig.clock.now()) - rig.settings.misfire_threshold - 3600
    batch_id = f"backfill-12-{old}"
    rig.reader.planned(batch_id, old, [rig.job(5, "run_once")])
    rig.reader.planned(f"{old}-planned", old, [rig.job(6, "run_once")])
    rig.lead()
    rig.tick()
    assert [b for _, b in rig.batches()] == [batch_id]  # the planned one of its time is missed
    [(_, message)] = rig.pusher.of_type("batch")
    assert message["executions"][0]["execution_id"] == execution_id(5, old)
    assert [(r[0], r[1]) for r in rig.results()] == [(execution_id(6, old),
                                                      ExecutionState.MISSED.value)]
    assert rig.sent_to(batch_id) and len(rig.sent_to(batch_id)) == 1


def test_a_run_now_that_never_gets_a_result_is_recorded_failed_under_its_own_id(rig):
    rig.losing.update((2, 3))  # their executors lose what they get
    rig.lead()
    tick = int(rig.clock.now())
    rig.reader.planned("manual-9", tick, [rig.job(8)])
    rig.run_until(lambda: rig.results(), most=300)
    [row] = rig.results()
    assert (row[0], row[1]) == (manual_execution_id(8, tick, 9), ExecutionState.FAILED.value)
    assert len(rig.sent_to("manual-9")) == 1 + REDISPATCH_LIMIT


def test_requested_batches_go_even_while_the_cluster_is_paused(rig):
    rig.lead()
    rig.reader.paused = True
    rig.reader.planned("redeliver-3", int(rig.clock.now()) - 600, [rig.job(2)])
    rig.schedule(1, int(rig.clock.now()) + 1, rig.job(5))  # a tick of a schedule waits
    rig.run(2)
    assert [b for _, b in rig.batches()] == ["redeliver-3"]


def test_a_run_now_the_old_leader_committed_but_never_sent_goes_out_once(rig):
    tick = int(rig.clock.now()) - 1
    rig.reader.planned("manual-2", tick, [rig.job(3)])
    rig.lead()  # the reconcile sends it: no live node holds it
    rig.run(2)
    assert len(rig.sent_to("manual-2")) == 1
    assert rig.planner.stats["redispatched_by"]["reconcile"] == 1
    assert rig.planner.stats["requested"] == 0  # not sent a second time by its round
