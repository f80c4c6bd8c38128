"""The leader's notifier's reads of the outbox (scheduler0.store.notifications)."""

from __future__ import annotations

from scheduler0.notifications import Outgoing
from scheduler0.store import notifications
from scheduler0.store.reads import Reader


class NotificationReader(Reader):
    """The Reader plus what the notifier sends next (same read-only connection)."""

    def next_to_send(self, limit: int, now: int) -> list[Outgoing]:
        """The oldest pending notification of each project, at most `limit` projects, oldest
        first, with where it goes and what signs it at `now` (epoch s)."""
        with self._read() as conn:
            return notifications.outgoing(conn, notifications.pending_heads(conn, limit), now)
