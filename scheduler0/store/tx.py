"""What a command handler works with: the open transaction and the command's stamps."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from scheduler0.schedule import ScheduleCache


@dataclass(frozen=True)
class Tx:
    """One command being applied inside an open `BEGIN IMMEDIATE` transaction.

    `ts_ms` is the proposer's clock (the only time a handler may use); `index` is the Raft
    index. Handlers are deterministic functions of (file content, body, ts_ms, index).
    """

    conn: sqlite3.Connection
    ts_ms: int
    index: int
    schedules: ScheduleCache

    @property
    def ts_s(self) -> int:
        return self.ts_ms // 1000


# A handler returns the result's `data`, or raises an ApiError subclass to refuse the command
# (the transaction's effects are then rolled back and the refusal becomes the result).
Handler = Callable[[Tx, Mapping[str, Any]], Any]
