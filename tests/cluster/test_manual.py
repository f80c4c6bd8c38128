"""Run-nows on a three-node loopback cluster: committed just before the leader is killed, each
is still delivered exactly once and recorded once (the new leader's reconcile adopts what a
live node holds and sends what none does)."""

from __future__ import annotations

from collections import Counter

import pytest

from scheduler0.testing import wait_for
from tests.cluster.conftest import all_reporting
from tests.integration.receiver import Receiver

RUNS = 5


@pytest.fixture
def rx():
    with Receiver() as receiver:
        yield receiver


def test_run_nows_committed_just_before_the_leader_is_killed_are_delivered_once(cluster, rx):
    cluster.start()
    leader = cluster.leader()
    wait_for(lambda: all_reporting(leader, len(cluster.nodes)), timeout=15,
             message="load reports from all nodes")
    project = leader.api("POST", "/projects", {"name": "failover-runs"})
    job = leader.api("POST", "/jobs", {"project_id": project["id"], "spec": "@every 1h",
                                       "paused": True, "callback_url": rx.url("/runs")})
    # Through a follower (forwarded to the leader by Raft), the last one right before the kill.
    follower = cluster.followers(leader)[0]
    runs = [follower.api("POST", f"/jobs/{job['id']}/run", {"data": f"run {i}"})
            for i in range(RUNS)]
    leader.kill_all()
    successor = cluster.leader(among=cluster.followers(leader))
    ids = {run["execution_id"] for run in runs}
    assert len(ids) == RUNS

    def all_recorded() -> bool:
        rows = successor.executions(job_id=job["id"], state="succeeded")
        return {r["execution_id"] for r in rows} == ids

    wait_for(all_recorded, timeout=60, interval=0.2, message="every run-now recorded")
    assert successor.executions(job_id=job["id"], state="scheduled") == []
    delivered = Counter(element["execution_id"] for request in rx.requests
                        for element in request.json or [])
    assert delivered == dict.fromkeys(ids, 1), delivered
    data = {element["execution_id"]: element["data"] for request in rx.requests
            for element in request.json or []}
    assert data == {run["execution_id"]: f"run {i}" for i, run in enumerate(runs)}
    rows = successor.executions(job_id=job["id"])
    assert sorted(r["execution_id"] for r in rows) == sorted(ids)
    assert {r["trigger"] for r in rows} == {"manual"}
