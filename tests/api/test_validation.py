"""The pure parts of the API: validation, serialisation, metrics text (the callback guard:
tests/unit/test_callback_target.py)."""

from __future__ import annotations

import pytest

from scheduler0.api import serialize, validation
from scheduler0.api.metrics import Metrics
from scheduler0.errors import PayloadTooLargeError, ValidationError

NOW = 1_900_000_000


def rules(check_host=lambda host: None) -> validation.JobRules:  # type: ignore[no-untyped-def]
    return validation.JobRules(now=NOW, default_timezone="Europe/Paris", check_host=check_host)


def job(**fields: object) -> dict[str, object]:
    return {"project_id": 1, "spec": "*/5 * * * *", "callback_url": "http://127.0.0.1/h", **fields}


def test_job_defaults_and_anchor() -> None:
    [created], many = validation.jobs_create(job(), rules())
    assert many is False
    assert created == {"project_id": 1, "spec": "*/5 * * * *", "timezone": "Europe/Paris",
                       "callback_url": "http://127.0.0.1/h", "data": "", "execution_type": "http",
                       "start_date": None, "end_date": None, "paused": False,
                       "misfire_policy": "run_once", "name": None, "description": "",
                       "labels": None,
                       **dict.fromkeys(("method", "headers", "timeout", "retries",
                                        "retry_delay", "success_codes")),
                       "anchor": NOW}
    [started], _ = validation.jobs_create([job(startDate=NOW + 100)], rules())
    assert started["anchor"] == NOW + 100 and started["start_date"] == NOW + 100


def test_timezone_is_canonicalised() -> None:
    [created], _ = validation.jobs_create(job(timezone="europe/berlin"), rules())
    assert created["timezone"] == "Europe/Berlin"


def test_errors_carry_the_index_and_field() -> None:
    body = [job(), job(), job(misfire_policy="never")]
    with pytest.raises(ValidationError) as caught:
        validation.jobs_create(body, rules())
    assert caught.value.code == "invalid_misfire_policy"
    assert caught.value.message.startswith("jobs[2].misfire_policy: 'never' is not a misfire")


def test_too_many_jobs() -> None:
    with pytest.raises(PayloadTooLargeError, match="10000"):
        validation.jobs_create([job()] * 10_001, rules())


def test_each_host_is_checked_once_per_request() -> None:
    seen: list[str] = []

    def check(host: str) -> str | None:
        seen.append(host)
        return None if host == "127.0.0.1" else "not allowed"

    shared = rules(check)
    validation.jobs_create([job()] * 50, shared)
    assert seen == ["127.0.0.1"]
    with pytest.raises(ValidationError, match=r"jobs\[1\]\.callback_url: not allowed"):
        validation.jobs_create([job(), job(callback_url="http://example.com/")] * 5, shared)
    assert seen == ["127.0.0.1", "example.com"]


@pytest.mark.parametrize("value", ["2030-03-17T17:46:40Z", "2030-03-17T18:46:40+01:00",
                                   1_900_000_000, 1_900_000_000.7, "1900000000"])
def test_instants(value: object) -> None:
    assert validation.instant(value, "start_date") == 1_900_000_000


def test_go_zero_time_means_none() -> None:
    assert validation.instant("0001-01-01T00:00:00Z", "start_date") is None


@pytest.mark.parametrize("value", [-0.5, -1, validation.MAX_INSTANT + 0.5])
def test_instants_out_of_range_before_the_fraction_is_dropped(value: float) -> None:
    with pytest.raises(ValidationError, match="out of range"):
        validation.instant(value, "start_date")


def test_fields_that_may_only_be_sent_back_must_be_sent_back_as_they_are() -> None:
    current = {"spec": "@hourly", "timezone": "UTC", "start_date": None, "end_date": None,
               "project_id": 1, "execution_type": "http", "created_at_ms": NOW * 1000}
    assert validation.job_update({"project_id": 1, "data": "x"}, current, rules()) == {"data": "x"}
    for sent, code in ((True, "invalid_project_id"), (1.0, "invalid_project_id"),
                       (2, "invalid_project_id"), ("grpc", "invalid_execution_type")):
        name = "execution_type" if code == "invalid_execution_type" else "project_id"
        with pytest.raises(ValidationError) as caught:
            validation.job_update({name: sent, "data": "x"}, current, rules())
        assert caught.value.code == code, sent


def test_update_null_resets_a_clearable_field_and_refuses_the_others() -> None:
    current = {"spec": "@hourly", "timezone": "UTC", "start_date": None, "end_date": None,
               "project_id": 1, "execution_type": "http", "created_at_ms": NOW * 1000}
    assert validation.job_update({"data": None, "misfirePolicy": None}, current, rules()) == {
        "data": "", "misfire_policy": "run_once"}
    for name in ("spec", "timezone", "callback_url", "paused"):
        with pytest.raises(ValidationError) as caught:
            validation.job_update({name: None}, current, rules())
        assert caught.value.code == f"invalid_{name}"


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "1.0", "", "٣", "9" * 20, " 1"])
def test_path_ids(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validation.path_id(raw)
    assert caught.value.code == "invalid_id"


def test_query_helpers() -> None:
    assert validation.pagination({}) == (50, 0)
    assert validation.pagination({"limit": "1000", "offset": "7"}) == (1000, 7)
    assert validation.query_bool({"paused": "TRUE"}, "paused") is True
    assert validation.query_id({"projectId": "4"}, "project_id", "projectId") == 4
    filters = validation.execution_filters({"state": "Failed", "since": "10", "until": "20"})
    assert filters == {"project_id": None, "job_id": None, "state": "failed", "since": 10,
                       "until": 20}


def test_project_bodies() -> None:
    assert validation.project_create({"name": "  a  "}) == {"name": "a", "description": ""}
    assert validation.project_update({"rotate_signing_secret": True}) == {
        "rotate_signing_secret": True}
    assert validation.project_update({"description": None}) == {"description": ""}
    with pytest.raises(ValidationError, match="nothing to change"):
        validation.project_update({"rotate_signing_secret": False})


def test_job_update_adds_the_anchor_when_the_start_moves() -> None:
    current = {"spec": "@every 1h", "timezone": "UTC", "start_date": None, "end_date": None,
               "project_id": 1, "execution_type": "http", "created_at_ms": NOW * 1000}
    changes = validation.job_update({"start_date": NOW + 60}, current, rules())
    assert changes == {"start_date": NOW + 60, "anchor": NOW + 60}
    changes = validation.job_update({"startDate": None}, current, rules())
    assert changes == {"start_date": None, "anchor": NOW}
    assert validation.job_update({"paused": True}, current, rules()) == {"paused": True}


def test_serialised_instants() -> None:
    assert serialize.instant(0) == "1970-01-01T00:00:00Z"
    assert serialize.instant_ms(1_900_000_000_123) == "2030-03-17T17:46:40.123Z"
    assert serialize.instant(None) is None and serialize.instant_ms(None) is None


def test_metrics_text() -> None:
    metrics = Metrics()
    metrics.observe("/api/v1/jobs", "GET", 200, 0.003)
    metrics.observe("/api/v1/jobs", "GET", 200, 2.0)
    text = metrics.render([("scheduler0_jobs", "gauge", "Jobs.", {}, 5),
                           ("scheduler0_executions", "gauge", "By state.", {"state": 'a"b'}, 1)])
    assert 'scheduler0_http_requests_total{route="/api/v1/jobs",method="GET",status="200"} 2' in text
    assert ('scheduler0_http_request_duration_seconds_bucket{route="/api/v1/jobs",method="GET",'
            'le="0.005"} 1') in text
    assert ('scheduler0_http_request_duration_seconds_bucket{route="/api/v1/jobs",method="GET",'
            'le="+Inf"} 2') in text
    assert "scheduler0_jobs 5\n" in text
    assert 'scheduler0_executions{state="a\\"b"} 1' in text
