"""apply(): by index, deduplicated by request_id, never raising, always advancing."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler0 import messages
from scheduler0.store import StateMachine, dedup
from scheduler0.store.handlers import HANDLERS
from tests.store.helpers import TS_MS, Log, table_dump


def test_a_replayed_index_changes_nothing(log: Log, machine: StateMachine) -> None:
    command = log.command(messages.PROJECT_CREATE,
                          {"name": "a", "description": "", "signing_secret": "s"})
    assert machine.apply(command, 5)["ok"] is True
    dump = table_dump(machine.db_path)
    other = log.command(messages.PROJECT_CREATE,
                        {"name": "b", "description": "", "signing_secret": "s"},
                        request_id="another")
    for index in (1, 4, 5):
        assert machine.apply(other, index) == {"ok": True, "data": None, "replayed": True}
    assert table_dump(machine.db_path) == dump
    assert machine.last_applied() == 5


def test_last_applied_is_in_the_file(log: Log, db_path: str, machine: StateMachine) -> None:
    log.project()
    log.project("second")
    machine.close()
    reopened = StateMachine(db_path)
    assert reopened.last_applied() == 2
    # pysyncobj replays the journal after a restart: both entries are skipped.
    assert reopened.apply(log.command(messages.PROJECT_CREATE, {"name": "x",
                          "description": "", "signing_secret": "s"}), 2)["replayed"]
    reopened.close()


def test_the_same_request_id_returns_the_first_result(log: Log, reader) -> None:
    body = {"name": "once", "description": "", "signing_secret": "s"}
    first = log.apply(messages.PROJECT_CREATE, body, request_id="retry-me")
    second = log.apply(messages.PROJECT_CREATE, body, request_id="retry-me", ts_ms=TS_MS + 5000)
    assert first["ok"] is True
    assert second == first
    assert reader.count_projects() == 1
    assert log.machine.last_applied() == 2  # the retry's index was still consumed


def test_a_keyed_request_id_with_another_fingerprint_is_refused_and_others_are_not(
        log: Log, reader) -> None:
    body = {"name": "keyed", "description": "", "signing_secret": "s"}
    first = dedup.keyed("a" * 32, "1" * 16)
    assert log.apply(messages.PROJECT_CREATE, body, request_id=first)["ok"] is True
    reused = log.apply(messages.PROJECT_CREATE, {**body, "name": "other"},
                       request_id=dedup.keyed("a" * 32, "2" * 16))
    assert (reused["error"]["status"], reused["error"]["code"]) == (422, "idempotency_key_reused")
    # Neighbouring scopes, and ids without a key (a uuid, or a journal from before keys had
    # fingerprints), are not mistaken for the same key.
    for n, request_id in enumerate([dedup.keyed("a" * 31 + "b", "2" * 16), "a" * 32,
                                    "a" * 32 + "0", "b" * 32]):
        result = log.apply(messages.PROJECT_CREATE, {**body, "name": f"n{n}"},
                           request_id=request_id)
        assert result["ok"] is True, (request_id, result)
    assert reader.count_projects() == 5


def test_a_refusal_is_also_remembered(log: Log) -> None:
    body = {"id": 99}
    first = log.apply(messages.JOB_DELETE, body, request_id="r")
    assert first["error"]["status"] == 404
    assert log.apply(messages.JOB_DELETE, body, request_id="r") == first


GARBAGE: list[Any] = [
    None, 42, "text", [], {}, {"type": "no.such.type", "ts": TS_MS, "body": {}},
    {"type": messages.JOB_CREATE}, {"type": messages.JOB_CREATE, "ts": "yesterday", "body": {}},
    {"type": messages.JOB_CREATE, "ts": TS_MS, "body": []},
    {"type": messages.JOB_CREATE, "ts": TS_MS, "body": {"jobs": "many"}},
    {"type": messages.JOB_CREATE, "ts": TS_MS, "body": {"jobs": [None, 1]}},
    {"type": messages.JOB_UPDATE, "ts": TS_MS, "body": {"id": "7", "changes": {}}},
    {"type": messages.JOB_UPDATE, "ts": TS_MS, "body": {"id": True, "changes": {}}},
    {"type": messages.PROJECT_CREATE, "ts": TS_MS, "body": {"name": 3}},
    {"type": messages.PROJECT_DELETE, "ts": TS_MS, "body": {"id": 2**70}},
    {"type": messages.PRUNE, "ts": TS_MS, "body": {"before": None, "limit": -1}},
    {"v": 99, "type": messages.PRUNE, "ts": TS_MS, "body": {"before": 1, "limit": 1}},
    {"type": messages.CREDENTIAL_UPDATE, "ts": TS_MS, "body": {"id": 1}},
    {"type": 7, "ts": TS_MS, "body": {}, "request_id": 5},
]


@pytest.mark.parametrize("command", GARBAGE, ids=repr)
def test_garbage_is_refused_with_400_and_the_index_advances(log: Log, command: Any) -> None:
    result = log.apply_raw(command)
    assert result["ok"] is False
    assert result["error"]["status"] == 400, result
    assert result["error"]["message"]
    assert log.machine.last_applied() == log.index


def test_an_unknown_type_names_the_known_ones(log: Log) -> None:
    error = log.apply_raw({"type": "job.explode", "ts": TS_MS, "body": {}})["error"]
    assert error["code"] == "unknown_command"
    assert "job.create" in error["message"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=8)
body_keys = st.sampled_from(["id", "jobs", "name", "changes", "before", "limit", "api_key",
                             "secret_hash", "archived", "cascade", "signing_secret",
                             "description"])
job_keys = st.sampled_from(["project_id", "spec", "timezone", "callback_url", "data",
                            "execution_type", "start_date", "end_date", "paused",
                            "misfire_policy", "anchor"])
job_values = json_values | st.sampled_from(
    [1, "@every 1s", "*/5 * * * *", "Europe/Paris", "run_all", "http://x", 2**63, -1])
fuzzed_job = st.dictionaries(job_keys, job_values, max_size=11)
fuzzed_body = st.dictionaries(
    body_keys, json_values | st.sampled_from([1, 2, True, "x"]) | st.lists(fuzzed_job,
                                                                          max_size=3)
    | st.dictionaries(job_keys, job_values, max_size=3), max_size=5)
# Mostly-valid envelopes, so the handlers (not just the envelope check) meet the garbage.
fuzzed_command = st.fixed_dictionaries(
    {"type": st.sampled_from(list(HANDLERS)), "ts": st.integers(0, 2**42),
     "body": fuzzed_body},
    optional={"v": st.just(1) | json_values, "request_id": st.text(max_size=4) | json_values})


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=fuzzed_command | json_values)
def test_apply_never_raises_and_always_advances(log: Log, command: Any) -> None:
    result = log.apply_raw(command)
    assert isinstance(result, dict) and isinstance(result["ok"], bool)
    if not result["ok"]:
        assert 400 <= result["error"]["status"] < 600
    assert log.machine.last_applied() == log.index


def test_an_unexpected_failure_is_rolled_back_and_skipped(
        log: Log, reader, monkeypatch: pytest.MonkeyPatch) -> None:
    def buggy(tx, body):  # a handler bug after a partial write
        tx.conn.execute("INSERT INTO projects (name, signing_secret, created_at_ms, "
                        "updated_at_ms) VALUES ('half', 's', 1, 1)")
        raise RuntimeError("bug")

    monkeypatch.setitem(HANDLERS, messages.PROJECT_CREATE, buggy)
    result = log.apply(messages.PROJECT_CREATE, {}, request_id="buggy")
    assert result["ok"] is False
    assert result["error"]["status"] == 500 and result["error"]["code"] == "apply_failed"
    assert "RuntimeError" in result["error"]["message"]
    assert log.machine.last_applied() == log.index
    assert reader.count_projects() == 0  # the partial insert was rolled back
    monkeypatch.undo()
    # The failure was not remembered: a retry with the same request_id runs again.
    assert log.apply(messages.PROJECT_CREATE,
                     {"name": "ok", "description": "", "signing_secret": "s"},
                     request_id="buggy")["ok"] is True
    assert reader.count_projects() == 1


def test_a_refused_batch_leaves_no_partial_effect(log: Log, reader) -> None:
    project = log.project()
    error = log.refused(messages.JOB_CREATE, {"jobs": [
        {"project_id": project["id"], "spec": "@daily", "callback_url": "http://x"},
        {"project_id": project["id"], "spec": "61 * * * *", "callback_url": "http://x"}]})
    assert error["code"] == "invalid_spec"
    assert error["message"].startswith("jobs[1]: ")
    assert reader.count_jobs() == 0
    conn = sqlite3.connect(log.machine.db_path)
    assert conn.execute("SELECT count(*) FROM schedules").fetchone()[0] == 0
    conn.close()


def _request_ids(db_path: str) -> set[str]:
    conn = sqlite3.connect(db_path)
    try:
        return {rid for (rid,) in conn.execute("SELECT request_id FROM requests")}
    finally:
        conn.close()


def test_old_requests_are_pruned_by_age(machine: StateMachine) -> None:
    log = Log(machine)
    log.project("early")  # index 1, at TS_MS
    machine.apply(log.command(messages.PROJECT_CREATE, {"name": "late", "description": "",
                  "signing_secret": "s"}, ts_ms=TS_MS + dedup.REQUEST_TTL_MS + 1,
                  request_id="late"), dedup.PRUNE_EVERY)
    assert _request_ids(machine.db_path) == {"late"}


def test_old_requests_are_pruned_by_index_window(machine: StateMachine) -> None:
    log = Log(machine)
    log.project("early")
    index = dedup.PRUNE_EVERY * (dedup.REQUEST_WINDOW // dedup.PRUNE_EVERY + 1)
    machine.apply(log.command(messages.PROJECT_CREATE, {"name": "late", "description": "",
                  "signing_secret": "s"}, request_id="late"), index)
    assert _request_ids(machine.db_path) == {"late"}


def test_recent_requests_survive_pruning(machine: StateMachine) -> None:
    log = Log(machine)
    log.project("early")
    machine.apply(log.command(messages.PROJECT_CREATE, {"name": "late", "description": "",
                  "signing_secret": "s"}, request_id="late"), dedup.PRUNE_EVERY)
    assert _request_ids(machine.db_path) == {"req-1", "late"}
