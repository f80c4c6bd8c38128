"""A rate-limited project on three real nodes: its batches all go to one node, which rations
them, while an unlimited project's batches are placed as before, on the least-loaded follower.
Which follower that is depends on the load each reports (the rationing node holds more), so
only "never the leader" is asserted here; the split itself is tested in test_planning.py."""

from __future__ import annotations

import time
from collections import Counter

from scheduler0.testing import wait_for
from tests.cluster.conftest import all_reporting
from tests.cluster.ticks import assert_every_tick_once, deliveries
from tests.integration.receiver import Receiver

JOBS = 10


def test_a_limited_projects_batches_all_go_to_one_node(cluster):
    cluster.start()
    leader = cluster.leader()
    wait_for(lambda: all_reporting(leader), timeout=15, message="load reports from all nodes")
    with Receiver() as rx:
        limited = leader.api("POST", "/projects", {
            "name": "limited", "rate_limit": {"concurrency": 4, "per_second": 50}})
        free = leader.api("POST", "/projects", {"name": "free"})
        jobs = {project["id"]: leader.api("POST", "/jobs", [
            {"project_id": project["id"], "spec": "@every 1s",
             "callback_url": rx.url(f"/{name}/{n}")} for n in range(JOBS)])
            for name, project in (("limited", limited), ("free", free))}

        def nodes_of(project: dict) -> Counter[str | None]:
            return Counter(d.node for d in deliveries(rx)
                           if d.element["project_id"] == project["id"])

        wait_for(lambda: sum(nodes_of(limited).values()) >= 8 * JOBS
                 and sum(nodes_of(free).values()) >= 8 * JOBS, timeout=60, interval=0.2,
                 message="eight ticks of every job delivered")
        leader_id = str(leader.health()["node_id"])
        limited_nodes, free_nodes = nodes_of(limited), nodes_of(free)
        assert len(limited_nodes) == 1 and leader_id not in limited_nodes, limited_nodes
        assert free_nodes and leader_id not in free_nodes, free_nodes
        [rationing] = limited_nodes
        shown = cluster.node(int(rationing)).health()["intake"]["rate_limited"]
        assert str(limited["id"]) in shown and str(free["id"]) not in shown
        until = time.time() - 3
        for project_jobs in jobs.values():
            assert_every_tick_once(leader, project_jobs, rx, until=until)
