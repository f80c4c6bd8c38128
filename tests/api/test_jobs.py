"""/jobs: one or many in one command (all or none), camelCase input, filters, update, delete."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from scheduler0.api import validation
from tests.api.helpers import LOOPBACK_URL, Api, data, error, job_body, unique

BASE = "/api/v1/jobs"
JOB_FIELDS = {"id", "project_id", "spec", "timezone", "callback_url", "data", "execution_type",
              "start_date", "end_date", "paused", "misfire_policy", "created_at", "updated_at",
              "next_execution_at", "last_execution_at", "last_state", "last_http_status",
              "resolved_spec", "completed", "name", "description", "labels",
              "method", "headers", "timeout", "retries", "retry_delay", "success_codes"}


@pytest.fixture(scope="module")
def project(api: Api) -> dict[str, Any]:
    return api.project()


def _total_jobs(api: Api, project_id: int) -> int:
    return int(data(api.get(BASE, query_string={"project_id": project_id}))["total"])


def test_create_one_answers_the_job_with_defaults(api: Api, project: dict[str, Any]) -> None:
    job = data(api.post(BASE, json=job_body(project["id"], data='{"k": 1}')), 201)
    assert set(job) == JOB_FIELDS
    assert isinstance(job["id"], int)
    assert job["timezone"] == "UTC" and job["execution_type"] == "http"
    assert job["misfire_policy"] == "run_once" and job["paused"] is False
    assert job["data"] == '{"k": 1}' and job["callback_url"] == LOOPBACK_URL
    assert job["start_date"] is None and job["end_date"] is None
    assert job["next_execution_at"].endswith(":00Z")
    assert (job["last_execution_at"], job["last_state"], job["last_http_status"]) == (
        None, None, None)  # nothing recorded yet
    # No delivery setting of its own: the node's.
    assert {name: job[name] for name in ("method", "headers", "timeout", "retries",
                                         "retry_delay", "success_codes")} == dict.fromkeys(
        ("method", "headers", "timeout", "retries", "retry_delay", "success_codes"))
    assert data(api.get(f"{BASE}/{job['id']}")) == job


def test_create_array_answers_every_job_in_order(api: Api, project: dict[str, Any]) -> None:
    bodies = [job_body(project["id"], data=str(i)) for i in range(5)]
    jobs = data(api.post(BASE, json=bodies), 201)
    assert [j["data"] for j in jobs] == [str(i) for i in range(5)]
    ids = [j["id"] for j in jobs]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert data(api.get(f"{BASE}/{ids[3]}"))["data"] == "3"


def test_all_fields(api: Api, project: dict[str, Any]) -> None:
    start = int(time.time()) + 3600
    body = job_body(project["id"], spec="0 30 9 * * MON-FRI", timezone="Europe/Berlin",
                    data="x", execution_type="http", start_date="2030-01-01T00:00:00Z",
                    end_date=start + 86400 * 365 * 10, paused=True, misfire_policy="run_all")
    job = data(api.post(BASE, json=body), 201)
    assert job["timezone"] == "Europe/Berlin" and job["spec"] == "0 30 9 * * MON-FRI"
    assert job["start_date"] == "2030-01-01T00:00:00Z"
    assert job["end_date"] == time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                            time.gmtime(start + 86400 * 365 * 10))
    assert job["paused"] is True and job["next_execution_at"] is None
    assert job["misfire_policy"] == "run_all"


def test_camel_case_input_is_accepted(api: Api, project: dict[str, Any]) -> None:
    body = {"projectId": project["id"], "spec": "@every 90s", "callbackUrl": LOOPBACK_URL,
            "executionType": "http", "startDate": "2031-05-01T10:00:00+02:00",
            "endDate": "2032-01-01T00:00:00Z", "misfirePolicy": "skip"}
    job = data(api.post(BASE, json=body), 201)
    assert job["project_id"] == project["id"] and job["callback_url"] == LOOPBACK_URL
    assert job["start_date"] == "2031-05-01T08:00:00Z"
    assert job["end_date"] == "2032-01-01T00:00:00Z" and job["misfire_policy"] == "skip"
    # @every is anchored at the start date: the first tick is start + 90 s.
    assert job["next_execution_at"] == "2031-05-01T08:01:30Z"


def test_go_client_body_with_zero_times_is_accepted(api: Api, project: dict[str, Any]) -> None:
    body = {"projectId": project["id"], "spec": "0 0 * * *", "callbackUrl": LOOPBACK_URL,
            "timezone": "UTC", "timezoneOffset": 0, "startDate": "0001-01-01T00:00:00Z",
            "endDate": "0001-01-01T00:00:00Z", "lastExecutionDate": "0001-01-01T00:00:00Z",
            "dateCreated": "0001-01-01T00:00:00Z", "data": "{}"}
    job = data(api.post(BASE, json=[body]), 201)[0]
    assert job["start_date"] is None and job["end_date"] is None


def test_both_spellings_of_a_field_is_an_error(api: Api, project: dict[str, Any]) -> None:
    body = job_body(project["id"], projectId=project["id"])
    error(api.post(BASE, json=body), 400, "invalid_project_id", "project_id", "twice")


def test_a_bad_job_in_an_array_is_named_by_index(api: Api, project: dict[str, Any]) -> None:
    bodies = [job_body(project["id"]) for _ in range(20)]
    bodies[17]["spec"] = "61 * * * *"
    message = error(api.post(BASE, json=bodies), 400, "invalid_spec")
    assert message == "jobs[17].spec: minute field: 61 is out of range 0-59"


def test_array_is_all_or_none(api: Api) -> None:
    project = api.project()
    bodies = [job_body(project["id"]) for _ in range(3)] + [job_body(project["id"] + 10**6)]
    error(api.post(BASE, json=bodies), 404, "not_found", "jobs[3].project_id",
          f"project {project['id'] + 10**6}")
    bodies[3] = job_body(project["id"], timezone="Mars/Olympus")
    error(api.post(BASE, json=bodies), 400, "invalid_timezone", "jobs[3].timezone")
    assert _total_jobs(api, project["id"]) == 0


@pytest.mark.parametrize(("fields", "code", "fragments"), [
    ({"spec": None}, "invalid_spec", ("spec", "required")),
    ({"spec": ""}, "invalid_spec", ("spec", "empty")),
    ({"spec": 5}, "invalid_spec", ("spec", "string")),
    ({"spec": "* * *"}, "invalid_spec", ("spec",)),
    ({"spec": "0 0 30 2 *"}, "invalid_spec", ("spec", "never")),
    ({"spec": "@every 0s"}, "invalid_spec", ("spec",)),
    ({"timezone": "Nowhere/Land"}, "invalid_timezone", ("timezone", "Nowhere/Land", "IANA")),
    ({"timezone": 3}, "invalid_timezone", ("timezone", "string")),
    ({"callback_url": None}, "invalid_callback_url", ("callback_url", "required")),
    ({"callback_url": "ftp://127.0.0.1/x"}, "invalid_callback_url", ("callback_url", "http(s)")),
    ({"callback_url": "/relative/path"}, "invalid_callback_url", ("callback_url", "absolute")),
    ({"callback_url": "http://"}, "invalid_callback_url", ("callback_url", "host")),
    ({"callback_url": "http://127.0.0.1:99999/"}, "invalid_callback_url", ("callback_url",)),
    ({"callback_url": "http://127.0.0.1/a b"}, "invalid_callback_url", ("whitespace",)),
    ({"callback_url": "http://10.1.2.3/hook"}, "invalid_callback_url",
     ("callback_url", "10.1.2.3", "127.0.0.0/8")),
    ({"callback_url": "http://[::1]/hook"}, "invalid_callback_url", ("callback_url",)),
    # what the executor's parser (yarl) refuses or cannot send must not pass the API
    ({"callback_url": "http://127.0.0.1\\@10.0.0.1/x"}, "invalid_callback_url", ("backslash",)),
    ({"callback_url": "http://127.0.0.1:0/x"}, "invalid_callback_url", ("port 0", "1-65535")),
    ({"callback_url": "http://169.254.169.254/latest/meta-data/"}, "invalid_callback_url",
     ("callback_url", "169.254.0.0/16", "CallbackDeniedNetworks")),
    ({"callback_url": "http://[::ffff:10.1.2.3]/x"}, "invalid_callback_url",
     ("callback_url", "10.1.2.3", "127.0.0.0/8")),
    ({"data": {"k": 1}}, "invalid_data", ("data", "string")),
    ({"data": "x" * (validation.MAX_DATA_BYTES + 1)}, "invalid_data", ("data", "65536")),
    ({"data": "é" * (validation.MAX_DATA_BYTES // 2 + 1)}, "invalid_data", ("data", "bytes")),
    ({"execution_type": "grpc"}, "invalid_execution_type", ("execution_type", "grpc", "http")),
    ({"start_date": "tomorrow"}, "invalid_start_date", ("start_date", "RFC 3339")),
    ({"start_date": True}, "invalid_start_date", ("start_date",)),
    ({"start_date": -5}, "invalid_start_date", ("start_date", "range")),
    ({"start_date": "2031-01-02T00:00:00Z", "end_date": "2031-01-01T00:00:00Z"},
     "invalid_end_date", ("end_date", "after start_date")),
    ({"end_date": "2001-01-01T00:00:00Z"}, "invalid_end_date", ("end_date", "past")),
    ({"spec": "0 0 1 1 *", "start_date": "2031-01-02T00:00:00Z",
      "end_date": "2031-06-01T00:00:00Z"}, "invalid_end_date", ("end_date", "never run")),
    ({"paused": "yes"}, "invalid_paused", ("paused", "true or false")),
    ({"misfire_policy": "later"}, "invalid_misfire_policy", ("misfire_policy", "run_once")),
    ({"project_id": "1"}, "invalid_project_id", ("project_id", "integer")),
    ({"project_id": 0}, "invalid_project_id", ("project_id", "range")),
    ({"project_id": 10**20}, "invalid_project_id", ("project_id",)),
    ({"owner": "me"}, "unknown_field", ("owner", "accepted fields")),
])
def test_create_errors_name_the_field(api: Api, project: dict[str, Any], fields: dict[str, Any],
                                      code: str, fragments: tuple[str, ...]) -> None:
    body = {**job_body(project["id"]), **fields}
    error(api.post(BASE, json=body), 400, code, *fragments)
    inside = error(api.post(BASE, json=[job_body(project["id"]), body]), 400, code, *fragments)
    assert inside.startswith("jobs[1].")


def test_missing_project_is_404_naming_the_id(api: Api) -> None:
    error(api.post(BASE, json=job_body(888888)), 404, "not_found", "project 888888", "project_id")


@pytest.mark.parametrize(("raw", "code"), [
    (b"", "invalid_json"), (b"{", "invalid_json"), (b"5", "invalid_body"), (b"[]", "invalid_body"),
    (b'"job"', "invalid_body"), (b"[5]", "invalid_body"), (b"[" * 100_000, "invalid_json"),
    (b"1" * 5000, "invalid_json"), (b"\xff\xfe{", "invalid_json"),
])
def test_create_rejects_bodies_of_the_wrong_shape(api: Api, raw: bytes, code: str) -> None:
    error(api.post(BASE, data=raw, content_type="application/json"), 400, code)


def test_more_than_10000_jobs_is_413_with_the_limit(api: Api, project: dict[str, Any]) -> None:
    bodies = [job_body(project["id"])] * (validation.MAX_JOBS_PER_REQUEST + 1)
    error(api.post(BASE, json=bodies), 413, "payload_too_large", "10001", "10000")
    assert _total_jobs(api, project["id"]) < 10_000


def test_10000_jobs_in_one_post(api: Api) -> None:
    project = api.project()
    bodies = [job_body(project["id"], data=str(i)) for i in range(validation.MAX_JOBS_PER_REQUEST)]
    jobs = data(api.post(BASE, json=bodies), 201)
    assert len(jobs) == 10_000 and jobs[9999]["data"] == "9999"
    assert _total_jobs(api, project["id"]) == 10_000


def test_list_filters_and_pagination(api: Api) -> None:
    project, other = api.project(), api.project()
    active = [api.job(project["id"]) for _ in range(3)]
    paused = api.job(project["id"], paused=True)
    api.job(other["id"])
    page = data(api.get(BASE, query_string={"project_id": project["id"], "limit": 2}))
    assert page["total"] == 4 and page["limit"] == 2 and page["offset"] == 0
    assert [j["id"] for j in page["jobs"]] == [active[0]["id"], active[1]["id"]]
    rest = data(api.get(BASE, query_string={"project_id": project["id"], "offset": 2}))
    assert [j["id"] for j in rest["jobs"]] == [active[2]["id"], paused["id"]]
    only_paused = data(api.get(BASE, query_string={"projectId": project["id"], "paused": "true"}))
    assert [j["id"] for j in only_paused["jobs"]] == [paused["id"]]
    not_paused = data(api.get(BASE, query_string={"project_id": project["id"], "paused": "0"}))
    assert not_paused["total"] == 3
    assert data(api.get(BASE))["total"] >= 5


def test_list_errors(api: Api) -> None:
    error(api.get(BASE, query_string={"paused": "perhaps"}), 400, "invalid_paused", "paused")
    error(api.get(BASE, query_string={"project_id": "x"}), 400, "invalid_project_id", "project_id")
    error(api.get(BASE, query_string={"limit": 5000}), 400, "invalid_limit", "limit", "1000")


def test_get_one_errors(api: Api) -> None:
    error(api.get(f"{BASE}/424242"), 404, "not_found", "job 424242")
    error(api.get(f"{BASE}/1.5"), 400, "invalid_id", "1.5")


def test_update_each_field(api: Api, project: dict[str, Any]) -> None:
    job = api.job(project["id"])
    path = f"{BASE}/{job['id']}"
    changes = {"spec": "0 12 * * *", "timezone": "America/New_York",
               "callback_url": "https://127.0.0.2:8443/other", "data": "new",
               "start_date": "2030-01-01T00:00:00Z", "end_date": "2040-01-01T00:00:00Z",
               "misfire_policy": "skip"}
    updated = data(api.put(path, json=changes))
    for name in ("spec", "timezone", "callback_url", "data", "start_date", "end_date",
                 "misfire_policy"):
        assert updated[name] == changes[name], name
    assert updated["next_execution_at"] == "2030-01-01T17:00:00Z"  # noon in New York (EST)
    assert updated["updated_at"] >= job["updated_at"]
    assert data(api.get(path)) == updated
    cleared = data(api.put(path, json={"startDate": None, "endDate": None}))
    assert cleared["start_date"] is None and cleared["end_date"] is None


def test_pause_and_resume(api: Api, project: dict[str, Any]) -> None:
    job = api.job(project["id"])
    path = f"{BASE}/{job['id']}"
    paused = data(api.put(path, json={"paused": True}))
    assert paused["paused"] is True and paused["next_execution_at"] is None
    resumed = data(api.put(path, json={"paused": False}))
    assert resumed["paused"] is False and resumed["next_execution_at"] is not None


def test_a_job_read_with_get_can_be_sent_back_with_put(api: Api, project: dict[str, Any]) -> None:
    job = api.job(project["id"])
    edited = {**job, "data": "edited"}
    assert data(api.put(f"{BASE}/{job['id']}", json=edited))["data"] == "edited"


def test_update_errors(api: Api, project: dict[str, Any]) -> None:
    job = api.job(project["id"], start_date="2030-01-01T00:00:00Z")
    path = f"{BASE}/{job['id']}"
    error(api.put(path, json={}), 400, "invalid_body", "nothing to change")
    error(api.put(path, json={"project_id": project["id"] + 1}), 400, "invalid_project_id",
          "project_id", "cannot be changed")
    error(api.put(path, json={"execution_type": "shell"}), 400, "invalid_execution_type")
    error(api.put(path, json={"spec": "* * * * * * *"}), 400, "invalid_spec", "spec")
    error(api.put(path, json={"timezone": None}), 400, "invalid_timezone", "timezone")
    error(api.put(path, json={"end_date": "2029-01-01T00:00:00Z"}), 400, "invalid_end_date",
          "after start_date")
    error(api.put(path, json={"paused": None}), 400, "invalid_paused", "paused")
    error(api.put(path, json={"colour": "red"}), 400, "unknown_field", "colour")
    error(api.put(path, json=[]), 400, "invalid_body", "object")
    error(api.put(path, data=b"nope", content_type="application/json"), 400, "invalid_json")
    error(api.put(f"{BASE}/313131", json={"paused": True}), 404, "not_found", "313131")
    assert data(api.get(path)) == job


def test_delete(api: Api, project: dict[str, Any]) -> None:
    job = api.job(project["id"])
    path = f"{BASE}/{job['id']}"
    assert data(api.delete(path)) == {"id": job["id"]}
    error(api.get(path), 404, "not_found")
    error(api.delete(path), 404, "not_found", str(job["id"]))
    error(api.delete(f"{BASE}/0zero"), 400, "invalid_id")
    error(api.delete(f"{BASE}/zero"), 404, "not_found", '"zero"')  # a name: see test_job_names


def test_idempotency_key_makes_a_retry_return_the_first_result(api: Api) -> None:
    project = api.project()
    body = json.dumps(job_body(project["id"]))
    headers = {"Idempotency-Key": "retry-me-1", "Content-Type": "application/json"}
    first = data(api.post(BASE, data=body, headers=headers), 201)
    again = data(api.post(BASE, data=body, headers=headers), 201)
    assert first["id"] == again["id"]
    assert _total_jobs(api, project["id"]) == 1
    other = data(api.post(BASE, data=body, headers={**headers, "Idempotency-Key": "2"}), 201)
    assert other["id"] != first["id"]
    error(api.post(BASE, data=body, headers={**headers, "Idempotency-Key": "k" * 201}), 400,
          "invalid_idempotency_key", "Idempotency-Key")


def test_an_idempotency_key_sent_again_with_another_request_is_refused(api: Api) -> None:
    project = api.project()
    headers = {"Idempotency-Key": "one-request-only", "Content-Type": "application/json"}
    body = json.dumps(job_body(project["id"], name="first"))
    first = data(api.post(BASE, data=body, headers=headers), 201)
    other = json.dumps(job_body(project["id"], name="second"))
    for _ in range(2):  # the refusal is itself idempotent
        error(api.post(BASE, data=other, headers=headers), 422, "idempotency_key_reused",
              "Idempotency-Key", "different request", "new key")
    assert data(api.post(BASE, data=body, headers=headers), 201)["id"] == first["id"]
    assert _total_jobs(api, project["id"]) == 1
    # The key is the caller's and the route's: another route may use it for its own request.
    assert data(api.post("/api/v1/projects", json={"name": unique("p")}, headers=headers),
                201)["id"]
