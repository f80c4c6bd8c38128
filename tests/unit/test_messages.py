"""scheduler0.messages: every message round-trips; what the previous release wrote (the Raft
journal's command dicts, the dedup table's blobs, the maps on the sockets) still reads; a
message of another version or shape is refused with a logged reason, never an exception."""

from __future__ import annotations

import logging
import zlib
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler0 import messages
from scheduler0.errors import ApiError, ValidationError

T = 1_800_000_000
TS_MS = T * 1000

# -- Raft commands ----------------------------------------------------------------------------

BODIES: list[messages.Body] = [
    messages.CredentialCreate(api_key="k", secret_hash="h", archived=True),
    messages.CredentialUpdate(id=1, archived=False),
    messages.CredentialDelete(id=1),
    messages.ProjectCreate(name="p", description="d", signing_secret="s"),
    messages.ProjectUpdate(id=2, description="new"),
    messages.ProjectDelete(id=2, cascade=True),
    messages.JobCreate(jobs=[{"project_id": 1, "spec": "@every 1m", "callback_url": "http://x"}]),
    messages.JobUpdate(id=3, changes={"paused": True}),
    messages.JobDelete(id=3),
    messages.Prune(before=T, limit=100),
    messages.LeaseRevoke(node_id=2, term=3, epoch=1),
    messages.OperationCreate(action="set_labels", selection={"filter": {"paused": False}},
                             total=2, created_by="node", runner_node=1, runner_token="t",
                             labels={"team": "web", "old": None}, scope=[1], projects=[1]),
    messages.OperationCreate(action="pause", selection={"ids": [1]}, total=1,
                             created_by="credential:2", runner_node=2, runner_token="u"),
    messages.OperationStep(operation_id=4, ids=[1, 2, 3], final=True),
    messages.OperationFinish(operation_id=4, error="stalled", stalled_before_ms=TS_MS),
    messages.ClusterPause(by="node", reason="upgrade"),
    messages.ClusterResume(by="credential:1"),
    messages.Plan(
        batches=[messages.PlanBatch(batch_id="b", node_id=2, scheduled_at=T,
                                    rows=[messages.PlanRow(1, 3), messages.PlanRow(2, 3)])],
        missed=[messages.PlanMissed(scheduled_at=T - 60, rows=[messages.PlanRow(4, 3)])],
        advances=[messages.Advance(7, T + 60, T), messages.Advance(8, None, T)]),
    messages.Result(rows=[messages.ResultRow("1-1", "succeeded", 1, 200, None, 2, 5, 9),
                          messages.ResultRow.missed(4, T, "misfire", "b")]),
    messages.NotificationSettle(rows=[messages.NotificationOutcome(1, "sent", 1, 200),
                                      messages.NotificationOutcome(2, "failed", 4, 500, "HTTP 500")]),
    messages.JobRun(job_id=3, data='{"n": 1}'),
    messages.JobRun(job_id=3),
    messages.ExecutionRedeliver(execution_id="3-1800000000-m7"),
    messages.JobBackfill(job_id=3, start=T - 3600, end=T),
]


def test_every_body_type_has_a_round_tripped_example():
    assert {b.TYPE for b in BODIES} == set(messages.TYPES) == set(messages.BODIES)


@pytest.mark.parametrize("body", BODIES, ids=lambda b: b.TYPE)
def test_every_command_round_trips_through_the_journal_form(body: messages.Body):
    journal = messages.command(body, now_ms=TS_MS, request_id="r-1")
    assert journal == {"v": 1, "type": body.TYPE, "request_id": "r-1", "ts": TS_MS,
                       "body": body.encode()}
    command = messages.Command.decode(journal)
    assert (command.type, command.request_id, command.ts) == (body.TYPE, "r-1", TS_MS)
    assert messages.BODIES[command.type].decode(command.body) == body


def test_todays_plan_and_result_commands_decode_to_named_rows():
    # As the previous release's planner and results thread wrote them into the journal.
    plan = messages.Command.decode({
        "v": 1, "type": "plan", "request_id": "a" * 32, "ts": TS_MS, "body": {
            "batches": [{"batch_id": f"{T}-ab", "node_id": 2, "scheduled_at": T,
                         "rows": [[1, 3], [2, 3]]}],
            "missed": [{"scheduled_at": T - 60, "rows": [[4, 3]]}],
            "advances": [[7, T + 60, T], [8, None, T]]}})
    body = messages.Plan.decode(plan.body)
    [batch] = body.batches
    assert (batch.batch_id, batch.node_id, batch.scheduled_at) == (f"{T}-ab", 2, T)
    assert [(r.job_id, r.project_id) for r in batch.rows] == [(1, 3), (2, 3)]
    assert [(r.job_id, r.project_id) for r in body.missed[0].rows] == [(4, 3)]
    assert [(a.schedule_id, a.next_fire_at, a.last_fire_at) for a in body.advances] == [
        (7, T + 60, T), (8, None, T)]
    assert body.rows == 3

    result = messages.Result.decode({"rows": [
        ["1-1", "succeeded", 1, 200, None, 2, 5, 9],
        [f"4-{T}", "missed", 0, None, "misfire: planned before the outage, not confirmed "
         "delivered", None, None, None],
        [f"5-{T}", "failed", 0, None, "no result after 4 dispatches", 3, None, None]]})
    first, missed, failed = result.rows
    assert (first.execution_id, first.state, first.attempts, first.http_status, first.error,
            first.node_id, first.started_at_ms, first.finished_at_ms) == (
        "1-1", "succeeded", 1, 200, None, 2, 5, 9)
    # Rows of that release name no batch: the store finds their batch by the tick.
    assert missed == messages.ResultRow(
        f"4-{T}", "missed", error="misfire: planned before the outage, not confirmed delivered")
    assert failed == messages.ResultRow(f"5-{T}", "failed", error="no result after 4 dispatches",
                                        node_id=3)
    assert missed.batch_id is None and failed.batch_id is None


def test_typed_commands_write_what_the_previous_release_reads():
    # A node of the previous release applies what a new leader proposes: the same dicts.
    body = messages.Plan(
        batches=[messages.PlanBatch.of("b", 2, T, [_Job(1, 3)])],
        missed=[messages.PlanMissed.of(T, [_Job(4, 3)])],
        advances=[messages.Advance(7, None, T)])
    assert body.encode() == {
        "batches": [{"batch_id": "b", "node_id": 2, "scheduled_at": T, "rows": [[1, 3]]}],
        "missed": [{"scheduled_at": T, "rows": [[4, 3]]}], "advances": [[7, None, T]]}
    assert messages.Plan().encode() == {"batches": [], "missed": [], "advances": []}
    row = messages.ResultRow.failed(5, T, 3, "gone", "b")
    encoded = messages.Result(rows=[row]).encode()
    assert encoded == {"rows": [[f"5-{T}", "failed", 0, None, "gone", 3, None, None, "b"]]}

    class PreviousResultRow(msgspec.Struct, frozen=True, array_like=True):
        execution_id: str
        state: str
        attempts: int = 0
        http_status: int | None = None
        error: str | None = None
        node_id: int | None = None
        started_at_ms: int | None = None
        finished_at_ms: int | None = None

    # The previous release's row type ignores the batch id trailing its fields.
    assert msgspec.convert(encoded["rows"][0], PreviousResultRow) == PreviousResultRow(
        f"5-{T}", "failed", 0, None, "gone", 3, None, None)
    assert messages.Prune(before=5, limit=7).encode() == {"before": 5, "limit": 7}
    assert messages.ProjectUpdate(id=1, name="n").encode() == {"id": 1, "name": "n"}


class _Job:
    def __init__(self, ident: int, project_id: int):
        self.id, self.project_id = ident, project_id


@pytest.mark.parametrize("raw", [
    {"type": "prune", "ts": TS_MS, "body": {"before": 1, "limit": 2}},  # no "v": version 1
    {"v": 1, "type": "prune", "request_id": None, "ts": TS_MS, "body": {"before": 1, "limit": 2}},
])
def test_todays_envelopes_decode(raw: dict[str, Any]):
    command = messages.Command.decode(raw)
    assert (command.type, command.v, command.request_id) == ("prune", 1, None)
    assert messages.Prune.decode(command.body) == messages.Prune(before=1, limit=2)


def test_todays_crud_bodies_decode_with_their_defaults():
    assert messages.CredentialCreate.decode({"api_key": "k", "secret_hash": "h"}).archived is False
    assert messages.ProjectCreate.decode(
        {"name": "p", "description": None, "signing_secret": "s"}).description == ""
    assert messages.ProjectUpdate.decode({"id": 1, "name": "n"}).changes() == {"name": "n"}
    assert messages.ProjectDelete.decode({"id": 1}).cascade is False
    assert messages.JobUpdate.decode({"id": 1, "changes": {"spec": "@hourly"}}).changes == {
        "spec": "@hourly"}


def test_a_command_of_another_version_is_refused():
    with pytest.raises(ApiError) as refused:
        messages.Command.decode({"v": 99, "type": "prune", "ts": TS_MS, "body": {}})
    assert (refused.value.status, refused.value.code) == (400, "unsupported_version")


@pytest.mark.parametrize(("body_type", "body", "needle"), [
    (messages.Plan, {"batches": [{"batch_id": "b", "node_id": 1, "scheduled_at": "soon",
                                  "rows": []}]}, "scheduled_at"),
    (messages.Plan, {"batches": [{"batch_id": "b", "node_id": 1, "scheduled_at": 1}]}, "rows"),
    (messages.Result, {"rows": [["1-1", "exploded", 1, None, None, 1, 0, 0]]}, "exploded"),
    (messages.Result, {"rows": [["1-1", "failed", True, None, None, 1, 0, 0]]}, "bool"),
    (messages.Prune, {"before": None, "limit": 1}, "before"),
    (messages.CredentialUpdate, {"id": 1}, "archived"),
    (messages.JobCreate, {"jobs": "many"}, "jobs"),
    (messages.JobUpdate, {"id": "7", "changes": {}}, "id"),
])
def test_a_malformed_body_is_a_400_naming_the_field(body_type: type[messages.Body],
                                                     body: dict[str, Any], needle: str):
    with pytest.raises(ValidationError) as refused:
        body_type.decode(body)
    assert refused.value.status == 400 and needle in refused.value.message


def test_make_refuses_an_unknown_type():
    with pytest.raises(ValueError, match="unknown command type"):
        messages.make("job.explode", {})


def test_a_dedup_blob_of_the_previous_release_unpacks():
    # zlib(msgpack({"v": 1, "result": ...})) as the previous release's codec stored it.
    blob = bytes.fromhex("78016b5a58c6b8ac28b5b834a7a469517ef6e12529892589cd8b32531897e425e6a6"
                         "2e4c5c92959f543c899109008d021200")
    expected = {"ok": True, "data": {"id": 1, "name": "a", "jobs": [1, 2]}}
    assert messages.unpack_result(zlib.decompress(blob)) == expected
    assert messages.unpack_result(messages.pack_result(expected)) == expected
    for bad in (b"\xc1", msgspec.msgpack.encode({"v": 2, "result": {}}),
                msgspec.msgpack.encode({"v": 1, "result": 3})):
        with pytest.raises(ValueError):
            messages.unpack_result(bad)


# -- ZeroMQ messages -------------------------------------------------------------------------

EXECUTION = messages.Execution(execution_id=f"7-{T}", id=7, project_id=3, scheduled_at=T,
                               spec="@every 1m", timezone="UTC", data="d",
                               callback_url="http://127.0.0.1:9/7")
OUTCOME = messages.Outcome(execution_id=f"7-{T}", state="succeeded", attempts=1,
                           http_status=200, started_at_ms=TS_MS, finished_at_ms=TS_MS + 5)
ON_THE_WIRE: list[tuple[messages.Channel[Any], messages.Versioned]] = [
    (messages.BATCHES, messages.Batch(batch_id="b", fire_at=T, deadline=T + 30,
                                      executions=[EXECUTION], signing_secrets={"3": "sig"},
                                      term=4, lease=(4, 2))),
    (messages.INTAKE, messages.Batch(batch_id="b", fire_at=T, deadline=T, executions=[])),
    (messages.INTAKE, messages.Heartbeat(
        node_id=2, address="http://h:1", raft_address="h:2", intake_address="h:3", held=1,
        executors=2, memory_pressure=False, seq=9, boot="ab", wall=T + 0.5, lease=(4, 2),
        held_batches=["b"], settling=["c"], clock_offset=-0.002, stopping=True)),
    (messages.INTAKE, messages.LeaseAck(node_id=2, term=4, epoch=2, seq=9, continues=(3, 1),
                                        received_wall=T + 0.1, sent_wall=T + 0.2)),
    (messages.RESULTS, messages.Results(node_id=2, executor=1, batch_id="b", results=[OUTCOME],
                                        final=True)),
    (messages.RESULTS, messages.ExecutorLoad(node_id=2, executor=1, held=3, pid=42,
                                             pressure=True, stopping=False,
                                             metrics={"delivered": 5, "lateness": {"le": [1]}})),
    (messages.LEASES, messages.LeaseState(current=(4, 2), accepted=[(3, 1), (4, 2)],
                                          valid_until=12.5)),
    (messages.CONTROL, messages.Memory(pressure=True, rss=1 << 30)),
    (messages.CONTROL, messages.Stop()),
    (messages.REQUESTS, messages.Submit(command=messages.command(messages.JobDelete(id=1)),
                                        timeout=5.0)),
    (messages.REQUESTS, messages.Membership(action="add", raft_address="h:2")),
    (messages.REQUESTS, messages.StatusRequest()),
    (messages.REPLIES, messages.Reply(ok=True, result={"ok": True, "data": [1]})),
    (messages.REPLIES, messages.Reply(ok=True, status={"node_id": 1, "peers": []})),
    (messages.REPLIES, messages.Reply.refused(503, "unavailable", "no leader")),
]


@pytest.mark.parametrize(("channel", "message"), ON_THE_WIRE,
                         ids=lambda v: type(v).__name__ if isinstance(v, msgspec.Struct) else "")
def test_every_wire_message_round_trips_on_its_channel(channel: messages.Channel[Any],
                                                        message: messages.Versioned):
    assert channel.decode(messages.encode(message)) == message
    assert messages.as_map(message)["v"] == messages.WIRE_VERSION


# The maps the previous release sends and reads (its codec added "v" to each).
TODAYS_MAPS: list[tuple[messages.Channel[Any], dict[str, Any], type]] = [
    (messages.INTAKE, {"v": 1, "type": "load_report", "node_id": 2, "address": "http://h:1",
                       "raft_address": "h:2", "intake_address": "h:3", "held": 1,
                       "executors": 2, "memory_pressure": False, "seq": 9, "boot": "ab",
                       "wall": T + 0.5, "lease": [4, 2], "held_batches": ["b"],
                       "settling": [], "clock_offset": None}, messages.Heartbeat),
    (messages.INTAKE, {"v": 1, "type": "lease", "node_id": 2, "term": 4, "epoch": 2, "seq": 9,
                       "continues": None, "received_wall": T, "sent_wall": T},
     messages.LeaseAck),
    (messages.LEASES, {"v": 1, "type": "lease", "current": [4, 2], "accepted": [[4, 2]],
                       "valid_until": 12.5}, messages.LeaseState),
    (messages.RESULTS, {"v": 1, "type": "results", "node_id": 2, "executor": 0,
                        "batch_id": "b", "final": False,
                        "results": [{"execution_id": "e", "state": "failed", "attempts": 3,
                                     "http_status": 500, "error": "HTTP 500",
                                     "started_at_ms": 1, "finished_at_ms": 2}]},
     messages.Results),
    (messages.RESULTS, {"v": 1, "type": "load", "node_id": 2, "executor": 0, "held": 0,
                        "pid": 7, "pressure": False, "stopping": False, "metrics": {}},
     messages.ExecutorLoad),
    (messages.CONTROL, {"v": 1, "type": "memory", "pressure": True, "rss": 5}, messages.Memory),
    (messages.CONTROL, {"v": 1, "type": "stop"}, messages.Stop),
    (messages.REQUESTS, {"v": 1, "op": "submit", "command": {"type": "job.delete"},
                         "timeout": 5.0}, messages.Submit),
    (messages.REQUESTS, {"v": 1, "op": "membership", "action": "remove", "raft_address": "h:2"},
     messages.Membership),
    (messages.REQUESTS, {"v": 1, "op": "status"}, messages.StatusRequest),
    (messages.REPLIES, {"v": 1, "ok": False, "error": {"status": 400, "code": "bad_message",
                                                        "message": "undecodable request"}},
     messages.Reply),
]


@pytest.mark.parametrize(("channel", "wire", "kind"), TODAYS_MAPS,
                         ids=lambda v: v.__name__ if isinstance(v, type) else "")
def test_todays_maps_decode_and_encode_back_to_the_same_fields(
        channel: messages.Channel[Any], wire: dict[str, Any], kind: type):
    message = channel.decode(msgspec.msgpack.encode(wire))
    assert isinstance(message, kind)
    assert messages.as_map(message).items() >= wire.items()  # new fields only ever added


def test_todays_batch_bytes_decode():
    # A batch as the previous release's planner sent it, term and lease included.
    data = bytes.fromhex(
        "89a17601a474797065a56261746368a862617463685f6964ad313830303030303030302d6162a7666972"
        "655f6174ce6b49d200a8646561646c696e65ce6b49d21eaa657865637574696f6e739188ac6578656375"
        "74696f6e5f6964ac372d31383030303030303030a2696407aa70726f6a6563745f696403ac7363686564"
        "756c65645f6174ce6b49d200a473706563a940657665727920316da874696d657a6f6e65a3555443a464"
        "617461a164ac63616c6c6261636b5f75726cb4687474703a2f2f3132372e302e302e313a392f37af7369"
        "676e696e675f7365637265747381a133a3736967a47465726d04a56c65617365920402")
    batch = messages.BATCHES.decode(data)
    assert batch == messages.Batch(batch_id=f"{T}-ab", fire_at=T, deadline=T + 30,
                                   executions=[EXECUTION], signing_secrets={"3": "sig"},
                                   term=4, lease=(4, 2))
    assert messages.Batch.of(f"{T}-ab", T, [_PlannedJob()], {3: "sig", 4: "other"}, T + 30.7,
                             term=4, lease=(4, 2)) == batch


class _PlannedJob:
    id, project_id, spec, timezone, data, callback_url = (
        7, 3, "@every 1m", "UTC", "d", "http://127.0.0.1:9/7")
    delivery = None


def test_a_batch_with_unreadable_executions_keeps_the_others_and_says_why(caplog):
    missing_spec = {**messages.as_map(messages.Batch(batch_id="b", fire_at=T, deadline=T,
                                                     executions=[EXECUTION]))}
    bad = {k: v for k, v in messages.as_map(EXECUTION).items() if k != "spec"}
    missing_spec["executions"] = [messages.as_map(EXECUTION), bad, "junk",
                                  {**bad, "spec": "x", "id": "seven"}]
    with caplog.at_level(logging.ERROR):
        batch = messages.BATCHES.decode(msgspec.msgpack.encode(missing_spec))
    assert batch is not None and batch.executions == [EXECUTION]
    assert [(u.execution_id, u.reason) for u in batch.unreadable] == [
        (EXECUTION.execution_id, "malformed execution: missing spec"),
        (EXECUTION.execution_id, "malformed execution: Expected `int`, got `str` - at `$.id`")]
    assert "not a map" in caplog.text  # the one without an id cannot be reported, only logged
    relayed = messages.BATCHES.decode(messages.encode(batch))  # the intake relays it as is
    assert relayed == batch


@pytest.mark.parametrize(("channel", "wire", "reason"), [
    (messages.INTAKE, {"v": 2, "type": "batch", "anything": "new"}, "version 2"),
    (messages.RESULTS, {"v": 2, "type": "results", "node_id": 1, "executor": 0,
                        "batch_id": "b", "results": []}, "version 2"),
    (messages.REQUESTS, {"v": "two", "op": "status"}, "version 'two'"),
])
def test_a_message_of_an_unknown_version_is_refused_with_a_logged_reason(
        caplog, channel: messages.Channel[Any], wire: dict[str, Any], reason: str):
    with caplog.at_level(logging.WARNING, logger="scheduler0.messages.wire"):
        assert channel.decode(msgspec.msgpack.encode(wire)) is None
    assert reason in caplog.text and "not supported" in caplog.text


@pytest.mark.parametrize(("channel", "data", "reason"), [
    (messages.BATCHES, b"\xc1", "not msgpack"),
    (messages.BATCHES, b"", "not msgpack"),
    (messages.CONTROL, msgspec.msgpack.encode([1, 2]), "not a map"),
    (messages.CONTROL, msgspec.msgpack.encode({"v": 1, "type": "marker"}), "'marker'"),
    (messages.INTAKE, msgspec.msgpack.encode({"v": 1, "type": "lease", "node_id": "2"}),
     "'lease'"),
    (messages.INTAKE, msgspec.msgpack.encode({"v": 1, "type": "batch", "batch_id": "b",
                                              "executions": {}}), "malformed batch"),
    (messages.LEASES, msgspec.msgpack.encode({"v": 1, "type": "lease",
                                              "current": [True, 1]}), "bool"),
    (messages.REPLIES, msgspec.msgpack.encode({"v": 1}), "ok"),
])
def test_a_malformed_message_is_refused_without_an_exception(
        caplog, channel: messages.Channel[Any], data: bytes, reason: str):
    with caplog.at_level(logging.WARNING, logger="scheduler0.messages.wire"):
        assert channel.decode(data) is None
    assert reason in caplog.text


CHANNELS = [messages.BATCHES, messages.INTAKE, messages.RESULTS, messages.LEASES,
            messages.CONTROL, messages.REQUESTS, messages.REPLIES]
wire_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=10)
near_maps = st.fixed_dictionaries(
    {"type": st.sampled_from(["batch", "load_report", "lease", "results", "load", "memory",
                              "stop", "x"])},
    optional={"v": st.just(1) | wire_values, "batch_id": wire_values, "executions": wire_values,
              "node_id": wire_values, "results": wire_values, "fire_at": wire_values,
              "deadline": wire_values, "op": st.sampled_from(["submit", "status"])})


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=64) | near_maps.map(msgspec.msgpack.encode),
       channel=st.sampled_from(CHANNELS))
def test_no_bytes_make_a_channel_raise(data: bytes, channel: messages.Channel[Any]):
    message = channel.decode(data)
    assert message is None or isinstance(message, channel.types)
