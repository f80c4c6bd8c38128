"""Job names and labels survive a restart of a real node (`scheduler0 start`), also when its
state is rebuilt from the Raft snapshot alone: the SQLite file removed, the dump and the
journal after it replayed. Loopback only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scheduler0.testing import wait_for

THRESHOLD = 1000  # log entries between snapshots (the least the config takes)


def labelled(node: Any, query: str) -> list[tuple[str, dict[str, str]]]:
    page = node.api("GET", f"/jobs?limit=1000&{query}")
    return [(job["name"], job["labels"]) for job in page["jobs"]]


def test_a_restart_from_the_snapshot_keeps_names_and_labels(node_factory) -> None:
    node = node_factory(RaftSnapshotThreshold=THRESHOLD).start()
    node.wait_leader()
    project = node.api("POST", "/projects", {"name": "kept"})
    hook = "http://127.0.0.1:9/hook"
    for i in range(15):  # one command each
        node.api("POST", "/jobs", {"project_id": project["id"], "spec": "@daily",
                                   "callback_url": hook, "name": f"job-{i:02d}",
                                   "description": f"number {i}",
                                   "labels": {"team": "billing" if i % 2 else "web",
                                              "n": str(i)}})
    node.api("POST", "/jobs", [{"project_id": project["id"], "spec": "@daily",
                                "callback_url": hook, "labels": {"team": "batch"}}] * 20)
    dump = Path(node.workdir) / "data" / "raft.dump"
    for i in range(THRESHOLD):  # enough commands for a snapshot
        if dump.exists():
            break
        node.api("PUT", "/jobs/job-00", {"description": f"edit {i}"})
    wait_for(dump.exists, timeout=30, message="a Raft snapshot")
    # Changes after the snapshot: the journal replays them on top of it.
    node.api("PUT", "/jobs/job-03", {"labels": {"team": "moved"}})
    node.api("DELETE", "/jobs/job-05")
    before = {q: labelled(node, q) for q in ("labels=team=billing", "labels=team=moved",
                                             "labels=team=batch", "name=job-1")}
    assert [name for name, _ in before["labels=team=billing"]] == [
        "job-01", "job-07", "job-09", "job-11", "job-13"]
    assert before["labels=team=moved"] == [("job-03", {"team": "moved"})]

    assert node.terminate() == 0
    for path in (Path(node.workdir) / "data").glob("scheduler0.db*"):
        path.unlink()
    node.start()
    node.wait_leader()
    wait_for(lambda: node.api("GET", "/jobs?limit=1")["total"] == 34, timeout=30,
             message="the restarted node to rebuild its jobs")
    assert {q: labelled(node, q) for q in before} == before
    job = node.api("GET", f"/jobs/job-07?project_id={project['id']}")
    assert (job["description"], job["labels"]) == ("number 7", {"n": "7", "team": "billing"})
    # The rebuilt file keeps its label index right: a delete takes the job out of the lists.
    node.api("DELETE", "/jobs/job-07")
    assert "job-07" not in [name for name, _ in labelled(node, "labels=team=billing")]
