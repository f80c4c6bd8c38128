"""The coordinator's results thread on real ZeroMQ sockets: every results message an executor
publishes reaches a RESULT command, also when it reads a backlog that outgrows what it holds
ahead of a commit. (The commit itself is a recording stand-in for Raft.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scheduler0 import config, messages, transport
from scheduler0.coordinator import results
from scheduler0.coordinator.results import ResultCollector
from scheduler0.messages.commands import Command, Result

pytestmark = pytest.mark.timeout(60)

ROWS_PER_MESSAGE = 4


class Commits:
    """A stand-in for Raft's submit: records the rows of every RESULT command."""

    def __init__(self) -> None:
        self.rows: list[str] = []

    def submit(self, raw: dict[str, Any], timeout: float) -> dict[str, Any]:
        body = Result.decode(Command.decode(raw).body)
        self.rows.extend(row.execution_id for row in body.rows)
        return messages.commands.ok(None)


def results_message(batch: int) -> messages.Results:
    outcomes = [messages.Outcome(execution_id=f"b{batch}-e{n}", state="succeeded", attempts=1,
                                 http_status=200) for n in range(ROWS_PER_MESSAGE)]
    return messages.Results(node_id=1, executor=0, batch_id=f"b{batch}", results=outcomes,
                            final=True)


@pytest.fixture
def sockets(tmp_path: Path) -> Iterator[tuple[config.Settings, transport.Socket,
                                              transport.Socket]]:
    """The results socket as the coordinator binds it, and an executor's PUB connected to it."""
    settings = config.load({"SCHEDULER0_DATA_DIR": str(tmp_path / "data")})
    sub = transport.Socket("sub", settings.ipc("results"), bind=True, hwm=results.RESULTS_HWM,
                           channel=messages.RESULTS)
    pub = transport.Socket("pub", settings.ipc("results"), bind=False, hwm=100_000)
    try:
        # A PUB drops what it sends before the subscription reached it: wait for one message.
        deadline = time.monotonic() + 10
        while True:
            pub.send(messages.ExecutorLoad(node_id=1, executor=0, pid=1))
            if sub.recv(timeout=0.05) is not None:
                break
            assert time.monotonic() < deadline, "the PUB never connected"
        while sub.recv(timeout=0.05) is not None:
            pass  # the other probes, so that the test starts on an empty socket
        yield settings, sub, pub
    finally:
        pub.close()
        sub.close()


def test_no_results_message_is_lost_when_a_backlog_passes_the_read_ahead_cap(
        sockets: tuple[config.Settings, transport.Socket, transport.Socket],
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings, sub, pub = sockets
    # Reading pauses to commit once two and a half messages' rows wait.
    monkeypatch.setattr(results, "MAX_PENDING_ROWS", ROWS_PER_MESSAGE * 2 + 2)
    commits = Commits()
    collector = ResultCollector(settings, threading.Event(), commits.submit)
    batches = 40
    for batch in range(batches):  # a backlog, sent before the collector reads
        pub.send(results_message(batch))
    pub.send(messages.ExecutorLoad(node_id=1, executor=0, pid=1, batches=["after the backlog"]))
    read_whole: list[bool] = []
    deadline = time.monotonic() + 20
    while not (read_whole and read_whole[-1] and collector.loads
               and collector.loads[0][0].batches == ["after the backlog"]):
        assert time.monotonic() < deadline, "the backlog was never read to its end"
        read_whole.append(collector._read(sub))
        collector._flush()
    assert False in read_whole  # reading did pause at the cap, the case under test
    expected = {f"b{b}-e{n}" for b in range(batches) for n in range(ROWS_PER_MESSAGE)}
    assert sorted(commits.rows) == sorted(expected)
    assert collector.committed == len(expected)
    held, settling = collector.holdings.report(time.monotonic(), time.time())
    assert sorted(settling) == sorted(f"b{b}" for b in range(batches))
