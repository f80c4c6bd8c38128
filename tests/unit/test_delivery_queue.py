"""delivery_core's pure parts of fair delivery: the FairQueue."""

from __future__ import annotations

import pytest

from scheduler0.delivery.core import FairQueue


def drain(queue: FairQueue[str]) -> list[tuple[str, str]]:
    """Everything that may start now, in the order it is handed out."""
    taken = []
    while (item := queue.take()) is not None:
        taken.append(item)
    return taken


def test_a_key_at_its_limit_does_not_keep_the_others_waiting():
    queue: FairQueue[str] = FairQueue(total=10, per_key=2)
    for n in range(100):
        queue.put("slow:80", f"slow-{n}")
    queue.put("fast:80", "fast-0")
    taken = drain(queue)
    assert ("fast:80", "fast-0") in taken
    assert [i for k, i in taken if k == "slow:80"] == ["slow-0", "slow-1"]
    assert (queue.active, queue.waiting) == (3, 98)
    assert queue.take() is None  # slow:80 is at its limit and fast:80 has nothing left


def test_round_robin_over_keys_first_in_first_out_within_one():
    queue: FairQueue[str] = FairQueue(total=100, per_key=100)
    for key in ("a", "b", "c"):
        for n in range(3):
            queue.put(key, f"{key}{n}")
    assert [item for _, item in drain(queue)] == ["a0", "b0", "c0", "a1", "b1", "c1",
                                                  "a2", "b2", "c2"]


def test_the_total_limit_holds_across_keys_and_a_release_lets_the_next_start():
    queue: FairQueue[str] = FairQueue(total=3, per_key=10)
    for key in ("a", "b"):
        for n in range(4):
            queue.put(key, f"{key}{n}")
    assert [item for _, item in drain(queue)] == ["a0", "b0", "a1"]
    queue.release("a")
    assert queue.take() == ("b", "b1")  # b's turn in the ring, not a's
    assert queue.take() is None
    assert (queue.active, queue.waiting) == (3, 4)


def test_release_of_a_key_at_its_limit_hands_out_its_next_item():
    queue: FairQueue[str] = FairQueue(total=10, per_key=1)
    queue.put("h", "first")
    queue.put("h", "second")
    assert drain(queue) == [("h", "first")]
    queue.release("h")
    assert drain(queue) == [("h", "second")]
    queue.release("h")
    assert (queue.active, queue.waiting, queue.active_of("h")) == (0, 0, 0)
    assert queue.take() is None


def test_a_retry_put_first_goes_before_what_has_not_started():
    queue: FairQueue[str] = FairQueue(total=10, per_key=1)
    queue.put("h", "started")
    queue.put("h", "new")
    assert drain(queue) == [("h", "started")]
    queue.release("h")  # its attempt failed; it waits out its backoff holding nothing
    assert drain(queue) == [("h", "new")]
    queue.put("h", "started", first=True)
    queue.release("h")
    assert drain(queue) == [("h", "started")]


def test_an_idle_key_is_forgotten_and_comes_back_fresh():
    queue: FairQueue[str] = FairQueue(total=10, per_key=1)
    queue.put("h", "x")
    assert drain(queue) == [("h", "x")]
    queue.release("h")
    with pytest.raises(KeyError):  # nothing of h is held any more: one release too many
        queue.release("h")
    queue.put("h", "y")
    assert drain(queue) == [("h", "y")]
