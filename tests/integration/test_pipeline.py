"""The whole path of a tick on one real node: API -> Raft -> planner -> ZeroMQ -> executor ->
HTTP receiver -> results -> history. Loopback only; every process is stopped by pid."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import Counter
from typing import Any

import psutil

from scheduler0.testing import wait_for
from tests.integration.receiver import Receiver


def setup_project(node, name: str = "p") -> dict[str, Any]:
    return node.api("POST", "/projects", {"name": name})


def create_jobs(node, project_id: int, url: str, count: int, spec: str = "@every 2s",
                **fields: Any) -> list[dict[str, Any]]:
    jobs = [{"project_id": project_id, "spec": spec, "callback_url": url, "data": f"job {i}",
             **fields} for i in range(count)]
    return node.api("POST", "/jobs", jobs)


def delivered_ids(rx: Receiver) -> list[str]:
    return [e["execution_id"] for r in rx.requests if r.json for e in r.json]


def epoch(text: str) -> int:
    from scheduler0.schedule import parse_instant

    return parse_instant(text, "scheduled_at")


def test_many_jobs_exactly_once_per_tick_and_recorded_once(node_factory):
    node = node_factory().start()
    node.wait_leader()
    with Receiver() as rx:
        project = setup_project(node)
        jobs = create_jobs(node, project["id"], rx.url("/hook"), 300)
        ids = {j["id"] for j in jobs}
        # Four ticks of every job, all settled in the history.
        wait_for(lambda: sum(1 for e in node.executions(project_id=project["id"])
                             if e["state"] == "succeeded") >= 1200, timeout=30,
                 message="1200 succeeded executions")
        seen = Counter(delivered_ids(rx))
        assert max(seen.values()) == 1, "an execution was delivered twice"
        history = node.executions(project_id=project["id"])
        assert len({e["execution_id"] for e in history}) == len(history)  # recorded once
        per_job = Counter(e["job_id"] for e in history if e["state"] == "succeeded")
        assert set(per_job) == ids
        # Every job's succeeded ticks are its @every 2s sequence with no gap.
        for job_id in list(ids)[:20]:
            ticks = sorted(epoch(e["scheduled_at"]) for e in history
                           if e["job_id"] == job_id and e["state"] == "succeeded")
            assert all(b - a == 2 for a, b in zip(ticks, ticks[1:], strict=False)), ticks
        done = [e for e in history if e["state"] == "succeeded"]
        assert all(e["attempts"] == 1 and e["http_status"] == 200 and e["node_id"] == 1
                   for e in done)
        late = [epoch(e["started_at"][:19] + "Z") - epoch(e["scheduled_at"]) for e in done]
        assert min(late) >= 0  # never before its time
        job = node.api("GET", f"/jobs/{jobs[0]['id']}")
        assert job["last_execution_at"] is not None and job["next_execution_at"] is not None


def test_signature_verifies_with_the_project_secret(node_factory):
    node = node_factory().start()
    node.wait_leader()
    with Receiver() as rx:
        project = setup_project(node)
        create_jobs(node, project["id"], rx.url("/signed"), 1)
        request = rx.wait_for_requests(1, timeout=15)[0]
        timestamp = request.header("X-Scheduler0-Timestamp")
        expected = hmac.new(project["signing_secret"].encode(),
                            timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(request.header("X-Scheduler0-Signature"), f"sha256={expected}")
        [element] = request.json
        assert request.header("Idempotency-Key") == element["execution_id"]
        assert request.header("X-Scheduler0-Node") == "1"
        # The pipeline shows in /metrics once the executor reported (about every second).
        metrics = wait_for(lambda: (m := node.raw("/metrics"))
                           and "scheduler0_callbacks_delivered_total 0\n" not in m
                           and "scheduler0_callbacks_delivered_total" in m and m, timeout=10)
        assert 'scheduler0_callback_lateness_seconds_bucket{le="+Inf"}' in metrics
        assert "scheduler0_planner_batches_total" in metrics
        assert 'scheduler0_executions{state="succeeded"}' in metrics


def test_retries_on_500_then_failed(node_factory):
    node = node_factory(JobExecutionRetryMax=2, JobExecutionRetryDelay=0.1,
                        JobExecutionTimeout=1).start()
    node.wait_leader()
    with Receiver(default_status=500) as rx:
        project = setup_project(node)
        [job] = create_jobs(node, project["id"], rx.url("/broken"), 1, spec="@every 5s")
        failed = wait_for(lambda: [e for e in node.executions(job_id=job["id"])
                                   if e["state"] == "failed"], timeout=25, message="a failed tick")
        assert failed[0]["attempts"] == 3 and failed[0]["http_status"] == 500
        assert failed[0]["error"] == "HTTP 500"
        per_execution = Counter(delivered_ids(rx))
        assert per_execution[failed[0]["execution_id"]] == 3


def test_chunks_respect_the_payload_limit(node_factory):
    node = node_factory(HTTPExecutorPayloadMaxSizeMb=0.002).start()  # 2,097 bytes
    node.wait_leader()
    with Receiver() as rx:
        project = setup_project(node)
        jobs = create_jobs(node, project["id"], rx.url("/chunks"), 40, spec="@every 3s",
                           data="x" * 300)
        first = wait_for(lambda: {e["id"] for e in delivered_ids_full(rx)} >= {j["id"] for j in jobs}
                         and rx.requests, timeout=20, message="every job once")
        assert len(first) >= 8  # 40 elements of ~500 bytes cannot fit in fewer bodies
        assert all(len(r.body) <= 2097 for r in rx.requests)
        assert max(Counter(delivered_ids(rx)).values()) == 1


def delivered_ids_full(rx: Receiver) -> list[dict[str, Any]]:
    return [e for r in rx.requests if r.json for e in r.json]


def test_pause_resume_and_dates(node_factory):
    """Which ticks a dated job fires (start + k * 1 s for k >= 1, the end date inclusive) is
    the planner's rule, tested from the job's first fire time on a fake clock in
    tests/unit/test_planner_rounds.py; here, that the real node records that first fire."""
    node = node_factory().start()
    node.wait_leader()
    with Receiver() as rx:
        project = setup_project(node)
        now = int(time.time())
        [windowed] = create_jobs(node, project["id"], rx.url("/window"), 1, spec="@every 1s",
                                 start_date=_rfc(now + 4), end_date=_rfc(now + 7))
        # @every is anchored on start_date: the first fire is start + 1 s.
        assert epoch(windowed["next_execution_at"]) == now + 5
        # Created in one command, the two jobs share one schedule row: every round that plans
        # a tick of the running job leaves the paused one out.
        running, paused = node.api("POST", "/jobs", [
            {"project_id": project["id"], "spec": "@every 1s", "callback_url": rx.url(path),
             "data": path, "paused": path == "/paused"} for path in ("/running", "/paused")])
        wait_for(lambda: len({e["scheduled_at"] for e in delivered_ids_full(rx)
                              if e["id"] == running["id"]}) >= 3, timeout=15,
                 message="three ticks of the running job")
        assert not [r for r in rx.requests if r.path == "/paused"]
        node.api("PUT", f"/jobs/{paused['id']}", {"paused": False})
        wait_for(lambda: [r for r in rx.requests if r.path == "/paused"], timeout=10,
                 message="resumed job fires")


def _rfc(epoch_s: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def test_misfire_policies_after_the_node_was_down(node_factory):
    node = node_factory(MisfireThreshold=2).start()
    node.wait_leader()
    with Receiver() as rx:
        project = setup_project(node)
        url = rx.url("/misfire")
        jobs = {p: create_jobs(node, project["id"], url, 1, spec="@every 1s", misfire_policy=p)[0]
                for p in ("run_once", "run_all", "skip")}
        wait_for(lambda: len({e["id"] for e in delivered_ids_full(rx)}) == 3, timeout=15)
        assert node.terminate() == 0
        stopped_at = time.time()
        wait_for(lambda: time.time() - stopped_at > 8, timeout=12, interval=0.2)
        node.start()
        node.wait_leader()
        restarted_at = time.time()

        def in_outage(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [e for e in rows if stopped_at + 3 < epoch(e["scheduled_at"]) < restarted_at - 3]

        # Until the new leader settled every tick of the outage (recorded missed, or replayed
        # and delivered), each policy's at once.
        wait_for(lambda: all((down := in_outage(node.executions(job_id=j["id"])))
                             and all(e["state"] != "scheduled" for e in down)
                             for j in jobs.values()), timeout=8, interval=0.2,
                 message="every tick of the outage settled")
        history = {p: sorted(node.executions(job_id=j["id"]), key=lambda e: e["scheduled_at"])
                   for p, j in jobs.items()}
        for policy, rows in history.items():
            ticks = [epoch(e["scheduled_at"]) for e in rows]
            assert ticks == list(range(ticks[0], ticks[0] + len(ticks))), policy  # no gap, once
        down = {p: [e for e in rows if stopped_at + 3 < epoch(e["scheduled_at"]) < restarted_at - 3]
                for p, rows in history.items()}
        assert down["skip"] and all(e["state"] == "missed" for e in down["skip"])
        assert down["run_all"] and all(e["state"] == "succeeded" for e in down["run_all"])
        once = Counter(e["state"] for e in down["run_once"])
        assert once["missed"] >= 1 and once["succeeded"] <= 1


def test_a_killed_executor_loses_no_tick(node_factory):
    node = node_factory(JobExecutionTimeout=0.5, JobExecutionRetryMax=0, MaxWorkers=1,
                        PlannerLookAhead=3).start()
    node.wait_leader()
    with Receiver() as rx:
        project = setup_project(node)
        jobs = create_jobs(node, project["id"], rx.url("/crash"), 50, spec="@every 4s")
        executor = wait_for(lambda: node.children().get("executor-0"), message="executor")
        # Kill it while it holds planned batches (look-ahead 3 s: they wait for their tick).
        wait_for(lambda: any(e["state"] == "scheduled"
                             for e in node.executions(project_id=project["id"])), timeout=15)
        executor.send_signal(9)
        psutil.wait_procs([executor], timeout=5)
        wait_for(lambda: len({e["execution_id"] for e in node.executions(project_id=project["id"])
                              if e["state"] == "succeeded"}) >= 150, timeout=45,
                 message="three ticks of 50 jobs settled")
        history = node.executions(project_id=project["id"])
        assert len({e["execution_id"] for e in history}) == len(history)
        ticks_per_job = Counter(e["job_id"] for e in history if e["state"] == "succeeded")
        assert set(ticks_per_job) == {j["id"] for j in jobs}
        assert not [e for e in history if e["state"] == "scheduled"
                    and epoch(e["scheduled_at"]) < time.time() - 20]
