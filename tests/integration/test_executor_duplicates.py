"""An executor process drops a re-dispatched batch it still holds (the harness of
test_executor_process: a real executor process, real ZeroMQ, a real HTTP receiver)."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.integration import test_executor_process as harness

pytestmark = pytest.mark.timeout(90)

# The harness's fixtures, under the names the tests ask for.
env = harness.env
stand_in = harness.stand_in
receiver = harness.receiver
spawn = harness.spawn


def test_a_batch_it_still_delivers_is_not_delivered_again(stand_in, receiver, spawn):
    receiver.respond([], path="/held", delay=5.0)  # the first copy is still in flight...
    items = harness.executions(receiver, 1, ["/held"])
    proc = spawn()
    harness.wait_until_ready(stand_in, proc)
    stand_in.send_batch(harness.batch("b-dup", items))
    receiver.wait_for_requests(1, timeout=10)
    stand_in.send_batch(harness.batch("b-dup", items))  # ...when the leader re-sends it

    stand_in.wait(lambda: stand_in.finished("b-dup"), 20, "the held copy's final results")
    assert [r.path for r in receiver.requests] == ["/held"]
    assert Counter(r["execution_id"] for r in stand_in.results_of("b-dup")) == {"exe-00000": 1}
    stand_in.wait(lambda: any(m["metrics"].get("duplicate_batches") == 1 for m in stand_in.loads),
                  5, "a load report counting the dropped copy")

    # Once it is no longer held, the same id is delivered again (a result may have been lost).
    receiver.respond([], path="/held")
    stand_in.send_batch(harness.batch("b-dup", items))
    stand_in.wait(lambda: len(stand_in.results_of("b-dup")) == 2, 20, "the second delivery")
    assert [r.path for r in receiver.requests] == ["/held", "/held"]
    assert harness.stop_and_wait(proc) == 0
