"""Planning rounds on fakes: which ticks a leader pushes as time passes. Fake time; no
processes."""

from __future__ import annotations


def pushed_ticks(rig, job_id: int) -> list[int]:
    """The scheduled_at of every execution of `job_id` pushed, in order."""
    return [e["scheduled_at"] for _, m in rig.pusher.of_type("batch") for e in m["executions"]
            if e["id"] == job_id]


def test_a_dated_job_fires_once_per_tick_from_after_its_start_to_its_end_inclusive(rig):
    rig.deliver = True
    rig.lead()
    now = int(rig.clock.now())
    start, end = now + 4, now + 7
    # `@every` is anchored on start_date: the store records the first fire at start + 1 s.
    rig.schedule(1, start + 1, rig.job(5, spec="@every 1s", start=start, end=end),
                 spec="@every 1s", anchor=start)
    rig.run_until(lambda: rig.clock.now() > now + 10 + rig.settings.planner_look_ahead)
    assert pushed_ticks(rig, 5) == list(range(now + 5, now + 8))
    assert rig.reader.unfinished_batches() == {}


def test_under_memory_pressure_no_new_work_is_planned_and_no_tick_is_lost(rig):
    rig.lead()
    now = int(rig.clock.now())
    rig.schedule(1, now + 1, rig.job(5, spec="@every 1s"), spec="@every 1s", anchor=now)
    rig.lifecycle.memory_pressure = True
    rig.run(4)
    assert rig.batches() == [] and rig.plans() == []
    rig.lifecycle.memory_pressure = False
    rig.run(1)
    assert pushed_ticks(rig, 5)[:4] == [now + 1, now + 2, now + 3, now + 4]


def test_a_node_raft_does_not_count_connected_gets_no_new_work_though_its_lease_is_live(rig):
    """A node removed from the cluster keeps sending heartbeats for a while."""
    rig.lead()
    rig.raft.disconnected.add(rig.settings.replicas[2].raft_address)  # node 3
    now = int(rig.clock.now())
    for tick in range(1, 5):
        rig.schedule(tick, now + tick, rig.job(tick))
    rig.tick()
    assert [node for node, _ in rig.batches()] == [2, 2, 2, 2]
    assert 3 in rig.book.placeable()


def test_the_loops_end_when_told_to_stop_and_close_their_sockets(rig):
    # Told while the planner's first round commits its proof of leadership.
    rig.raft.script(rig.lifecycle.stopping.set)
    rig.planner.loop()
    # One pause, the round, and the next pause sees the stop: no round after it.
    assert rig.clock.waits == 2 and rig.pusher.closed and len(rig.raft.committed) == 1
    rig.pusher.closed = False
    rig.desk.loop()
    assert rig.clock.waits == 3 and rig.pusher.closed and len(rig.raft.committed) == 1
