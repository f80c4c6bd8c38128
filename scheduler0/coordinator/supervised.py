"""Coordinator threads that cannot die quietly.

A thread's work is its `loop()`. An exception it did not expect is logged with its traceback
and the loop starts again after a pause; a loop that keeps failing (RESTART_LIMIT times within
RESTART_WINDOW) sets `fatal` and the stop flag, so the coordinator exits non-zero and the
supervisor restarts the whole process. `beat()` marks the thread as making progress, so the
health check can tell a live thread from a stuck one.
"""

from __future__ import annotations

import logging
import threading

from scheduler0.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)

RESTART_PAUSE = 0.5  # seconds before a failed loop starts again
RESTART_LIMIT = 5
RESTART_WINDOW = 60.0  # seconds


class SupervisedThread(threading.Thread):
    def __init__(self, name: str, stopping: threading.Event, clock: Clock = SYSTEM_CLOCK):
        super().__init__(name=name, daemon=True)
        self.stopping = stopping
        self.clock = clock
        self.fatal = False
        self.restarts = 0
        self.last_beat = clock.monotonic()
        self._failures: list[float] = []

    def loop(self) -> None:  # pragma: no cover - every subclass has its own
        raise NotImplementedError

    def beat(self) -> None:
        self.last_beat = self.clock.monotonic()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.loop()
                return
            except Exception:
                log.exception("thread %s failed", self.name)
                if self._give_up(self.clock.monotonic()):
                    return
                self.clock.wait(self.stopping, RESTART_PAUSE)

    def _give_up(self, now: float) -> bool:
        self._failures = [t for t in self._failures if now - t < RESTART_WINDOW] + [now]
        if len(self._failures) > RESTART_LIMIT:
            log.critical("thread %s failed %d times within %.0f s; stopping the process so "
                         "the supervisor restarts it", self.name, len(self._failures),
                         RESTART_WINDOW)
            self.fatal = True
            self.stopping.set()
            return True
        self.restarts += 1
        log.warning("restarting thread %s (restart %d)", self.name, self.restarts)
        return False

    def alive(self) -> bool:
        return self.is_alive() and not self.fatal
