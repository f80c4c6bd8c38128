"""The executor process: pulls batches from its coordinator, POSTs callbacks, publishes results.

The HTTP delivery itself lives in scheduler0.delivery; this module owns the process loop.
"""

from __future__ import annotations

import logging

from scheduler0 import transport
from scheduler0.config import Settings
from scheduler0.roles.lifecycle import Lifecycle

log = logging.getLogger(__name__)

LOAD_REPORT_INTERVAL = 1.0


def run(settings: Settings, lifecycle: Lifecycle, index: int = 0) -> int:
    pull = transport.Socket("pull", settings.ipc("batches"), bind=False, hwm=settings.max_queue)
    pub = transport.Socket("pub", settings.ipc("results"), bind=False)
    log.info("executor %d ready", index)
    try:
        while not lifecycle.stopping.is_set():
            if lifecycle.memory_pressure:
                # Under memory pressure take no new batches; they wait in the coordinator.
                lifecycle.stopping.wait(0.2)
                continue
            batch = pull.recv(timeout=0.2)
            if batch is not None:
                log.debug("batch %s received", batch.get("batch_id"))
    finally:
        pull.close()
        pub.close()
        log.info("executor %d stopped", index)
    return 0
