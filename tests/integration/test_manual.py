"""Run-now, redelivery, backfill and a bulk run on a real node (API -> Raft -> SQLite -> planner
-> executor -> HTTP receiver on port 0): each delivered once with the id it should have, the
schedule's own ticks unaffected, a retry with the same Idempotency-Key firing nothing more, a
redelivery shown as a new attempt of the same execution. Loopback only."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from typing import Any

from scheduler0 import clock
from scheduler0.schedule import format_rfc3339_utc, parse_instant
from scheduler0.testing import wait_for
from scheduler0.vocabulary import execution_id, parse_execution_key
from tests.integration.nodeproc import NodeProcess
from tests.integration.receiver import Receiver


def elements(rx: Receiver, path: str | None = None) -> list[dict[str, Any]]:
    """Every callback element the receiver got (at `path`), in arrival order."""
    return [element for request in rx.requests if path is None or request.path == path
            for element in (request.json or [])]


def epoch(text: str) -> int:
    return parse_instant(text, "instant")


def started(node_factory: Any) -> NodeProcess:
    node = node_factory().start()
    node.wait_leader()
    return node


def recorded(node: NodeProcess, eid: str, **expected: Any) -> dict[str, Any]:
    """The execution once its result is recorded with the `expected` fields."""
    return wait_for(lambda: (e := node.api("GET", f"/executions/{eid}"))["state"] != "scheduled"
                    and all(e[k] == v for k, v in expected.items()) and e,
                    timeout=30, message=f"execution {eid} recorded as {expected}")


def test_run_now_delivers_once_with_its_data_and_the_schedule_keeps_its_ticks(node_factory):
    node = started(node_factory)
    with Receiver() as rx:
        project = node.api("POST", "/projects", {"name": "run-now"})
        job = node.api("POST", "/jobs", {"project_id": project["id"], "spec": "@every 2s",
                                         "callback_url": rx.url("/tick"), "data": "own"})
        wait_for(lambda: elements(rx), timeout=30, message="a first tick of the schedule")
        run = node.api("POST", f"/jobs/{job['id']}/run", {"data": "once"})
        assert (run["state"], run["trigger"], run["job_id"]) == ("scheduled", "manual",
                                                                 job["id"])
        assert parse_execution_key(run["execution_id"]).run > 0
        done = recorded(node, run["execution_id"], state="succeeded")
        assert (done["trigger"], done["attempts"], done["redeliveries"]) == ("manual", 1, 0)
        # Three more ticks of the schedule after the run-now's delivery.
        after = epoch(done["scheduled_at"])
        wait_for(lambda: len([e for e in elements(rx) if e["execution_id"] != run["execution_id"]
                              and epoch(e["scheduled_at"]) > after]) >= 3,
                 timeout=30, message="three ticks of the schedule after the run-now")
        got = elements(rx)
        manual = [e for e in got if e["execution_id"] == run["execution_id"]]
        assert len(manual) == 1 and manual[0]["data"] == "once"
        ticks = [e for e in got if e["execution_id"] != run["execution_id"]]
        assert {e["data"] for e in ticks} == {"own"}
        ids = [e["execution_id"] for e in ticks]
        assert len(ids) == len(set(ids))  # each tick once
        times = sorted(epoch(e["scheduled_at"]) for e in ticks)
        assert all(b - a == 2 for a, b in zip(times, times[1:], strict=False))  # none skipped
        assert all(e["execution_id"] == execution_id(job["id"], epoch(e["scheduled_at"]))
                   for e in ticks)
        history = node.executions(job_id=job["id"])
        assert Counter(e["trigger"] for e in history)["manual"] == 1
        assert node.api("GET", f"/jobs/{job['id']}")["spec"] == "@every 2s"


def test_a_retry_with_the_same_idempotency_key_fires_once(node_factory):
    node = started(node_factory)
    with Receiver() as rx:
        project = node.api("POST", "/projects", {"name": "run-once"})
        job = node.api("POST", "/jobs", {"project_id": project["id"], "spec": "@every 1h",
                                         "paused": True, "callback_url": rx.url("/once")})
        key = {"Idempotency-Key": "run-now-retry-1"}
        first = node.api("POST", f"/jobs/{job['id']}/run", {"data": "x"}, headers=key)
        again = node.api("POST", f"/jobs/{job['id']}/run", {"data": "x"}, headers=key)
        assert again == first
        recorded(node, first["execution_id"], state="succeeded")
        # Nothing else is planned for the job: no second delivery can follow.
        assert node.executions(job_id=job["id"], state="scheduled") == []
        assert [e["execution_id"] for e in node.executions(job_id=job["id"])] == [
            first["execution_id"]]
        assert [e["execution_id"] for e in elements(rx)] == [first["execution_id"]]


def test_redeliver_sends_the_same_execution_again_and_the_history_shows_the_attempt(
        node_factory):
    node = started(node_factory)
    with Receiver() as rx:
        rx.respond([500], path="/flaky")  # the first delivery fails, the next succeeds
        project = node.api("POST", "/projects", {"name": "redeliver"})
        job = node.api("POST", "/jobs", {"project_id": project["id"], "run_at": "now",
                                         "retries": 0, "callback_url": rx.url("/flaky")})
        [tick] = wait_for(lambda: node.executions(job_id=job["id"], state="failed"), timeout=30,
                          message="the one-off recorded failed")
        eid = tick["execution_id"]
        assert (tick["trigger"], tick["http_status"], tick["redeliveries"]) == ("schedule", 500, 0)
        again = node.api("POST", f"/executions/{eid}/redeliver")
        assert (again["execution_id"], again["state"]) == (eid, "scheduled")
        done = recorded(node, eid, state="succeeded")
        assert (done["redeliveries"], done["http_status"], done["attempts"]) == (1, 200, 1)
        assert [e["execution_id"] for e in elements(rx)] == [eid, eid]
        assert [r.status for r in rx.requests] == [500, 200]
        [row] = node.executions(job_id=job["id"])
        assert row == done  # one execution, its latest outcome
        minute = epoch(done["scheduled_at"]) // 60 * 60
        [counts] = [r for r in node.api("GET", f"/rollups?project_id={project['id']}")["rollups"]
                    if epoch(r["period_start"]) == minute]
        assert (counts["succeeded"], counts["failed"]) == (1, 0)


def test_a_backfill_delivers_exactly_the_past_ticks_once_each(node_factory):
    node = started(node_factory)
    with Receiver() as rx:
        project = node.api("POST", "/projects", {"name": "backfill"})
        job = node.api("POST", "/jobs", {"project_id": project["id"], "spec": "* * * * *",
                                         "paused": True, "callback_url": rx.url("/back")})
        now = int(clock.now())
        end = now - now % 60 - 60
        body = {"from": format_rfc3339_utc(end - 9 * 60), "to": format_rfc3339_utc(end)}
        expected = {execution_id(job["id"], end - 60 * k) for k in range(10)}
        dry = node.api("POST", f"/jobs/{job['id']}/backfill?dry_run=true", body)
        assert (dry["count"], dry["dry_run"]) == (10, True)
        assert node.executions(job_id=job["id"], state="scheduled") == []
        fired = node.api("POST", f"/jobs/{job['id']}/backfill", body)
        assert (fired["count"], fired["ticks"], fired["dry_run"]) == (10, 10, False)
        rows = wait_for(lambda: (r := node.executions(job_id=job["id"], state="succeeded"))
                        and len(r) == 10 and r, timeout=60, message="ten backfilled ticks")
        assert {r["execution_id"] for r in rows} == expected
        assert {r["trigger"] for r in rows} == {"backfill"}
        assert node.executions(job_id=job["id"], state="scheduled") == []
        delivered = Counter(e["execution_id"] for e in elements(rx))
        assert set(delivered) == expected and set(delivered.values()) == {1}
        # Backfilling the same range again fires nothing: every tick is recorded.
        again = node.api("POST", f"/jobs/{job['id']}/backfill", body)
        assert (again["count"], again["skipped"]["recorded"]) == (0, 10)


def cli(node: NodeProcess, *args: str) -> Any:
    done = subprocess.run([sys.executable, "-m", "scheduler0.cli", *args], cwd=node.workdir,
                          env=node.env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_cli_runs_backfills_and_redelivers(node_factory):
    node = started(node_factory)
    with Receiver() as rx:
        project = node.api("POST", "/projects", {"name": "cli"})
        job = node.api("POST", "/jobs", {"project_id": project["id"], "spec": "* * * * *",
                                         "paused": True, "name": "nightly",
                                         "callback_url": rx.url("/cli")})
        run = ("job", "run", "nightly", "--data", "from the cli", "--idempotency-key", "cli-1")
        first = cli(node, *run)
        assert cli(node, *run) == first  # a retry
        done = recorded(node, first["execution_id"], state="succeeded")
        assert cli(node, "execution", "get", first["execution_id"]) == done
        assert [e["data"] for e in elements(rx)] == ["from the cli"]
        again = cli(node, "execution", "redeliver", first["execution_id"])
        assert again["state"] == "scheduled"
        recorded(node, first["execution_id"], redeliveries=1)
        assert [e["data"] for e in elements(rx)] == ["from the cli"] * 2
        now = int(clock.now())
        end = now - now % 60 - 60
        dry = cli(node, "job", "backfill", "nightly", "--from", format_rfc3339_utc(end - 120),
                  "--to", format_rfc3339_utc(end), "--dry-run")
        assert (dry["count"], dry["dry_run"]) == (3, True)
        assert node.executions(job_id=job["id"], state="scheduled") == []


def test_a_bulk_run_of_five_jobs_delivers_each_once_as_its_own_run_now(node_factory):
    node = started(node_factory)
    with Receiver() as rx:
        project = node.api("POST", "/projects", {"name": "bulk-run"})
        # New Year's Day only: no tick of the schedule comes while the test runs. One paused:
        # a bulk run fires it too, as a run-now does.
        jobs = node.api("POST", "/jobs", [
            {"project_id": project["id"], "spec": "0 0 1 1 *", "paused": i == 0,
             "callback_url": rx.url(f"/bulk/{i}")} for i in range(5)])
        ids = [job["id"] for job in jobs]
        operation = node.api("POST", "/jobs/bulk", {"action": "run", "ids": ids, "data": "all"})
        done = wait_for(lambda: (o := node.api("GET", f"/operations/{operation['id']}"))
                        and o["state"] != "running" and o, timeout=30,
                        message="the bulk run to finish")
        assert (done["state"], done["done"], done["skipped"]) == ("succeeded", 5, 0)
        fired = node.api("GET", f"/operations/{operation['id']}/executions")["executions"]
        assert [e["job_id"] for e in fired] == ids
        eids = [e["execution_id"] for e in fired]
        assert all(parse_execution_key(eid).run for eid in eids) and len(set(eids)) == 5
        for eid in eids:
            settled = recorded(node, eid, state="succeeded")
            assert (settled["trigger"], settled["attempts"]) == ("manual", 1)
        listed = node.api("GET", f"/operations/{operation['id']}/executions")["executions"]
        assert [(e["execution_id"], e["state"]) for e in listed] == [
            (eid, "succeeded") for eid in eids]
        got = elements(rx)
        assert sorted(e["execution_id"] for e in got) == sorted(eids)  # each once, nothing else
        assert {e["data"] for e in got} == {"all"}
        assert sorted(r.path for r in rx.requests) == [f"/bulk/{i}" for i in range(5)]
        history = node.executions(project_id=project["id"])
        assert sorted(e["execution_id"] for e in history) == sorted(eids)
        assert {e["trigger"] for e in history} == {"manual"}
        assert [node.api("GET", f"/jobs/{i}")["paused"] for i in ids] == [
            True, False, False, False, False]
