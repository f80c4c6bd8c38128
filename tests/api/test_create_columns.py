"""job.create in columns, on the API's side: the column-wise checks take and refuse exactly
what the job-by-job checks do, the body parser reads what json.loads reads, and the answer
written from columns is, byte for byte, what jsonify writes from the job rows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler0 import messages
from scheduler0.api import serialize, validation
from scheduler0.errors import ApiError
from tests.api.helpers import Api, data, unique

NOW = 1_900_000_000


def rules() -> validation.JobRules:
    return validation.JobRules(now=NOW, default_timezone="Europe/Paris",
                               check_host=lambda host: None if host == "127.0.0.1" else "refused")


def outcome(call: Any) -> tuple[Any, ...]:
    try:
        return ("ok", call())
    except ApiError as exc:
        return ("refused", type(exc), exc.status, exc.code, exc.message)


def typed(rows: list[dict[str, Any]]) -> list[dict[str, tuple[type, Any]]]:
    """Rows with each value's type, so that true and 1 differ."""
    return [{name: (type(value), value) for name, value in row.items()} for row in rows]


# Per field: two valid values first, then others, valid or not.
VALUES: dict[str, list[Any]] = {
    "project_id": [1, 1, 2, 0, True, "1", None, 2**63, 1.0],
    "spec": ["*/5 * * * *", "*/5 * * * *", " */5  * * * * ", "@every 1m", "61 * * * *", "",
             None, 5, "0 0 30 2 *"],
    "timezone": ["UTC", "europe/berlin", "Europe/Paris", "Mars/Olympus", None, "", 3],
    "callback_url": ["http://127.0.0.1/h", "http://127.0.0.1/h", "http://127.0.0.1/other",
                     "ftp://x", "http://example.com/", None],
    "data": ["", "x", "x", "é", "a\0b", "\ud800", None, 5, "x" * (64 * 1024 + 1), "%s"],
    "execution_type": ["http", "http", None, "grpc", 1],
    "start_date": [None, NOW + 100, NOW - 100, "2030-03-17T17:46:40Z", "bad", True, 1.5e9,
                   "0001-01-01T00:00:00Z", -5],
    "end_date": [None, NOW + 1000, NOW + 50, NOW - 10, "2099-01-01T00:00:00Z"],
    "paused": [True, False, None, 1, "yes"],
    "misfire_policy": ["run_once", "skip", "never", None],
    "method": ["PUT", None, "POST", "GET", "post", 1],
    "headers": [{"X-A": "1"}, {"X-A": "1"}, {"X-B": "2", "X-A": "1"}, {"X-A": "1", "X-B": "2"},
                {}, {"x-a": "1", "X-A": "2"}, {"Host": "h"}, {"X-A": 1}, {"X-A": "a\nb"}, [],
                "x", None],
    "timeout": [5, 2.5, 5.0, 0.1, 0, 3600.5, True, "5", None],
    "retries": [3, 0, 20, 21, 1.5, 3.0, True, None],
    "retry_delay": [0.5, 0, 0.0, 1e9, False, None],
    "success_codes": [[200, 404], [404, 200], [200], [], [99], [200, 200], [200.0], [True],
                      "200", None],
    "name": ["a", "b", "nightly", "1x", "", None, 5, "x" * 129, "a b"],
    "description": ["", "about", "about", None, 5, "x" * 4097, "a\0b"],
    "labels": [{"team": "a"}, {"team": "a"}, {"env": "b", "team": "a"},
               {"team": "a", "env": "b"}, {}, {"Bad key": "x"}, {"team": 1}, {"team": "a b"},
               {f"k{i}": "v" for i in range(65)}, [], "team=a", None],
}
_REQUIRED = ("project_id", "spec", "callback_url")
# Mostly the valid values, so that whole batches often pass.
field_values = {name: st.sampled_from(values[:2] * 20 + values) for name, values in VALUES.items()}
_OPTIONAL = {name: values for name, values in field_values.items() if name not in _REQUIRED}
plain_jobs = st.fixed_dictionaries(
    {name: st.sampled_from(VALUES[name][:2]) for name in _REQUIRED}, optional=_OPTIONAL)
jobs = st.one_of(plain_jobs, st.fixed_dictionaries({}, optional={
    **field_values, "projectId": st.just(1), "startDate": st.just(NOW + 100),
    "timezoneOffset": st.just(60), "unknown": st.just(1)}))


def same_outcome(body: Any) -> None:
    slow = outcome(lambda: validation.jobs_create(body, rules()))
    fast = outcome(lambda: validation.jobs_create_columns(body, rules()))
    if slow[0] == "refused":
        assert fast == slow
        return
    inputs, many = slow[1]
    count, columns, fast_many = fast[1]
    assert (count, fast_many) == (len(inputs), many)
    assert set(columns) == set(validation.JOB_CREATE_INPUTS)
    assert typed(messages.column_rows(columns, count)) == typed(inputs)


@settings(max_examples=400, deadline=None)
@given(st.lists(jobs, min_size=1, max_size=6))
def test_columns_take_and_refuse_what_the_job_checks_do(body: list[dict[str, Any]]) -> None:
    same_outcome(body)


@settings(max_examples=400, deadline=None)
@given(st.lists(plain_jobs, min_size=1, max_size=8))
def test_plain_batches_too(body: list[dict[str, Any]]) -> None:
    same_outcome(body)


@pytest.mark.parametrize("body", [
    {"project_id": 1, "spec": "@daily", "callback_url": "http://127.0.0.1/h"},
    [{"project_id": 1, "spec": "@daily", "callback_url": "http://127.0.0.1/h"}] * 3,
    [], [1], "x", None, [[]], [{"project_id": 1, "spec": "@daily", "callback_url": "h", "x": []}],
    [{"project_id": 1, "spec": "@daily", "callback_url": "http://127.0.0.1/h", "data": {}}],
    [{"project_id": 1, "spec": "@daily", "callback_url": "http://127.0.0.1/h"}] * 10_001,
    [{"projectId": 1, "spec": "@daily", "callbackUrl": "http://127.0.0.1/h"}] * 2,
    [{"project_id": 1, "spec": "@daily", "callback_url": "http://127.0.0.1/h",
      "start_date": NOW + 0.5}],
    [{"project_id": 1, "spec": "@daily", "callback_url": "http://127.0.0.1/h", "paused": p}
     for p in (True, 1)],
])
def test_odd_bodies(body: Any) -> None:
    same_outcome(body)


def test_shared_values_are_one_value() -> None:
    body = [{"project_id": 1, "spec": "*/5 * * * *", "callback_url": "http://127.0.0.1/h",
             "data": f"job {i}"} for i in range(3)]
    count, columns, many = validation.jobs_create_columns(body, rules())
    assert (count, many) == (3, True)
    assert columns["spec"] == "*/5 * * * *" and columns["anchor"] == NOW
    assert columns["data"] == ["job 0", "job 1", "job 2"]


def test_a_label_set_every_job_shares_is_one_text_however_its_keys_are_ordered() -> None:
    body = [{"project_id": 1, "spec": "*/5 * * * *", "callback_url": "http://127.0.0.1/h",
             "labels": {"team": "billing", "env": "prod"} if i % 2 else
             {"env": "prod", "team": "billing"}, "name": f"job-{i}"} for i in range(1000)]
    count, columns, _ = validation.jobs_create_columns(body, rules())
    assert count == 1000 and columns["labels"] == '{"env":"prod","team":"billing"}'
    assert columns["name"] == [f"job-{i}" for i in range(1000)]
    assert columns["description"] == ""
    body[7]["labels"] = {"team": "web"}
    varying = validation.jobs_create_columns(body, rules())[1]["labels"]
    assert varying[7] == '{"team":"web"}' and varying[6] == columns["labels"]
    assert len(set(varying)) == 2


def test_two_jobs_of_a_project_with_one_name_are_refused_by_both_checks() -> None:
    body = [{"project_id": p, "spec": "@daily", "callback_url": "http://127.0.0.1/h",
             "name": "same"} for p in (1, 2, 1)]
    for check in (validation.jobs_create, validation.jobs_create_columns):
        with pytest.raises(ApiError) as caught:
            check(body, rules())
        assert caught.value.code == "invalid_name"
        assert caught.value.message.startswith('jobs[2].name: "same" is also the name of '
                                               'jobs[0] in project 1')


# -- the body parser ---------------------------------------------------------------------------


def parse_with_json_only(raw: bytes) -> Any:
    """parse_json as it was before msgspec read bodies first."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ApiError("body: JSON nested too deeply", status=400, code="invalid_json") from None
    except ValueError as exc:
        message = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ApiError(f"body: malformed JSON ({message}); send valid JSON", status=400,
                       code="invalid_json") from None


@pytest.mark.parametrize("raw", [
    b"1", b"-0", b"1.0", b"1e400", b"NaN", b"-Infinity", b'"\\ud800"', b'"\\ud83d\\ude00"',
    b'"a\x01b"', b'{"a":1,"b":2,"a":3}', b"\xef\xbb\xbf{}", b" {} x", b"1" * 5000,
    b"123456789012345678901234567890", b'"\xff"', b"[1,]", b"[" * 5000 + b"]" * 5000,
    '"é"'.encode("utf-16"), b'"\xed\xa0\x80"', b"1e-400", b"\x0c1", b'{"\\ud800": 1}',
    b"9007199254740993", b"0.30000000000000004", b'[true,false,null,"\\u0000"]',
])
def test_the_parser_reads_what_json_loads_reads(raw: bytes) -> None:
    def normal(result: tuple[Any, ...]) -> tuple[Any, ...]:
        if result[0] == "ok":
            return ("ok", repr(result[1]))
        return ("refused", result[3], result[4])

    assert normal(outcome(lambda: validation.parse_json(raw))) == normal(
        outcome(lambda: parse_with_json_only(raw)))


# -- the answer --------------------------------------------------------------------------------


def jsonify_text(value: Any) -> str:
    """What the app's jsonify writes (scheduler0.api.app: compact, keys in order, ASCII)."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), sort_keys=False)


ROW_COLUMNS: dict[str, list[Any]] = {
    "project_id": [7, 8], "spec": ["*/5 * * * *", "@every 90s"], "timezone": ["UTC", "Europe/Paris"],
    "callback_url": ["http://127.0.0.1:9/", "http://127.0.0.1:9/é%s"],
    "data": [None, "", "x", "é\u2028\"\\%", "%(x)s"], "execution_type": ["http"],
    "start_date": [None, 1_900_000_000], "end_date": [None, 2_000_000_000],
    "paused": [True, False], "misfire_policy": ["run_once", "skip"],
    "created_at_ms": [1_900_000_000_123], "updated_at_ms": [1_900_000_000_123, 1_900_000_001_000],
    "next_execution_at": [None, 1_900_000_300], "last_execution_at": [None],
    "last_state": [None], "last_http_status": [None],
    "method": [None, "PUT"], "headers": [None, '{"X-A":"1","Authorization":"Bearer t"}'],
    "timeout": [None, 2.5], "retries": [None, 0], "retry_delay": [None, 1.0],
    "success_codes": [None, "[200,404]"],
}


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=5).flatmap(lambda count: st.tuples(
    st.just(count),
    st.fixed_dictionaries({name: st.one_of(
        st.sampled_from(values), st.lists(st.sampled_from(values), min_size=count,
                                          max_size=count))
        for name, values in ROW_COLUMNS.items()}))))
def test_the_answer_is_what_jsonify_writes(case: tuple[int, dict[str, Any]]) -> None:
    count, columns = case
    columns = {"id": list(range(100, 100 + count)), **columns}
    created = {"count": count, "columns": columns}
    rows = [serialize.job(row) for row in messages.column_rows(columns, count)]
    assert "".join(serialize.jobs_json(created, True)) == jsonify_text(rows)
    if count == 1:
        assert "".join(serialize.jobs_json(created, False)) == jsonify_text(rows[0])


def test_a_batch_answers_what_reads_answer(api: Api) -> None:
    project = api.project()
    body = [{"project_id": project["id"], "spec": "@every 90s" if i % 2 else "*/5 * * * *",
             "callback_url": "http://127.0.0.1:9/hook", "data": f"é {i} %s",
             "start_date": None if i % 3 else 1_900_000_000 + i, "paused": i % 4 == 0}
            for i in range(12)]
    response = api.post("/api/v1/jobs", json=body)
    created = data(response, 201)
    assert [job["data"] for job in created] == [job["data"] for job in body]
    for job in created:
        assert data(api.get(f"/api/v1/jobs/{job['id']}"), 200) == job
    single = api.post("/api/v1/jobs", json={**body[0], "data": unique("one")})
    assert single.get_data() == b'{"success":true,"data":' + jsonify_text(
        data(api.get(f"/api/v1/jobs/{data(single, 201)['id']}"), 200)).encode() + b"}\n"
