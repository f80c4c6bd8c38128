"""The sync client against a real node: every resource through its typed methods, the
pagination iterators, idempotency keys, bulk_create's split, and errors as the server says
them. Loopback only."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from scheduler0_client import MAX_JOBS_PER_REQUEST, ApiError, Client

from scheduler0.testing import wait_for
from tests.client.helpers import RecordingTransport, far_job, unique
from tests.integration.receiver import Receiver


def recording_client(base_url: str, credential: dict[str, str]) -> tuple[Client, RecordingTransport]:
    transport = RecordingTransport()
    return Client(base_url, transport=transport, **credential), transport


def test_a_credential_limited_to_a_project_creates_and_reads_its_job(
        client: Client, base_url: str) -> None:
    project = client.create_project(unique("creds"), description="for a write credential")
    assert len(project["signing_secret"]) == 64
    limited = client.create_credential(role="write", projects=[project["id"]])
    assert (limited["role"], limited["projects"], limited["archived"]) == (
        "write", [project["id"]], False)
    writer = Client(base_url, api_key=limited["api_key"], api_secret=limited["api_secret"])
    job = writer.create_job(far_job(project["id"], name="nightly.report",
                                    labels={"team": "billing"}))
    assert writer.get_job("nightly.report", project_id=project["id"])["id"] == job["id"]
    assert writer.get_job(job["id"])["labels"] == {"team": "billing"}
    with pytest.raises(ApiError) as refused:
        writer.create_project(unique("not-for-writers"))
    assert refused.value.status == 403

    assert client.get_credential(limited["id"])["api_key"] == limited["api_key"]
    assert limited["id"] in [c["id"] for c in client.iter_credentials(limit=2)]
    assert client.archive_credential(limited["id"])["archived"] is True
    with pytest.raises(ApiError) as archived:
        writer.get_job(job["id"])
    assert archived.value.status == 401
    assert client.archive_credential(limited["id"], archived=False)["archived"] is False
    assert writer.get_job(job["id"])["id"] == job["id"]
    assert client.delete_credential(limited["id"]) == {"id": limited["id"]}


def test_a_project_is_changed_rotated_and_deleted_with_its_jobs(client: Client) -> None:
    project = client.create_project(unique("projects"), rate_limit={"concurrency": 2})
    assert project["rate_limit"] == {"concurrency": 2, "per_second": None}
    changed = client.update_project(project["id"], {"description": "changed",
                                                    "rate_limit": None})
    assert (changed["description"], changed["rate_limit"]) == ("changed", None)
    rotated = client.rotate_signing_secret(project["id"], grace_seconds=60)
    assert rotated["signing_secret"] != project["signing_secret"]
    assert rotated["previous_signing_secret_expires_at"] is not None
    client.create_jobs([far_job(project["id"]) for _ in range(3)])
    assert client.get_project(project["id"])["job_count"] == 3
    assert project["id"] in [p["id"] for p in client.iter_projects(limit=1)]
    assert client.list_notifications(project["id"]).items == []
    with pytest.raises(ApiError) as has_jobs:
        client.delete_project(project["id"])
    assert has_jobs.value.status == 409
    assert client.delete_project(project["id"], cascade=True) == {"id": project["id"],
                                                                   "jobs_deleted": 3}
    with pytest.raises(ApiError) as gone:
        client.get_project(project["id"])
    assert (gone.value.status, gone.value.code) == (404, "not_found")


def test_iter_jobs_walks_every_page_once_while_jobs_are_added(
        base_url: str, credential: dict[str, str]) -> None:
    client, transport = recording_client(base_url, credential)
    project = client.create_project(unique("pages"))
    first = [job["id"] for job in client.create_jobs([far_job(project["id"])] * 23)]
    walked, added = [], []
    for job in client.iter_jobs(project_id=project["id"], limit=5):
        walked.append(job["id"])
        if len(walked) == 5:  # rows added during the walk come after it, by id
            added = [j["id"] for j in client.create_jobs([far_job(project["id"])] * 3)]
    assert walked == first + added  # each once, in order: nothing skipped or repeated
    pages = transport.to("GET", "/api/v1/jobs")
    assert len(pages) >= math.ceil(26 / 5)
    assert all(page.query["limit"] == ["5"] for page in pages)
    assert "after" not in pages[0].query and all("after" in page.query for page in pages[1:])
    one = client.list_jobs(project_id=project["id"], limit=5)
    assert ([j["id"] for j in one.items], one.total, one.next_after) == (
        first[:5], 26, str(first[4]))


def test_a_job_fires_and_its_execution_is_seen_through_the_client(
        client: Client, receiver: Receiver) -> None:
    project = client.create_project(unique("fires"))
    job = client.create_job({"project_id": project["id"], "spec": "@every 1s",
                             "callback_url": receiver.url("/tick"), "data": '{"n": 1}'})
    done = wait_for(lambda: next(client.iter_job_executions(job["id"], state="succeeded"),
                                 None), timeout=30, message="a succeeded execution")
    assert (done["job_id"], done["project_id"], done["trigger"]) == (job["id"], project["id"],
                                                                     "schedule")
    assert done["execution_id"].startswith(f"{job['id']}-")
    assert client.get_execution(done["execution_id"])["state"] == "succeeded"
    delivered = [e for r in receiver.requests for e in (r.json or [])]
    assert done["execution_id"] in {e["execution_id"] for e in delivered}
    listed = next(client.iter_executions(job_id=job["id"], state="succeeded", include_job=True))
    assert listed["job"] == {"name": None, "timezone": "UTC"}
    assert done["execution_id"] in client.export_executions_csv(job_id=job["id"])
    client.pause_job(job["id"])
    assert client.get_job(job["id"])["paused"] is True


def test_run_now_backfill_and_redeliver(client: Client, receiver: Receiver) -> None:
    project = client.create_project(unique("manual"))
    job = client.create_job({"project_id": project["id"], "spec": "0 0 1 1 *",
                             "callback_url": receiver.url("/manual")})
    run = client.run_job(job["id"], data="once")
    assert (run["state"], run["trigger"]) == ("scheduled", "manual")

    def settled(execution_id: str, redeliveries: int) -> Any:
        found = client.get_execution(execution_id)
        return found["state"] == "succeeded" and found["redeliveries"] == redeliveries and found

    wait_for(lambda: settled(run["execution_id"], 0), timeout=30, message="the run-now")
    again = client.redeliver_execution(run["execution_id"])
    assert (again["execution_id"], again["state"]) == (run["execution_id"], "scheduled")
    wait_for(lambda: settled(run["execution_id"], 1), timeout=30, message="the redelivery")
    assert [r.json[0]["data"] for r in receiver.requests] == ["once", "once"]
    plan = client.backfill_job(job["id"], "2020-01-01T00:00:00Z", "2020-12-31T00:00:00Z",
                               dry_run=True)
    assert (plan["dry_run"], plan["from"], plan["ticks"]) == (True, "2020-01-01T00:00:00Z", 1)


def test_an_idempotency_key_sent_twice_makes_one_job_and_one_run(
        base_url: str, credential: dict[str, str]) -> None:
    client, transport = recording_client(base_url, credential)
    project = client.create_project(unique("idempotent"))
    first = client.create_job(far_job(project["id"]), idempotency_key="create-once")
    second = client.create_job(far_job(project["id"]), idempotency_key="create-once")
    assert first == second
    assert client.list_jobs(project_id=project["id"]).total == 1
    runs = [client.run_job(first["id"], idempotency_key="run-once")["execution_id"]
            for _ in range(2)]
    assert runs[0] == runs[1]
    # Without a key every call is its own: a fresh key each, so two jobs.
    client.create_job(far_job(project["id"]))
    client.create_job(far_job(project["id"]))
    assert client.list_jobs(project_id=project["id"]).total == 3
    keys = [s.headers["Idempotency-Key"] for s in transport.to("POST", "/api/v1/jobs")]
    assert keys[:2] == ["create-once", "create-once"] and len(set(keys[2:])) == 2


def posts_of_jobs_created(client: Client) -> int:
    """POST /jobs answered 201, as the node counts them in /metrics."""
    found = re.search(r'^scheduler0_http_requests_total\{route="/api/v1/jobs",method="POST",'
                      r'status="201"\} (\d+)$', client.metrics(), re.MULTILINE)
    return int(found.group(1)) if found else 0


def test_bulk_create_splits_more_than_10000_jobs_into_requests_of_at_most_10000(
        base_url: str, credential: dict[str, str]) -> None:
    client, transport = recording_client(base_url, credential)
    project = client.create_project(unique("bulk"))
    count = 2 * MAX_JOBS_PER_REQUEST + 1
    posts_before = posts_of_jobs_created(client)
    created = client.bulk_create([far_job(project["id"], data=str(i)) for i in range(count)],
                                 idempotency_key=unique("bulk"))
    sizes = [len(sent.body) for sent in transport.to("POST", "/api/v1/jobs")]
    assert sizes == [10_000, 10_000, 1]
    assert posts_of_jobs_created(client) - posts_before == 3  # the node saw three requests
    assert [job["data"] for job in created] == [str(i) for i in range(count)]
    assert len({job["id"] for job in created}) == count
    assert client.get_project(project["id"])["job_count"] == count
    keys = [sent.headers["Idempotency-Key"] for sent in transport.to("POST", "/api/v1/jobs")]
    assert len(set(keys)) == 3
    client.delete_project(project["id"], cascade=True)


def test_a_bulk_operation_is_followed_to_its_end(client: Client) -> None:
    project = client.create_project(unique("operation"))
    ids = [job["id"] for job in client.create_jobs([far_job(project["id"], paused=False)] * 7)]
    started = client.start_bulk("pause", filter={"project_id": project["id"], "paused": False})
    assert (started["action"], started["total"]) == ("pause", 7)
    finished = client.wait_operation(started["operation_id"], timeout=60, interval=0.1)
    assert (finished["state"], finished["done"], finished["errors"]) == ("succeeded", 7, [])
    assert [job["id"] for job in client.iter_jobs(project_id=project["id"], paused=True)] == ids
    assert started["operation_id"] in [op["id"] for op in client.iter_operations(limit=2)]
    ran = client.wait_operation(client.start_bulk("run", ids=ids[:2])["operation_id"],
                                timeout=60, interval=0.1)
    fired = list(client.iter_operation_executions(ran["id"], limit=1))
    assert sorted(e["job_id"] for e in fired) == ids[:2]


def test_errors_carry_the_servers_status_code_and_message(client: Client) -> None:
    with pytest.raises(ApiError) as missing:
        client.get_job(987_654_321)
    assert (missing.value.status, missing.value.code) == (404, "not_found")
    assert "987654321" in missing.value.message
    project = client.create_project(unique("errors"))
    with pytest.raises(ApiError) as bad_spec:
        client.create_job({"project_id": project["id"], "spec": "61 * * * *",
                           "callback_url": "http://127.0.0.1:9/x"})
    assert bad_spec.value.status == 400 and "minute" in bad_spec.value.message
    with pytest.raises(ValueError, match="1-10000"):
        client.create_jobs([])


def test_the_node_and_cluster_reads(client: Client) -> None:
    health = client.health()
    assert health["healthy"] is True and health["is_leader"] is True and health["has_quorum"]
    assert Client(client.session.base_url).health().keys() == {  # no credential: the short one
        "node_id", "state", "is_leader", "leader_id", "leader_address", "healthy",
        "memory_pressure", "planning_paused", "raft"}
    preview = client.preview_schedule("0 9 * * MON-FRI", timezone="Europe/London",
                                      start="2026-03-27T00:00:00Z", count=3)
    assert [t["utc"] for t in preview["times"]] == [
        "2026-03-27T09:00:00Z", "2026-03-30T08:00:00Z", "2026-03-31T08:00:00Z"]
    assert client.cluster()["is_leader"] is True
    assert client.rollups(period="hour")["period"] == "hour"
    assert set(client.summary()) == {"jobs", "last_day"}
    assert client.load(minutes=1)["minutes"] == 1
    assert "scheduler0_jobs " in client.metrics()
    paused = client.pause_cluster(reason="client test")
    try:
        assert (paused["paused"], paused["reason"]) == (True, "client test")
        assert client.health()["planning_paused"] is True
    finally:
        assert client.resume_cluster()["paused"] is False


def test_a_dry_run_creates_nothing(client: Client) -> None:
    project = client.create_project(unique("dry-run"))
    dry = client.dry_run_job({"project_id": project["id"], "spec": "@every 1m",
                              "callback_url": "http://127.0.0.1:9/x"})
    assert len(dry["next_fire_times"]) == 5
    assert len(client.dry_run_jobs([far_job(project["id"])] * 2)) == 2
    assert client.get_project(project["id"])["job_count"] == 0
