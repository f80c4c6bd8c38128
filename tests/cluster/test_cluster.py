"""Three real nodes on loopback: election, work on the followers, membership changes and a
late node. Jobs call only the test's loopback receiver. Faults (kill -9, SIGSTOP, restart of
every node) are in test_faults.py, with per-tick accounting."""

from __future__ import annotations

import time
from collections import Counter

from scheduler0.testing import wait_for
from tests.cluster.conftest import all_reporting, make_jobs
from tests.cluster.ticks import assert_every_tick_once, delivered, epoch
from tests.integration.receiver import Receiver


def test_follower_write_fires_from_a_non_leader_node(cluster):
    cluster.start()
    leader = cluster.leader()
    wait_for(lambda: all_reporting(leader), timeout=15, message="load reports from all nodes")
    follower = cluster.followers(leader)[0]
    with Receiver() as rx:
        jobs = make_jobs(follower, rx.url("/hook"), 20)
        wait_for(lambda: len(delivered(rx)) >= 100, timeout=30, message="100 deliveries")
        nodes = Counter(node for node, _ in delivered(rx))
        leader_id = str(leader.health()["node_id"])
        assert leader_id not in nodes, nodes
        assert len(nodes) == 2  # both followers share the work
        assert_every_tick_once(follower, jobs, rx, until=time.time() - 3)


def test_a_node_is_added_then_removed(tmp_path):
    from tests.cluster.conftest import Cluster

    grown = Cluster(tmp_path, size=3)
    first_two = grown.nodes[:2]
    for node in first_two:  # nodes 1 and 2 form the cluster; node 3 joins later
        node.env["SCHEDULER0_REPLICAS"] = __import__("json").dumps(grown.replicas[:2])
    try:
        for node in first_two:
            node.start()
        leader = grown.leader(among=first_two)
        grown.node(3).start()
        third = grown.replicas[2]["RaftAddress"]
        added = leader.api("POST", "/cluster/members", {"raft_address": third})
        assert added == {"added": third}
        # The newcomer's own config lists all three nodes, so before it hears from the leader
        # it may stand for election; its higher term can depose the leader and node 1 or 2 may
        # win the new election. What must hold is that all three agree on one leader.
        leader = grown.leader(among=grown.nodes, timeout=20)
        wait_for(lambda: "3" in leader.api("GET", "/cluster")["nodes"], timeout=10,
                 message="the leader hears the new node's load reports")
        with Receiver() as rx:
            make_jobs(leader, rx.url("/grown"), 30)
            wait_for(lambda: "3" in {n for n, _ in delivered(rx)}, timeout=30,
                     message="the added node delivers")
            leader.api("DELETE", f"/cluster/members/{third}")
            removed_at = time.time()
            wait_for(lambda: time.time() - removed_at > 12, timeout=15, interval=0.2)
            late = [e for n, e in delivered(rx)
                    if n == "3" and epoch(e["scheduled_at"]) > removed_at + 8]
            assert not late, "a removed node still gets work"
    finally:
        grown.kill_all()


def test_a_late_node_catches_up_from_a_snapshot_and_joins_the_work(tmp_path):
    from tests.cluster.conftest import Cluster

    # Compaction after 1,000 entries: the late node is behind the leader's first log entry
    # and must be sent the snapshot (the SQLite file) rather than the log.
    late_cluster = Cluster(tmp_path, size=3, RaftSnapshotThreshold=1000)
    try:
        first_two = late_cluster.nodes[:2]
        for node in first_two:
            node.start()
        leader = late_cluster.leader(among=first_two)
        for _ in range(1100):  # 1,100 commands, one credential each
            leader.api("POST", "/credentials", {})
        wait_for(lambda: leader.health()["raft"]["log_len"] < 1000, timeout=30,
                 message="the leader compacted its log")
        with Receiver() as rx:
            jobs = make_jobs(leader, rx.url("/late"), 10)
            late = late_cluster.node(3).start()
            # The newcomer may start an election before the leader's first heartbeat reaches
            # it, so the leader can change: wait for all three to agree on one, whichever.
            late_cluster.leader(timeout=60)
            wait_for(lambda: late.api("GET", "/credentials?limit=1")["total"] == 1100, timeout=30,
                     message="the late node has every credential")
            assert {j["id"] for j in late.api("GET", "/jobs?limit=100")["jobs"]} == \
                {j["id"] for j in jobs}
            wait_for(lambda: "3" in {n for n, _ in delivered(rx)}, timeout=30,
                     message="the late node delivers")
    finally:
        late_cluster.kill_all()
