"""Execution leases: which node owns which batches, and for how long. Pure: no I/O, no clock
(`now` is an argument, a monotonic reading)."""

from __future__ import annotations

LEASE_PERIOD = 1.5  # seconds a node's lease lives on the leader after its latest heartbeat
HEARTBEAT_INTERVAL = 0.25  # seconds between a node's heartbeats
