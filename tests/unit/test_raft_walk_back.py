"""WalkBack: a follower's answers keep the leader walking back to the last entry both agree on."""

from __future__ import annotations

from typing import Any

from scheduler0.coordinator.raft_walk_back import NO_TERM, WalkBack


class Log:
    """Entries 1..len(terms); terms[i] is the term of entry i + 1."""

    def __init__(self, terms: list[int]):
        self.terms = terms

    def first_index(self) -> int:
        return 1

    def last_index(self) -> int:
        return len(self.terms)

    def term_at(self, index: int) -> int:
        return self.terms[index - 1]


def append(prev: int, prev_term: int, term: int = 5) -> dict[str, Any]:
    return {"type": "append_entries", "term": term, "commit_index": 20, "prevLogIdx": prev,
            "prevLogTerm": prev_term, "entries": [("x", prev + 1, term)]}


def answer(message: dict[str, Any], log: Log) -> int:
    """The next index pysyncobj 0.3.17 answers with after a failed match (reset=True)."""
    prev = message["prevLogIdx"]
    if prev > log.last_index():
        return log.last_index() + 1
    assert log.term_at(prev) != message["prevLogTerm"], "this message fits: no reset"
    return prev


# The follower: entries 1-3 committed in term 1, entries 4-6 of its own term 2 that never
# committed. The leader (term 5) holds entries 4-17 of term 4.
FOLLOWER = [1, 1, 1, 2, 2, 2]
LEADER_TERM_AT = {3: 1, **{i: 4 for i in range(4, 18)}}


def burst(walk: WalkBack, log: Log, next_index: int) -> int:
    """One heartbeat's worth of messages from `next_index` on, 3 entries each, as pysyncobj's
    leader sends them; returns the next index the leader keeps (its last answer)."""
    kept = next_index
    for prev in range(next_index - 1, 17, 3):
        seen = walk.message_for_syncobj(append(prev, LEADER_TERM_AT[prev]), 5, log)
        kept = answer(seen, log)
    return kept


def test_without_walk_back_the_leader_comes_back_to_the_same_index_every_burst() -> None:
    log = Log(FOLLOWER)
    answers = [answer(append(prev, LEADER_TERM_AT[prev]), log) for prev in (6, 9, 12, 15)]
    assert answers == [6, 7, 7, 7]  # the leader keeps 7 and sends prev=6 again, for good


def test_each_burst_takes_the_leader_one_index_further_back_until_the_logs_agree() -> None:
    log, walk = Log(FOLLOWER), WalkBack()
    assert burst(walk, log, 7) == 6
    assert burst(walk, log, 6) == 5
    assert burst(walk, log, 5) == 4
    # prev=3 fits (term 1 on both): pysyncobj appends from 4 on, and the floor is gone.
    assert walk.message_for_syncobj(append(3, 1), 5, log)["prevLogIdx"] == 3
    assert walk.floor is None


def test_a_message_past_the_end_is_handed_on_as_a_mismatch_at_the_floor() -> None:
    log, walk = Log(FOLLOWER), WalkBack()
    walk.message_for_syncobj(append(6, 4), 5, log)  # conflict at 6
    seen = walk.message_for_syncobj(append(9, 4), 5, log)
    assert (seen["prevLogIdx"], seen["prevLogTerm"], seen["entries"]) == (6, NO_TERM, [])
    assert seen["commit_index"] == 20 and seen["term"] == 5


def test_a_follower_that_is_only_behind_is_answered_as_before() -> None:
    log, walk = Log([1, 1, 1]), WalkBack()
    message = append(9, 4)
    assert walk.message_for_syncobj(message, 5, log) is message
    assert walk.floor is None


def test_a_new_leader_term_starts_without_a_floor() -> None:
    log, walk = Log(FOLLOWER), WalkBack()
    walk.message_for_syncobj(append(6, 4, term=5), 5, log)
    assert walk.floor == 6
    message = append(9, 4, term=6)
    assert walk.message_for_syncobj(message, 5, log) is message
    assert walk.floor is None


def test_stale_leaders_pieces_and_snapshots_pass_untouched() -> None:
    log, walk = Log(FOLLOWER), WalkBack()
    walk.message_for_syncobj(append(6, 4), 5, log)
    stale = append(9, 4, term=3)
    piece = {**append(9, 4), "transmission": "start", "data": b""}
    snapshot = {"type": "append_entries", "term": 5, "commit_index": 20, "serialized": b"x"}
    for message in (stale, piece, snapshot):
        assert walk.message_for_syncobj(message, 5, log) is message
    assert walk.floor == 6
