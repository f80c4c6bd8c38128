"""The replicated state machine: Raft commands applied to the node's SQLite file.

The recipe for a pysyncobj state machine:
- apply by index: the file records the last applied Raft index in the same transaction as each
  command's effect; a command at or below it (journal replay after a restart) is skipped;
- idempotent for clients: a request_id seen before returns the first result;
- never raise: pysyncobj retries a raising apply forever and wedges the node, so a failing
  command is rolled back, its index is still marked applied, and the result says why;
- deterministic: handlers read nothing but the file and the command (time comes from the
  command's `ts`, ids from AUTOINCREMENT), so every node builds the same file;
- snapshots are the SQLite file itself (online backup API), copied either at once
  (`snapshot_to`) or from a pinned read view while applies go on (`pin_snapshot`).

One writer: only pysyncobj's tick thread calls apply and the snapshot hooks; a lock makes the
rare calls from other threads (close at shutdown) safe. WAL checkpoints run in a thread of
their own (scheduler0.store.checkpoints), never in an apply's commit.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Mapping
from typing import Any

from scheduler0.errors import ApiError, StoreError
from scheduler0.messages import Command, ok, refused
from scheduler0.schedule import ScheduleCache
from scheduler0.store import checkpoints, db, dedup, schema, snapshot
from scheduler0.store.handlers import HANDLERS
from scheduler0.store.tx import Handler, Tx

log = logging.getLogger(__name__)

REPLAYED: dict[str, Any] = {"ok": True, "data": None, "replayed": True}
KEY_REUSED = ApiError("Idempotency-Key: this key was already sent with a different request "
                      "(another body or query) to this route; send a new key for a new "
                      "request, or the first request unchanged to get its result",
                      status=422, code="idempotency_key_reused")


class StateMachine:
    """The node's SQLite file as a Raft state machine. The only writer of that file."""

    def __init__(self, db_path: str) -> None:
        """Open (creating the file and its directory) and migrate; raises StoreError."""
        self._path = db_path
        self._lock = threading.RLock()
        self._schedules = ScheduleCache()
        self._conn = db.open_writer(db_path)
        with db.wrapped(f"cannot read {db_path}"):
            self._last_applied = dedup.last_applied(self._conn)
            # The commits of the apply thread never checkpoint: the checkpointer's thread does.
            self._conn.execute("PRAGMA wal_autocheckpoint = 0")
            self._checkpoints = checkpoints.Checkpointer(db_path)

    @property
    def db_path(self) -> str:
        return self._path

    @property
    def checkpointer(self) -> checkpoints.Checkpointer:
        return self._checkpoints

    def last_applied(self) -> int:
        """The Raft index of the last command whose effect is in the file."""
        return self._last_applied

    # -- apply --------------------------------------------------------------------------------

    def apply(self, command: Any, index: int) -> dict[str, Any]:
        """Apply `command` (a scheduler0.messages.Command journal dict) as Raft entry `index`.
        Never raises.

        Returns the result dict of scheduler0.messages.commands; `REPLAYED` when `index` was applied
        before; the first result when the request_id was seen before; refused(500,
        "apply_failed", ...) when applying failed unexpectedly (the index is skipped).
        """
        with self._lock:
            if index <= self._last_applied:
                return dict(REPLAYED)
            try:
                return self._apply_new(command, index)
            except Exception as exc:  # must never reach pysyncobj's thread
                return self._skip_failed(command, index, exc)

    def _apply_new(self, command: Any, index: int) -> dict[str, Any]:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            result, request_id, ts_ms = self._decide(command, index)
            dedup.record(conn, index, ts_ms, request_id, result)
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        self._last_applied = index
        return result

    def _decide(self, command: Any, index: int
                ) -> tuple[dict[str, Any], str | None, int | None]:
        """(result, request_id to store it under or None, ts) inside the open transaction."""
        try:
            envelope = Command.decode(command)
        except ApiError as exc:
            return _refusal(exc), None, None
        command_type, request_id, ts_ms = envelope.type, envelope.request_id, envelope.ts
        if request_id is not None:
            stored = dedup.stored_result(self._conn, request_id)
            if stored is not None:
                return stored, None, ts_ms
            if dedup.key_reused(self._conn, request_id):
                return _refusal(KEY_REUSED), request_id, ts_ms
        handler = HANDLERS.get(command_type)
        if handler is None:
            unknown = ApiError(f'unknown command type "{command_type}"; known types: '
                               f'{", ".join(HANDLERS)}', status=400, code="unknown_command")
            return _refusal(unknown), request_id, ts_ms
        tx = Tx(self._conn, ts_ms, index, self._schedules)
        return self._run(handler, tx, envelope.body), request_id, ts_ms

    def _run(self, handler: Handler, tx: Tx, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Run one handler; a refusal (ApiError) undoes its partial effects."""
        tx.conn.execute("SAVEPOINT effect")
        try:
            data = handler(tx, payload)
        except ApiError as exc:
            tx.conn.execute("ROLLBACK TO effect")
            tx.conn.execute("RELEASE effect")
            return _refusal(exc)
        tx.conn.execute("RELEASE effect")
        return ok(data)

    def _skip_failed(self, command: Any, index: int, exc: Exception) -> dict[str, Any]:
        """Mark `index` applied with no effect, so the log moves on; never raises."""
        kind = command.get("type") if isinstance(command, Mapping) else type(command).__name__
        log.error("apply of %s at index %d failed; skipping it", kind, index, exc_info=exc)
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                dedup.record(self._conn, index, None, None, None)
                self._conn.execute("COMMIT")
            except BaseException:
                _rollback(self._conn)
                raise
            self._last_applied = index
        except Exception:  # the file itself is failing; say so loudly
            log.critical("could not record index %d as applied: the database %s is failing",
                         index, self._path, exc_info=True)
        return refused(500, "apply_failed",
                       f"the command at Raft index {index} could not be applied "
                       f"({type(exc).__name__}: {exc}); nothing changed, see the coordinator log")

    # -- snapshots (pysyncobj serializer / deserializer) ---------------------------------------

    def snapshot_to(self, path: str, raft_data: bytes) -> None:
        """Write a consistent copy of the file to `path`, with `raft_data` in the copy.

        Raises StoreError.
        """
        with self._lock, db.wrapped(f"cannot write the snapshot {path}"):
            try:
                snapshot.write(self._conn, path, raft_data)
            except OSError as exc:
                raise StoreError(f"cannot write the snapshot {path}: {exc}") from exc

    def pin_snapshot(self) -> snapshot.PinnedView:
        """A read view of the file at what is applied now, to copy while applies go on.

        Raises StoreError.
        """
        with self._lock, db.wrapped(f"cannot pin a snapshot view of {self._path}"):
            self._checkpoints.pause()
            try:
                view = snapshot.PinnedView(self._path, on_release=self._checkpoints.resume)
            except BaseException:
                self._checkpoints.resume()
                raise
            if view.last_applied != self._last_applied:  # another writer, or a stale reader
                view.close()
                raise StoreError(f"the snapshot view of {self._path} is at index "
                                 f"{view.last_applied}, not at the applied {self._last_applied}")
            return view

    @staticmethod
    def read_snapshot(path: str) -> tuple[int, bytes]:
        """(last_applied, raft_data) of a snapshot file; raises StoreError."""
        info = snapshot.read_info(path)
        return info.last_applied, info.raft_data

    def restore_from(self, path: str) -> bool:
        """Replace the file's content with the snapshot's when the snapshot is newer.

        Returns True when restored; False (and logs) when the snapshot is not newer than what
        is applied, was written by a newer scheduler0, or cannot be read. Never raises.
        """
        with self._lock:
            try:
                info = snapshot.read_info(path)
                if info.last_applied <= self._last_applied:
                    log.info("snapshot %s (index %d) is not newer than the database (index %d); "
                             "kept the database", path, info.last_applied, self._last_applied)
                    return False
                schema.check_not_newer(info.version, path)
                self._checkpoints.pause()
                try:
                    snapshot.restore(path, self._conn)
                finally:
                    self._checkpoints.resume()
                with db.wrapped(f"cannot reopen {self._path} after a restore"):
                    schema.configure(self._conn)  # the copy may carry another journal mode
                    schema.migrate(self._conn, self._path)  # from an older scheduler0
                    self._last_applied = dedup.last_applied(self._conn)
            except Exception:  # pysyncobj only logs a raising deserializer
                log.exception("could not restore the snapshot %s", path)
                return False
            log.info("restored snapshot %s (index %d)", path, self._last_applied)
            return True

    def close(self) -> None:
        with self._lock:
            self._checkpoints.close()
            self._conn.close()


def _refusal(exc: ApiError) -> dict[str, Any]:
    return refused(exc.status, exc.code, exc.message)


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("rollback failed")
