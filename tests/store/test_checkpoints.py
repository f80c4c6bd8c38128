"""WAL checkpoints run in their own thread on a real SQLite file, never in an apply's commit
(their pause while a snapshot copy holds a read view: test_snapshot_pinned.py)."""

from __future__ import annotations

import struct
from pathlib import Path

from scheduler0.store import StateMachine
from scheduler0.testing import wait_for
from tests.store.helpers import Log

# The WAL-index (the -shm file, SQLite's "WAL-index format"): mxFrame, the last valid frame, at
# byte 16 of the header; nBackfill, the frames copied into the database, at byte 96.
MX_FRAME, N_BACKFILL = 16, 96


def wal_index(db_path: str) -> tuple[int, int]:
    """(frames in the WAL, frames of it checkpointed into the database file)."""
    head = Path(db_path + "-shm").read_bytes()[:100]
    return (struct.unpack_from("=I", head, MX_FRAME)[0],
            struct.unpack_from("=I", head, N_BACKFILL)[0])


def write_some(log: Log, commands: int = 20) -> None:
    project = log.project()
    for _ in range(commands):
        log.jobs(*[{"project_id": project["id"], "spec": "@every 1h",
                    "callback_url": "http://127.0.0.1:9/x", "data": "d" * 500}
                   for _ in range(20)])


def test_the_checkpointer_copies_the_wal_and_the_commits_do_not(machine: StateMachine,
                                                                log: Log, db_path: str):
    assert machine._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    machine.checkpointer.pause()  # nothing but the writer's commits now
    write_some(log)
    frames, copied = wal_index(db_path)
    assert frames > 0 and copied < frames
    machine.checkpointer.resume()
    wait_for(lambda: wal_index(db_path)[1] == frames, timeout=10,
             message="the checkpointer copied every frame")
