"""Re-dispatch on fakes: a batch whose results are overdue and that its node no longer holds
goes to another node, at most REDISPATCH_LIMIT times, then what is unsettled is recorded
failed once; one its node still holds is waited for; the batches of a node whose lease lapsed
go to another node at once. Fake time; no processes."""

from __future__ import annotations

from scheduler0 import messages
from scheduler0.coordinator.planner import REDISPATCH_LIMIT
from scheduler0.errors import UnavailableError
from scheduler0.leases import HEARTBEAT_INTERVAL, LEASE_PERIOD
from scheduler0.schedule import planning
from scheduler0.vocabulary import ExecutionState, execution_id


def result_deadline(rig, fire_at: int) -> float:
    s = rig.settings
    return planning.result_deadline(fire_at, s.job_execution_timeout,
                                    s.job_execution_retry_delay, s.job_execution_retry_max)


def one_batch(rig, fire_in: int = 2, jobs: tuple[int, ...] = (1, 2)) -> tuple[int, str, int]:
    """Lead, plan one tick `fire_in` s ahead and push it: (node, batch id, tick)."""
    rig.lead()
    fire_at = int(rig.clock.now()) + fire_in
    rig.schedule(7, fire_at, *(rig.job(j) for j in jobs))
    rig.tick()
    [(node, batch_id)] = rig.batches()
    return node, batch_id, fire_at


def test_an_overdue_batch_goes_to_another_node_up_to_the_limit_then_is_recorded_failed(rig):
    rig.load[3] = 100  # node 2 would get everything, were the last node not excluded
    rig.losing.update((2, 3))  # their executors lose what they get: never listed as held
    node, batch_id, fire_at = one_batch(rig)
    assert node == 2
    rig.run_until(lambda: batch_id not in rig.planner.in_flight)
    sends = rig.sent_to(batch_id)
    assert sends == [(2, 3)[i % 2] for i in range(1 + REDISPATCH_LIMIT)]
    # Each once the last dispatch is overdue: the tick's deadline, then a whole result deadline
    # after the last re-send.
    times = rig.times_sent(batch_id)
    deadlines = [result_deadline(rig, fire_at)] + [t + result_deadline(rig, 0)
                                                   for t in times[1:-1]]
    for at, deadline in zip(times[1:], deadlines, strict=True):
        assert deadline <= at < deadline + HEARTBEAT_INTERVAL, (times, deadlines)
    error = f"no result after {1 + REDISPATCH_LIMIT} dispatches"
    assert [(r[0], r[1], r[4], r[5]) for r in rig.results()] == [
        (execution_id(j, fire_at), ExecutionState.FAILED.value, error, sends[-1]) for j in (1, 2)]
    assert rig.planner.stats["redispatched_by"]["deadline"] == 2 * REDISPATCH_LIMIT
    assert rig.planner.stats["undelivered"] == 2
    rig.run(30)  # nothing more: recorded once, never sent again
    assert len(rig.results()) == 2 and len(rig.sent_to(batch_id)) == 1 + REDISPATCH_LIMIT
    assert rig.reader.settle(batch_id) == 0  # a result arriving now changes nothing


def test_an_overdue_batch_whose_node_is_committing_its_results_is_not_resent(rig):
    node, batch_id, fire_at = one_batch(rig)
    rig.deliver = False  # the node's results are slow to commit: its heartbeat says settling
    rig.holding[node].discard(batch_id)
    rig.settling[node].add(batch_id)
    deadline = result_deadline(rig, fire_at)
    rig.run_until(lambda: rig.clock.now() > deadline + 20)
    assert rig.sent_to(batch_id) == [node]  # late, not delivered twice
    assert rig.planner.stats["overdue_settling"] > 0
    assert batch_id in rig.planner.in_flight
    # Its results land: forgotten. Had the node stopped reporting it, it would go elsewhere.
    rig.reader.settle(batch_id)
    rig.settling[node].clear()
    rig.run(10)
    assert batch_id not in rig.planner.in_flight and rig.sent_to(batch_id) == [node]


def test_an_overdue_batch_no_longer_reported_settling_is_resent(rig):
    node, batch_id, fire_at = one_batch(rig)
    rig.deliver = False
    rig.losing.add(node)
    rig.holding[node].discard(batch_id)
    rig.settling[node].add(batch_id)
    deadline = result_deadline(rig, fire_at)
    rig.run_until(lambda: rig.clock.now() > deadline + 5)
    assert rig.sent_to(batch_id) == [node]
    rig.settling[node].clear()  # the node lost the results (it restarted): they never come
    rig.run_until(lambda: len(rig.sent_to(batch_id)) > 1)
    assert rig.sent_to(batch_id)[1] != node


def test_an_overdue_batch_its_node_still_holds_waits_for_it_however_late(rig):
    node, batch_id, fire_at = one_batch(rig)  # held by its node, never settled (overloaded)
    deadline = result_deadline(rig, fire_at)
    rig.run_until(lambda: rig.clock.now() > deadline + 10 * result_deadline(rig, 0))
    assert rig.sent_to(batch_id) == [node]  # late, not delivered twice
    assert rig.planner.stats["overdue_held"] > 0 and batch_id in rig.planner.in_flight
    assert rig.results() == []  # nor recorded failed while it is still on its way
    # Its node stops listing it (an executor was lost with it): re-sent elsewhere at once.
    rig.losing.add(node)
    rig.holding[node].discard(batch_id)
    rig.run_until(lambda: len(rig.sent_to(batch_id)) > 1, most=2.0)
    assert rig.sent_to(batch_id)[1] != node


def test_a_batch_sent_after_its_tick_gets_the_whole_delivery_budget_from_its_sending(rig):
    rig.lead()
    fire_at = int(rig.clock.now()) - 30  # due half a minute ago: a slow round sends it late
    rig.schedule(7, fire_at, rig.job(1))
    rig.tick()
    [(node, batch_id)] = rig.batches()
    sent_at = rig.times_sent(batch_id)[0]
    assert rig.planner.in_flight[batch_id].deadline >= sent_at + result_deadline(rig, 0)
    rig.run_until(lambda: rig.clock.now() > result_deadline(rig, fire_at) + 5)
    assert rig.sent_to(batch_id) == [node]  # not overdue yet: not sent again


def test_a_batch_settled_in_time_is_forgotten_not_resent(rig):
    node, batch_id, _ = one_batch(rig)
    rig.reader.settle(batch_id)
    rig.run(30)
    assert rig.sent_to(batch_id) == [node]
    assert batch_id not in rig.planner.in_flight and rig.results() == []


def test_the_batches_of_a_node_whose_lease_lapsed_go_to_another_node_at_once(rig):
    node, batch_id, _ = one_batch(rig, fire_in=3)
    other = ({2, 3} - {node}).pop()
    deadline = rig.planner.in_flight[batch_id].deadline
    rig.silent.add(node)
    silent_since = rig.clock.monotonic()
    rig.run_until(lambda: len(rig.sent_to(batch_id)) == 2)
    assert rig.sent_to(batch_id) == [node, other]
    assert rig.desk.lapses == 1
    # One lease after its last heartbeat, long before the batch's result deadline.
    assert LEASE_PERIOD <= rig.clock.monotonic() - silent_since < LEASE_PERIOD + HEARTBEAT_INTERVAL
    assert rig.clock.now() < deadline
    assert rig.planner.stats["redispatched_by"] == {"lease": 2, "deadline": 0, "reconcile": 0}
    [*_, (_, message)] = rig.pusher.of_type("batch")
    assert message["lease"] == [rig.term, rig.book.current().epoch_of(other)]
    # New work goes only to the live nodes.
    rig.schedule(8, int(rig.clock.now()) + 2, rig.job(3))
    rig.run(1)
    assert [n for n, b in rig.batches() if b != batch_id] == [other]


def test_a_lapsed_node_whose_batches_all_settled_costs_no_resend(rig):
    node, batch_id, _ = one_batch(rig)
    rig.reader.settle(batch_id)
    rig.silent.add(node)
    rig.run(2 * LEASE_PERIOD)
    assert rig.desk.lapses == 1 and rig.sent_to(batch_id) == [node]


def test_a_lapse_is_committed_before_the_batches_are_resent_and_no_later_leader_continues_it(rig):
    # A node cut off while holding a batch: the leader takes the batch back, and the node,
    # once it is heard again by a new leader (the partition healed, an election followed), must
    # not deliver it too.
    node, batch_id, _ = one_batch(rig, fire_in=3)
    rig.silent.add(node)
    rig.run_until(lambda: len(rig.sent_to(batch_id)) == 2)
    revoked = rig.raft.bodies(messages.LEASE_REVOKE)
    assert revoked == [{"node_id": node, "term": rig.term, "epoch": 1}]
    assert rig.raft.kinds()[-1] == messages.LEASE_REVOKE  # nothing re-sent before it was committed
    cut_off_lease = [rig.term, 1]
    rig.raft.elect()
    rig.silent.discard(node)
    rig.holding[node].add(batch_id)
    rig.run_until(lambda: any(n == node and m["term"] == rig.raft.term
                              for n, m in rig.pusher.of_type("lease")))
    [first_ack] = [m for n, m in rig.pusher.of_type("lease")
                   if n == node and m["term"] == rig.raft.term][:1]
    assert first_ack["continues"] is None, f"continued {cut_off_lease}"
    others = [m["continues"] for n, m in rig.pusher.of_type("lease")
              if n != node and m["term"] == rig.raft.term]
    assert others and all(c is not None for c in others)  # theirs are carried on


def test_a_lease_that_cannot_be_taken_back_in_the_log_is_not_taken_back_at_all(rig):
    node, batch_id, _ = one_batch(rig, fire_in=3)
    rig.silent.add(node)
    rig.raft.unreachable = UnavailableError("no majority")
    rig.run(2 * LEASE_PERIOD)
    assert rig.sent_to(batch_id) == [node]  # not re-sent without the committed lapse
