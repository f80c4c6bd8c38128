"""Leadership on fakes: a planner deposed mid-round sends nothing and commits nothing more; a
leader cut off from the majority re-sends nothing and renews no lease until it can commit
again; a new term reconciles what the last one left. Fake time; no processes."""

from __future__ import annotations

from scheduler0.coordinator.dispatcher import DISPATCH_STALENESS
from scheduler0.errors import UnavailableError
from scheduler0.leases import HEARTBEAT_INTERVAL


def acks(rig) -> int:
    return len(rig.pusher.of_type("lease"))


def test_a_leader_deposed_mid_round_sends_nothing_and_commits_no_more_plans(rig):
    rig.lead()
    rig.schedule(7, int(rig.clock.now()) + 2, rig.job(1), rig.job(2))
    # The round's batch PLAN commits; the lead is lost while its schedule advance commits.
    rig.raft.script(None, rig.raft.depose)
    rig.clock.advance(HEARTBEAT_INTERVAL)
    rig.planner.step(rig.reader, rig.pusher)
    assert rig.batches() == []  # dispatch waits for every PLAN of the round
    plans = rig.plans()  # the batch's, not the advance's, which was refused
    assert len(plans) == 1 and not plans[0]["advances"], plans
    [entry] = plans[0]["batches"]
    committed, acked = len(rig.raft.committed), acks(rig)
    rig.run(5)
    assert len(rig.raft.committed) == committed  # no PLAN (nor anything) after losing the lead
    assert rig.batches() == [] and acks(rig) == acked
    assert rig.planner.leases is None and rig.planner.in_flight == {}
    assert rig.book.current() is None

    # Elected again in a later term: the batch committed before the loss is sent once (the
    # tick planned again because its advance did not commit is the same batch), under the
    # new term, and the advance commits.
    rig.raft.elect()
    rig.lead()
    rig.run(2)
    assert rig.batches() == [(rig.planner.in_flight[entry["batch_id"]].node_id,
                              entry["batch_id"])]
    [(_, message)] = rig.pusher.of_type("batch")
    assert message["term"] == rig.term + 1 and message["lease"][0] == rig.term + 1
    assert rig.plans()[-1]["advances"]


def test_a_leader_cut_off_from_the_majority_resends_nothing_and_renews_no_lease(rig):
    rig.lead()
    rig.schedule(7, int(rig.clock.now()) + 2, rig.job(1))
    rig.tick()
    [(node, batch_id)] = rig.batches()
    deadline = rig.planner.in_flight[batch_id].deadline
    rig.raft.unreachable = UnavailableError("no majority")
    # A commit proves leadership for DISPATCH_STALENESS: acks may go out until then, no later.
    rig.run(DISPATCH_STALENESS + HEARTBEAT_INTERVAL)
    acked = acks(rig)
    rig.run_until(lambda: rig.clock.now() > deadline + 10)
    assert rig.sent_to(batch_id) == [node]
    assert acks(rig) == acked
    assert rig.results() == []

    rig.raft.unreachable = None  # the partition heals: it still leads
    rig.run_until(lambda: acks(rig) > acked)
    rig.losing.add(node)  # and the overdue batch its node lost is re-sent again
    rig.holding[node].discard(batch_id)
    rig.run_until(lambda: len(rig.sent_to(batch_id)) == 2)
