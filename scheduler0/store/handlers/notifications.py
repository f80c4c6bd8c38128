"""notification.settle: the leader's notifier reports how sending outbox notifications went."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scheduler0.messages import NotificationSettle
from scheduler0.store import notifications
from scheduler0.store.tx import Tx


def settle(tx: Tx, data: Mapping[str, Any]) -> dict[str, int]:
    body = NotificationSettle.decode(data)
    settled = notifications.settle(
        tx.conn, [(row.id, row.delivery, row.attempts, row.http_status, row.error)
                  for row in body.rows], tx.ts_ms)
    return {"settled": settled}
