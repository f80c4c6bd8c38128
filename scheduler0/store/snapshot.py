"""Snapshots are the SQLite file itself, copied with the online backup API.

A snapshot is a self-contained file (rollback-journal mode, no -wal/-shm beside it: pysyncobj
renames and ships the one file) whose raft_meta row also carries pysyncobj's raft data.

`write` copies in one go from the writer connection (the writer waits). `PinnedView` copies
from a read transaction instead, in steps, while the writer goes on: under WAL a read
transaction keeps seeing the file as it was when it began, and the backup API reads through
the transaction its source connection already has, so the copy is that state whatever the
writer commits meanwhile. Without the open transaction each step would read the latest state,
and SQLite restarts a stepped backup whenever the source changes (measured: a 106-step copy
under a committing writer never finished; pinned, it finished in 106 steps and equalled the
pinned state).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from scheduler0.errors import StoreError
from scheduler0.store import db, schema

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SnapshotInfo:
    last_applied: int
    raft_data: bytes
    version: int  # schema version of the file


# Pages per backup step of a PinnedView: 4 MiB at the default page size, so a cancel is seen
# within milliseconds and each step holds no lock anyone else waits for.
STEP_PAGES = 1024
# A PinnedView copy flushes its file every this many bytes: left to the kernel, gigabytes of
# dirty pages pile up and the tick thread's own writes wait behind them. Measured, a 2 GB
# file copied while a node commits: the node's longest tick 1.8-2.1 s without flushing (2 GB
# dirty), 0.06-0.10 s flushing every 64 MiB, 0.03-0.06 s every 16 MiB (0.03 s without a
# copy); the copy took 14.5 s, 16 s and 16.5 s.
SYNC_EVERY_BYTES = 16 * 2**20


def write(source: sqlite3.Connection, path: str, raft_data: bytes) -> None:
    """Copy `source` into a fresh file at `path` and store `raft_data` in that copy."""
    remove_file(path)
    target = sqlite3.connect(path, isolation_level=None)
    try:
        # One step (pages=-1): a consistent copy, and the fastest (the caller waits).
        source.backup(target)
        _finish(target, raft_data)
    finally:
        target.close()


def remove_file(path: str) -> None:
    """Remove a SQLite file and whatever journal files lie beside it."""
    for stale in (path, path + "-wal", path + "-shm", path + "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(stale)


def _finish(target: sqlite3.Connection, raft_data: bytes) -> None:
    # The copied header says WAL; back to a rollback journal, which leaves no file beside it.
    target.execute("PRAGMA journal_mode = DELETE")
    target.execute("UPDATE raft_meta SET raft_data = ? WHERE id = 1", (raft_data,))


class PinnedView:
    """A read transaction on a live file, begun at construction: what a snapshot copies.

    Opened in one thread (where the state to copy is current) and copied in another. Raises
    StoreError. While it is open no checkpoint can pass it and the WAL grows; the caller
    pauses its checkpoints meanwhile (scheduler0.store.checkpoints: they could do nothing but
    look), and `on_release` runs once the view is closed: the next checkpoint then moves
    everything written during the copy, in the checkpointer's thread.
    """

    def __init__(self, db_path: str, on_release: Callable[[], None] | None = None) -> None:
        self._path = db_path
        self._on_release = on_release
        with db.wrapped(f"cannot open {db_path} for a snapshot"):
            self._conn = sqlite3.connect(db.read_only_uri(db_path), uri=True,
                                         isolation_level=None, check_same_thread=False)
            try:
                self._conn.execute("BEGIN")
                # The first read starts the transaction: from here on it sees this state.
                row = self._conn.execute(
                    "SELECT last_applied FROM raft_meta WHERE id = 1").fetchone()
            except BaseException:
                self._conn.close()
                raise
        self.last_applied = int(row[0])

    def copy_to(self, path: str, raft_data: bytes, *, step_pages: int = STEP_PAGES,
                between_steps: Callable[[], None] | None = None) -> None:
        """Write the pinned state to a fresh file at `path`, with `raft_data` in it.

        `between_steps` runs after every step; whatever it raises aborts the copy (and is
        raised here). Closes the view once copied. Raises StoreError or OSError.
        """
        remove_file(path)
        with db.wrapped(f"cannot write the snapshot {path}"):
            target = sqlite3.connect(path, isolation_level=None)
            try:
                page_size = int(self._conn.execute("PRAGMA page_size").fetchone()[0])
                with _FileSync(path, SYNC_EVERY_BYTES // page_size) as flush:

                    def progress(status: int, remaining: int, total: int) -> None:
                        flush.copied(total - remaining)
                        if between_steps is not None:
                            between_steps()

                    self._conn.backup(target, pages=step_pages, progress=progress)
                    self.close()
                    _finish(target, raft_data)
            finally:
                target.close()

    def close(self) -> None:
        """Close the view (again: no harm) and run `on_release` once."""
        self._conn.close()
        release, self._on_release = self._on_release, None
        if release is not None:
            release()


class _FileSync:
    """Flushes a file being written every `every` pages copied."""

    def __init__(self, path: str, every: int) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        self._every = max(1, every)
        self._synced = 0

    def __enter__(self) -> _FileSync:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)

    def copied(self, pages: int) -> None:
        if pages - self._synced >= self._every:
            os.fdatasync(self._fd)
            self._synced = pages


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
