"""The pure half of per-project rate limits: batch sizes, the token bucket, and the gate that
lets a limited project's batches go only within its limit. Times are arguments; no clock."""

from __future__ import annotations

import pytest

from scheduler0.messages import RateLimit
from scheduler0.rationing import Rationing, TokenBucket, batch_limit, burst, queue_allowance


def nothing_in_flight(_project: int) -> int:
    return 0


def released_ids(released: list[tuple[int, str, int]]) -> list[str]:
    return [item for _project, item, _size in released]


@pytest.mark.parametrize(("limit", "most", "size"), [
    (RateLimit(concurrency=2), 1000, 2),
    (RateLimit(concurrency=5000), 1000, 1000),
    (RateLimit(per_second=5), 1000, 1),  # a tenth of a second's worth, at least one
    (RateLimit(per_second=0.01), 1000, 1),
    (RateLimit(per_second=300), 1000, 30),
    (RateLimit(per_second=100_000), 1000, 1000),
    (RateLimit(concurrency=20, per_second=300), 1000, 20),
    (RateLimit(concurrency=50, per_second=300), 1000, 30),
])
def test_a_batch_never_holds_more_than_may_go_at_once(limit, most, size):
    assert batch_limit(limit, most) == size


def test_a_batch_queued_behind_others_of_its_project_is_allowed_their_wait():
    assert queue_allowance(RateLimit(per_second=5), ahead=0, attempt_seconds=10) == 0
    assert queue_allowance(RateLimit(per_second=5), ahead=50, attempt_seconds=10) == 10
    assert queue_allowance(RateLimit(concurrency=2), ahead=4, attempt_seconds=10) == 20
    assert queue_allowance(RateLimit(concurrency=100, per_second=0.5), ahead=10,
                           attempt_seconds=10) == 20


def test_the_bucket_starts_full_then_refills_at_its_rate_up_to_its_burst():
    bucket = TokenBucket(per_second=20, now=0.0)
    assert bucket.capacity == burst(20) == 2
    assert bucket.allows(2, 0.0)
    bucket.take(2)
    assert not bucket.allows(1, 0.0)
    assert not bucket.allows(1, 0.04)
    assert bucket.allows(1, 0.05)
    assert bucket.full(10.0) and bucket.tokens == 2  # never more than the burst


def test_a_count_bigger_than_the_bucket_goes_once_it_is_full_and_owes_the_rest():
    bucket = TokenBucket(per_second=5, now=0.0)
    assert bucket.allows(4, 0.0)
    bucket.take(4)
    assert bucket.tokens == -3
    assert not bucket.allows(1, 0.7) and bucket.allows(1, 0.8)


def test_a_batch_waits_for_its_tick_before_counting_against_the_limit():
    gate: Rationing[str] = Rationing()
    gate.offer(1, RateLimit(per_second=1), "b", 1, due=5.0, now=0.0)
    assert gate.release(4.9, nothing_in_flight) == []
    assert gate.waiting(4.9) == {1: 0}  # not due yet: not waiting at the limit
    assert gate.release(5.0, nothing_in_flight) == [(1, "b", 1)]
    assert gate.wait_seconds == {1: 0.0}


def test_concurrency_counts_what_is_in_flight_and_what_this_call_lets_go():
    gate: Rationing[str] = Rationing()
    for name in ("a", "b", "c"):
        gate.offer(7, RateLimit(concurrency=2), name, 1, due=0.0, now=0.0)
    assert released_ids(gate.release(0.0, nothing_in_flight)) == ["a", "b"]
    assert gate.release(1.0, lambda _p: 2) == []
    assert gate.waiting(1.0) == {7: 1}
    assert gate.release(1.5, lambda _p: 1) == [(7, "c", 1)]
    assert gate.wait_seconds == {7: 1.5}
    assert not gate  # nothing left and no bucket: the gate is forgotten


def test_a_batch_bigger_than_the_concurrency_goes_alone():
    gate: Rationing[str] = Rationing()
    gate.offer(1, RateLimit(concurrency=2), "planned-before-the-limit", 5, due=0.0, now=0.0)
    assert gate.release(0.0, lambda _p: 1) == []
    assert released_ids(gate.release(0.1, nothing_in_flight)) == ["planned-before-the-limit"]


def test_projects_are_rationed_apart_and_each_in_due_order():
    gate: Rationing[str] = Rationing()
    gate.offer(1, RateLimit(concurrency=1), "p1-late", 1, due=2.0, now=0.0)
    gate.offer(1, RateLimit(concurrency=1), "p1-early", 1, due=1.0, now=0.0)
    gate.offer(2, RateLimit(concurrency=1), "p2", 1, due=1.0, now=0.0)
    in_flight = {1: 0, 2: 1}
    assert released_ids(gate.release(3.0, in_flight.__getitem__)) == ["p1-early"]
    assert gate.waiting(3.0) == {1: 1, 2: 1}


def test_a_changed_limit_applies_from_the_next_offer():
    gate: Rationing[str] = Rationing()
    gate.offer(1, RateLimit(per_second=1), "a", 1, due=0.0, now=0.0)
    gate.offer(1, RateLimit(per_second=1), "b", 1, due=0.0, now=0.0)
    assert released_ids(gate.release(0.0, nothing_in_flight)) == ["a"]
    gate.offer(1, RateLimit(concurrency=1), "c", 1, due=0.0, now=0.1)  # no rate any more
    assert released_ids(gate.release(0.1, nothing_in_flight)) == ["b"]


def test_the_gate_stays_while_its_bucket_refills_so_a_lull_does_not_reset_it():
    gate: Rationing[str] = Rationing()
    gate.offer(1, RateLimit(per_second=2), "a", 1, due=0.0, now=0.0)
    assert released_ids(gate.release(0.0, nothing_in_flight)) == ["a"]
    assert gate  # empty, but its bucket is not full: a batch now must wait for a token
    gate.offer(1, RateLimit(per_second=2), "b", 1, due=0.1, now=0.1)
    assert gate.release(0.1, nothing_in_flight) == []
    assert released_ids(gate.release(0.5, nothing_in_flight)) == ["b"]
    gate.release(5.0, nothing_in_flight)
    assert not gate
    assert gate.stats(5.0) == {1: {"waiting": 0, "wait_seconds": 0.4}}


def test_twenty_ticks_at_once_stay_within_two_in_flight_and_five_a_second():
    """A receiver holding each request 0.2 s: the node lets them go 5 a second, 2 at once."""
    limit = RateLimit(concurrency=2, per_second=5)
    gate: Rationing[int] = Rationing()
    for n in range(20):
        gate.offer(1, limit, n, batch_limit(limit, 1000), due=10.0, now=9.0)
    started: dict[int, float] = {}
    settles: dict[int, float] = {}
    step, now = 0.01, 9.0
    while len(started) < 20 and now < 60:
        flying = sum(1 for n, at in settles.items() if at > now)
        for _project, n, _size in gate.release(now, lambda _p, f=flying: f):
            started[n] = now
            settles[n] = now + 0.2
        assert sum(1 for n, at in settles.items() if started[n] <= now < at) <= 2
        now = round(now + step, 2)
    assert sorted(started) == list(range(20))
    times = sorted(started.values())
    assert min(times) >= 10.0
    most_in_a_second = max(sum(1 for t in times if start <= t < start + 1) for start in times)
    assert most_in_a_second <= 5 + burst(5)
    assert gate.wait_seconds[1] > 0
