"""Planned, unfinished ticks: one `pending` row per dispatched batch, not one per tick.

PLAN writes a batch's job and project ids once (`pending_jobs`, two packed int64 arrays sorted
by job id) and a bitmap of settled positions (`pending`). RESULT sets a tick's bit and writes
its final row (scheduler0.store.history) only if the bit was clear, so a duplicate or retried
result changes nothing. A batch whose last tick settles is closed: its job list goes and the
`pending` row stays (open = 0) for CLOSED_KEEP_MS, so that a batch planned again after its
ticks were settled (a round whose schedule advance did not commit) is not opened twice.
"""

from __future__ import annotations

import sqlite3
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scheduler0.store import counters, history

CLOSED_KEEP_MS = 3_600_000  # closed batches remembered for an hour


def pack(values: Sequence[int]) -> bytes:
    packed = array("q", values)
    if sys.byteorder == "big":  # the file is little-endian everywhere
        packed.byteswap()
    return packed.tobytes()


def unpack(blob: bytes) -> array[int]:
    values = array("q")
    values.frombytes(blob)
    if sys.byteorder == "big":
        values.byteswap()
    return values


@dataclass
class OpenBatch:
    batch_id: str
    scheduled_at: int
    node_id: int | None
    planned_at_ms: int
    job_ids: array[int]
    project_ids: array[int]
    settled: bytearray

    def position(self, job_id: int) -> int | None:
        i = bisect_left(self.job_ids, job_id)
        return i if i < len(self.job_ids) and self.job_ids[i] == job_id else None

    def is_settled(self, i: int) -> bool:
        return bool(self.settled[i >> 3] & (1 << (i & 7)))

    def settle(self, i: int) -> None:
        self.settled[i >> 3] |= 1 << (i & 7)

    def unsettled(self) -> Iterator[tuple[int, int]]:
        """(job_id, project_id) of each tick not settled yet, by job id."""
        for i, job_id in enumerate(self.job_ids):
            if not self.is_settled(i):
                yield job_id, self.project_ids[i]


def open_batch(conn: sqlite3.Connection, batch_id: str, scheduled_at: int, node_id: int | None,
               planned_at_ms: int, jobs: Mapping[int, int]) -> int:
    """Record a batch's ticks (`jobs`: job id -> project id) as planned; returns how many were
    new (0 when the batch was planned before, open or closed)."""
    if not jobs:
        return 0
    job_ids = sorted(jobs)
    cursor = conn.execute(
        "INSERT OR IGNORE INTO pending (batch_id, scheduled_at, node_id, planned_at_ms, open, "
        "settled, closed_at_ms) VALUES (?, ?, ?, ?, ?, ?, NULL)",
        (batch_id, scheduled_at, node_id, planned_at_ms, len(job_ids),
         bytes((len(job_ids) + 7) // 8)))
    if not cursor.rowcount:
        return 0
    conn.execute("INSERT INTO pending_jobs (batch_id, job_ids, project_ids) VALUES (?, ?, ?)",
                 (batch_id, pack(job_ids), pack([jobs[j] for j in job_ids])))
    counters.add(conn, {counters.PENDING: len(job_ids)})
    return len(job_ids)


_SELECT = ("SELECT p.batch_id, p.scheduled_at, p.node_id, p.planned_at_ms, j.job_ids, "
           "j.project_ids, p.settled FROM pending p JOIN pending_jobs j ON j.batch_id = p.batch_id")


def _batch(row: Sequence[Any]) -> OpenBatch:
    batch_id, scheduled_at, node_id, planned, job_ids, project_ids, settled = row
    return OpenBatch(str(batch_id), int(scheduled_at), node_id, int(planned), unpack(job_ids),
                     unpack(project_ids), bytearray(settled))


def load(conn: sqlite3.Connection, batch_id: str) -> OpenBatch | None:
    """The batch if it is still open."""
    row = conn.execute(_SELECT + " WHERE p.batch_id = ? AND p.open > 0", (batch_id,)).fetchone()
    return None if row is None else _batch(row)


def open_at(conn: sqlite3.Connection, scheduled_at: int) -> list[OpenBatch]:
    """The open batches of one tick (to find a result that does not name its batch)."""
    return [_batch(row) for row in conn.execute(
        _SELECT + " WHERE p.open > 0 AND p.scheduled_at = ? ORDER BY p.batch_id",
        (scheduled_at,))]


def open_between(conn: sqlite3.Connection, first: int, last: int) -> list[OpenBatch]:
    """The open batches of the ticks from `first` to `last` (epoch s, both included)."""
    return [_batch(row) for row in conn.execute(
        _SELECT + " WHERE p.open > 0 AND p.scheduled_at BETWEEN ? AND ? ORDER BY "
        "p.scheduled_at, p.batch_id", (first, last))]


def all_open(conn: sqlite3.Connection) -> list[OpenBatch]:
    return [_batch(row) for row in conn.execute(
        _SELECT + " WHERE p.open > 0 ORDER BY p.batch_id")]


def save(conn: sqlite3.Connection, batch: OpenBatch, newly_settled: int, ts_ms: int) -> None:
    """Store the batch's bitmap after `newly_settled` ticks settled; close it when none is
    left."""
    if not newly_settled:
        return
    (left,) = conn.execute(
        "UPDATE pending SET open = open - ?, settled = ? WHERE batch_id = ? RETURNING open",
        (newly_settled, bytes(batch.settled), batch.batch_id)).fetchone()
    if left <= 0:
        conn.execute("UPDATE pending SET settled = x'', closed_at_ms = ? WHERE batch_id = ?",
                     (ts_ms, batch.batch_id))
        conn.execute("DELETE FROM pending_jobs WHERE batch_id = ?", (batch.batch_id,))
    counters.add(conn, {counters.PENDING: -newly_settled})


def forget_closed(conn: sqlite3.Connection, before_ms: int, limit: int) -> int:
    """Drop up to `limit` closed batches closed before `before_ms`."""
    return conn.execute(
        "DELETE FROM pending WHERE batch_id IN (SELECT batch_id FROM pending WHERE open = 0 "
        "AND closed_at_ms < ? ORDER BY closed_at_ms, batch_id LIMIT ?)",
        (before_ms, limit)).rowcount


def settle_gone(conn: sqlite3.Connection, planned_before: int, ts_ms: int,
                batches: int = 100) -> int:
    """Settle the unsettled ticks of deleted jobs in up to `batches` open batches scheduled
    before `planned_before` (epoch s); returns how many ticks it settled. Nothing else
    settles them: their job is gone, so no executor is sent them again."""
    settled = 0
    for row in conn.execute(
            _SELECT + " WHERE p.open > 0 AND p.scheduled_at < ? ORDER BY p.scheduled_at, "
            "p.batch_id LIMIT ?", (planned_before, batches)).fetchall():
        batch = _batch(row)
        waiting = [job_id for job_id, _ in batch.unsettled()]
        alive = history.existing_jobs(conn, waiting)
        gone = [job_id for job_id in waiting if job_id not in alive]
        for job_id in gone:
            position = batch.position(job_id)
            assert position is not None
            batch.settle(position)
        save(conn, batch, len(gone), ts_ms)
        settled += len(gone)
    return settled
