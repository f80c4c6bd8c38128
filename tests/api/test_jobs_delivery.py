"""A job's own delivery settings on the API: method, headers, timeout, retries, retry_delay and
success_codes on create (one, an array, the column-wise path), on PUT, in every read and in a
dry run; null is the node's setting; every refusal names the field and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler0 import vocabulary
from scheduler0.api import validation
from tests.api.helpers import Api, data, error, job_body

BASE = "/api/v1/jobs"
SETTINGS = ("method", "headers", "timeout", "retries", "retry_delay", "success_codes")
NOW = 1_900_000_000
FULL = {"method": "PUT", "headers": {"Authorization": "Bearer t0k3n", "X-Tenant": "acme"},
        "timeout": 2.5, "retries": 1, "retry_delay": 0.25, "success_codes": [404, 200]}


@pytest.fixture(scope="module")
def project(api: Api) -> dict[str, Any]:
    return api.project()


def settings_of(job: dict[str, Any]) -> dict[str, Any]:
    return {name: job[name] for name in SETTINGS}


def test_a_job_without_settings_answers_null_for_each(api: Api, project: dict[str, Any]) -> None:
    job = api.job(project["id"])
    assert settings_of(job) == dict.fromkeys(SETTINGS)


def test_every_setting_is_stored_and_answered_by_every_read(api: Api,
                                                            project: dict[str, Any]) -> None:
    job = data(api.post(BASE, json=job_body(project["id"], **FULL)), 201)
    expected = {**FULL, "success_codes": [200, 404]}  # answered sorted
    assert settings_of(job) == expected
    assert list(job["headers"]) == ["Authorization", "X-Tenant"]  # in the order given
    assert data(api.get(f"{BASE}/{job['id']}")) == job
    listed = data(api.get(BASE, query_string={"project_id": project["id"], "limit": 1000}))
    # A listed job is the job plus what the jobs screen shows besides (JobListed).
    extra = {"status": "active", "callback_host": "127.0.0.1", "last_late_ms": None}
    assert [j for j in listed["jobs"] if j["id"] == job["id"]] == [{**job, **extra}]


def test_whole_seconds_are_answered_as_numbers_of_seconds(api: Api,
                                                          project: dict[str, Any]) -> None:
    job = api.job(project["id"], timeout=5, retry_delay=0)
    assert (job["timeout"], job["retry_delay"]) == (5.0, 0.0)
    assert data(api.get(f"{BASE}/{job['id']}"))["timeout"] == 5.0


def test_an_array_may_mix_settings_and_none(api: Api, project: dict[str, Any]) -> None:
    bodies = [job_body(project["id"], **FULL), job_body(project["id"]),
              job_body(project["id"], method="GET", retries=0),
              job_body(project["id"], headers={"X-Other": "1"})]
    jobs = data(api.post(BASE, json=bodies), 201)
    assert [j["method"] for j in jobs] == ["PUT", None, "GET", None]
    assert [j["retries"] for j in jobs] == [1, None, 0, None]
    assert [j["headers"] for j in jobs] == [FULL["headers"], None, None, {"X-Other": "1"}]
    for job in jobs:
        assert data(api.get(f"{BASE}/{job['id']}")) == job


def test_a_batch_sharing_its_settings_carries_each_once() -> None:
    """The column-wise path: one value per column for jobs that share it, checked once."""
    rules = validation.JobRules(now=NOW, default_timezone="UTC", check_host=lambda host: None)
    body = [{"project_id": 1, "spec": "@every 1m", "callback_url": "http://127.0.0.1/h",
             "data": f"job {i}", **FULL} for i in range(1000)]
    count, columns, many = validation.jobs_create_columns(body, rules)
    assert (count, many) == (1000, True)
    assert columns["headers"] == '{"Authorization":"Bearer t0k3n","X-Tenant":"acme"}'
    assert columns["success_codes"] == "[200,404]"
    assert (columns["method"], columns["timeout"], columns["retries"],
            columns["retry_delay"]) == ("PUT", 2.5, 1, 0.25)
    # Jobs that differ keep a column of values; one without headers has null.
    body[3] = {**body[3], "headers": None, "timeout": 9}
    _, columns, _ = validation.jobs_create_columns(body, rules)
    assert isinstance(columns["headers"], list) and columns["headers"][3] is None
    assert columns["timeout"][3] == 9.0 and columns["timeout"][0] == 2.5


def test_the_column_path_and_the_job_path_agree_on_settings() -> None:
    rules = validation.JobRules(now=NOW, default_timezone="UTC", check_host=lambda host: None)
    body = [{"project_id": 1, "spec": "@every 1m", "callback_url": "http://127.0.0.1/h",
             **FULL}, {"project_id": 1, "spec": "@every 1m",
                       "callback_url": "http://127.0.0.1/h", "timeout": 3}]
    inputs, _ = validation.jobs_create(body, rules)
    _, columns, _ = validation.jobs_create_columns(body, rules)
    for name in SETTINGS:
        assert validation.messages.unfold_column(columns[name], 2) == [
            job[name] for job in inputs], name


def test_a_dry_run_shows_the_settings(api: Api, project: dict[str, Any]) -> None:
    job = data(api.post(BASE, query_string={"dry_run": "true"},
                        json=job_body(project["id"], **FULL)), 200)
    assert settings_of(job) == {**FULL, "success_codes": [200, 404]}


def test_put_changes_settings_and_null_goes_back_to_the_node(api: Api,
                                                             project: dict[str, Any]) -> None:
    job = api.job(project["id"])
    changed = data(api.put(f"{BASE}/{job['id']}", json=FULL))
    assert settings_of(changed) == {**FULL, "success_codes": [200, 404]}
    assert data(api.get(f"{BASE}/{job['id']}")) == changed
    # One setting at a time; the others stay.
    retimed = data(api.put(f"{BASE}/{job['id']}", json={"timeout": 30}))
    assert retimed["timeout"] == 30.0 and retimed["headers"] == FULL["headers"]
    cleared = data(api.put(f"{BASE}/{job['id']}", json=dict.fromkeys(SETTINGS)))
    assert settings_of(cleared) == dict.fromkeys(SETTINGS)
    # No headers at all is none: {} reads back as null.
    assert data(api.put(f"{BASE}/{job['id']}", json={"headers": {}}))["headers"] is None


def test_a_job_read_can_be_sent_back_with_its_settings(api: Api, project: dict[str, Any]) -> None:
    job = api.job(project["id"], **FULL)
    again = data(api.put(f"{BASE}/{job['id']}", json=job))
    assert settings_of(again) == settings_of(job)


# -- refusals ---------------------------------------------------------------------------------

LONG_NAME = "X-" + "n" * vocabulary.MAX_HEADER_NAME_LENGTH
LONG_VALUE = "v" * (vocabulary.MAX_HEADER_VALUE_LENGTH + 1)
TOO_MANY = {f"X-H{i}": "v" for i in range(vocabulary.MAX_JOB_HEADERS + 1)}
TOO_BIG = {f"X-H{i}": "v" * 300 for i in range(15)}  # 15 values of 300: over 4096 bytes


@pytest.mark.parametrize(("fields", "code", "message"), [
    ({"method": "post"}, "invalid_method",
     "method: 'post' is not accepted; use one of POST, PUT, GET"),
    ({"method": "DELETE"}, "invalid_method",
     "method: 'DELETE' is not accepted; use one of POST, PUT, GET"),
    ({"method": "GET", "data": "payload"}, "invalid_method",
     "method: GET sends no body, so this job's data would never reach the receiver; send "
     'method POST or PUT, or clear data ("data": null)'),
    ({"headers": ["X-A: 1"]}, "invalid_headers",
     'headers: expected an object of header names to values such as {"Authorization": '
     '"Bearer ..."}, got an array; or null for no extra headers'),
    ({"headers": TOO_MANY}, "invalid_headers", "headers: 21 headers is too many; at most 20"),
    ({"headers": {"": "v"}}, "invalid_headers", "headers: a header name must not be empty"),
    ({"headers": {LONG_NAME: "v"}}, "invalid_headers",
     "headers: the header name 'X-nnnnnnnnnnnnnnnnnn'... is 66 characters long; at most 64"),
    ({"headers": {"X Tenant": "v"}}, "invalid_headers",
     "headers: 'X Tenant' is not a valid header name; use letters, digits and !#$%&'*+-.^_`|~ "
     "only (no spaces, colons or line breaks)"),
    ({"headers": {"X-A:": "v"}}, "invalid_headers", "headers: 'X-A:' is not a valid header name"),
    ({"headers": {"X-A\r\nX-B": "v"}}, "invalid_headers",
     "headers: 'X-A\\r\\nX-B' is not a valid header name"),
    ({"headers": {"x-a": "1", "X-A": "2"}}, "invalid_headers",
     "headers: 'X-A' is given twice (as 'x-a' and 'X-A': header names are case-insensitive); "
     "send it once"),
    ({"headers": {"X-A": 1}}, "invalid_headers", "headers.X-A: expected a string, got a number"),
    ({"headers": {"X-A": LONG_VALUE}}, "invalid_headers",
     "headers.X-A: 1025 characters is too long; at most 1024"),
    ({"headers": {"X-A": "one\r\nX-Injected: two"}}, "invalid_headers",
     "headers.X-A: contains a line break (CR or LF) at position 3; a header value is one line"),
    ({"headers": {"X-A": "one\ntwo"}}, "invalid_headers",
     "headers.X-A: contains a line break (CR or LF) at position 3"),
    ({"headers": {"X-A": "a\x00b"}}, "invalid_headers",
     "headers.X-A: contains '\\x00' (U+0000) at position 1; a header value is printable ASCII "
     "(space to ~, and tab)"),
    ({"headers": {"X-A": "caf\u00e9"}}, "invalid_headers",
     "headers.X-A: contains 'é' (U+00E9) at position 3"),
    ({"headers": TOO_BIG}, "invalid_headers",
     "headers: 4565 bytes of names and values is too large; at most 4096"),
    ({"timeout": "5"}, "invalid_timeout",
     "timeout: expected a number of seconds such as 5 or 2.5, got a string; or null for the "
     "node's JobExecutionTimeout"),
    ({"timeout": True}, "invalid_timeout",
     "timeout: expected a number of seconds such as 5 or 2.5, got a boolean"),
    ({"timeout": 0}, "invalid_timeout", "timeout: 0 is out of range; use 0.1-3600 seconds"),
    ({"timeout": 3600.5}, "invalid_timeout",
     "timeout: 3600.5 is out of range; use 0.1-3600 seconds"),
    ({"retries": 1.5}, "invalid_retries",
     "retries: expected an integer 0-20, got a number; or null for the node's "
     "JobExecutionRetryMax"),
    ({"retries": 21}, "invalid_retries", "retries: 21 is out of range; use 0-20"),
    ({"retries": -1}, "invalid_retries", "retries: -1 is out of range; use 0-20"),
    ({"retry_delay": [1]}, "invalid_retry_delay",
     "retry_delay: expected a number of seconds such as 5 or 2.5, got an array; or null for "
     "the node's JobExecutionRetryDelay"),
    ({"retry_delay": -0.5}, "invalid_retry_delay",
     "retry_delay: -0.5 is out of range; use 0-3600 seconds"),
    ({"success_codes": 200}, "invalid_success_codes",
     "success_codes: expected a list of HTTP statuses such as [200, 404], got a number; or "
     "null for any 2xx"),
    ({"success_codes": []}, "invalid_success_codes",
     "success_codes: must not be empty: list at least one status, or send null for any 2xx"),
    ({"success_codes": list(range(200, 251))}, "invalid_success_codes",
     "success_codes: 51 statuses is too many; at most 50"),
    ({"success_codes": [200, "404"]}, "invalid_success_codes",
     "success_codes[1]: expected an integer HTTP status, got a string"),
    ({"success_codes": [True]}, "invalid_success_codes",
     "success_codes[0]: expected an integer HTTP status, got a boolean"),
    ({"success_codes": [99]}, "invalid_success_codes",
     "success_codes[0]: 99 is out of range; HTTP statuses are 100-599"),
    ({"success_codes": [200, 600]}, "invalid_success_codes",
     "success_codes[1]: 600 is out of range; HTTP statuses are 100-599"),
    ({"success_codes": [200, 404, 200]}, "invalid_success_codes",
     "success_codes[2]: 200 is listed twice; list each status once"),
])
def test_refusals_name_the_field_and_the_fix(api: Api, project: dict[str, Any],
                                             fields: dict[str, Any], code: str,
                                             message: str) -> None:
    said = error(api.post(BASE, json=job_body(project["id"], **fields)), 400, code)
    assert said.startswith(message), said
    # The same words for the third job of an array, prefixed with its index.
    bodies = [job_body(project["id"]), job_body(project["id"]),
              job_body(project["id"], **fields)]
    assert error(api.post(BASE, json=bodies), 400, code).startswith("jobs[2]." + message)
    # And on PUT.
    job = api.job(project["id"], data=fields.get("data", ""))
    assert error(api.put(f"{BASE}/{job['id']}", json=fields), 400, code).startswith(message)


@pytest.mark.parametrize("name", [
    *vocabulary.SERVER_HEADERS, "content-type", "IDEMPOTENCY-KEY", "X-Scheduler0-Signature",
    "x-scheduler0-signature-previous", "X-Scheduler0-Timestamp", "X-Scheduler0-Node",
    "X-Scheduler0-Execution-Id", "X-Scheduler0-Anything"])
def test_no_header_the_server_sets_may_be_given(api: Api, project: dict[str, Any],
                                                name: str) -> None:
    said = error(api.post(BASE, json=job_body(project["id"], headers={name: "forged"})), 400,
                 "invalid_headers")
    assert said.startswith(f"headers: {name!r} is set by the server and cannot be sent by a "
                           "job (the server sets Content-Type"), said
    assert said.endswith("and every X-Scheduler0-* header, such as the signature); remove it")


def test_the_limits_themselves_are_accepted(api: Api, project: dict[str, Any]) -> None:
    most = {f"X-H{i}": "v" for i in range(vocabulary.MAX_JOB_HEADERS)}
    job = api.job(project["id"], headers=most, timeout=0.1, retries=20, retry_delay=3600,
                  success_codes=list(range(100, 150)))
    assert len(job["headers"]) == 20 and job["timeout"] == 0.1 and job["retries"] == 20
    assert len(job["success_codes"]) == 50
    long_ok = {"X-" + "n" * 62: "\t ~" + "v" * 1021}  # 64-character name, 1024-character value
    assert api.job(project["id"], headers=long_ok)["headers"] == long_ok
    api.job(project["id"], timeout=3600, retries=0, retry_delay=0, success_codes=[599])


def test_get_and_data_are_refused_together_however_they_meet(api: Api,
                                                             project: dict[str, Any]) -> None:
    with_data = api.job(project["id"], data="payload")
    said = error(api.put(f"{BASE}/{with_data['id']}", json={"method": "GET"}), 400,
                 "invalid_method")
    assert "GET sends no body" in said
    # Clearing the data in the same request makes GET possible.
    changed = data(api.put(f"{BASE}/{with_data['id']}", json={"method": "GET", "data": None}))
    assert (changed["method"], changed["data"]) == ("GET", "")
    # Now data is what a GET job cannot take.
    said = error(api.put(f"{BASE}/{with_data['id']}", json={"data": "again"}), 400,
                 "invalid_data")
    assert said.startswith("data: GET sends no body"), said
    assert data(api.put(f"{BASE}/{with_data['id']}", json={"method": "POST", "data": "again"}))[
        "data"] == "again"
    # A GET job with no data (or data "") is fine.
    assert api.job(project["id"], method="GET", data="")["method"] == "GET"


def test_a_refused_batch_creates_nothing(api: Api) -> None:
    project = api.project()
    bodies = [job_body(project["id"], **FULL) for _ in range(3)]
    bodies.append(job_body(project["id"], headers={"Host": "evil"}))
    error(api.post(BASE, json=bodies), 400, "invalid_headers", "jobs[3].headers")
    assert data(api.get(BASE, query_string={"project_id": project["id"]}))["total"] == 0
