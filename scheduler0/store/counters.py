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
