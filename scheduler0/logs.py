"""Log set-up: every line names the node and the process role, as the operator reads them."""

from __future__ import annotations

import logging
import sys
import time


class _UtcFormatter(logging.Formatter):
    converter = time.gmtime


def setup(level: str, node_id: int, role: str) -> None:
    fmt = (f"%(asctime)s.%(msecs)03dZ node={node_id} role={role} pid=%(process)d "
           "%(levelname)s %(name)s: %(message)s")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_UtcFormatter(fmt, datefmt="%Y-%m-%dT%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pysyncobj and waitress are chatty at INFO; they speak only when something is wrong.
    for noisy in ("waitress.queue",):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
