"""Every node applying the same log builds the same file, restarts and replays included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler0 import messages
from scheduler0.store import StateMachine
from tests.store.helpers import TS_MS, job_input, table_dump


def _script() -> list[dict[str, Any]]:
    """A log with creations, refusals, moves, cascades and a retried request."""
    def make(command_type: str, body: dict[str, Any], step: int,
             request_id: str | None = None) -> dict[str, Any]:
        return messages.make(command_type, body, now_ms=TS_MS + step * 1000,
                             request_id=request_id or f"r{step}")

    bodies: list[tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], str]] = [
        (messages.CREDENTIAL_CREATE, {"api_key": "k1", "secret_hash": "h", "archived": False}),
        (messages.PROJECT_CREATE, {"name": "a", "description": "", "signing_secret": "s"}),
        (messages.PROJECT_CREATE, {"name": "b", "description": "x", "signing_secret": "t"}),
        (messages.PROJECT_CREATE, {"name": "a", "description": "", "signing_secret": "s"}),
        (messages.JOB_CREATE, {"jobs": [job_input(1, spec) for spec in
                                        ("*/5 * * * *", "@every 90s", "0 9 * * 1-5", "@daily")]}),
        (messages.JOB_CREATE, {"jobs": [job_input(2, "@every 90s", anchor=5),
                                        job_input(2, "0 9 * * *", timezone="Europe/Paris")]}),
        (messages.JOB_CREATE, {"jobs": [job_input(9)]}),
        (messages.JOB_UPDATE, {"id": 1, "changes": {"spec": "@hourly", "paused": True}}),
        (messages.JOB_UPDATE, {"id": 2, "changes": {"timezone": "Asia/Tokyo"}}),
        (messages.JOB_DELETE, {"id": 3}),
        (messages.CREDENTIAL_UPDATE, {"id": 1, "archived": True}),
        (messages.PROJECT_UPDATE, {"id": 2, "signing_secret": "rotated"}),
        (messages.PROJECT_DELETE, {"id": 2, "cascade": False}),
        (messages.PROJECT_DELETE, {"id": 2, "cascade": True}),
        (messages.JOB_CREATE, {"jobs": [job_input(1, "@every 1m")]}, "again"),
        (messages.JOB_CREATE, {"jobs": [job_input(1, "@every 1m")]}, "again"),
        (messages.PRUNE, {"before": 10**10, "limit": 100}),
    ]
    bogus = {"v": 1, "type": "bogus", "request_id": "rb", "ts": TS_MS, "body": {}}
    return [make(entry[0], entry[1], step, *entry[2:])
            for step, entry in enumerate(bodies)] + [bogus]


def _apply_all(machine: StateMachine, log: list[dict[str, Any]], start: int = 1) -> list[Any]:
    return [machine.apply(command, index)
            for index, command in enumerate(log, start=1) if index >= start]


def test_two_nodes_fed_the_same_log_build_identical_files(tmp_path: Path) -> None:
    log = _script()
    one, two = StateMachine(str(tmp_path / "one.db")), StateMachine(str(tmp_path / "two.db"))
    results_one, results_two = _apply_all(one, log), _apply_all(two, log)
    assert results_one == results_two
    assert table_dump(one.db_path) == table_dump(two.db_path)
    assert sum(1 for r in results_one if r["ok"]) >= 10  # the script really did things
    one.close()
    two.close()


def test_a_restart_and_full_replay_reach_the_same_file(tmp_path: Path) -> None:
    log = _script()
    steady = StateMachine(str(tmp_path / "steady.db"))
    _apply_all(steady, log)
    restarted = StateMachine(str(tmp_path / "restarted.db"))
    _apply_all(restarted, log[:9])
    restarted.close()
    restarted = StateMachine(str(tmp_path / "restarted.db"))
    # pysyncobj re-applies its journal from the start after a restart.
    replay = _apply_all(restarted, log)
    assert all(r.get("replayed") for r in replay[:9])
    assert table_dump(restarted.db_path) == table_dump(steady.db_path)
    steady.close()
    restarted.close()


operation = st.one_of(
    st.tuples(st.just(messages.PROJECT_CREATE),
              st.fixed_dictionaries({"name": st.sampled_from("abc"), "description": st.just(""),
                                     "signing_secret": st.just("s")})),
    st.tuples(st.just(messages.JOB_CREATE), st.fixed_dictionaries({"jobs": st.lists(
        st.builds(job_input, st.integers(1, 3),
                  st.sampled_from(["@every 30s", "*/5 * * * *", "@daily", "0 0 * * 1"])),
        max_size=4)})),
    st.tuples(st.just(messages.JOB_UPDATE), st.fixed_dictionaries({
        "id": st.integers(1, 8),
        "changes": st.dictionaries(st.sampled_from(["spec", "paused", "timezone"]),
                                   st.sampled_from(["@hourly", "Europe/Paris", "UTC"]),
                                   max_size=2)})),
    st.tuples(st.just(messages.JOB_DELETE), st.fixed_dictionaries({"id": st.integers(1, 8)})),
    st.tuples(st.just(messages.PROJECT_DELETE), st.fixed_dictionaries(
        {"id": st.integers(1, 3), "cascade": st.booleans()})),
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.tuples(operation, st.integers(0, 10**6)), max_size=15))
def test_random_logs_are_deterministic(tmp_path_factory, ops) -> None:
    log = [messages.make(t, b, now_ms=TS_MS + dt, request_id=f"r{i}")
           for i, ((t, b), dt) in enumerate(ops)]
    base = tmp_path_factory.mktemp("det")
    one, two = StateMachine(str(base / "one.db")), StateMachine(str(base / "two.db"))
    assert _apply_all(one, log) == _apply_all(two, log)
    assert table_dump(one.db_path) == table_dump(two.db_path)
    one.close()
    two.close()
