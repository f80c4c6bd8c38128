"""The SQLite schema as an ordered list of migrations.

`PRAGMA user_version` holds how many migrations a file has had. Opening a file runs the ones it
lacks, each in its own transaction together with the version bump, so a crash mid-upgrade
leaves the file at a whole version. A file whose version is above what this code knows was
written by a newer scheduler0 and is refused (StoreError): running old code on it could
silently drop what the newer version keeps.

Rules for the future: never edit a released step; append a new one.

Time columns: `*_ms` are epoch milliseconds (stamped by the command's proposer); `*_at`,
`start_date`, `end_date` and `anchor` are epoch seconds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from scheduler0.errors import StoreError

Migration = Sequence[str]

_V1: Migration = (
    # One row: the last Raft index whose effect is in this file, and (only in a snapshot copy)
    # pysyncobj's pickled raft data.
    """CREATE TABLE raft_meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        last_applied INTEGER NOT NULL,
        raft_data BLOB
    )""",
    "INSERT INTO raft_meta (id, last_applied, raft_data) VALUES (1, 0, NULL)",
    # Results of applied commands by request_id, so a client's retry returns the first result.
    """CREATE TABLE requests (
        request_id TEXT PRIMARY KEY,
        raft_index INTEGER NOT NULL,
        ts_ms INTEGER NOT NULL,
        result BLOB NOT NULL
    )""",
    "CREATE INDEX requests_raft_index ON requests (raft_index)",
    "CREATE INDEX requests_ts ON requests (ts_ms)",
    """CREATE TABLE credentials (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        api_key TEXT NOT NULL UNIQUE,
        secret_hash TEXT NOT NULL,
        archived INTEGER NOT NULL DEFAULT 0,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
    )""",
    """CREATE TABLE projects (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        signing_secret TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
    )""",
    # Jobs sharing (spec, timezone, anchor) share one row: the planner advances next_fire_at
    # once per group instead of once per job (measured: the per-job UPDATE is the
    # bottleneck). Cron specs store anchor 0 so every job with the same spec and zone shares.
    """CREATE TABLE schedules (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        spec TEXT NOT NULL,
        timezone TEXT NOT NULL,
        anchor INTEGER NOT NULL,
        next_fire_at INTEGER,
        last_fire_at INTEGER,
        UNIQUE (spec, timezone, anchor)
    )""",
    "CREATE INDEX schedules_next_fire ON schedules (next_fire_at)",
    """CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id INTEGER NOT NULL REFERENCES projects (id),
        schedule_id INTEGER NOT NULL REFERENCES schedules (id),
        spec TEXT NOT NULL,
        timezone TEXT NOT NULL,
        anchor INTEGER NOT NULL,
        callback_url TEXT NOT NULL,
        data TEXT,
        execution_type TEXT NOT NULL,
        start_date INTEGER,
        end_date INTEGER,
        paused INTEGER NOT NULL DEFAULT 0,
        misfire_policy TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
    )""",
    "CREATE INDEX jobs_project ON jobs (project_id, id)",
    "CREATE INDEX jobs_schedule ON jobs (schedule_id)",
    # The history: append-mostly, so no foreign keys (an insert per tick must stay cheap);
    # deleting a job or project deletes its executions explicitly. Ascending indexes serve
    # "newest first" by scanning backwards.
    """CREATE TABLE executions (
        execution_id TEXT PRIMARY KEY,
        job_id INTEGER NOT NULL,
        project_id INTEGER NOT NULL,
        scheduled_at INTEGER NOT NULL,
        state TEXT NOT NULL
            CHECK (state IN ('scheduled', 'succeeded', 'failed', 'missed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        http_status INTEGER,
        node_id INTEGER,
        batch_id TEXT,
        error TEXT,
        planned_at_ms INTEGER,
        started_at_ms INTEGER,
        finished_at_ms INTEGER
    )""",
    "CREATE INDEX executions_job ON executions (job_id, scheduled_at)",
    "CREATE INDEX executions_project ON executions (project_id, scheduled_at)",
    "CREATE INDEX executions_state ON executions (state, scheduled_at)",
    "CREATE INDEX executions_time ON executions (scheduled_at)",
    "CREATE INDEX executions_batch ON executions (batch_id)",
)

MIGRATIONS: tuple[Migration, ...] = (_V1,)
SCHEMA_VERSION = len(MIGRATIONS)


def configure(conn: sqlite3.Connection) -> None:
    """Per-connection settings of the writer (WAL itself is stored in the file)."""
    conn.execute("PRAGMA journal_mode = WAL")
    # NORMAL under WAL survives a process crash, as pysyncobj's own journal does; FULL would
    # fsync every apply in the tick thread (measured 3.5x slower, and elections).
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    # A 10k-job create grows the WAL; without a limit the file keeps that size forever.
    conn.execute("PRAGMA journal_size_limit = 67108864")
    conn.execute("PRAGMA cache_size = -16384")


def file_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_not_newer(version: int, where: str, known: int = SCHEMA_VERSION) -> None:
    """Raise StoreError when a file was written by a newer scheduler0 than this one."""
    if version > known:
        raise StoreError(
            f"{where} has schema version {version} but this scheduler0 knows versions up to "
            f"{known}: it was written by a newer scheduler0. Run that version, or point "
            "DataDir at another directory")


def migrate(conn: sqlite3.Connection, where: str,
            migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the file to `len(migrations)`; returns the version it had before.

    `conn` must be in autocommit mode (isolation_level=None). Raises StoreError for a file
    newer than `migrations`; sqlite3 errors propagate for the caller's door to wrap.
    """
    before = file_version(conn)
    check_not_newer(before, where, len(migrations))
    for version in range(before, len(migrations)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in migrations[version]:
                conn.execute(statement)
            # PRAGMA user_version is transactional: it commits with the step or not at all.
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return before
