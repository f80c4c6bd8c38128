"""What a node holds: copies dropped at the door, revoked batches forgotten, settled batches
reported until their results are committed."""

from __future__ import annotations

from scheduler0.coordinator.holdings import HELD_GRACE, SETTLING_KEPT, Holdings


def test_a_copy_of_a_batch_held_or_settled_here_is_refused():
    holdings = Holdings()
    assert holdings.take("b1", (1, 1), fire_at=10, deadline=60)
    assert not holdings.take("b1", (1, 2), fire_at=10, deadline=60)
    holdings.settled("b1", now=0.0)
    assert not holdings.take("b1", (1, 2), fire_at=10, deadline=60)
    assert holdings.duplicates_dropped == 2


def test_revoking_forgets_batches_under_leases_the_node_lost_only():
    holdings = Holdings()
    holdings.take("old", (1, 1), 0, 60)
    holdings.take("kept", (1, 2), 0, 60)
    holdings.take("newer", (1, 4), 0, 60)
    holdings.take("unstamped", None, 0, 60)
    assert holdings.revoke(keep=[(1, 2), (1, 3)], current=(1, 3)) == ["old"]
    held, _ = holdings.report(now=0.0, now_wall=0.0)
    assert sorted(held) == ["kept", "newer", "unstamped"]
    assert holdings.revoked == 1


def test_settled_batches_are_reported_while_results_wait_then_for_a_while():
    holdings = Holdings()
    holdings.take("b", None, 0, 60)
    holdings.settled("b", now=100.0)
    assert holdings.report(100.0, 0.0) == ([], ["b"])
    holdings.results_pending = True
    assert holdings.report(100.0 + SETTLING_KEPT + 1, 0.0) == ([], ["b"])
    holdings.results_pending = False
    assert holdings.report(100.0 + SETTLING_KEPT + 1, 0.0) == ([], [])


def test_a_batch_no_result_came_for_is_dropped_long_after_its_deadline():
    holdings = Holdings()
    holdings.take("lost", None, fire_at=0, deadline=50)
    assert holdings.report(0.0, now_wall=50 + HELD_GRACE - 1)[0] == ["lost"]
    assert holdings.report(0.0, now_wall=50 + HELD_GRACE + 1)[0] == []
