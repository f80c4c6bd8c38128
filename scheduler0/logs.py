"""Log set-up: every line names the node and the process role, as the operator reads them."""

from __future__ import annotations

import logging
import sys

from scheduler0.schedule.timefmt import format_rfc3339_utc_ms


class _UtcFormatter(logging.Formatter):
    """Stamps lines as the API writes instants: RFC 3339 UTC with milliseconds."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return format_rfc3339_utc_ms(int(record.created * 1000))


def setup(level: str, node_id: int, role: str) -> None:
    fmt = (f"%(asctime)s node={node_id} role={role} pid=%(process)d "
           "%(levelname)s %(name)s: %(message)s")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_UtcFormatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pysyncobj and waitress are chatty at INFO; they speak only when something is wrong.
    for noisy in ("waitress.queue",):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
