"""Fencing a silent executor: it is killed before what it holds counts as lost.

An executor that stops reporting may be dead, stopped, or only starved of CPU (an overloaded
node). Its batches are re-sent once it counts as lost, and an executor that was merely slow
would then deliver its copies too: each tick twice. Killed first, it delivers nothing more
(the supervisor starts a new one), so the re-sent copy is the only one. Only a request already
on the wire when it died can reach its receiver twice, as with any crash.
"""

from __future__ import annotations

import logging
import os
import time

import psutil

from scheduler0 import clock

log = logging.getLogger(__name__)

KILL_WAIT = 2.0  # seconds to wait for a killed executor to be gone


def fence_executor(pid: int) -> bool:
    """Kill this node's executor `pid`; True once it is gone, False when it could not be made
    sure of (then its batches stay held). Only a sibling of this coordinator (a child of the
    same supervisor) is killed: a dead executor's pid may belong to another process by now."""
    try:
        process = psutil.Process(pid)
        if process.ppid() != os.getppid():
            return True  # not an executor of this node any more: the one we knew is gone
        log.warning("killing executor pid %d, silent too long, before its batches are re-sent",
                    pid)
        process.kill()
        return _dead(process)
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied as exc:
        log.error("could not fence executor pid %d (%s): its batches stay held", pid, exc)
        return False


def _dead(process: psutil.Process) -> bool:
    """Gone, or a zombie (dead; the supervisor, its parent, reaps it), within KILL_WAIT."""
    deadline = clock.monotonic() + KILL_WAIT
    while clock.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.01)
    log.error("executor pid %d still runs after SIGKILL: its batches stay held", process.pid)
    return False
