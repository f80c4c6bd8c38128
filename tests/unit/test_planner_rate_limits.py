"""Rate-limited projects on the leader's planner (fakes, fake time) and at a node's intake:
their executions go in batches of their own, no bigger than the limit, each carrying it, all
to one stable node; a gated batch stays held there, so the leader waits for it however late.
"""

from __future__ import annotations

import threading

from scheduler0 import messages
from scheduler0.config import Settings
from scheduler0.coordinator.intake import IntakeRelay
from scheduler0.coordinator.placement import NodeReports, rendezvous_rank
from scheduler0.schedule import planning

LIMIT = messages.RateLimit(concurrency=2)
LIMITED, FREE = 1, 2  # project ids


def batches_of(rig, since: int = 0) -> list[tuple[int, dict]]:
    return [(n, m) for n, m in rig.pusher.sent[since:] if m.get("type") == "batch"]


def projects_in(message: dict) -> set[int]:
    return {e["project_id"] for e in message["executions"]}


def expected_node(project_id: int, nodes: tuple[int, ...] = (2, 3)) -> int:
    return max(nodes, key=lambda n: (rendezvous_rank(project_id, n), n))


def test_without_limits_a_round_reads_them_once_and_batches_as_before(rig):
    rig.lead()
    reads = rig.reader.rate_limit_reads
    now = int(rig.clock.now())
    rig.schedule(1, now + 1, *(rig.job(j, project=LIMITED if j < 4 else FREE)
                               for j in range(1, 7)))
    rig.tick()
    [(_node, message)] = batches_of(rig)  # one batch of both projects, as before limits
    assert projects_in(message) == {LIMITED, FREE} and message["rate_limit"] is None
    assert rig.reader.rate_limit_reads == reads + 1


def test_a_limited_projects_ticks_go_in_batches_of_their_own_within_the_limit_to_one_node(rig):
    rig.reader.limits = {LIMITED: LIMIT}
    rig.lead()
    now = int(rig.clock.now())
    rig.schedule(1, now + 1, *(rig.job(j, project=LIMITED if j <= 5 else FREE)
                               for j in range(1, 9)))
    rig.tick()
    limited = [(n, m) for n, m in batches_of(rig) if LIMITED in projects_in(m)]
    free = [(n, m) for n, m in batches_of(rig) if LIMITED not in projects_in(m)]
    assert [len(m["executions"]) for _, m in limited] == [2, 2, 1]
    assert all(projects_in(m) == {LIMITED} for _, m in limited)
    assert {n for n, _ in limited} == {expected_node(LIMITED)}
    assert all(m["rate_limit"] == {"concurrency": 2} for _, m in limited)
    # Each is allowed the time the ones before it take through the limit (2 at a time, each
    # up to the 1 s attempt timeout), so a queue at the limit is not checked on as overdue.
    deadlines = [m["deadline"] for _, m in limited]
    assert deadlines == [deadlines[0], deadlines[0] + 1, deadlines[0] + 2]
    [(_node, other)] = free
    assert projects_in(other) == {FREE} and other["rate_limit"] is None
    # The PLAN committed the same batches the nodes got.
    planned = [b["batch_id"] for p in rig.plans() for b in p.get("batches", [])]
    assert sorted(planned) == sorted(m["batch_id"] for _, m in batches_of(rig))


def test_every_round_sends_a_limited_project_to_the_same_node_until_it_lapses(rig):
    rig.reader.limits = {LIMITED: messages.RateLimit(per_second=5)}
    rig.lead()
    now = int(rig.clock.now())
    rig.schedule(1, now + 1, rig.job(1, spec="@every 1s", project=LIMITED),
                 rig.job(2, spec="@every 1s", project=LIMITED), spec="@every 1s", anchor=now)
    rig.deliver = True
    rig.run(5)
    chosen = expected_node(LIMITED)
    sent = batches_of(rig)
    assert len(sent) >= 8 and {n for n, _ in sent} == {chosen}
    assert all(len(m["executions"]) == 1 for _, m in sent)  # the burst of 5/s is one
    # Its node goes silent: once its lease lapsed, what it held and everything after goes to
    # the other node alone.
    rig.deliver = False
    rig.silent.add(chosen)
    since = len(rig.pusher.sent)
    rig.run_until(lambda: rig.planner.stats["redispatched_by"]["lease"] > 0)
    lapsed = len(rig.pusher.sent)
    other = ({2, 3} - {chosen}).pop()
    assert {n for n, _ in batches_of(rig, since) if n != chosen} == {other}
    rig.run(3)
    assert len(batches_of(rig, lapsed)) >= 4
    assert {n for n, _ in batches_of(rig, lapsed)} == {other}
    assert all(m["rate_limit"] == {"per_second": 5.0} for _, m in batches_of(rig, since))


def test_a_limited_batch_held_late_at_its_node_is_waited_for_not_resent(rig):
    rig.reader.limits = {LIMITED: LIMIT}
    rig.lead()
    fire_at = int(rig.clock.now()) + 2
    rig.schedule(7, fire_at, rig.job(1, project=LIMITED), rig.job(2, project=LIMITED))
    rig.tick()
    [(node, message)] = batches_of(rig)
    s = rig.settings
    deadline = planning.result_deadline(fire_at, s.job_execution_timeout,
                                        s.job_execution_retry_delay, s.job_execution_retry_max)
    rig.run_until(lambda: rig.clock.now() > deadline + 60)  # it waits at the limit all along
    assert rig.sent_to(message["batch_id"]) == [node]
    assert rig.planner.stats["overdue_held"] > 0
    rig.reader.settle(message["batch_id"])  # recorded late, once
    rig.run(5)
    assert message["batch_id"] not in rig.planner.in_flight


def test_a_run_now_of_a_limited_project_carries_the_limit_to_the_projects_node(rig):
    rig.reader.limits = {LIMITED: LIMIT}
    rig.lead()
    job = rig.job(1, project=LIMITED)
    batch_id = "manual-7"
    rig.reader.planned(batch_id, int(rig.clock.now()), [job])
    rig.tick()
    [(node, message)] = [(n, m) for n, m in batches_of(rig) if m["batch_id"] == batch_id]
    assert node == expected_node(LIMITED) and message["rate_limit"] == {"concurrency": 2}


# -- at the node's intake ------------------------------------------------------------------


def limited_batch(batch_id: str, size: int = 1, fire_at: int = 0) -> messages.Batch:
    jobs = [planning.PlannedJob(n, LIMITED, f"http://127.0.0.1:9/{n}", "d", None, None,
                                "run_once", "@every 1h", "UTC") for n in range(size)]
    return messages.Batch.of(batch_id, fire_at, jobs, {LIMITED: "s"}, deadline=fire_at + 60,
                             rate_limit=LIMIT)


def test_the_intake_holds_a_gated_batch_listed_and_lets_it_go_as_others_settle():
    relay = IntakeRelay(Settings(node_id=1), threading.Event(), None, NodeReports())
    for batch_id in ("a", "b", "c"):
        assert relay._admit(limited_batch(batch_id))
        relay.hold_at_limit(limited_batch(batch_id))
    assert [b.batch_id for b in relay.let_through()] == ["a", "b"]
    assert relay.let_through() == []  # two in flight: the third waits, held all the while
    held, _ = relay.holdings.report(0.0, 0.0)
    assert sorted(held) == ["a", "b", "c"]
    assert relay.rate_limit_stats() == {str(LIMITED): {"waiting": 1, "wait_seconds": 0.0}}
    relay.holdings.settled("a", now=0.0)
    assert [b.batch_id for b in relay.let_through()] == ["c"]
    assert relay.holdings.in_flight(LIMITED) == 2
    assert relay.rate_limit_stats()[str(LIMITED)]["waiting"] == 0
