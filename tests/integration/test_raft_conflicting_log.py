"""A node that comes back with entries nobody committed catches up with the new leader.

A leader cut off from its peers keeps appending what its planner and results propose; none of
it commits. Meanwhile the others elect a leader and commit more than one append_entries message
holds. When the old leader returns as a follower, its log has to be walked back past its own
uncommitted tail before the leader's entries fit. Three real nodes (LocalServices: real pysyncobj,
real SQLite) on loopback; "cut off" is played by stopping the two followers, which leaves the
leader's uncommitted tail in its journal exactly as a partition does.

Without scheduler0.coordinator.raft_walk_back the old leader stays at its conflict for good.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scheduler0 import config, messages
from scheduler0.testing import LocalServices, node_settings, wait_for
from tests.integration.test_raft_frames import project_create

UNCOMMITTED = 3  # entries the lone leader appends that never commit
LATER_WRITES = 12  # ... and what the others commit meanwhile: ~12 x 24 KB, several messages
DATA_BYTES = 24_000


def later_write(project_id: int, n: int) -> dict[str, Any]:
    return messages.make(messages.JOB_CREATE, {"jobs": [
        {"project_id": project_id, "spec": "0 0 1 1 *", "timezone": "UTC",
         "callback_url": "http://127.0.0.1:9/hook", "data": f"{n:04d}" + "x" * DATA_BYTES,
         "execution_type": "http", "start_date": None, "end_date": None, "paused": True,
         "misfire_policy": "run_once", "anchor": 1_700_000_000}]})


class Trio:
    """Three nodes' settings; each node can be started, stopped and started again."""

    def __init__(self, root: Path):
        base = [node_settings(root / f"n{i}", node_id=i, raft_election_timeout=0.5)
                for i in (1, 2, 3)]
        replicas = tuple(config.Replica(s.node_id, s.api_address, s.raft_address,
                                        s.intake_address) for s in base)
        self.settings = [dataclasses.replace(s, replicas=replicas) for s in base]
        self.running: dict[int, LocalServices] = {}

    def start(self, node_id: int) -> LocalServices:
        services = LocalServices(self.settings[node_id - 1]).start()
        self.running[node_id] = services
        return services

    def stop(self, node_id: int) -> None:
        self.running.pop(node_id).stop()

    def leader(self, among: list[int]) -> LocalServices:
        return wait_for(lambda: next((self.running[i] for i in among
                                      if self.running[i].raft.is_leader), None),
                        timeout=30, message=f"a leader among nodes {among}")

    def stop_all(self) -> None:
        for node_id in list(self.running):
            self.stop(node_id)


@pytest.fixture
def trio(tmp_path: Path) -> Iterator[Trio]:
    nodes = Trio(tmp_path)
    try:
        yield nodes
    finally:
        nodes.stop_all()


def raft_view(services: LocalServices) -> dict[str, Any]:
    return dict(services.status()["raft"])


def test_an_old_leader_with_an_uncommitted_tail_catches_up_as_a_follower(trio: Trio) -> None:
    for node_id in (1, 2, 3):
        trio.start(node_id)
    old = trio.leader([1, 2, 3])
    old_id = old.settings.node_id
    project = old.submit(project_create("before"), timeout=20)["data"]
    others = [i for i in (1, 2, 3) if i != old_id]
    for services in (trio.running[i] for i in others):
        wait_for(lambda s=services: raft_view(s)["last_applied"] >= raft_view(old)["commit_index"],
                 timeout=20, message="the followers to apply the first write")

    # The leader alone: what it appends now stays uncommitted in its journal.
    for node_id in others:
        trio.stop(node_id)
    committed = raft_view(old)["commit_index"]
    for n in range(UNCOMMITTED):
        old.raft.submit_async(project_create(f"lost {n}"), lambda result, error: None)
    wait_for(lambda: raft_view(old)["log_len"] >= committed + UNCOMMITTED, timeout=10,
             message="the lone leader to append its uncommitted entries")
    assert raft_view(old)["commit_index"] == committed
    trio.stop(old_id)

    # The others elect a leader of their own and commit more than one message's worth.
    for node_id in others:
        trio.start(node_id)
    new = trio.leader(others)
    for n in range(LATER_WRITES):
        assert new.submit(later_write(project["id"], n), timeout=20)["ok"] is True
    target = raft_view(new)["commit_index"]

    # All three start again, so whoever leads now was elected with its log already past the
    # old leader's end: its first message to the old leader reaches beyond that node's log.
    for node_id in others:
        trio.stop(node_id)
    back = trio.start(old_id)
    for node_id in others:
        trio.start(node_id)
    wait_for(lambda: raft_view(back)["last_applied"] >= target, timeout=30,
             message=f"the old leader to apply up to index {target} "
                     f"(it is at {raft_view(back)['last_applied']})")
    reader = back.reader()
    assert reader.count_projects() == 1, "the uncommitted entries must be gone, not applied"
    assert reader.get_project(project["id"])["name"] == "before"
    assert reader.project_job_count(project["id"]) == LATER_WRITES
