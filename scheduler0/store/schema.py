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
from collections.abc import Callable, Sequence

from scheduler0.errors import StoreError
from scheduler0.store import history, pending

# A step is SQL, or a function for what SQL alone cannot do (it runs in the step's transaction).
Migration = Sequence[str | Callable[[sqlite3.Connection], None]]

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

def _history_table(name: str) -> str:
    return f"""CREATE TABLE {name} (
        project_id INTEGER NOT NULL,
        scheduled_at INTEGER NOT NULL,
        job_id INTEGER NOT NULL,
        state INTEGER NOT NULL CHECK (state IN (0, 1, 2)),
        attempts INTEGER NOT NULL,
        http_status INTEGER,
        node_id INTEGER,
        late_ms INTEGER,
        took_ms INTEGER,
        error TEXT,
        PRIMARY KEY (project_id, scheduled_at, job_id)
    ) WITHOUT ROWID"""


def _rollup_table(name: str) -> str:
    counts = ", ".join(f"{c} INTEGER NOT NULL" for c in history.ROLLUP_COLUMNS)
    return (f"CREATE TABLE {name} (project_id INTEGER NOT NULL, period INTEGER NOT NULL, "
            f"{counts}, PRIMARY KEY (project_id, period)) WITHOUT ROWID")


def _rollup_from_runs(period: int, table: str) -> str:
    """Rollups recomputed from the history rows (the migration from version 1 uses it)."""
    bounds = history.LATENESS_BOUNDS_MS
    buckets = [f"late_ms IS NOT NULL AND late_ms <= {bounds[0]}"]
    buckets += [f"late_ms > {low} AND late_ms <= {high}"
                for low, high in zip(bounds, bounds[1:], strict=False)]
    buckets.append(f"late_ms > {bounds[-1]}")
    sums = ", ".join(f"sum({term})" for term in
                     ("state = 0", "state = 1", "state = 2", *buckets))
    return (f"INSERT INTO {table} SELECT project_id, scheduled_at - scheduled_at % {period}, "
            f"{sums} FROM (SELECT project_id, scheduled_at, state, late_ms FROM runs_ok "
            "UNION ALL SELECT project_id, scheduled_at, state, late_ms FROM runs_bad) "
            "GROUP BY 1, 2")


def _move_v1_history(conn: sqlite3.Connection) -> None:
    """Version 1 kept one `executions` row per tick (inserted at PLAN, updated at RESULT):
    final rows move to runs_ok / runs_bad, scheduled ones become pending batches."""
    for table, states in ((history.OK_TABLE, ("succeeded",)),
                          (history.BAD_TABLE, ("failed", "missed"))):
        for state in states:
            conn.execute(
                f"INSERT OR IGNORE INTO {table} ({history.RUN_COLUMNS}) SELECT project_id, "
                f"scheduled_at, job_id, {history.STATE_CODES[state]}, attempts, http_status, "
                "node_id, started_at_ms - scheduled_at * 1000, finished_at_ms - started_at_ms, "
                "error FROM executions WHERE state = ?", (state,))
    batches: dict[str, tuple[int, int | None, int, dict[int, int]]] = {}
    for batch_id, scheduled_at, node_id, planned, job_id, project_id in conn.execute(
            "SELECT coalesce(batch_id, 'v1-' || scheduled_at), scheduled_at, node_id, "
            "coalesce(planned_at_ms, 0), job_id, project_id FROM executions "
            "WHERE state = 'scheduled' ORDER BY 1, job_id").fetchall():
        batch = batches.setdefault(batch_id, (scheduled_at, node_id, planned, {}))
        batch[3][job_id] = project_id
    for batch_id, (scheduled_at, node_id, planned, jobs) in batches.items():
        pending.open_batch(conn, batch_id, scheduled_at, node_id, planned, jobs)
    # SQLite takes the bare columns of a max() aggregate from the row holding the maximum.
    conn.execute(
        "INSERT INTO job_last (job_id, state, http_status, scheduled_at, finished_at_ms) "
        "SELECT job_id, CASE state WHEN 'succeeded' THEN 0 WHEN 'failed' THEN 1 ELSE 2 END, "
        "http_status, max(scheduled_at), finished_at_ms FROM executions "
        "WHERE state != 'scheduled' GROUP BY job_id")
    for table, period in (("rollup_minute", history.MINUTE), ("rollup_hour", history.HOUR)):
        conn.execute(_rollup_from_runs(period, table))
    conn.execute("DELETE FROM counters")
    conn.executemany("INSERT INTO counters (name, value) VALUES (?, ?)",
                     sorted(history.recount_counters(conn).items()))


# The history written once per tick, with rollups, last results and counters kept on apply.
_V2: Migration = (
    _history_table(history.OK_TABLE),
    f"CREATE INDEX runs_ok_job ON {history.OK_TABLE} (job_id, scheduled_at)",
    _history_table(history.BAD_TABLE),
    f"CREATE INDEX runs_bad_job ON {history.BAD_TABLE} (job_id, scheduled_at)",
    f"CREATE INDEX runs_bad_time ON {history.BAD_TABLE} (scheduled_at)",
    """CREATE TABLE pending (
        batch_id TEXT PRIMARY KEY,
        scheduled_at INTEGER NOT NULL,
        node_id INTEGER,
        planned_at_ms INTEGER NOT NULL,
        open INTEGER NOT NULL,
        settled BLOB NOT NULL,
        closed_at_ms INTEGER
    )""",
    "CREATE INDEX pending_open ON pending (scheduled_at) WHERE open > 0",
    "CREATE INDEX pending_closed ON pending (closed_at_ms) WHERE open = 0",
    """CREATE TABLE pending_jobs (
        batch_id TEXT PRIMARY KEY,
        job_ids BLOB NOT NULL,
        project_ids BLOB NOT NULL
    )""",
    # The last result of each job; "failing now" is the partial index.
    """CREATE TABLE job_last (
        job_id INTEGER PRIMARY KEY,
        state INTEGER NOT NULL,
        http_status INTEGER,
        scheduled_at INTEGER NOT NULL,
        finished_at_ms INTEGER
    )""",
    "CREATE INDEX job_last_failing ON job_last (job_id) WHERE state > 0",
    _rollup_table("rollup_minute"),
    _rollup_table("rollup_hour"),
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
    # `GET /jobs?paused=true` among millions of jobs (paused=false is most of them: the id order
    # finds a page at once).
    "CREATE INDEX jobs_paused ON jobs (id) WHERE paused = 1",
    _move_v1_history,
    "DROP TABLE executions",
)

_V3: Migration = (
    # The newest lease of each node that a leader took back (its batches re-sent to others):
    # a later leader must not let the node carry on under it, or that node would deliver what
    # another node already has.
    """CREATE TABLE leases_revoked (
        node_id INTEGER PRIMARY KEY,
        term INTEGER NOT NULL,
        epoch INTEGER NOT NULL
    )""",
    # What a credential may do: its role, and the projects it is limited to (a JSON array of
    # ids; NULL: every project). Credentials made before roles existed keep full access.
    "ALTER TABLE credentials ADD COLUMN role TEXT NOT NULL DEFAULT 'admin' "
    "CHECK (role IN ('read', 'write', 'admin'))",
    "ALTER TABLE credentials ADD COLUMN project_ids TEXT",
    # A rotated signing secret keeps signing callbacks (as a second signature) until
    # previous_signing_secret_expires_at (epoch s), so receivers can switch without downtime.
    "ALTER TABLE projects ADD COLUMN previous_signing_secret TEXT",
    "ALTER TABLE projects ADD COLUMN previous_signing_secret_expires_at INTEGER",
)

MIGRATIONS: tuple[Migration, ...] = (_V1, _V2, _V3)
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
            for step in migrations[version]:
                if isinstance(step, str):
                    conn.execute(step)
                else:
                    step(conn)
            # PRAGMA user_version is transactional: it commits with the step or not at all.
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return before
