"""What every child process shares: stop on SIGTERM/SIGINT or when the supervisor vanishes,
and follow the supervisor's control messages (memory pressure)."""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

from scheduler0 import messages, transport
from scheduler0.config import Settings

log = logging.getLogger(__name__)


class Lifecycle:
    """A stop flag set by signals or by the parent's death, plus the memory-pressure flag."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.stopping = threading.Event()
        self.memory_pressure = False
        self._parent = os.getppid()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        self.stopping.set()

    def parent_gone(self) -> bool:
        # Orphans are re-parented (to init or a subreaper), so a changed ppid means the
        # supervisor died without stopping us: stop rather than run unsupervised.
        return os.getppid() != self._parent

    def watch_control(self) -> threading.Thread:
        """Follow the supervisor's control channel in a daemon thread."""
        thread = threading.Thread(target=self._control_loop, name="control", daemon=True)
        thread.start()
        return thread

    def _control_loop(self) -> None:
        sub = transport.Socket("sub", self.settings.ipc("control"), bind=False,
                               channel=messages.CONTROL)
        try:
            while not self.stopping.is_set():
                if self.parent_gone():
                    log.warning("supervisor is gone, stopping")
                    self.stopping.set()
                    break
                message = sub.recv(timeout=0.5)
                if message is not None:
                    self.on_control(message)
        finally:
            sub.close()

    def on_control(self, message: messages.Memory | messages.Stop) -> None:
        if isinstance(message, messages.Memory):
            pressure = message.pressure
            if pressure != self.memory_pressure:
                log.warning("memory pressure %s", "on: taking no new work" if pressure else "off")
            self.memory_pressure = pressure
        elif isinstance(message, messages.Stop):
            self.stopping.set()
