"""lease.revoke: the newest lease of each node that a leader took back.

A leader re-sends the batches of a node whose lease lapsed. The node, cut off, still holds
them; if a later leader let it carry on under that lease, it would deliver what another node
already did. So the lapse is committed before the batches are re-sent, and a new leader reads
it before it lets any node continue a lease (scheduler0.leases.LeaseTable.revoked).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scheduler0.messages import LeaseRevoke
from scheduler0.store.tx import Tx

# Lease ids only grow, so the newest revoked lease covers every earlier one of the node.
_REVOKE = """INSERT INTO leases_revoked (node_id, term, epoch) VALUES (?, ?, ?)
    ON CONFLICT (node_id) DO UPDATE SET term = excluded.term, epoch = excluded.epoch
    WHERE (excluded.term, excluded.epoch) > (leases_revoked.term, leases_revoked.epoch)"""


def revoke(tx: Tx, data: Mapping[str, Any]) -> dict[str, int]:
    body = LeaseRevoke.decode(data)
    tx.conn.execute(_REVOKE, (body.node_id, body.term, body.epoch))
    term, epoch = tx.conn.execute("SELECT term, epoch FROM leases_revoked WHERE node_id = ?",
                                  (body.node_id,)).fetchone()
    return {"node_id": body.node_id, "term": term, "epoch": epoch}
