"""cluster.pause / cluster.resume: the replicated flag the leader's planner reads every round.

Pausing again while paused, or resuming while not paused, changes nothing (the first pause's
time and author stay: the ticks since then are the paused ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scheduler0.messages import ClusterPause, ClusterResume
from scheduler0.store import operations
from scheduler0.store.tx import Tx


def pause(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    body = ClusterPause.decode(data)
    if not operations.planning_paused(tx.conn):
        tx.conn.execute("UPDATE cluster_pause SET paused = 1, paused_at_ms = ?, paused_by = ?, "
                        "reason = ? WHERE id = 1", (tx.ts_ms, body.by, body.reason))
    return operations.pause_state(tx.conn)


def resume(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    body = ClusterResume.decode(data)
    if operations.planning_paused(tx.conn):
        tx.conn.execute("UPDATE cluster_pause SET paused = 0, resumed_at_ms = ?, resumed_by = ? "
                        "WHERE id = 1", (tx.ts_ms, body.by))
    return operations.pause_state(tx.conn)
