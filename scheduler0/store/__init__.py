"""The node's SQLite file: the replicated state machine (the one writer) and read-only views.

sqlite3 is imported in this package only; its errors leave it as scheduler0.errors.StoreError.

    machine.py    StateMachine: apply(command, index), snapshot_to / read_snapshot / restore_from
    reads.py      Reader: the API's read-only queries, one per thread
    schema.py     the tables as versioned migrations (PRAGMA user_version)
    db.py         opening the writer and reader connections
    handlers/     one small function per command type, HANDLERS maps type -> function
    schedules.py  shared schedule rows (one per spec, zone, anchor) and a job's next fire time
    rows.py       the row dicts the API sees, built in one place for results and reads
    dedup.py      last applied index and results by request_id, pruned deterministically
    snapshot.py   the backup-API copy that pysyncobj ships as its snapshot
"""

from __future__ import annotations

from scheduler0.store.machine import StateMachine
from scheduler0.store.reads import Reader

__all__ = ["Reader", "StateMachine"]
