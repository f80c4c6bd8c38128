"""WAL checkpoints in a thread of their own, not in the commits of the apply thread.

With SQLite's automatic checkpoints, the commit that takes the WAL past 1,000 pages copies them
into the file and syncs it, inside pysyncobj's tick thread (measured at a million executions a
minute: 13 % of that thread's busy time). Here the writer never checkpoints; this thread runs a
PASSIVE checkpoint on its own connection every INTERVAL seconds. PASSIVE takes no lock the
writer or the readers wait for, and never copies a frame a reader may still need, so it is
safe at any time; it is paused while a snapshot copy holds a read view (it could not get past
that view's frames anyway, and each attempt would read the whole WAL again).
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from scheduler0.store import db

log = logging.getLogger(__name__)

INTERVAL = 0.25  # seconds between checkpoints


class Checkpointer:
    def __init__(self, db_path: str) -> None:
        self._path = db_path
        self._conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False,
                                     timeout=db.BUSY_TIMEOUT_S)
        self._stop = threading.Event()
        self._lock = threading.Lock()  # of _pauses: pause() never waits for a checkpoint
        self._running = threading.Lock()  # of the connection
        self._pauses = 0
        self.checkpoints = 0
        self._thread = threading.Thread(target=self._loop, name="checkpoints", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        """No checkpoint starts until as many resume() calls; one under way finishes."""
        with self._lock:
            self._pauses += 1

    def resume(self) -> None:
        with self._lock:
            self._pauses = max(0, self._pauses - 1)

    def run_once(self) -> bool:
        """One PASSIVE checkpoint unless paused; returns whether it ran."""
        with self._running:
            with self._lock:
                if self._pauses:
                    return False
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error as exc:  # a busy or closing file: the next one tries again
                log.debug("WAL checkpoint of %s skipped: %s", self._path, exc)
                return False
            self.checkpoints += 1
            return True

    def close(self) -> None:
        """Stop the thread and close its connection (the writer checkpoints at its own close)."""
        self._stop.set()
        self._thread.join(timeout=10)
        with self._running:
            self._conn.close()

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL):
            try:
                self.run_once()
            except Exception:  # a thread that died would let the WAL grow without bound
                log.exception("WAL checkpoint of %s failed; trying again", self._path)
