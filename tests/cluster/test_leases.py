"""Leases on real nodes: a new leader puts work on the followers from the first second, and a
node whose clock is off is shown (in /cluster, the health check and /metrics) and warned
about. Loopback only; every process is stopped by pid."""

from __future__ import annotations

import re
import time
from collections import Counter

from scheduler0.testing import wait_for
from tests.cluster.conftest import Cluster, make_jobs
from tests.cluster.ticks import deliveries
from tests.integration.receiver import Receiver

SKEW = 2.0  # seconds one node's clock is set ahead in the clock test


def test_after_a_full_restart_the_followers_take_the_work_from_the_first_second(cluster):
    cluster.start()
    leader = cluster.leader()
    with Receiver() as rx:
        make_jobs(leader, rx.url("/restart"), 30)
        rx.wait_for_requests(10, timeout=30)
        for node in cluster.nodes:
            node.terminate()
        restarted_at = time.time()
        cluster.start()
        leader = cluster.leader(timeout=60)
        wait_for(lambda: any(d.arrived_at > restarted_at for d in deliveries(rx)), timeout=30,
                 message="a delivery after the restart")
        first = min(d.arrived_at for d in deliveries(rx) if d.arrived_at > restarted_at)
        wait_for(lambda: time.time() > first + 10, timeout=15, interval=0.1)
        by_node = Counter(d.node for d in deliveries(rx) if first <= d.arrived_at <= first + 10)
        leader_id = str(cluster.node_id(leader))
        # Before leases the new leader ran everything for its first seconds: nobody had
        # reported yet when it placed its first look-ahead window.
        assert by_node[leader_id] <= sum(by_node.values()) * 0.05, by_node
        assert len(by_node) >= 2, by_node


def test_a_node_whose_clock_is_off_is_shown_and_warned_about(tmp_path):
    skewed = Cluster(tmp_path, size=2)
    skewed.node(2).env["SCHEDULER0_TEST_CLOCK_OFFSET"] = str(SKEW)
    try:
        skewed.start()
        leader = skewed.leader()
        other = skewed.node(3 - skewed.node_id(leader))

        def offsets():
            nodes = leader.api("GET", "/cluster")["nodes"]
            found = {n: (v.get("lease") or {}).get("clock_offset_ms") for n, v in nodes.items()}
            return found if len(found) == 2 and None not in found.values() else None

        found = wait_for(offsets, timeout=30, message="both nodes' clock offsets in /cluster")
        # The skewed node is 2 s ahead of the other, whichever of the two leads.
        ahead = found["2"] - found["1"]
        assert abs(ahead - SKEW * 1000) < 250, found
        assert abs(found[str(skewed.node_id(leader))]) < 250, found
        expected = f"node {skewed.node_id(other)}'s clock is"
        wait_for(lambda: expected in leader.log_text(), timeout=10,
                 message="the leader's warning about the clock")
        own = other.health()["lease"]
        assert own["current"] is not None and abs(abs(own["clock_offset_ms"]) - SKEW * 1000) < 250
        metrics = leader.raw("/metrics")
        sample = re.search(rf'scheduler0_clock_offset_seconds{{node="{skewed.node_id(other)}"}}'
                           r" (\S+)", metrics)
        assert sample and abs(abs(float(sample.group(1))) - SKEW) < 0.25, metrics[-2000:]
        assert 'scheduler0_redispatched_total{reason="lease"}' in metrics
    finally:
        skewed.kill_all()

