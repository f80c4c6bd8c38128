"""A follower's answers that let the leader walk back past entries nobody committed.

A leader cut off from its peers (or one that crashed right after appending) keeps entries of
its term that never committed. When it returns as a follower, the new leader must find the last
index where both logs agree and overwrite the rest. pysyncobj 0.3.17 does that by walking back
one index per answer, but its leader sends several append_entries in one go, each assuming the
previous one fitted, and keeps the *last* answer it gets:

    follower log ends at 6; entry 6 is of an old term     leader's next index for it: 7
    append_entries prev=6 ... -> "no: go back to 6"     (entry 6 conflicts)
    append_entries prev=9 ... -> "no: go to 7"          (nothing at 9: "my log ends at 6")
    append_entries prev=12 ... -> "no: go to 7"
    leader's next index: 7 again, and the same batch goes out every heartbeat, for good.

Seen in a 3-node cluster whose leader was cut off for 30 s: after the heal it never applied
another entry, and every write it forwarded to the leader timed out (the caller waits for its
own node to apply it). A follower is only caught in this while the leader's backlog for it
needs more than one message, so a short outage recovers and a longer one does not.

`WalkBack` answers for the follower: from a conflict until an entry fits again, a message
reaching past the log end is answered with the lowest index this follower already sent the
leader back to (by handing pysyncobj that index with a term no entry has, which pysyncobj
answers "go back to it"). Nothing else changes: a follower that is merely behind, without a
conflict, is answered as before, and the leader's side is pysyncobj's own.
"""

from __future__ import annotations

from typing import Any, Protocol

NO_TERM = -1  # no entry has it (pysyncobj's terms start at 0), so it never fits


class LogView(Protocol):
    """The follower's log, as far as WalkBack reads it."""

    def first_index(self) -> int: ...

    def last_index(self) -> int: ...

    def term_at(self, index: int) -> int: ...


class WalkBack:
    """What pysyncobj should see of each append_entries a follower receives."""

    def __init__(self) -> None:
        self._term: int | None = None  # the leader's term the floor belongs to
        self._floor: int | None = None  # lowest index this follower told that leader to go to

    @property
    def floor(self) -> int | None:
        return self._floor

    def message_for_syncobj(self, message: dict[str, Any], current_term: int,
                            log: LogView) -> dict[str, Any]:
        prev = message.get("prevLogIdx")
        term = message.get("term")
        if (not isinstance(prev, int) or not isinstance(term, int) or term < current_term
                or "transmission" in message):
            return message  # snapshots, stale leaders, pieces: pysyncobj's own handling
        if term != self._term:
            self._term, self._floor = term, None
        first, last = log.first_index(), log.last_index()
        if prev > last:
            if self._floor is not None and first <= self._floor <= last:
                return {**message, "prevLogIdx": self._floor, "prevLogTerm": NO_TERM,
                        "entries": []}
            return message
        if prev < first:
            return message
        if log.term_at(prev) != message.get("prevLogTerm"):
            self._floor = prev if self._floor is None else min(self._floor, prev)
        else:
            self._floor = None  # the logs agree up to prev: pysyncobj appends from here
        return message


class JournalView:
    """LogView over a pysyncobj journal: entries are (command, index, term) tuples."""

    def __init__(self, journal: Any):
        self._journal = journal

    def first_index(self) -> int:
        return int(self._journal[0][1])

    def last_index(self) -> int:
        return int(self._journal[-1][1])

    def term_at(self, index: int) -> int:
        return int(self._journal[index - self.first_index()][2])
