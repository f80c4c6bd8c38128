"""Raft snapshots copied in the background, so the tick thread never waits for one.

pysyncobj asks for a snapshot in its tick thread, the thread that also sends heartbeats and
applies entries: a SQLite backup of a multi-GB file there stops the node for seconds, long
enough for its peers to elect another leader. So the snapshot follows pysyncobj's asynchronous
protocol (a serializer that starts the work, a serializeChecker it polls every tick):

- `start`, the serializer, pins a read view of the SQLite file (a read transaction: under WAL
  it keeps seeing this state while the writer goes on). The tick thread is the only applier,
  so the view is exactly the state matching the raft data pysyncobj passes. A thread then
  copies the view, with that raft data, into TEMP beside the dump.
- Once the serializer returns, pysyncobj renames the path it handed over onto the dump.
  `start` leaves that path absent, so the rename fails (pysyncobj swallows that, and asks
  for no snapshot until `check` reports an outcome) and the dump keeps the previous snapshot
  until the copy is complete.
- `check`, the serializeChecker, answers RUNNING while the thread works. Then, once, DONE after
  renaming the complete copy onto the dump (pysyncobj then drops its log up to the snapshot),
  or FAILED (pysyncobj tries again later). The rename happens in the tick thread because
  pysyncobj installs a snapshot received from the leader there too (its own rename onto the
  dump, then the deserializer), so the two never interleave; a copy still running then is of
  an older state, and `cancel` discards it.

While a copy runs pysyncobj asks for no other, and sends no dump to a lagging follower.

Freeing a big file takes seconds (measured on ext4 mounted with discard: dropping the last
link of a 5 GB file, 5 s), in whichever thread drops the last reference. So the tick thread
never does: a failed or discarded copy is removed by its own thread, and the dump being
replaced is kept open across the rename and closed in a thread of its own.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Protocol

from scheduler0 import clock
from scheduler0.errors import StoreError
from scheduler0.store import snapshot

log = logging.getLogger(__name__)

IDLE, RUNNING, DONE, FAILED = "idle", "running", "done", "failed"
CLOSE_WAIT_S = 30.0  # at shutdown, how long to wait for the copy thread to see its cancel


class SnapshotSource(Protocol):
    def pin_snapshot(self) -> snapshot.PinnedView: ...


class _Cancelled(Exception):
    pass


class BackgroundSnapshots:
    """One snapshot copy at a time, for pysyncobj's serializer and serializeChecker.

    `start`, `check` and `cancel` run in the tick thread; `close` after it stopped.
    """

    def __init__(self, machine: SnapshotSource, dump_path: str) -> None:
        self._machine = machine
        self._dump = dump_path
        self.temp_path = dump_path + ".copy"
        self._copy: _Copy | None = None
        self._closed = False
        # Runs in the copy thread after every step; tests hold the copy there.
        self.between_steps: Callable[[], None] | None = None

    @property
    def running(self) -> bool:
        return self._copy is not None and self._copy.alive()

    def discard_leftovers(self) -> None:
        """Remove a copy an earlier process left unfinished (before the tick thread runs)."""
        snapshot.remove_file(self.temp_path)

    def start(self, handed_path: str, raft_data: bytes) -> None:
        """Begin copying what is applied now, with `raft_data` in the copy. Never raises.

        A failure to begin is logged and reported by the next `check`: pysyncobj asks again
        only after an outcome.
        """
        if self._copy is not None:
            log.warning("a raft snapshot is still being written; not starting another")
            return
        copy = _Copy(self.temp_path, raft_data, self.between_steps)
        self._copy = copy
        try:
            if self._closed:
                raise StoreError("the node is stopping")
            if os.path.lexists(handed_path):  # a leftover: out of the way of pysyncobj's rename
                os.replace(handed_path, self.temp_path)
            copy.begin(self._machine.pin_snapshot())
        except Exception:
            log.exception("cannot start a raft snapshot")

    def check(self) -> str:
        """IDLE, RUNNING, or once per copy DONE (the copy is the dump now) or FAILED."""
        copy = self._copy
        if copy is None:
            return IDLE
        if copy.alive():
            return RUNNING
        self._copy = None
        if not copy.succeeded:
            return FAILED
        if copy.cancelled.is_set():
            _in_background(snapshot.remove_file, self.temp_path)
            return FAILED
        try:
            self._publish()
        except OSError:
            log.exception("cannot put the raft snapshot %s in place", self.temp_path)
            _in_background(snapshot.remove_file, self.temp_path)
            return FAILED
        log.info("raft snapshot at index %d written in %.1f s", copy.index, copy.seconds)
        return DONE

    def cancel(self) -> None:
        """Discard the copy running, if any: the state it copies is being replaced."""
        if self._copy is not None:
            self._copy.cancelled.set()

    def close(self) -> None:
        """Stop and remove a copy in progress; the dump keeps the last complete snapshot."""
        self._closed = True
        copy, self._copy = self._copy, None
        if copy is None:
            return
        copy.cancelled.set()
        if not copy.join(CLOSE_WAIT_S):
            log.warning("the raft snapshot copy did not stop within %g s", CLOSE_WAIT_S)
            return
        snapshot.remove_file(self.temp_path)

    def _publish(self) -> None:
        try:
            previous: int | None = os.open(self._dump, os.O_RDONLY)
        except FileNotFoundError:
            previous = None
        try:
            os.replace(self.temp_path, self._dump)
        finally:
            if previous is not None:
                _in_background(os.close, previous)


class _Copy:
    """One copy of a pinned view into `temp`, in its own thread."""

    def __init__(self, temp: str, raft_data: bytes,
                 between_steps: Callable[[], None] | None) -> None:
        self._temp = temp
        self._raft_data = raft_data
        self._between_steps = between_steps
        self._thread: threading.Thread | None = None
        self._view: snapshot.PinnedView | None = None
        self.cancelled = threading.Event()
        self.succeeded = False
        self.index = 0
        self.seconds = 0.0

    def begin(self, view: snapshot.PinnedView) -> None:
        self._view = view
        self.index = view.last_applied
        self._thread = threading.Thread(target=self._run, name="raft-snapshot", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.alive()

    def _step(self) -> None:
        if self._between_steps is not None:
            self._between_steps()
        if self.cancelled.is_set():
            raise _Cancelled

    def _run(self) -> None:
        assert self._view is not None
        started = clock.monotonic()
        try:
            self._view.copy_to(self._temp, self._raft_data, between_steps=self._step)
            if self.cancelled.is_set():
                raise _Cancelled
        except _Cancelled:
            log.info("raft snapshot at index %d discarded", self.index)
            self._remove_temp()
        except Exception:
            log.exception("writing the raft snapshot at index %d into %s failed",
                          self.index, self._temp)
            self._remove_temp()
        else:
            self.succeeded = True
        finally:
            self._view.close()
            self.seconds = clock.monotonic() - started

    def _remove_temp(self) -> None:
        try:
            snapshot.remove_file(self._temp)
        except OSError:
            log.exception("cannot remove %s", self._temp)


def _in_background(action: Callable[..., object], *args: object) -> None:
    """Run `action` in a thread of its own, logging what it raises."""

    def run() -> None:
        try:
            action(*args)
        except Exception:
            log.exception("raft snapshot clean-up failed")

    threading.Thread(target=run, name="raft-snapshot-cleanup", daemon=True).start()
