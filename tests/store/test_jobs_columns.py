"""job.create with its jobs in columns (messages.JobCreate): the same file, the same rows and
the same refusals as the same jobs sent one object each."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler0 import messages
from scheduler0.store import Reader, StateMachine
from scheduler0.store.handlers import jobs as handlers_jobs
from scheduler0.store.handlers.jobs import MAX_JOBS_PER_COMMAND
from tests.store.helpers import TS_S, Log, job_input


def columns_of(jobs: list[dict[str, Any]]) -> dict[str, Any]:
    """The jobs' fields as columns, each a list (the store folds shared values itself)."""
    names = dict.fromkeys(name for job in jobs for name in job)
    return {name: [job.get(name) for job in jobs] for name in names}


def columnar(jobs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"count": len(jobs), "columns": columns_of(jobs)}


def without_results(db_path: str) -> list[str]:
    """The file's rows but the stored results (their bytes depend on the result's shape)."""
    conn = sqlite3.connect(db_path)
    try:
        return [line for line in conn.iterdump() if not line.startswith('INSERT INTO "requests"')]
    finally:
        conn.close()


def both_ways(tmp_path: Path, jobs: list[dict[str, Any]]) -> tuple[Any, Any, list[str], list[str]]:
    """Apply the jobs as objects to one new file and as columns to another: (result as
    objects, result as columns, each file's rows but the stored results)."""
    results, dumps = [], []
    for name, body in (("objects", {"jobs": jobs}), ("columns", columnar(jobs))):
        machine = StateMachine(str(tmp_path / name / "scheduler0.db"))
        try:
            log = Log(machine)
            log.project()
            results.append(log.apply(messages.JOB_CREATE, body))
            dumps.append(without_results(machine.db_path))
        finally:
            machine.close()
    return results[0], results[1], dumps[0], dumps[1]


def as_rows(result: dict[str, Any]) -> dict[str, Any]:
    if result["ok"]:
        return {**result, "data": messages.column_rows(result["data"]["columns"],
                                                       result["data"]["count"])}
    return result


def test_columns_make_the_same_file_and_rows(tmp_path: Path) -> None:
    jobs = [job_input(1, spec, data=data, start_date=start, paused=i % 3 == 0, anchor=anchor)
            for i, (spec, data, start, anchor) in enumerate([
                ("*/5 * * * *", "a", None, None), (" */5  * * * * ", "a", None, None),
                ("@every 90s", "b", TS_S + 100, None), ("@every 90s", None, None, TS_S - 30),
                ("0 9 * * 1-5", "é\u2028\U0001F600\t\"\\", TS_S + 86_400, None),
                ("@every 90s", "", TS_S + 100, None)])]
    jobs[1]["timezone"] = "europe/paris"
    objects, columns, file_objects, file_columns = both_ways(tmp_path, jobs)
    assert objects["ok"] is True and as_rows(columns) == objects
    assert file_columns == file_objects


def test_shared_values_stay_one_value_in_the_result(log: Log) -> None:
    project = log.project()
    created = log.ok(messages.JOB_CREATE, {"count": 3, "columns": {
        "project_id": project["id"], "spec": "*/5 * * * *", "callback_url": "http://x/",
        "data": ["a", "b", "c"]}})
    columns = created["columns"]
    assert created["count"] == 3 and columns["id"] == [1, 2, 3]
    assert columns["spec"] == "*/5 * * * *" and columns["data"] == ["a", "b", "c"]
    assert columns["paused"] is False and columns["timezone"] == "UTC"


@pytest.mark.parametrize("data", ["a\0b", "\0", "x\\u0000"])
def test_a_nul_is_stored_as_it_is(log: Log, reader: Reader, data: str) -> None:
    project = log.project()
    created = log.ok(messages.JOB_CREATE, columnar([job_input(project["id"], data=data),
                                                    job_input(project["id"], data="other")]))
    assert created["columns"]["data"] == [data, "other"]
    assert reader.get_job(1)["data"] == data and reader.get_job(2)["data"] == "other"


def test_without_json_functions_the_rows_are_the_same(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = [job_input(1, data=f"job {i}", start_date=TS_S + i) for i in range(5)]
    _, with_json, _, file_with_json = both_ways(tmp_path / "json", jobs)
    monkeypatch.setattr(handlers_jobs, "_insert_select",
                        lambda varying: "INSERT INTO jobs SELECT json_missing(?)")
    _, without, _, file_without = both_ways(tmp_path / "plain", jobs)
    assert without == with_json and with_json["ok"] is True
    assert file_without == file_with_json


@pytest.mark.parametrize("field,value,needle", [
    ("misfire_policy", "sometimes", "jobs[1].misfire_policy must be one of"),
    ("paused", "yes", "jobs[1].paused must be true or false"),
    ("paused", 1, "jobs[1].paused must be true or false"),
    ("start_date", "tomorrow", "jobs[1].start_date must be an integer"),
    ("callback_url", "", "jobs[1].callback_url must not be empty"),
    ("callback_url", None, "jobs[1].callback_url is required"),
    ("spec", "61 * * * *", "jobs[1]: "),
    ("project_id", 42, "project 42 does not exist (jobs[1].project_id)"),
    ("project_id", None, "jobs[1].project_id must be an integer"),
    ("timezone", "Mars/Olympus", "jobs[1]: "),
    ("data", {"x": 1}, "jobs[1].data must be a string"),
])
def test_refusals_name_the_same_job_and_field(tmp_path: Path, field: str, value: Any,
                                              needle: str) -> None:
    bad = {**job_input(1), field: value}
    jobs = [job_input(1), bad, dict(bad)]
    objects, columns, file_objects, file_columns = both_ways(tmp_path, jobs)
    assert objects["ok"] is False and columns == objects
    assert needle in objects["error"]["message"]
    assert file_columns == file_objects


def test_a_column_of_the_wrong_length_is_refused(log: Log) -> None:
    error = log.refused(messages.JOB_CREATE, {"count": 2, "columns": {"spec": ["@daily"]}})
    assert (error["status"], error["message"]) == (400, "columns.spec holds 1 values for 2 jobs")


def test_columns_refuse_more_than_the_batch_limit(log: Log) -> None:
    project = log.project()
    error = log.refused(messages.JOB_CREATE, {"count": MAX_JOBS_PER_COMMAND + 1, "columns": {
        "project_id": project["id"], "spec": "@daily", "callback_url": "http://x/"}})
    assert (error["status"], error["code"]) == (413, "payload_too_large")


def test_no_jobs(log: Log, reader: Reader) -> None:
    assert log.ok(messages.JOB_CREATE, {"count": 0, "columns": {}}) == {"count": 0, "columns": {}}
    assert log.ok(messages.JOB_CREATE, {"jobs": []}) == []
    assert reader.count_jobs() == 0


def test_results_are_what_reads_answer(log: Log, reader: Reader) -> None:
    project = log.project()
    jobs = [job_input(project["id"], "@every 90s" if i % 2 else "*/5 * * * *", data=f"j{i}",
                      start_date=None if i % 3 else TS_S + 1000 + i, paused=i % 4 == 0,
                      end_date=TS_S + 10 if i == 5 else None)
            for i in range(40)]
    created = log.ok(messages.JOB_CREATE, columnar(jobs))
    rows = messages.column_rows(created["columns"], created["count"])
    assert rows == [reader.get_job(row["id"]) for row in rows]


VALUES: dict[str, list[Any]] = {
    "spec": ["*/5 * * * *", "@every 90s", " */5 * *  * * ", "61 * * * *", "", None],
    "timezone": ["UTC", None, "europe/paris", "Mars/Olympus", ""],
    "callback_url": ["http://x/", "http://y/", "", None, 3],
    "data": [None, "", "a", "é", "a\0b", 5],
    "execution_type": ["http", None, ""],
    "start_date": [None, TS_S + 100, TS_S - 100, "1", True],
    "end_date": [None, TS_S + 1000, TS_S + 10],
    "paused": [None, False, True, 0, 1],
    "misfire_policy": [None, "skip", "sometimes"],
    "anchor": [None, TS_S - 7, "x"],
    # The delivery settings as the API sends them (headers and codes as JSON text).
    "method": [None, "PUT", "GET", "post"],
    "headers": [None, '{"X-A":"1"}', '{"Host":"h"}', "{", "[1]", {"X-A": "1"}],
    "timeout": [None, 2.5, 5, 0.0, 1e9, True],
    "retries": [None, 0, 20, 21, 1.5],
    "retry_delay": [None, 0.5, 0, -1.0],
    "success_codes": [None, "[200,404]", "[]", "[200,200]", "[99]", [200]],
}
jobs_strategy = st.lists(st.fixed_dictionaries(
    {"project_id": st.sampled_from([1, 1, 1, 2, True])},
    optional={name: st.sampled_from(values[:2] * 10 + values)
              for name, values in VALUES.items()}), min_size=1, max_size=5)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(jobs=jobs_strategy)
def test_any_batch_is_the_same_as_objects_or_as_columns(tmp_path_factory: pytest.TempPathFactory,
                                                         jobs: list[dict[str, Any]]) -> None:
    objects, columns, file_objects, file_columns = both_ways(tmp_path_factory.mktemp("b"), jobs)
    assert as_rows(columns) == objects
    assert file_columns == file_objects
