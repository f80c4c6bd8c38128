"""Opening SQLite files: the writer connection and read-only reader connections.

Connections are in autocommit mode (`isolation_level=None`): every transaction in this package
is explicit (`BEGIN IMMEDIATE` / `BEGIN` ... `COMMIT`), so nothing commits behind our back.
sqlite3 errors raised while opening become StoreError here.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from scheduler0.errors import StoreError
from scheduler0.store import schema

BUSY_TIMEOUT_S = 5.0


@contextlib.contextmanager
def wrapped(action: str) -> Iterator[None]:
    """Turn sqlite3 errors raised inside into StoreError naming `action`."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"{action}: {exc}") from exc


def open_writer(db_path: str) -> sqlite3.Connection:
    """The node's one writing connection, migrated to the current schema.

    Creates the directory and the file. `check_same_thread=False` because pysyncobj's tick
    thread applies commands on a connection opened by another thread (the StateMachine
    serialises access itself). Raises StoreError.
    """
    parent = os.path.dirname(os.path.abspath(db_path))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the data directory {parent}: {exc}") from exc
    with wrapped(f"cannot open the database {db_path}"):
        conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False,
                               timeout=BUSY_TIMEOUT_S)
        try:
            schema.configure(conn)
            schema.migrate(conn, db_path)
        except BaseException:
            conn.close()
            raise
    return conn


def read_only_uri(db_path: str) -> str:
    return Path(db_path).absolute().as_uri() + "?mode=ro"


def open_reader(db_path: str) -> sqlite3.Connection:
    """A read-only connection for one thread; the file must exist and be migrated.

    Raises StoreError when the file is missing, not yet initialised by the coordinator, or
    written by a newer scheduler0.
    """
    if not os.path.exists(db_path):
        raise StoreError(f"the database {db_path} does not exist yet: the node's coordinator "
                         "creates it when it starts; start it (or wait for it) and retry")
    with wrapped(f"cannot open the database {db_path} read-only"):
        conn = sqlite3.connect(read_only_uri(db_path), uri=True, isolation_level=None,
                               timeout=BUSY_TIMEOUT_S)
        try:
            version = schema.file_version(conn)
        except BaseException:
            conn.close()
            raise
    if version == 0:
        conn.close()
        raise StoreError(f"the database {db_path} is not initialised yet: the node's "
                         "coordinator creates its tables when it starts; retry shortly")
    try:
        schema.check_not_newer(version, db_path)
    except StoreError:
        conn.close()
        raise
    return conn


def open_file(path: str, *, read_only: bool = False) -> sqlite3.Connection:
    """A plain connection to a snapshot file (no migration, no WAL)."""
    with wrapped(f"cannot open {path}"):
        if read_only:
            return sqlite3.connect(read_only_uri(path), uri=True, isolation_level=None)
        return sqlite3.connect(path, isolation_level=None)
