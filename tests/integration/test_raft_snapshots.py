"""Raft log compaction copies the SQLite file in the background, and the copy is a snapshot
pysyncobj loads: at a restart, and when a node far behind catches up from the leader's.

Real nodes (LocalServices: real pysyncobj, real SQLite) on loopback. The copy is held at a
gate in its thread (BackgroundSnapshots.between_steps): commands committing meanwhile show
the tick thread is not waiting for it.
"""

from __future__ import annotations

import dataclasses
import pickle
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler0 import config
from scheduler0.store import StateMachine
from scheduler0.testing import LocalServices, node_settings, wait_for
from tests.integration.test_raft_frames import project_create

THRESHOLD = 30  # log entries before pysyncobj compacts
BEFORE = THRESHOLD + 5  # commands that make it compact
DURING = 10  # commands committed while the copy is held; fewer than THRESHOLD, so once done
# the log is short again and no second compaction follows
GATE_TIMEOUT = 60.0  # a copy held at the gate goes on by itself after this, so nothing hangs


class Gate:
    """Holds the copy thread after its first step until released."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> None:
        self.reached.set()
        self.release.wait(GATE_TIMEOUT)


def dump_path(services: LocalServices) -> Path:
    return Path(services.settings.data_dir) / "raft.dump"


def raft_view(services: LocalServices) -> dict[str, int]:
    return dict(services.status()["raft"])


def project_names(db_path: Path | str) -> list[str]:
    conn = sqlite3.connect(db_path)
    try:
        return [row[0] for row in conn.execute("SELECT name FROM projects ORDER BY id")]
    finally:
        conn.close()


def held_compaction(leader: LocalServices, gate: Gate, indexes: dict[str, int]) -> None:
    """Make `leader` compact, hold its copy at `gate`, commit DURING commands, release it.

    `indexes` gets each project's name -> the index `leader` applied it at.
    """
    def write(name: str) -> None:
        assert leader.submit(project_create(name), timeout=20)["ok"] is True
        indexes[name] = leader.machine.last_applied()

    for n in range(BEFORE):
        write(f"before {n}")
    assert gate.reached.wait(GATE_TIMEOUT), "the log compaction did not start"
    term = leader.raft.term
    for n in range(DURING):
        write(f"during {n}")  # commits while the copy is held
    assert leader.raft.is_leader and leader.raft.term == term, "no election meanwhile"
    assert raft_view(leader)["log_len"] > BEFORE, "the log is kept until the copy is done"
    assert not dump_path(leader).exists()
    gate.release.set()
    wait_for(lambda: dump_path(leader).exists() and raft_view(leader)["log_len"] < THRESHOLD,
             timeout=30, message="the compaction to finish")


def check_dump(dump: Path, indexes: dict[str, int]) -> int:
    """The dump holds exactly the state at one index, and pysyncobj's raft data of it."""
    last_applied, raw = StateMachine.read_snapshot(str(dump))
    raft_data = pickle.loads(raw)
    assert raft_data[0][1] == last_applied  # pysyncobj's last applied entry is the copy's index
    names = project_names(dump)
    assert names and names == list(indexes)[:len(names)]
    assert indexes[names[-1]] == last_applied
    assert len(names) < len(indexes), "what committed during the copy is not in it"
    return last_applied


def test_a_compaction_copies_in_the_background_and_a_restart_loads_it(tmp_path: Path) -> None:
    settings = node_settings(tmp_path / "n1", raft_snapshot_threshold=THRESHOLD)
    services = LocalServices(settings)
    gate = Gate()
    services.raft.snapshots.between_steps = gate
    indexes: dict[str, int] = {}
    services.start()
    try:
        held_compaction(services, gate, indexes)
        check_dump(dump_path(services), indexes)
        last = services.machine.last_applied()
    finally:
        gate.release.set()
        services.stop()
    assert sorted(p.name for p in Path(settings.data_dir).glob("raft.dump*")) == ["raft.dump"]

    # Without its database the node rebuilds the state from the dump and the journal after it
    # (the journal no longer has the entries before the dump).
    for path in Path(settings.data_dir).glob("scheduler0.db*"):
        path.unlink()
    again = LocalServices(settings).start()
    try:
        wait_for(lambda: again.machine.last_applied() == last, timeout=20,
                 message="the restarted node to apply everything")
        assert project_names(settings.db_path) == list(indexes)
    finally:
        again.stop()


class Trio:
    def __init__(self, root: Path):
        base = [node_settings(root / f"n{i}", node_id=i, raft_election_timeout=0.5,
                              raft_snapshot_threshold=THRESHOLD) for i in (1, 2, 3)]
        replicas = tuple(config.Replica(s.node_id, s.api_address, s.raft_address,
                                        s.intake_address) for s in base)
        self.settings = [dataclasses.replace(s, replicas=replicas) for s in base]
        self.running: dict[int, LocalServices] = {}
        self.gates = {i: Gate() for i in (1, 2, 3)}

    def start(self, node_id: int) -> LocalServices:
        services = LocalServices(self.settings[node_id - 1])
        services.raft.snapshots.between_steps = self.gates[node_id]
        self.running[node_id] = services.start()
        return services

    def stop(self, node_id: int) -> None:
        self.gates[node_id].release.set()
        self.running.pop(node_id).stop()

    def leader(self) -> LocalServices:
        return wait_for(lambda: next((s for s in self.running.values() if s.raft.is_leader),
                                     None), timeout=30, message="a leader")


@pytest.fixture
def trio(tmp_path: Path) -> Iterator[Trio]:
    nodes = Trio(tmp_path)
    try:
        yield nodes
    finally:
        for node_id in list(nodes.running):
            nodes.stop(node_id)


def test_a_new_node_catches_up_from_a_snapshot_copied_in_the_background(trio: Trio) -> None:
    for node_id in (1, 2, 3):
        trio.start(node_id)
    leader = trio.leader()
    leader_id = leader.settings.node_id
    behind, other = (i for i in (1, 2, 3) if i != leader_id)
    trio.gates[other].release.set()  # only the leader's copy is held
    trio.stop(behind)

    indexes: dict[str, int] = {}
    held_compaction(leader, trio.gates[leader_id], indexes)
    index = check_dump(dump_path(leader), indexes)

    # A node with nothing: the leader's log starts after index 1, so it gets the dump.
    settings = trio.settings[behind - 1]
    shutil.rmtree(settings.data_dir)
    fresh = trio.start(behind)
    wait_for(lambda: fresh.machine.last_applied() == leader.machine.last_applied(), timeout=30,
             message="the new node to catch up")
    assert project_names(settings.db_path) == list(indexes)
    assert StateMachine.read_snapshot(str(dump_path(fresh)))[0] == index
