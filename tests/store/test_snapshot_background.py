"""BackgroundSnapshots: pysyncobj's asynchronous serializer protocol over a real SQLite file.

The tick thread's calls (start, check, cancel) are made from the test thread, which also
applies commands, as the tick thread does while a copy runs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler0.coordinator.raft_snapshots import DONE, FAILED, IDLE, RUNNING, BackgroundSnapshots
from scheduler0.errors import StoreError
from scheduler0.store import StateMachine, snapshot
from scheduler0.testing import wait_for
from tests.store.helpers import Log, table_dump

GATE_TIMEOUT = 30.0  # a copy held at the gate goes on by itself after this, so nothing hangs


class Gate:
    """Holds the copy thread after its first step until released."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        self.steps = 0

    def __call__(self) -> None:
        self.steps += 1
        self.reached.set()
        self.release.wait(GATE_TIMEOUT)


@pytest.fixture
def snaps(log: Log, tmp_path: Path) -> Iterator[BackgroundSnapshots]:
    runner = BackgroundSnapshots(log.machine, str(tmp_path / "raft.dump"))
    yield runner
    runner.close()


def handed(tmp_path: Path) -> str:
    return str(tmp_path / "raft.dump.tmp")  # the path pysyncobj hands its serializer


def finish(snaps: BackgroundSnapshots) -> str:
    return str(wait_for(lambda: (state := snaps.check()) != RUNNING and state,
                        message="the copy to end"))


def test_a_copy_is_the_state_at_start_and_becomes_the_dump(
        log: Log, snaps: BackgroundSnapshots, tmp_path: Path) -> None:
    log.project("before")
    at_start = table_dump(log.machine.db_path)
    gate = Gate()
    snaps.between_steps = gate
    snaps.start(handed(tmp_path), b"raft data")
    assert gate.reached.wait(GATE_TIMEOUT)
    assert snaps.check() == RUNNING
    log.project("during")  # applies go on while the copy is held
    assert snaps.check() == RUNNING
    assert not os.path.exists(tmp_path / "raft.dump")
    gate.release.set()

    assert finish(snaps) == DONE
    assert snaps.check() == IDLE  # DONE is reported once
    dump = str(tmp_path / "raft.dump")
    assert StateMachine.read_snapshot(dump) == (1, b"raft data")
    assert table_dump(dump, skip_raft_data=True) == at_start
    assert sorted(os.listdir(tmp_path)) == ["data", "raft.dump"]


def test_a_second_request_while_copying_starts_nothing(
        log: Log, snaps: BackgroundSnapshots, tmp_path: Path) -> None:
    log.project()
    gate = Gate()
    snaps.between_steps = gate
    snaps.start(handed(tmp_path), b"first")
    assert gate.reached.wait(GATE_TIMEOUT)
    log.project("second")
    snaps.start(handed(tmp_path), b"second")
    gate.release.set()
    assert finish(snaps) == DONE
    assert snaps.check() == IDLE
    assert StateMachine.read_snapshot(str(tmp_path / "raft.dump")) == (1, b"first")
    assert gate.steps == 1  # one copy thread only


def test_a_failing_copy_is_reported_once_and_keeps_the_previous_dump(
        log: Log, snaps: BackgroundSnapshots, tmp_path: Path) -> None:
    log.project()
    snaps.start(handed(tmp_path), b"good")
    assert finish(snaps) == DONE

    def broken() -> None:
        raise OSError("disk full")

    log.project("later")
    snaps.between_steps = broken
    snaps.start(handed(tmp_path), b"bad")
    assert finish(snaps) == FAILED
    assert snaps.check() == IDLE
    assert StateMachine.read_snapshot(str(tmp_path / "raft.dump")) == (1, b"good")
    assert sorted(os.listdir(tmp_path)) == ["data", "raft.dump"]  # the partial copy is gone


def test_a_view_that_cannot_be_pinned_is_reported_failed(tmp_path: Path) -> None:
    class Unpinnable:
        def pin_snapshot(self) -> snapshot.PinnedView:
            raise StoreError("cannot open")

    runner = BackgroundSnapshots(Unpinnable(), str(tmp_path / "raft.dump"))
    runner.start(handed(tmp_path), b"")
    assert runner.check() == FAILED
    assert runner.check() == IDLE


def test_a_cancelled_copy_is_discarded(log: Log, snaps: BackgroundSnapshots,
                                       tmp_path: Path) -> None:
    log.project()
    gate = Gate()
    snaps.between_steps = gate
    snaps.start(handed(tmp_path), b"")
    assert gate.reached.wait(GATE_TIMEOUT)
    snaps.cancel()  # a snapshot from the leader replaced the state it copies
    gate.release.set()
    assert finish(snaps) == FAILED
    assert sorted(os.listdir(tmp_path)) == ["data"]


def test_a_copy_that_finished_after_its_cancel_is_not_put_in_place(
        log: Log, snaps: BackgroundSnapshots, tmp_path: Path) -> None:
    log.project()
    snaps.start(handed(tmp_path), b"")
    wait_for(lambda: not snaps.running, message="the copy to end")
    snaps.cancel()
    assert snaps.check() == FAILED
    assert not os.path.exists(tmp_path / "raft.dump")
    wait_for(lambda: not os.path.exists(snaps.temp_path), message="the copy to be removed")


def test_closing_during_a_copy_leaves_only_the_previous_dump(
        log: Log, tmp_path: Path) -> None:
    log.project()
    runner = BackgroundSnapshots(log.machine, str(tmp_path / "raft.dump"))
    runner.start(handed(tmp_path), b"complete")
    assert finish(runner) == DONE
    log.project("later")
    gate = Gate()
    runner.between_steps = gate
    runner.start(handed(tmp_path), b"half")
    assert gate.reached.wait(GATE_TIMEOUT)
    closer = threading.Thread(target=runner.close)
    closer.start()
    gate.release.set()
    closer.join(GATE_TIMEOUT)
    assert not closer.is_alive()
    assert sorted(os.listdir(tmp_path)) == ["data", "raft.dump"]
    assert StateMachine.read_snapshot(str(tmp_path / "raft.dump")) == (1, b"complete")
    runner.start(handed(tmp_path), b"after close")  # a stopping node starts no copy
    assert runner.check() == FAILED


def test_a_leftover_at_the_handed_path_is_never_renamed_onto_the_dump(
        log: Log, snaps: BackgroundSnapshots, tmp_path: Path) -> None:
    # pysyncobj renames the handed path onto the dump as soon as the serializer returns.
    log.project()
    Path(handed(tmp_path)).write_bytes(b"a crashed earlier attempt")
    snaps.start(handed(tmp_path), b"")
    assert not os.path.exists(handed(tmp_path))
    assert finish(snaps) == DONE
    assert StateMachine.read_snapshot(str(tmp_path / "raft.dump")) == (1, b"")
