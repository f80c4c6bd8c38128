"""Snapshots are the SQLite file itself, copied with the online backup API.

A snapshot is a self-contained file (rollback-journal mode, no -wal/-shm beside it: pysyncobj
renames and ships the one file) whose raft_meta row also carries pysyncobj's raft data.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass

from scheduler0.errors import StoreError
from scheduler0.store import db, schema


@dataclass(frozen=True)
class SnapshotInfo:
    last_applied: int
    raft_data: bytes
    version: int  # schema version of the file


def write(source: sqlite3.Connection, path: str, raft_data: bytes) -> None:
    """Copy `source` into a fresh file at `path` and store `raft_data` in that copy."""
    for stale in (path, path + "-wal", path + "-shm", path + "-journal"):
        if os.path.exists(stale):
            os.remove(stale)
    target = sqlite3.connect(path, isolation_level=None)
    try:
        # One step (pages=-1): a consistent copy, and the fastest (the tick thread waits).
        source.backup(target)
        target.execute("PRAGMA journal_mode = DELETE")
        target.execute("UPDATE raft_meta SET raft_data = ? WHERE id = 1", (raft_data,))
    finally:
        target.close()


def read_info(path: str) -> SnapshotInfo:
    """What a snapshot file holds; raises StoreError when it is not a scheduler0 snapshot."""
    if not os.path.exists(path):
        raise StoreError(f"snapshot {path} does not exist")
    conn = db.open_file(path, read_only=True)
    try:
        with db.wrapped(f"{path} is not a readable scheduler0 snapshot"):
            version = schema.file_version(conn)
            row = conn.execute(
                "SELECT last_applied, raft_data FROM raft_meta WHERE id = 1").fetchone()
    finally:
        conn.close()
    if row is None:
        raise StoreError(f"{path} is not a scheduler0 snapshot: its raft_meta row is missing")
    return SnapshotInfo(int(row[0]), bytes(row[1] or b""), version)


def restore(path: str, target: sqlite3.Connection) -> None:
    """Replace the content of `target` with the snapshot's (one atomic backup step)."""
    source = db.open_file(path, read_only=True)
    try:
        with db.wrapped(f"cannot restore from {path}"):
            source.backup(target)
    finally:
        source.close()
