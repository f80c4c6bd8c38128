"""lease.revoke: the newest lease taken back from each node, as a new leader reads it."""

from __future__ import annotations

from scheduler0 import messages
from scheduler0.store import StateMachine
from scheduler0.store.pipeline import PipelineReader
from tests.store.helpers import Log


def revoke(log: Log, node_id: int, term: int, epoch: int) -> dict:
    return log.apply(messages.LEASE_REVOKE, {"node_id": node_id, "term": term, "epoch": epoch})


def test_the_newest_lease_taken_back_from_each_node_is_kept(log: Log, db_path: str) -> None:
    assert revoke(log, 2, 1, 1)["data"] == {"node_id": 2, "term": 1, "epoch": 1}
    assert revoke(log, 2, 3, 2)["data"] == {"node_id": 2, "term": 3, "epoch": 2}
    # An older one committed late (a deposed leader's) does not move it back.
    assert revoke(log, 2, 2, 9)["data"] == {"node_id": 2, "term": 3, "epoch": 2}
    revoke(log, 3, 1, 4)
    reader = PipelineReader(db_path)
    try:
        assert reader.revoked_leases() == {2: (3, 2), 3: (1, 4)}
    finally:
        reader.close()


def test_it_survives_a_restart(log: Log, db_path: str, machine: StateMachine) -> None:
    revoke(log, 2, 5, 1)
    machine.close()
    StateMachine(db_path).close()
    reader = PipelineReader(db_path)
    try:
        assert reader.revoked_leases() == {2: (5, 1)}
    finally:
        reader.close()


def test_a_malformed_revocation_is_refused_with_the_field(log: Log) -> None:
    reply = log.apply(messages.LEASE_REVOKE, {"node_id": 2, "term": "x", "epoch": 1})
    assert reply["ok"] is False and "term" in reply["error"]["message"]
