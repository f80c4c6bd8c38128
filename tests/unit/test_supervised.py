"""A coordinator thread that fails is logged and restarted; one that keeps failing stops the
process (the supervisor restarts it) instead of leaving a node that looks fine but works not."""

from __future__ import annotations

import logging
import threading

from scheduler0.coordinator import supervised
from scheduler0.coordinator.supervised import RESTART_LIMIT, SupervisedThread


class Flaky(SupervisedThread):
    def __init__(self, failures: int, stopping: threading.Event):
        super().__init__("flaky", stopping)
        self.failures = failures
        self.calls = 0

    def loop(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise KeyError("boom")


def run(thread: SupervisedThread) -> None:
    thread.start()
    thread.join(30)
    assert not thread.is_alive()


def test_a_failed_loop_is_logged_with_its_traceback_and_restarted(monkeypatch, caplog):
    monkeypatch.setattr(supervised, "RESTART_PAUSE", 0.0)
    stopping = threading.Event()
    thread = Flaky(failures=2, stopping=stopping)
    with caplog.at_level(logging.WARNING, logger="scheduler0.coordinator.supervised"):
        run(thread)
    assert thread.calls == 3 and thread.restarts == 2
    assert not thread.fatal and not stopping.is_set()
    failed = [r for r in caplog.records if r.getMessage() == "thread flaky failed"]
    assert len(failed) == 2 and all(r.exc_info and r.exc_info[0] is KeyError for r in failed)


def test_a_loop_that_keeps_failing_stops_the_process(monkeypatch):
    monkeypatch.setattr(supervised, "RESTART_PAUSE", 0.0)
    stopping = threading.Event()
    thread = Flaky(failures=100, stopping=stopping)
    run(thread)
    assert thread.fatal and stopping.is_set() and not thread.alive()
    assert thread.calls == RESTART_LIMIT + 1


def test_a_node_is_unhealthy_when_a_thread_died_or_the_leaders_planner_stalled():
    from scheduler0.coordinator.process import PLANNER_STALL, work_problem

    running = {"planner": True, "intake": True}
    assert work_problem(running, leading=True, planner_age=0.1) is None
    assert work_problem(running, leading=False, planner_age=PLANNER_STALL * 10) is None
    assert "planner has not run a round" in work_problem(running, True, PLANNER_STALL + 1)
    assert work_problem({**running, "intake": False}, False, None) == \
        "coordinator threads not running: intake"
