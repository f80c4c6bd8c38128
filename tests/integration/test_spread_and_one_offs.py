"""H, one-offs and dry runs on a real node (API -> Raft -> SQLite -> planner -> executor ->
HTTP receiver): fire times spread by H and unchanged by a restart, a one-off fired exactly once
and then completed, a dry run (through the CLI) that creates nothing. Loopback only."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from typing import Any

from scheduler0.schedule import format_rfc3339_utc, parse_instant
from scheduler0.testing import wait_for
from tests.integration.nodeproc import NodeProcess
from tests.integration.receiver import Receiver

PERIOD = 3600
COUNT = 10_000


def epoch(text: str) -> int:
    return parse_instant(text, "instant")


def all_jobs(node: NodeProcess, project_id: int) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    after = None
    while True:
        page = node.api("GET", f"/jobs?project_id={project_id}&limit=1000"
                        + (f"&after={after}" if after else ""))
        jobs += page["jobs"]
        after = page["next_after"]
        if not after:
            return jobs


def phases(jobs: list[dict[str, Any]]) -> dict[int, int]:
    """Each job's second within the period: its fire times are those seconds, every period."""
    return {job["id"]: epoch(job["next_execution_at"]) % PERIOD for job in jobs}


def test_h_spreads_jobs_created_in_one_second_and_a_restart_keeps_their_times(node_factory):
    node = node_factory().start()
    node.wait_leader()
    with Receiver() as rx:
        project = node.api("POST", "/projects", {"name": "spread"})
        body = [{"project_id": project["id"], "spec": f"@every {PERIOD}s H",
                 "callback_url": rx.url("/spread")} for _ in range(COUNT)]
        created = node.api("POST", "/jobs", body)  # one command: one creation second
        assert len({job["created_at"][:19] for job in created}) == 1
        before = phases(created)
        per_second = Counter(before.values())
        # Without H all 10,000 would share one second; with it about 3,400 of the 3,600 are
        # used, none by more than a handful of jobs.
        assert len(per_second) > 3000 and max(per_second.values()) <= 15
        # The planner fires each job at the time its create answered.
        due = {job["id"]: epoch(job["next_execution_at"]) for job in created}
        fired = wait_for(lambda: (rows := node.executions(project_id=project["id"],
                                                          state="succeeded"))
                         and len(rows) >= 10 and rows, timeout=60, message="10 ticks delivered")
        assert all(epoch(row["scheduled_at"]) == due[row["job_id"]] for row in fired)

        assert node.terminate() == 0
        node.start()
        node.wait_leader()
        after = all_jobs(node, project["id"])
        assert phases(after) == before  # the same seconds on the restarted node
        assert {job["id"]: job["resolved_spec"] for job in after} == {
            job["id"]: job["resolved_spec"] for job in created}
        assert {job["spec"] for job in after} == {f"@every {PERIOD}s H"}


def test_a_one_off_fires_exactly_once_then_shows_completed(node_factory):
    node = node_factory().start()
    node.wait_leader()
    with Receiver() as rx:
        project = node.api("POST", "/projects", {"name": "once"})
        now_job = node.api("POST", "/jobs", {"project_id": project["id"], "run_at": "now",
                                             "callback_url": rx.url("/now")})
        soon = format_rfc3339_utc(epoch(now_job["created_at"][:19] + "Z") + 3)
        [at_job] = node.api("POST", "/jobs", [{"project_id": project["id"],
                                               "spec": f"@at {soon}",
                                               "callback_url": rx.url("/at")}])
        clock_job = node.api("POST", "/jobs", {"project_id": project["id"], "spec": "@every 1s",
                                               "callback_url": rx.url("/clock")})
        for job in (now_job, at_job):
            done = wait_for(lambda job=job: (j := node.api("GET", f"/jobs/{job['id']}"))
                            and j["completed"] and j["last_state"] and j, timeout=30,
                            message=f"job {job['id']} completed and recorded")
            assert done["next_execution_at"] is None and done["last_state"] == "succeeded"
        assert epoch(node.executions(job_id=at_job["id"])[0]["scheduled_at"]) == epoch(soon)
        # Several planning rounds later, neither has fired again.
        ticks = len(node.executions(job_id=clock_job["id"]))
        wait_for(lambda: len(node.executions(job_id=clock_job["id"])) >= ticks + 3, timeout=30,
                 message="three more ticks of the clock job")
        delivered = Counter(r.path for r in rx.requests)
        assert (delivered["/now"], delivered["/at"]) == (1, 1)
        assert [len(node.executions(job_id=j["id"])) for j in (now_job, at_job)] == [1, 1]


def test_a_dry_run_through_the_cli_answers_the_job_and_creates_nothing(node_factory):
    node = node_factory().start()
    node.wait_leader()
    project = node.api("POST", "/projects", {"name": "dry"})
    before = node.api("GET", "/jobs")["total"]
    result = subprocess.run(
        [sys.executable, "-m", "scheduler0.cli", "create", "job", "--dry-run",
         "--project-id", str(project["id"]), "--spec", "H/15 * * * *",
         "--callback-url", "http://127.0.0.1:9/dry"],
        cwd=node.workdir, env=node.env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["spec"] == "H/15 * * * *" and job["resolved_spec"].endswith("-59/15 * * * *")
    times = [epoch(t) for t in job["next_fire_times"]]
    assert len(times) == 5 and all(b - a == 900 for a, b in zip(times, times[1:], strict=False))
    assert node.api("GET", "/jobs")["total"] == before
    refused = subprocess.run(
        [sys.executable, "-m", "scheduler0.cli", "create", "job", "--dry-run",
         "--project-id", str(project["id"]), "--run-at", "2001-01-01T00:00:00Z",
         "--callback-url", "http://127.0.0.1:9/dry"],
        cwd=node.workdir, env=node.env, capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode != 0 and "run_at: the instant 2001-01-01T00:00:00Z is in the past" \
        in refused.stderr
