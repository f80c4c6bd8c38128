"""How calls become requests, without a node: paths, queries, instants, keys, auth, and how
bulk_create splits by count and by body size."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from scheduler0_client import Client
from scheduler0_client._calls import executions, jobs, node
from scheduler0_client._calls.jobs import batches
from scheduler0_client._session import api_root


def request_of(call: Any, client: Client | None = None) -> Any:
    return (client or Client(api_key="k", api_secret="s")).session.prepare(call)


def test_paths_are_quoted_and_instants_written_in_utc() -> None:
    assert jobs.get_job("night/ly?x").path == "/jobs/night%2Fly%3Fx"
    paris = timezone(timedelta(hours=1))
    call = executions.list_executions(since=datetime(2030, 1, 2, 16, 4, 5, tzinfo=paris),
                                      until=1_900_000_000, state="failed,missed")
    assert dict(call.query) == {"since": "2030-01-02T15:04:05Z", "until": "1900000000",
                                "state": "failed,missed"}
    assert dict(node.preview_schedule("@daily", start=0).query)["from"] == "0"
    assert dict(jobs.list_jobs(paused=False).query) == {"paused": "false"}
    with pytest.raises(ValueError, match="naive"):
        jobs.backfill_job(1, datetime(2030, 1, 1), datetime(2030, 1, 2, tzinfo=UTC))  # noqa: DTZ001


def test_writes_carry_an_idempotency_key_and_reads_none() -> None:
    write = request_of(jobs.create_job({"project_id": 1}))
    read = request_of(jobs.get_job(1))
    assert len(write.headers["Idempotency-Key"]) == 32
    assert "Idempotency-Key" not in read.headers
    assert json.loads(write.body) == {"project_id": 1}
    with pytest.raises(ValueError, match="1-200"):
        request_of(jobs.create_job({}, idempotency_key="k" * 201))


def test_the_base_url_and_the_credentials() -> None:
    assert api_root("http://h:9091") == "http://h:9091/api/v1"
    assert api_root("https://h/proxy/api/v1/") == "https://h/proxy/api/v1"
    with pytest.raises(ValueError, match="http"):
        Client("127.0.0.1:9091")
    with pytest.raises(ValueError, match="both"):
        Client(api_key="k")
    basic = request_of(jobs.get_job(1), Client(basic_auth=("user", "pass")))
    assert basic.headers["Authorization"] == "Basic dXNlcjpwYXNz"


def test_batches_split_by_count_and_by_body_size() -> None:
    job = {"project_id": 1, "spec": "@daily", "callback_url": "http://127.0.0.1:9/x"}
    assert [len(b) for b in batches([job] * 25_001)] == [10_000, 10_000, 5_001]
    one = len(json.dumps(job, separators=(",", ":")))
    assert [len(b) for b in batches([job] * 5, max_body_bytes=2 + 2 * (one + 1))] == [2, 2, 1]
    with pytest.raises(ValueError, match="1-10000"):
        list(batches([job], size=10_001))
