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
from scheduler0.store import history, hosts, pending

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

_V4: Migration = (
    # -- names, descriptions and labels --
    # Existing jobs get no name, an empty description and no labels. A name is unique within
    # its project (the partial index costs nothing for the jobs that have none); `labels` is
    # the job's label set as canonical JSON text (scheduler0.labels), NULL for none.
    "ALTER TABLE jobs ADD COLUMN name TEXT",
    "ALTER TABLE jobs ADD COLUMN description TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE jobs ADD COLUMN labels TEXT",
    "CREATE UNIQUE INDEX jobs_name ON jobs (name, project_id) WHERE name IS NOT NULL",
    # The label index: for each label (key, value), the ranges of job ids [first_id,
    # last_id] whose jobs have it: exactly those jobs, each in one range. Jobs created together
    # have consecutive ids, so a batch whose jobs share their labels is one row per label,
    # not one per job and label (a batch that follows another with those labels extends its
    # ranges). The ranges of a label are disjoint, so read in first_id order they give its
    # jobs in id order: a `key=value` selector pages at the same cost at any depth.
    # job.create writes them (store/job_labels.py); the triggers keep them exact for every
    # other change of jobs.labels and for every delete of a job, whatever deletes it (a job,
    # a project with its jobs, a bulk operation): the id leaves the ranges of the labels it
    # had (splitting a range in two when it was inside), and joins the range of each new
    # label that ends just before it, or a range of its own.
    """CREATE TABLE job_labels (
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        first_id INTEGER NOT NULL,
        last_id INTEGER NOT NULL,
        PRIMARY KEY (key, value, first_id)
    ) WITHOUT ROWID""",
    """CREATE TRIGGER job_labels_on_delete AFTER DELETE ON jobs WHEN old.labels IS NOT NULL
    BEGIN
        INSERT INTO job_labels (key, value, first_id, last_id)
            SELECT r.key, r.value, old.id + 1, r.last_id
            FROM json_each(old.labels) l JOIN job_labels r ON r.key = l.key
                AND r.value = l.value AND r.first_id = (
                    SELECT max(first_id) FROM job_labels
                    WHERE key = l.key AND value = l.value AND first_id <= old.id)
            WHERE r.last_id > old.id;
        UPDATE job_labels SET last_id = old.id - 1
            WHERE last_id >= old.id AND (key, value, first_id) IN (
                SELECT l.key, l.value, (
                    SELECT max(first_id) FROM job_labels
                    WHERE key = l.key AND value = l.value AND first_id < old.id)
                FROM json_each(old.labels) l);
        DELETE FROM job_labels WHERE (key, value, first_id) IN (
            SELECT key, value, old.id FROM json_each(old.labels));
    END""",
    # The same for a change of labels, but for the labels the job keeps.
    """CREATE TRIGGER job_labels_on_update AFTER UPDATE OF labels ON jobs
    WHEN old.labels IS NOT new.labels
    BEGIN
        INSERT INTO job_labels (key, value, first_id, last_id)
            SELECT r.key, r.value, old.id + 1, r.last_id
            FROM json_each(old.labels) l JOIN job_labels r ON r.key = l.key
                AND r.value = l.value AND r.first_id = (
                    SELECT max(first_id) FROM job_labels
                    WHERE key = l.key AND value = l.value AND first_id <= old.id)
            WHERE r.last_id > old.id
                AND json_extract(new.labels, '$."' || l.key || '"') IS NOT l.value;
        UPDATE job_labels SET last_id = old.id - 1
            WHERE last_id >= old.id AND (key, value, first_id) IN (
                SELECT l.key, l.value, (
                    SELECT max(first_id) FROM job_labels
                    WHERE key = l.key AND value = l.value AND first_id < old.id)
                FROM json_each(old.labels) l
                WHERE json_extract(new.labels, '$."' || l.key || '"') IS NOT l.value);
        DELETE FROM job_labels WHERE (key, value, first_id) IN (
            SELECT key, value, old.id FROM json_each(old.labels) l
            WHERE json_extract(new.labels, '$."' || l.key || '"') IS NOT l.value);
        UPDATE job_labels SET last_id = new.id
            WHERE last_id = new.id - 1 AND (key, value, first_id) IN (
                SELECT l.key, l.value, (
                    SELECT max(first_id) FROM job_labels
                    WHERE key = l.key AND value = l.value AND first_id < new.id)
                FROM json_each(new.labels) l
                WHERE json_extract(old.labels, '$."' || l.key || '"') IS NOT l.value);
        INSERT INTO job_labels (key, value, first_id, last_id)
            SELECT l.key, l.value, new.id, new.id FROM json_each(new.labels) l
            WHERE json_extract(old.labels, '$."' || l.key || '"') IS NOT l.value
                AND NOT EXISTS (
                    SELECT 1 FROM job_labels r WHERE r.key = l.key AND r.value = l.value
                        AND r.last_id = new.id AND r.first_id = (
                            SELECT max(first_id) FROM job_labels
                            WHERE key = l.key AND value = l.value AND first_id <= new.id));
    END""",
    # -- delivery settings per job --
    # NULL in each: the node's own setting (JobExecutionTimeout, ...), so every existing job
    # keeps delivering as it did, and follows the node's config until it is given its own.
    # headers is a JSON object of names to values, success_codes a JSON array of statuses.
    "ALTER TABLE jobs ADD COLUMN method TEXT",
    "ALTER TABLE jobs ADD COLUMN headers TEXT",
    "ALTER TABLE jobs ADD COLUMN timeout REAL",
    "ALTER TABLE jobs ADD COLUMN retries INTEGER",
    "ALTER TABLE jobs ADD COLUMN retry_delay REAL",
    "ALTER TABLE jobs ADD COLUMN success_codes TEXT",
    # -- bulk operations and the cluster pause --
    # A bulk operation over jobs (POST /jobs/bulk) and its progress. The API process that
    # accepted it (runner_node, runner_token) applies it in chunks; `scope` is the creating
    # credential's projects (NULL: every project), `projects` those the operation concerns
    # (NULL: unknown, shown only to credentials for every project). JSON columns: selection,
    # labels, scope, projects, skipped_ids (the first few selected jobs it could not change),
    # errors (why it failed, which jobs it left as they were). Finished ones are pruned.
    """CREATE TABLE operations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        action TEXT NOT NULL,
        selection TEXT NOT NULL,
        labels TEXT,
        total INTEGER NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        skipped_ids TEXT NOT NULL DEFAULT '[]',
        state TEXT NOT NULL
            CHECK (state = 'running' OR state = 'succeeded' OR state = 'failed'),
        errors TEXT NOT NULL DEFAULT '[]',
        scope TEXT,
        projects TEXT,
        created_by TEXT NOT NULL,
        runner_node INTEGER NOT NULL,
        runner_token TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        finished_at_ms INTEGER
    )""",
    "CREATE INDEX operations_running ON operations (id) WHERE state = 'running'",
    # One row: whether the leader's planner plans (POST /pause, POST /resume), who changed it
    # and when.
    """CREATE TABLE cluster_pause (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        paused INTEGER NOT NULL,
        paused_at_ms INTEGER,
        paused_by TEXT,
        reason TEXT,
        resumed_at_ms INTEGER,
        resumed_by TEXT
    )""",
    "INSERT INTO cluster_pause (id, paused) VALUES (1, 0)",
    # -- failure notifications --
    # Where a project's failure notifications go (NULL: nowhere, as for every existing
    # project) and how their body is written (scheduler0.notifications.FORMATS).
    "ALTER TABLE projects ADD COLUMN notification_url TEXT",
    "ALTER TABLE projects ADD COLUMN notification_format TEXT NOT NULL DEFAULT 'json' "
    "CHECK (notification_format IN ('json', 'slack'))",
    # Every apply that records results reads which projects notify: through this index that
    # is one short read, and an empty one while no project has a URL.
    "CREATE INDEX projects_notifying ON projects (id) WHERE notification_url IS NOT NULL",
    # The outbox (store/notifications.py): one row per state change of a job, written by the
    # apply on every node alike; the leader sends the pending ones and commits how it went
    # (`delivery`). AUTOINCREMENT: an id, and the Idempotency-Key made of it, is never
    # reused after pruning.
    """CREATE TABLE notifications (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id INTEGER NOT NULL,
        job_id INTEGER NOT NULL,
        job_name TEXT,
        type TEXT NOT NULL,
        state TEXT NOT NULL,
        previous_state TEXT,
        scheduled_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        http_status INTEGER,
        error TEXT,
        created_at_ms INTEGER NOT NULL,
        delivery TEXT NOT NULL DEFAULT 'pending'
            CHECK (delivery IN ('pending', 'sent', 'failed')),
        delivery_attempts INTEGER NOT NULL DEFAULT 0,
        delivery_status INTEGER,
        delivery_error TEXT,
        settled_at_ms INTEGER
    )""",
    "CREATE INDEX notifications_pending ON notifications (project_id, id) "
    "WHERE delivery = 'pending'",
    "CREATE INDEX notifications_project ON notifications (project_id, id)",
    # -- manual runs, redelivery and backfill --
    # A run-now (POST /jobs/{id}/run): the data it delivers instead of the job's (NULL: the
    # job's, as it is when delivered) and, once settled, its final row in the columns of
    # runs_ok / runs_bad (state NULL until then). Its execution id <job>-<tick>-m<run> is a
    # key of its own, so it never meets a tick of the schedule, whatever second it falls on.
    # AUTOINCREMENT: a run number is never reused after pruning.
    """CREATE TABLE runs_manual (
        run INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id INTEGER NOT NULL,
        job_id INTEGER NOT NULL,
        scheduled_at INTEGER NOT NULL,
        data TEXT,
        state INTEGER CHECK (state IN (0, 1, 2)),
        attempts INTEGER NOT NULL DEFAULT 0,
        http_status INTEGER,
        node_id INTEGER,
        late_ms INTEGER,
        took_ms INTEGER,
        error TEXT,
        redeliveries INTEGER NOT NULL DEFAULT 0
    )""",
    # Read as the ticks are (store/executions.py): per project, or per job, newest first;
    # pruned oldest first.
    "CREATE INDEX runs_manual_project ON runs_manual (project_id, scheduled_at, job_id, run)",
    "CREATE INDEX runs_manual_job ON runs_manual (job_id, scheduled_at, run)",
    "CREATE INDEX runs_manual_time ON runs_manual (scheduled_at, run)",
    # The few ticks of runs_ok / runs_bad that were backfilled or redelivered: the rows of
    # every other tick keep their size (a column would cost each a byte). A tick's mark goes
    # with its row, whatever deletes it (retention, a job or project deleted).
    """CREATE TABLE runs_marks (
        project_id INTEGER NOT NULL,
        scheduled_at INTEGER NOT NULL,
        job_id INTEGER NOT NULL,
        backfilled INTEGER NOT NULL,
        redeliveries INTEGER NOT NULL,
        PRIMARY KEY (project_id, scheduled_at, job_id)
    ) WITHOUT ROWID""",
    *(f"""CREATE TRIGGER {table}_marks_on_delete AFTER DELETE ON {table}
    BEGIN
        DELETE FROM runs_marks WHERE project_id = old.project_id
            AND scheduled_at = old.scheduled_at AND job_id = old.job_id;
    END""" for table in (history.OK_TABLE, history.BAD_TABLE)),
    # A batch a request committed (a run-now, a redelivery, a backfill) has no node until the
    # leader sends it; the planner finds those still open here every round.
    "CREATE INDEX pending_requested ON pending (batch_id) WHERE open > 0 AND node_id IS NULL",
)

_V5: Migration = (
    # -- per-project rate limits --
    # A project's limit on its receivers (NULL: none of that kind, as for every existing
    # project): executions in flight at once and started per second.
    "ALTER TABLE projects ADD COLUMN rate_concurrency INTEGER "
    "CHECK (rate_concurrency IS NULL OR rate_concurrency >= 1)",
    "ALTER TABLE projects ADD COLUMN rate_per_second REAL "
    "CHECK (rate_per_second IS NULL OR rate_per_second > 0)",
    # The planner reads the limited projects every round it plans: through this index that is
    # one short read, and an empty one while no project has a limit.
    "CREATE INDEX projects_rate_limited ON projects (id) "
    "WHERE rate_concurrency IS NOT NULL OR rate_per_second IS NOT NULL",
)

_V6: Migration = (
    # -- bulk run --
    # A bulk run (POST /jobs/bulk {"action": "run"}): the data each run-now delivers instead of
    # its job's (NULL: the job's), and on each run-now the operation that fired it (NULL: a
    # single POST /jobs/{id}/run), so GET /operations/{id}/executions lists exactly its own.
    "ALTER TABLE operations ADD COLUMN data TEXT",
    "ALTER TABLE runs_manual ADD COLUMN operation_id INTEGER",
    "CREATE INDEX runs_manual_operation ON runs_manual (operation_id, run) "
    "WHERE operation_id IS NOT NULL",
)

_V7: Migration = (
    # -- the console's job filters --
    # The host of each job's callback URL (store/hosts.py), for `GET /jobs?host=` and
    # `GET /executions?host=`. Virtual generated columns: computed when read, so no row grows
    # and every writer (job.create, job.update) keeps them exact without knowing of them; only
    # the index stores the host (measured: about 30 bytes per job).
    f"ALTER TABLE jobs ADD COLUMN callback_authority TEXT "
    f"GENERATED ALWAYS AS ({hosts.AUTHORITY_SQL}) VIRTUAL",
    f"ALTER TABLE jobs ADD COLUMN callback_host TEXT GENERATED ALWAYS AS ({hosts.HOST_SQL}) "
    "VIRTUAL",
    "CREATE INDEX jobs_host ON jobs (callback_host)",
)

_V8: Migration = (
    # -- the planner's job lists --
    # The leader's planner keeps each schedule's job list between ticks (coordinator/
    # job_lists.py) instead of reading every due job from the file every tick (measured: the
    # read was most of a round at 1M jobs). A schedule's jobs_version changes with any change to
    # one of its jobs, whatever writes it (these triggers see every writer), so a list is
    # reused only while its version is the one it was read at. Schedule ids are never reused
    # (AUTOINCREMENT), so (id, version) names one list.
    "ALTER TABLE schedules ADD COLUMN jobs_version INTEGER NOT NULL DEFAULT 0",
    """CREATE TRIGGER jobs_version_on_insert AFTER INSERT ON jobs
    BEGIN
        UPDATE schedules SET jobs_version = jobs_version + 1 WHERE id = new.schedule_id;
    END""",
    """CREATE TRIGGER jobs_version_on_delete AFTER DELETE ON jobs
    BEGIN
        UPDATE schedules SET jobs_version = jobs_version + 1 WHERE id = old.schedule_id;
    END""",
    """CREATE TRIGGER jobs_version_on_update AFTER UPDATE ON jobs
    BEGIN
        UPDATE schedules SET jobs_version = jobs_version + 1
            WHERE id IN (old.schedule_id, new.schedule_id);
    END""",
)

MIGRATIONS: tuple[Migration, ...] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8)
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
