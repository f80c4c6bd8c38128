"""A job's own delivery settings between the planner and the executor, on pure code and fakes:
the batch carries each distinct setting once (and nothing for jobs without), the executor's
requests are grouped by settings, a GET has no body, the server's headers cannot be replaced,
success codes decide success, and the result deadline waits for the slowest job."""

from __future__ import annotations

import msgspec

from scheduler0 import config, messages, vocabulary
from scheduler0.delivery import core
from scheduler0.schedule import planning
from scheduler0.vocabulary import execution_id

T = 1_800_000_000
SLOW = messages.Delivery(timeout=20.0, retries=0)
TOKEN = messages.Delivery(headers=(("Authorization", "Bearer x"),))
GET = messages.Delivery(method="GET")


def job(job_id: int, delivery: messages.Delivery | None = None, url: str = "http://127.0.0.1:9/h",
        data: str = "d") -> planning.PlannedJob:
    return planning.PlannedJob(job_id, 1, url, data, None, None, "run_once", "@every 1m", "UTC",
                               delivery=delivery)


def batch(*jobs: planning.PlannedJob) -> messages.Batch:
    return messages.Batch.of("b", T, list(jobs), {1: "secret"}, T + 30)


# -- the batch ----------------------------------------------------------------------------------


def test_a_batch_of_jobs_without_settings_is_what_it_always_was() -> None:
    message = batch(job(1), job(2))
    assert message.deliveries == []
    wire = messages.as_map(message)
    assert all("delivery" not in e for e in wire["executions"])  # not a byte more per execution
    assert set(wire["executions"][0]) == {"execution_id", "id", "project_id", "scheduled_at",
                                          "spec", "timezone", "data", "callback_url"}


def test_each_distinct_setting_travels_once_and_executions_name_it() -> None:
    message = batch(job(1, SLOW), job(2), job(3, TOKEN), job(4, SLOW),
                    job(5, messages.Delivery(timeout=20.0, retries=0)))  # equal to SLOW
    assert message.deliveries == [SLOW, TOKEN]
    assert [e.delivery for e in message.executions] == [0, None, 1, 0, 0]
    decoded = messages.BATCHES.decode(messages.encode(message))
    assert decoded == message
    wire = messages.as_map(message)
    assert wire["deliveries"] == [{"timeout": 20.0, "retries": 0},
                                  {"headers": [["Authorization", "Bearer x"]]}]


class OldExecution(msgspec.Struct, frozen=True, kw_only=True):
    """An execution as a node of the previous release reads it (the fields it knows)."""

    execution_id: str
    id: int
    callback_url: str


class OldBatch(msgspec.Struct, frozen=True, kw_only=True):
    batch_id: str
    executions: list[OldExecution]


def test_a_node_of_the_previous_release_reads_a_batch_with_settings() -> None:
    """It knows no `deliveries` nor `delivery`: it ignores them and delivers as it did."""
    old = msgspec.msgpack.decode(messages.encode(batch(job(1, SLOW))), type=OldBatch)
    assert old.executions[0].execution_id == execution_id(1, T)


# -- the requests of a batch --------------------------------------------------------------------


def chunks_of(message: messages.Batch, max_bytes: int = 1 << 20) -> list[core.Chunk]:
    return core.plan_chunks(message.executions, max_bytes, message.deliveries)


def test_jobs_with_other_settings_never_share_a_request() -> None:
    message = batch(job(1), job(2, TOKEN), job(3), job(4, TOKEN), job(5, SLOW))
    chunks = chunks_of(message)
    assert [(c.execution_ids, c.delivery) for c in chunks] == [
        ((execution_id(1, T), execution_id(3, T)), None),
        ((execution_id(2, T), execution_id(4, T)), TOKEN),
        ((execution_id(5, T),), SLOW)]
    # The body of a chunk with settings is the body any chunk has (no setting in it).
    plain = chunks_of(batch(job(2), job(4)))[0]
    assert chunks[1].body == plain.body and chunks[1].key == plain.key
    assert chunks[1].method == "POST" and chunks[1].signed == chunks[1].body


def test_chunks_of_jobs_without_settings_are_unchanged() -> None:
    executions = batch(*(job(i, url=f"http://127.0.0.1:9/{i % 3}") for i in range(50))).executions
    chunks = core.plan_chunks(executions, 2000)
    assert len(chunks) > 3 and all(c.delivery is None and c.problem is None for c in chunks)
    assert sorted(e for c in chunks for e in c.execution_ids) == sorted(
        e.execution_id for e in executions)


def test_a_get_is_one_request_per_execution_with_no_body() -> None:
    chunks = chunks_of(batch(job(1, GET, data=""), job(2, GET, data="")))
    assert [(c.execution_ids, c.key, c.body, c.method) for c in chunks] == [
        ((execution_id(1, T),), execution_id(1, T), b"", "GET"),
        ((execution_id(2, T),), execution_id(2, T), b"", "GET")]
    # Its signature covers the execution id, as it would cover the body.
    assert chunks[0].signed == execution_id(1, T).encode()
    assert chunks[0].ticks == ((T, 1),)


def test_an_unknown_settings_index_is_not_sent() -> None:
    message = batch(job(1, SLOW))
    broken = msgspec.structs.replace(message, deliveries=[])
    [chunk] = chunks_of(broken)
    assert chunk.problem == "malformed batch: no delivery settings 0 (it has 0)"


def test_the_servers_headers_are_never_a_jobs() -> None:
    forged = messages.Delivery(headers=(("X-Tenant", "acme"), ("x-scheduler0-signature", "f"),
                                        ("Idempotency-Key", "f"), ("content-type", "text/plain"),
                                        ("X-Scheduler0-Signature-Previous", "f")))
    assert core.request_headers(forged) == {"X-Tenant": "acme"}
    assert core.request_headers(None) == {} and core.request_headers(SLOW) == {}


def test_success_is_any_2xx_or_the_jobs_codes() -> None:
    assert core.is_success(204, None) and not core.is_success(404, None)
    assert not core.is_success(302, None)
    codes = messages.Delivery(success_codes=(200, 404))
    assert core.is_success(404, codes) and core.is_success(200, codes)
    assert not core.is_success(201, codes) and not core.is_success(500, codes)
    assert core.is_success(201, TOKEN)  # settings without codes: any 2xx


# -- the result deadline ------------------------------------------------------------------------


def test_the_deadline_waits_for_the_slowest_settings_of_the_batch() -> None:
    node = (2.0, 1.0, 3)  # timeout, retry delay, retries: 4 x 2 s + 1 + 2 + 4 s = 15 s
    assert planning.result_deadline(T, *node) == T + 15 + planning.RESULT_GRACE
    assert planning.result_deadline(T, *node, [job(1), job(2)]) == T + 15 + planning.RESULT_GRACE
    # One job with a 20 s timeout and no retry: 20 s, longer than the node's 15 s.
    assert planning.result_deadline(T, *node, [job(1), job(2, SLOW)]) == (
        T + 20 + planning.RESULT_GRACE)
    # Every job quicker than the node: its own budget (1 attempt of 0.5 s).
    quick = messages.Delivery(timeout=0.5, retries=0)
    assert planning.result_deadline(T, *node, [job(1, quick)]) == T + 0.5 + planning.RESULT_GRACE
    # What a job leaves unset is the node's: 10 retries of the node's 2 s, delays 1, 2, 4 ...
    many = messages.Delivery(retries=10)
    assert planning.result_deadline(T, *node, [job(1, many)]) == (
        T + 11 * 2 + sum(core.backoff(a, 1.0) for a in range(1, 11)) + planning.RESULT_GRACE)
    assert planning.result_deadline(T, *node, [job(1, TOKEN)]) == T + 15 + planning.RESULT_GRACE


def test_the_planner_waits_for_a_slow_job_before_sending_its_batch_again(rig) -> None:
    """The rig's node settings give a batch 1 s + RESULT_GRACE; a job with a 20 s timeout is
    being delivered for up to 20 s, and its batch is not re-sent before that."""
    rig.losing.update((2, 3))  # nodes that never list what they get: overdue means re-sent
    rig.lead()
    fire_at = int(rig.clock.now()) + 2
    rig.schedule(7, fire_at, planning.PlannedJob(1, 1, "http://127.0.0.1:9/slow", "d", None,
                                                 None, "run_once", "@every 1h", "UTC",
                                                 delivery=SLOW))
    # A job without settings, a second later: its own batch, on the node's budget.
    rig.schedule(8, fire_at + 1, rig.job(2, spec="@every 2h"), spec="@every 2h")
    rig.tick()
    sent = {m["batch_id"]: m for _, m in rig.pusher.of_type("batch")}
    [slow] = [b for b, m in sent.items() if m["deliveries"]]
    [plain] = [b for b in sent if b != slow]
    assert sent[slow]["deliveries"] == [{"timeout": 20.0, "retries": 0}]
    assert sent[slow]["executions"][0]["delivery"] == 0
    assert "delivery" not in sent[plain]["executions"][0]
    assert rig.planner.in_flight[slow].deadline == fire_at + 20 + planning.RESULT_GRACE
    assert rig.planner.in_flight[plain].deadline == fire_at + 2 + planning.RESULT_GRACE
    rig.run_until(lambda: rig.clock.now() > fire_at + 2 + planning.RESULT_GRACE + 2)
    assert len(rig.sent_to(plain)) == 2  # overdue: sent again
    assert len(rig.sent_to(slow)) == 1  # still within its own budget
    rig.run_until(lambda: len(rig.sent_to(slow)) == 2)
    assert rig.clock.now() >= fire_at + 20 + planning.RESULT_GRACE
    # The re-sent batch carries the settings too: the next node looks nothing up either.
    resent = [m for _, m in rig.pusher.of_type("batch") if m["batch_id"] == slow][-1]
    assert resent["deliveries"] == [{"timeout": 20.0, "retries": 0}]


def test_a_job_may_choose_what_a_node_may_be_configured_with() -> None:
    keys = config.KEYS_BY_NAME
    for name, (low, high) in (("JobExecutionTimeout", vocabulary.TIMEOUT_RANGE),
                              ("JobExecutionRetryMax", vocabulary.RETRIES_RANGE),
                              ("JobExecutionRetryDelay", vocabulary.RETRY_DELAY_RANGE)):
        assert (keys[name].low, keys[name].high) == (low, high), name
