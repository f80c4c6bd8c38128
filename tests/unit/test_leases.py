"""The lease protocol's pure core: the leader's table, a node's holder, and the verdict that
decides whether a held batch may be POSTed. Times are plain numbers (`now` arguments)."""

from __future__ import annotations

from scheduler0 import leases
from scheduler0.leases import LEASE_PERIOD, NODE_MARGIN, OWN, REVOKED, WAIT, Holder, LeaseTable
from scheduler0.messages import LeaseAck, LeaseState


def beat(seq: int, seen: float, **extra) -> dict:
    return {"seq": seq, "seen": seen, **extra}


def ack_for(table: LeaseTable, node_id: int, wall: float = 0.0) -> LeaseAck:
    [ack] = [a for a in table.acks(wall, {}) if a.node_id == node_id]
    return ack


# -- the leader's table ------------------------------------------------------------------------


def test_a_node_is_live_until_one_lease_period_after_its_latest_heartbeat():
    table = LeaseTable(term=3, started=0.0)
    table.observe({2: beat(1, seen=10.0)})
    assert table.live(10.0 + LEASE_PERIOD - 0.01) == {2}
    assert table.expire(10.0 + LEASE_PERIOD - 0.01) == []
    assert table.expire(10.0 + LEASE_PERIOD) == [2]
    assert table.live(10.0 + LEASE_PERIOD) == set()
    assert table.expire(20.0) == []  # a lapse is reported once
    assert table.lapses == 1


def test_the_leaders_own_node_never_lapses_by_silence_and_keeps_what_it_holds():
    # Its heartbeats are late only when the leader's own process is starved: re-sending its
    # batches would hand them back to the node that still holds them.
    table = LeaseTable(term=3, started=0.0, own=1)
    table.observe({1: beat(1, seen=10.0, held_batches=["b1"]),
                   2: beat(1, seen=10.0, held_batches=["b2"])})
    late = 10.0 + 10 * LEASE_PERIOD
    assert table.expire(late) == [2]
    assert table.live(late) == {1}
    assert table.still_held({"b1": 1, "b2": 2}, late) == {"b1"}
    assert table.lapses == 1


def test_the_leaders_own_node_is_still_taken_back_when_it_says_it_is_stopping():
    table = LeaseTable(term=3, started=0.0, own=1)
    table.observe({1: beat(1, seen=0.0)})
    table.observe({1: beat(2, seen=0.1, stopping=True)})
    assert table.expire(0.2) == [1]
    assert table.live(0.2) == set()


def test_a_node_back_after_a_lapse_gets_a_new_epoch_that_continues_nothing():
    table = LeaseTable(term=3, started=0.0)
    table.observe({2: beat(1, seen=0.0, lease=[2, 5])})
    first = ack_for(table, 2)
    assert (first.term, first.epoch, first.continues) == (3, 1, (2, 5))
    table.expire(LEASE_PERIOD + 1)
    table.observe({2: beat(2, seen=LEASE_PERIOD + 2, lease=[3, 1])})
    second = ack_for(table, 2)
    assert (second.epoch, second.continues) == (2, None)
    assert table.epoch_of(2) == 2


def test_a_heartbeat_that_arrives_before_the_lapse_is_noticed_keeps_the_epoch():
    table = LeaseTable(term=1, started=0.0)
    table.observe({2: beat(1, seen=0.0)})
    table.observe({2: beat(2, seen=LEASE_PERIOD + 0.5, lease=[1, 1])})  # no round saw the gap
    assert table.expire(LEASE_PERIOD + 0.6) == []
    assert table.epoch_of(2) == 1


def test_a_node_the_acks_do_not_reach_lapses_after_one_lease_period():
    table = LeaseTable(term=1, started=0.0)
    table.observe({2: beat(1, seen=0.0, lease=None)})
    assert table.placeable(0.1) == set()  # not confirmed: no new work for it
    table.observe({2: beat(2, seen=LEASE_PERIOD, lease=None)})
    assert table.expire(LEASE_PERIOD) == [2]
    table.observe({2: beat(3, seen=LEASE_PERIOD + 0.1, lease=[1, 2])})
    assert table.placeable(LEASE_PERIOD + 0.2) == {2}


def test_a_node_restarted_within_its_lease_is_taken_back_and_gets_a_new_epoch():
    table = LeaseTable(term=1, started=0.0)
    table.observe({2: beat(40, seen=0.0, boot="a", lease=[1, 1])})
    table.acks(0.0, {})
    table.observe({2: beat(1, seen=0.5, boot="b", lease=None)})
    assert table.expire(0.6) == [2]
    ack = ack_for(table, 2)  # acked although its sequence started again
    assert (ack.seq, ack.epoch, ack.continues) == (1, 2, None)


def test_each_heartbeat_is_acknowledged_once_with_the_leaders_clock_readings():
    table = LeaseTable(term=1, started=0.0)
    table.observe({2: beat(7, seen=1.0)})
    [ack] = table.acks(100.5, {2: 100.25})
    assert (ack.seq, ack.received_wall, ack.sent_wall) == (7, 100.25, 100.5)
    assert table.acks(101.0, {}) == []
    table.observe({2: beat(7, seen=1.0)})  # the same heartbeat again
    assert table.acks(101.0, {}) == []


def test_a_node_placed_on_before_it_was_heard_keeps_that_epoch():
    table = LeaseTable(term=4, started=0.0)
    assert table.epoch_of(1) == 1  # the leader's own node, at start
    assert table.live(0.0) == set()
    table.observe({1: beat(1, seen=0.1, lease=[3, 2])})
    ack = ack_for(table, 1)
    assert (ack.epoch, ack.continues) == (1, (3, 2))


def test_holders_are_the_live_nodes_that_hold_or_settle_a_batch():
    table = LeaseTable(term=2, started=0.0)
    table.observe({2: beat(1, seen=5.0, lease=[1, 1], held_batches=["a"], settling=["b"]),
                   3: beat(1, seen=0.0, lease=[1, 1], held_batches=["c"])})
    assert table.holder_of(["a", "b", "c", "d"], now=5.0 + LEASE_PERIOD / 2) == {"a": 2, "b": 2}


def test_a_node_whose_lease_is_not_continued_holds_nothing_but_what_it_settles():
    table = LeaseTable(term=2, started=0.0, revoked={2: (1, 1)})
    table.observe({2: beat(1, seen=5.0, lease=[1, 1], held_batches=["a"], settling=["b"]),
                   3: beat(1, seen=5.0, held_batches=["c"])})  # no lease: a fresh process
    assert table.holder_of(["a", "b", "c"], now=5.0) == {"b": 2}


def test_a_lease_an_earlier_leader_took_back_is_not_continued():
    table = LeaseTable(term=39, started=0.0, revoked={2: (1, 1), 3: (1, 1)})
    table.observe({2: beat(1, seen=0.1, lease=[1, 1]), 3: beat(1, seen=0.1, lease=[1, 2])})
    continues = {ack.node_id: ack.continues for ack in table.acks(0.0, {})}
    assert continues[2] is None  # what node 2 holds went to other nodes
    assert continues[3] == (1, 2)  # a newer lease than the one taken back


def test_no_lease_is_continued_before_the_revoked_leases_are_known():
    table = LeaseTable(term=39, started=0.0, revoked=None)
    table.observe({2: beat(1, seen=0.1, lease=[1, 1])})
    assert ack_for(table, 2).continues is None


def test_the_lease_taken_back_is_the_lapsed_one_or_the_one_before_a_renewal():
    table = LeaseTable(term=3, started=0.0)
    table.observe({2: beat(1, seen=0.0)})
    assert table.expire(LEASE_PERIOD) == [2]
    assert table.taken_back(2) == (3, 1)  # lapsed, not back yet
    table.observe({2: beat(2, seen=LEASE_PERIOD + 1)})
    assert table.taken_back(2) == (3, 1)  # back under epoch 2: epoch 1 is the one taken back
    assert table.taken_back(9) is None


def test_a_new_leader_waits_until_every_node_was_heard_after_a_moment():
    table = LeaseTable(term=1, started=10.0)
    table.observe({1: beat(1, seen=10.5), 2: beat(1, seen=9.0)})
    assert not table.heard_since({1, 2}, 10.3)
    table.observe({2: beat(2, seen=10.6)})
    assert table.heard_since({1, 2}, 10.3)


def test_the_view_shows_age_liveness_and_clock_offset():
    table = LeaseTable(term=2, started=0.0)
    table.observe({2: beat(1, seen=1.0, clock_offset=1.25, held_batches=["x"])})
    view = table.view(1.5)["2"]
    assert view == {"term": 2, "epoch": 1, "live": True, "lease_age": 0.5,
                    "clock_offset_ms": 1250.0, "held": 1}


# -- a node's holder ---------------------------------------------------------------------------


def acked(holder: Holder, seq: int, sent_at: float, term: int, epoch: int,
          continues=None, wall: float = 0.0) -> bool:
    holder.sent(seq, sent_at, wall)
    return holder.on_ack(LeaseAck(node_id=1, seq=seq, term=term, epoch=epoch,
                                  continues=continues), wall)


def test_a_lease_is_valid_until_the_acked_heartbeats_send_time_plus_the_period_less_a_margin():
    holder = Holder()
    assert acked(holder, 1, sent_at=100.0, term=1, epoch=1)
    assert holder.valid_until == 100.0 + LEASE_PERIOD - NODE_MARGIN
    assert holder.verdict((1, 1), 100.0 + LEASE_PERIOD - NODE_MARGIN - 0.01) == OWN
    assert holder.verdict((1, 1), 100.0 + LEASE_PERIOD - NODE_MARGIN) == WAIT
    assert not acked(holder, 2, sent_at=101.0, term=1, epoch=1)  # renewed, not changed
    assert holder.verdict((1, 1), 101.0 + LEASE_PERIOD - NODE_MARGIN - 0.01) == OWN


def test_an_ack_for_a_heartbeat_the_node_never_sent_is_ignored():
    holder = Holder()
    assert not holder.on_ack(LeaseAck(node_id=1, seq=9, term=1, epoch=1), 0.0)
    assert holder.current is None


def test_a_new_epoch_revokes_the_batches_of_the_old_one():
    holder = Holder()
    acked(holder, 1, 0.0, term=1, epoch=1)
    assert acked(holder, 2, 10.0, term=1, epoch=2)
    assert holder.verdict((1, 1), 10.1) == REVOKED
    assert holder.verdict((1, 2), 10.1) == OWN


def test_a_new_leader_that_continues_the_lease_keeps_the_batches_held():
    holder = Holder()
    acked(holder, 1, 0.0, term=1, epoch=3)
    assert acked(holder, 2, 5.0, term=2, epoch=1, continues=(1, 3))
    assert holder.verdict((1, 3), 5.1) == OWN
    assert holder.verdict((2, 1), 5.1) == OWN


def test_a_new_leader_that_does_not_continue_it_revokes_them():
    holder = Holder()
    acked(holder, 1, 0.0, term=1, epoch=3)
    acked(holder, 2, 5.0, term=2, epoch=1, continues=(1, 2))  # an older lease: not ours
    assert holder.verdict((1, 3), 5.1) == REVOKED


def test_an_ack_of_an_earlier_lease_arriving_late_changes_nothing():
    holder = Holder()
    acked(holder, 1, 0.0, term=2, epoch=1)
    holder.sent(2, 0.5, 0.0)
    assert not holder.on_ack(LeaseAck(node_id=1, seq=2, term=1, epoch=9), 0.0)
    assert holder.current == (2, 1)


def test_a_batch_placed_under_a_lease_not_acked_yet_waits_for_it():
    holder = Holder()
    assert holder.verdict((1, 1), 0.0) == WAIT
    acked(holder, 1, 0.0, term=1, epoch=1)
    assert holder.verdict((1, 2), 0.1) == WAIT


def test_a_batch_without_a_stamp_is_delivered_as_before():
    assert Holder().verdict(None, 0.0) == OWN


def test_the_clock_offset_is_measured_from_one_exchange():
    holder = Holder()
    holder.sent(1, 0.0, 1000.0)  # node's wall clock at send
    # The leader's clock is 2 s behind; 10 ms each way, 30 ms spent between receive and reply.
    holder.on_ack(LeaseAck(node_id=1, seq=1, term=1, epoch=1, received_wall=998.010,
                           sent_wall=998.040), 1000.050)
    assert abs(holder.clock_offset - 2.0) < 1e-6


def test_the_wire_state_round_trips():
    holder = Holder()
    acked(holder, 1, 3.0, term=1, epoch=2)
    current, accepted, valid_until = leases.holder_from_state(holder.state())
    assert (current, accepted, valid_until) == ((1, 2), [(1, 2)], holder.valid_until)
    assert leases.holder_from_state(LeaseState()) == (None, [], 0.0)


def test_a_node_first_heard_of_after_reconciling_continues_nothing():
    table = LeaseTable(term=2, started=0.0)
    table.adopting = False  # reconciled: what no live node held was re-sent
    table.observe({3: beat(1, seen=5.0, lease=[1, 4])})
    assert ack_for(table, 3).continues is None


def test_a_node_that_says_it_is_stopping_is_taken_back_at_once():
    table = LeaseTable(term=1, started=0.0)
    table.observe({2: beat(1, seen=0.0, boot="a", lease=[1, 1])})
    table.observe({2: beat(2, seen=0.2, boot="a", lease=[1, 1], stopping=True)})
    assert table.expire(0.3) == [2]
    assert table.live(0.3) == set()
    table.observe({2: beat(1, seen=9.0, boot="b")})  # started again
    assert table.live(9.1) == {2} and table.epoch_of(2) == 2
