"""The executor's lease gate: a held batch waits while its lease is not valid, goes once it is,
is dropped once the lease moved on, and is handed back when the node stops. The lease state
is set as the lease thread would set it; `monotonic` is a fake clock."""

from __future__ import annotations

import asyncio

from scheduler0 import messages
from scheduler0.executor.process import Executor
from scheduler0.lifecycle import Lifecycle
from scheduler0.testing import node_settings

BATCH = messages.Batch(batch_id="b", fire_at=0, deadline=0, executions=[], lease=(1, 1))


def gate(tmp_path, lease, later=None):
    """Run the gate for BATCH with `lease` set; `later` replaces it after a few polls."""
    settings = node_settings(tmp_path)
    lifecycle = Lifecycle(settings)
    executor = Executor(settings, lifecycle, 0, monotonic=lambda: 100.0)
    executor._lease = lease

    async def run() -> bool:
        task = asyncio.create_task(executor._owned(BATCH))
        await asyncio.sleep(0.1)
        if later == "stop":
            lifecycle.stopping.set()
        elif later is not None:
            executor._lease = later
        return await asyncio.wait_for(task, timeout=5)

    return asyncio.run(run()), executor.metrics.snapshot()


def test_a_batch_waits_for_its_lease_then_goes(tmp_path):
    owned, metrics = gate(tmp_path, ((1, 1), [(1, 1)], 99.0), later=((1, 1), [(1, 1)], 101.0))
    assert owned and metrics["lease_waits"] == 1


def test_a_batch_whose_lease_moved_on_is_dropped(tmp_path):
    owned, _ = gate(tmp_path, (None, [], 0.0), later=((1, 2), [(1, 2)], 101.0))
    assert owned is False


def test_a_waiting_batch_is_handed_back_on_stop(tmp_path):
    owned, _ = gate(tmp_path, ((1, 1), [(1, 1)], 99.0), later="stop")
    assert owned is False
