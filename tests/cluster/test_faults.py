"""Process faults on a three-node loopback cluster, judged tick by tick.

Each test: `@every 1s` jobs and a steady state (every follower delivering), then the fault,
then recovery (every node back and agreeing on a leader, each follower delivering again), then
the per-tick checks over a window from the steady state to a few seconds after recovery:
every tick delivered and recorded once as succeeded, no tick due over one lease after the
fault delivered twice, and a generous bound on first-delivery lateness.
"""

from __future__ import annotations

import signal
import time

import pytest

from scheduler0.testing import wait_for
from tests.cluster.conftest import (
    Cluster,
    resume_tree,
    steady,
    stop_tree,
    wait_all_delivering,
    wait_delivered_due_after,
    wait_seconds,
)
from tests.cluster.ticks import LATENESS_BOUND, check_fault_window
from tests.integration.nodeproc import NodeProcess
from tests.integration.receiver import Receiver

FREEZE = 10.0  # seconds a SIGSTOPped node stays stopped
DOWN = 5.0  # seconds every node stays down in the full restart


@pytest.fixture
def rx():
    with Receiver() as receiver:
        yield receiver


def test_kill_9_of_the_leader_then_restart(cluster, rx):
    leader, jobs, steady_at = steady(cluster, rx)
    fault_at = time.time()
    leader.kill_all()
    successor = cluster.leader(among=cluster.followers(leader))
    assert successor is not leader
    wait_delivered_due_after(rx, fault_at + 3)
    leader.start()
    _, recovered_at = wait_all_delivering(cluster, rx)
    check_fault_window(cluster, rx, jobs, steady_at, fault_at, recovered_at)


def test_kill_9_of_a_follower_then_restart(cluster, rx):
    leader, jobs, steady_at = steady(cluster, rx)
    follower = cluster.followers(leader)[0]
    fault_at = time.time()
    follower.kill_all()
    wait_delivered_due_after(rx, fault_at + 3)
    follower.start()
    _, recovered_at = wait_all_delivering(cluster, rx)
    check_fault_window(cluster, rx, jobs, steady_at, fault_at, recovered_at)


def test_sigstop_of_the_leader_for_10_s(cluster, rx):
    leader, jobs, steady_at = steady(cluster, rx)
    fault_at = time.time()
    procs = stop_tree(leader, signal.SIGSTOP)
    try:
        successor = cluster.leader(among=cluster.followers(leader), timeout=20)
        wait_seconds(fault_at + FREEZE - time.time())
    finally:
        resume_tree(procs)
    wait_for(lambda: (h := leader.health()) and not h["is_leader"], timeout=15,
             message="the old leader steps down")
    _, recovered_at = wait_all_delivering(cluster, rx)
    assert_deposed_leader_fenced(cluster, leader, successor)
    check_fault_window(cluster, rx, jobs, steady_at, fault_at, recovered_at)


def terminate_all(cluster: Cluster, timeout: float = 15.0) -> None:
    """SIGTERM every node at once, then wait for each to exit. One after the other would leave
    the last ones delivering (a stopping executor finishes its due batches) while the leader is
    already gone, so the fault would have no single moment."""
    for node in cluster.nodes:
        node.proc.send_signal(signal.SIGTERM)
    for node in cluster.nodes:
        node.proc.wait(timeout)


def assert_deposed_leader_fenced(cluster: Cluster, old: NodeProcess, successor: NodeProcess):
    """A dispatch by the old leader after its successor took over may only be a batch already
    on its way when it was stopped, which every other node fenced off by its stale term."""
    took_over = successor.health()["planner"]["leading_since"]
    last_dispatch = old.health()["planner"]["last_dispatch_at"]
    assert last_dispatch is not None and took_over is not None
    if last_dispatch >= took_over:
        dropped = sum(n.health()["intake"]["stale_dropped"] for n in cluster.followers(old))
        assert dropped >= 1, "the deposed leader's batch was executed after its successor"


def test_sigstop_of_a_follower_for_10_s(cluster, rx):
    leader, jobs, steady_at = steady(cluster, rx)
    follower = cluster.followers(leader)[0]
    fault_at = time.time()
    procs = stop_tree(follower, signal.SIGSTOP)
    try:
        wait_seconds(FREEZE)
    finally:
        resume_tree(procs)
    _, recovered_at = wait_all_delivering(cluster, rx)
    check_fault_window(cluster, rx, jobs, steady_at, fault_at, recovered_at)


def test_restart_of_every_node(cluster, rx):
    """SIGTERM all at once, down for DOWN s, start all: the state survives, and the ticks due
    while everything was down are all delivered late (under the misfire threshold), none
    lost."""
    leader, jobs, steady_at = steady(cluster, rx)
    fault_at = time.time()
    terminate_all(cluster)
    wait_seconds(fault_at + DOWN - time.time())
    for node in cluster.nodes:
        node.start()
    leader = cluster.leader()
    listed = leader.api("GET", "/jobs?limit=100")
    assert {j["id"] for j in listed["jobs"]} == {j["id"] for j in jobs}
    _, recovered_at = wait_all_delivering(cluster, rx)
    outage = recovered_at - fault_at
    check_fault_window(cluster, rx, jobs, steady_at, fault_at, recovered_at,
                       lateness_bound=outage + LATENESS_BOUND)
