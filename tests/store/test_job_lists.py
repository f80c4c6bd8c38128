"""The planner's kept job lists over a real SQLite file: each schedule's jobs_version moves with
every change to one of its jobs, whatever command makes it, and not with the tick path; the
lists are read again exactly when it moved."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scheduler0 import messages
from scheduler0.coordinator.job_lists import BYTES_PER_JOB, IDLE_SECONDS, JobLists, max_jobs_for
from scheduler0.store.pipeline import PipelineReader
from tests.store.helpers import TS_S, Log
from tests.store.test_operations import create, jobs_of, step

HORIZON = TS_S + 86_400 * 400


@pytest.fixture
def pipeline(log: Log, db_path: str) -> Iterator[PipelineReader]:
    log.project()  # the file exists and is migrated before the reader opens it
    reader = PipelineReader(db_path)
    yield reader
    reader.close()


def versions(pipeline: PipelineReader) -> dict[int, int]:
    return {d.id: d.jobs_version for d in pipeline.due_schedules(HORIZON, 100)}


def planned_ids(lists: JobLists, pipeline: PipelineReader, now: float = 0.0) -> dict[int, list[int]]:
    due = pipeline.due_schedules(HORIZON, 100)
    return {sid: [j.id for j in jobs] for sid, jobs in lists.of(pipeline, due, now).items()}


def test_every_job_writer_moves_its_schedules_version(log: Log, pipeline: PipelineReader):
    ids = jobs_of(log, 1, 3)
    [(schedule, created)] = versions(pipeline).items()
    assert created == 3  # one per job inserted

    def moved(action) -> int:
        before = versions(pipeline).get(schedule, 0)
        action()
        return versions(pipeline).get(schedule, 0) - before

    assert moved(lambda: log.ok(messages.JOB_UPDATE, {
        "id": ids[0], "changes": {"callback_url": "http://127.0.0.1:9/moved"}})) > 0
    assert moved(lambda: log.ok(messages.JOB_UPDATE, {
        "id": ids[0], "changes": {"paused": True}})) > 0
    assert moved(lambda: step(log, create(log, action="resume", total=1)["id"], ids[:1],
                              final=True)) > 0
    assert moved(lambda: step(log, create(log, action="set_labels", total=1,
                                          labels={"team": "a"})["id"], ids[1:2],
                              final=True)) > 0
    assert moved(lambda: log.ok(messages.JOB_DELETE, {"id": ids[2]})) > 0


def test_a_job_moving_to_another_schedule_moves_both(log: Log, pipeline: PipelineReader):
    [a, b] = jobs_of(log, 1, 2)
    [old] = versions(pipeline)
    log.ok(messages.JOB_UPDATE, {"id": a, "changes": {"spec": "@every 2h"}})
    after = versions(pipeline)
    [new] = set(after) - {old}
    assert after[old] == 3 and after[new] == 1  # b's schedule lost a, the new one gained it
    assert b


def test_the_tick_path_leaves_the_versions_alone(log: Log, pipeline: PipelineReader):
    [job] = jobs_of(log, 1, 1)
    [due] = pipeline.due_schedules(HORIZON, 10)
    before = versions(pipeline)
    log.ok(messages.PLAN, {"batches": [{"batch_id": "b1", "node_id": 1,
                                        "scheduled_at": due.next_fire_at, "rows": [[job, 1]]}],
                           "missed": [], "advances": [[due.id, due.next_fire_at + 3600,
                                                       due.next_fire_at]]})
    log.ok(messages.RESULT, {"rows": [[f"{job}-{due.next_fire_at}", "succeeded", 1, 200, None,
                                       1, 1, 2, "b1"]]})
    assert versions(pipeline) == before


def test_a_kept_list_is_read_again_only_when_its_version_moved(log: Log,
                                                               pipeline: PipelineReader):
    ids = jobs_of(log, 1, 3)
    lists = JobLists(max_jobs=100)
    [(schedule, first)] = planned_ids(lists, pipeline).items()
    assert first == ids and lists.stats["reads"] == 1
    assert planned_ids(lists, pipeline) == {schedule: ids}
    assert (lists.stats["reads"], lists.stats["hits"]) == (1, 1)
    log.ok(messages.JOB_UPDATE, {"id": ids[1], "changes": {"paused": True}})
    assert planned_ids(lists, pipeline) == {schedule: [ids[0], ids[2]]}
    assert lists.stats["reads"] == 2
    log.ok(messages.JOB_UPDATE, {"id": ids[0], "changes": {"callback_url": "http://127.0.0.1:9/b"}})
    due = pipeline.due_schedules(HORIZON, 10)
    [job, _] = lists.of(pipeline, due, 0.0)[schedule]
    assert job.callback_url == "http://127.0.0.1:9/b"
    log.ok(messages.PROJECT_DELETE, {"id": 1, "cascade": True})
    assert planned_ids(lists, pipeline) == {}  # its schedule went with its last job
    lists.of(pipeline, [], IDLE_SECONDS + 1)  # and its kept list goes once unused an hour
    assert lists.stats["jobs"] == 0


def test_a_list_unused_for_an_hour_is_dropped(log: Log, pipeline: PipelineReader):
    jobs_of(log, 1, 2)
    lists = JobLists(max_jobs=100)
    planned_ids(lists, pipeline, now=0.0)
    assert lists.stats["jobs"] == 2
    lists.of(pipeline, [], IDLE_SECONDS + 1)
    assert lists.stats["jobs"] == 0
    assert planned_ids(lists, pipeline, now=IDLE_SECONDS + 2) and lists.stats["reads"] == 2


def test_the_lists_keep_no_more_jobs_than_their_share(log: Log, pipeline: PipelineReader):
    jobs_of(log, 1, 3)  # @every 1h
    jobs_of(log, 1, 2, spec="@every 2h")
    lists = JobLists(max_jobs=4)
    assert sum(len(v) for v in planned_ids(lists, pipeline).values()) == 5
    assert lists.stats["jobs"] == 3  # the first schedule's; the second did not fit
    planned_ids(lists, pipeline)
    assert (lists.stats["hits"], lists.stats["reads"]) == (1, 3)
    assert max_jobs_for(2048) == 2048 * 2**20 // 4 // BYTES_PER_JOB
