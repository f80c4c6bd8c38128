"""Execution history: prune (retention). PLAN and RESULT live in handlers/pipeline.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scheduler0.errors import ValidationError
from scheduler0.messages import Prune
from scheduler0.store.tx import Tx

# Rows per command: deleting costs ~3-5 us a row (six indexes), and an apply blocks Raft's
# only thread; 10,000 rows stay well under the election timeout. Prune more with more commands.
MAX_PRUNE = 10_000


def prune(tx: Tx, data: Mapping[str, Any]) -> dict[str, int]:
    """Delete up to `limit` executions scheduled before `before` (epoch s), oldest first.

    Ties on scheduled_at are broken by execution_id so every node deletes the same rows.
    `deleted` below `limit` means nothing older is left.
    """
    body = Prune.decode(data)
    before, limit = body.before, body.limit
    if not 1 <= limit <= MAX_PRUNE:
        raise ValidationError(f"limit must be 1-{MAX_PRUNE}, got {limit}; "
                              "prune in several commands")
    cursor = tx.conn.execute(
        "DELETE FROM executions WHERE rowid IN (SELECT rowid FROM executions "
        "WHERE scheduled_at < ? ORDER BY scheduled_at, execution_id LIMIT ?)", (before, limit))
    return {"deleted": cursor.rowcount}
