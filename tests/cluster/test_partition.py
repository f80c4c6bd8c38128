"""A real network partition: three nodes, each in its own namespace of a NetLab, the receiver
on the lab's bridge address (every node reaches it throughout). One node is cut off from the
other two for PARTITION s while all its processes keep running, then the partition heals;
the window from the steady state to a few seconds after recovery is judged tick by tick.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler0.netlab import NetLab
from scheduler0.testing import wait_for
from tests.cluster.conftest import Cluster, steady, wait_all_delivering, wait_seconds
from tests.cluster.ticks import check_fault_window
from tests.integration.receiver import Receiver

PARTITION = 20.0  # seconds the node is cut off: many leases (1.5 s) and Raft handshakes (10 s)


@pytest.fixture
def lab() -> Iterator[NetLab]:
    reason = NetLab.available()
    if reason is not None:
        pytest.skip(reason)
    with NetLab(3) as made:
        yield made


@pytest.fixture
def lab_cluster(tmp_path: Path, lab: NetLab) -> Iterator[Cluster]:
    made = Cluster(tmp_path, lab=lab)
    yield made
    made.kill_all()  # before the lab goes: its namespaces hold these processes


@pytest.fixture
def rx(lab: NetLab) -> Iterator[Receiver]:
    with Receiver(host=lab.bridge_address) as receiver:
        yield receiver


def partition_for(lab: NetLab, node_id: int, seconds: float, during=None) -> None:
    """Cut node_id off for `seconds`, calling during() meanwhile; heals even when it fails."""
    started = time.time()
    lab.partition(node_id)
    try:
        if during is not None:
            during()
        wait_seconds(started + seconds - time.time())
    finally:
        lab.heal(node_id)


def test_partitioned_leader_for_20_s(lab, lab_cluster, rx):
    cluster = lab_cluster
    leader, jobs, steady_at = steady(cluster, rx)
    others = cluster.followers(leader)
    elected = []

    def new_leader_among_the_others() -> None:
        elected.append(cluster.leader(among=others, timeout=20))

    fault_at = time.time()
    partition_for(lab, cluster.node_id(leader), PARTITION, during=new_leader_among_the_others)
    assert elected and elected[0] in others
    wait_for(lambda: (h := leader.health()) and not h["is_leader"], timeout=20,
             message="the partitioned leader is no longer leader")
    _, recovered_at = wait_all_delivering(cluster, rx)
    check_fault_window(cluster, rx, jobs, steady_at, fault_at, recovered_at)


def test_partitioned_follower_for_20_s(lab, lab_cluster, rx):
    cluster = lab_cluster
    leader, jobs, steady_at = steady(cluster, rx)
    follower = cluster.followers(leader)[0]
    fault_at = time.time()
    partition_for(lab, cluster.node_id(follower), PARTITION)
    _, recovered_at = wait_all_delivering(cluster, rx)
    check_fault_window(cluster, rx, jobs, steady_at, fault_at, recovered_at)
