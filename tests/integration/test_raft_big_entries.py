"""A big entry of non-ASCII text reaches every node whole, without the tick thread failing.

pysyncobj 0.3.17 sends an entry of >= 64 KiB in pieces and marks as last every piece that reaches
the length of the command, not of the pickle it cuts, which is up to twice as long; the follower
unpickled a truncated entry at each such piece and raised in its tick thread (see scheduler0.coordinator.raft,
"entries that arrive in pieces"). Three real nodes (LocalServices: real pysyncobj, real SQLite) on
loopback; a single one for the journal written before the change.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

import pytest
from pysyncobj import pickle as syncobj_pickle

from scheduler0 import messages
from scheduler0.coordinator import raft, raft_wire
from scheduler0.testing import local_node, wait_for
from tests.integration.test_raft_frames import project_create, three_nodes

JOBS = 16  # 1 MiB of command, 2 MiB pickled with protocol 2: 32 pieces, 17 marked last


def data(job: int) -> str:
    """64 KiB of UTF-8, the most `data` the API lets a job carry; a string of its own for each
    job, as JSON parsing makes them (pickle stores one string object once)."""
    return "é" * (2**15 - 1) + str(job % 10)


def job_create(project_id: int, jobs: int = JOBS) -> dict[str, Any]:
    return messages.make(messages.JOB_CREATE, {"jobs": [
        {"project_id": project_id, "spec": "0 0 1 1 *", "timezone": "UTC",
         "callback_url": "http://127.0.0.1:9/hook", "data": data(job), "execution_type": "http",
         "start_date": None, "end_date": None, "paused": True, "misfire_policy": "run_once",
         "anchor": 1_700_000_000} for job in range(jobs)]})


def tick_failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name.startswith("pysyncobj") and r.levelno >= logging.ERROR]


def replicate_big_command(root: Path) -> None:
    """A job.create of JOBS jobs at the data limit, applied with its data on all three nodes."""
    with three_nodes(root) as nodes:
        leader = wait_for(lambda: next((n for n in nodes if n.raft.is_leader), None), timeout=20,
                          message="a leader")
        project = leader.submit(project_create("big"), timeout=20)["data"]
        result = leader.submit(job_create(project["id"]), timeout=30)
        assert result["ok"] is True, result.get("error")
        ids = [row["id"] for row in result["data"]]
        for services in nodes:
            wait_for(lambda s=services: s.reader().get_job(ids[-1]) is not None, timeout=30,
                     message=f"node {services.settings.node_id} to apply the command")
            assert services.reader().get_job(ids[-1])["data"] == data(JOBS - 1)
        # A later small write still commits and applies everywhere.
        later = leader.submit(project_create("after"), timeout=20)["data"]
        for services in nodes:
            wait_for(lambda s=services: s.reader().get_project(later["id"]) is not None,
                     timeout=20, message=f"node {services.settings.node_id} to apply a later write")


def test_a_big_command_of_non_ascii_text_applies_everywhere_without_a_tick_failing(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    replicate_big_command(tmp_path)
    assert tick_failures(caplog) == []


def test_pieces_marked_last_too_early_still_make_one_entry(
        tmp_path: Path, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """pysyncobj's own protocol 2, as a leader without SYNCOBJ_PICKLE_PROTOCOL sends: half of the
    pieces are marked last, and the followers must wait for the real last one."""
    monkeypatch.setattr(syncobj_pickle, "__protocol", 2)
    caplog.set_level(logging.WARNING)
    replicate_big_command(tmp_path)
    assert tick_failures(caplog) == []


def test_pysyncobj_pickles_bytes_as_they_are() -> None:
    entry = (b"\x00" + b"\xc3\xa9" * 2**15, 7, 3)  # what the leader cuts into pieces
    pickled = syncobj_pickle.dumps(entry)
    assert pickled[1] == raft.SYNCOBJ_PICKLE_PROTOCOL
    assert len(entry[0]) < len(pickled) < len(entry[0]) + 64
    assert syncobj_pickle.loads(pickled) == entry
    # ... and still reads what it pickled before (journals, nodes without the change).
    assert syncobj_pickle.loads(pickle.dumps(entry, protocol=2)) == entry


def test_a_journal_pickled_with_protocol_2_replays(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A node that wrote its journal before the change rebuilds its state from it after."""
    with monkeypatch.context() as before:
        before.setattr(syncobj_pickle, "__protocol", 2)
        with local_node(tmp_path) as node:
            created = node.submit(project_create("café"))["data"]
            jobs = node.submit(job_create(created["id"], jobs=2))["data"]
            journal = Path(node.settings.data_dir, "raft.journal").read_bytes()
    assert b"\x80\x02" in journal and b"\x80\x04" not in journal  # pickles' PROTO opcodes
    assert not Path(tmp_path, "raft.dump").exists()  # no snapshot: the journal is all there is
    state = list(Path(tmp_path).glob(Path(node.settings.db_path).name + "*"))
    assert state
    for path in state:
        path.unlink()  # the SQLite state goes: only replaying the journal brings it back
    with local_node(tmp_path) as again:
        wait_for(lambda: again.reader().get_job(jobs[-1]["id"]) is not None, timeout=20,
                 message="the journal to replay")
        assert again.reader().get_project(created["id"])["name"] == "café"
        assert again.reader().get_job(jobs[-1]["id"])["data"] == data(1)


def test_the_pieces_make_the_entry_only_once_all_arrived_and_only_after_their_start() -> None:
    entry = (b"\x00" + "é".encode() * 2**16, 9, 2)
    pickled = pickle.dumps(entry, protocol=2)
    pieces = [pickled[at:at + 2**16] for at in range(0, len(pickled), 2**16)]
    assert len(pieces) == 5  # marked start, process, then finish 3 times (see the module doc)
    header = {"type": "append_entries", "term": 2, "commit_index": 8, "prevLogIdx": 8,
              "prevLogTerm": 2}
    empty_start = {**header, "transmission": "start", "data": b""}
    reassembly = raft_wire._Reassembly()

    def deliver(mark: str, piece: bytes) -> dict[str, Any]:
        message = {**header, "transmission": mark, "data": piece}
        return reassembly.message_for_syncobj("leader", message)

    # Pieces without their start (the connection that carried it was lost) make nothing.
    assert deliver("process", pieces[1]) == empty_start
    assert deliver("finish", pieces[2]) == empty_start

    assert deliver("start", pieces[0]) == empty_start
    assert deliver("process", pieces[1]) == empty_start
    assert deliver("finish", pieces[2]) == empty_start
    assert deliver("finish", pieces[3]) == empty_start
    assert deliver("finish", pieces[4]) == {**header, "entries": [entry]}
    # ... and the next entry starts afresh.
    assert deliver("finish", pieces[4]) == empty_start
