"""Counters kept in the file and changed in the transaction of each change they count, so a
scrape or a list total reads one small row instead of counting a table.

    recorded_<state>   executions ever recorded with that final state (monotonic)
    retained_<state>   history rows of that state still kept (retention lowers them)
    pending_ticks      planned ticks not settled yet
    jobs, projects     rows of those tables
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from scheduler0.vocabulary import FINAL_STATES

PENDING = "pending_ticks"
JOBS = "jobs"
PROJECTS = "projects"


def recorded(state: str) -> str:
    return f"recorded_{state}"


def retained(state: str) -> str:
    return f"retained_{state}"


NAMES = (*(recorded(s) for s in FINAL_STATES), *(retained(s) for s in FINAL_STATES), PENDING,
         JOBS, PROJECTS)

_ADD = ("INSERT INTO counters (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value")


def add(conn: sqlite3.Connection, deltas: Mapping[str, int]) -> None:
    """Add each delta to its counter (inside the caller's transaction)."""
    changes = sorted((name, delta) for name, delta in deltas.items() if delta)
    if changes:
        conn.executemany(_ADD, changes)


def read(conn: sqlite3.Connection) -> dict[str, int]:
    """Every counter in NAMES (0 when never written)."""
    found = dict(conn.execute("SELECT name, value FROM counters").fetchall())
    return {name: int(found.get(name, 0)) for name in NAMES}


def recount(conn: sqlite3.Connection) -> dict[str, int]:
    """The counters as a fresh count of the tables gives them (a migration sets them from
    this; tests compare the two). `recorded_*` cannot be recounted once rows are pruned:
    they start at what is retained."""
    from scheduler0.store import history  # history imports this module

    counts = {name: 0 for name in NAMES}
    for table in (history.OK_TABLE, history.BAD_TABLE):
        for code, n in conn.execute(f"SELECT state, count(*) FROM {table} GROUP BY state"):
            state = history.CODE_STATES[code]
            counts[retained(state)] += n
            counts[recorded(state)] += n
    (counts[PENDING],) = conn.execute("SELECT coalesce(sum(open), 0) FROM pending").fetchone()
    (counts[JOBS],) = conn.execute("SELECT count(*) FROM jobs").fetchone()
    (counts[PROJECTS],) = conn.execute("SELECT count(*) FROM projects").fetchone()
    return counts
