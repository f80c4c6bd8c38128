"""What a node holds: copies dropped at the door, revoked batches forgotten, settled batches
reported until their results are committed, late batches listed however late, and only what a
lost executor took with it forgotten."""

from __future__ import annotations

from scheduler0.coordinator.holdings import (
    EXECUTOR_SILENT,
    SETTLING_KEPT,
    VOUCH_WAIT,
    Holdings,
)


def test_a_copy_of_a_batch_held_or_settled_here_is_refused():
    holdings = Holdings()
    assert holdings.take("b1", (1, 1), fire_at=10, deadline=60)
    assert not holdings.take("b1", (1, 2), fire_at=10, deadline=60)
    holdings.settled("b1", now=0.0)
    assert not holdings.take("b1", (1, 2), fire_at=10, deadline=60)
    assert holdings.duplicates_dropped == 2


def test_revoking_forgets_batches_under_leases_the_node_lost_only():
    holdings = Holdings()
    holdings.take("old", (1, 1), 0, 60)
    holdings.take("kept", (1, 2), 0, 60)
    holdings.take("newer", (1, 4), 0, 60)
    holdings.take("unstamped", None, 0, 60)
    assert holdings.revoke(keep=[(1, 2), (1, 3)], current=(1, 3)) == ["old"]
    held, _ = holdings.report(now=0.0, now_wall=0.0)
    assert sorted(held) == ["kept", "newer", "unstamped"]
    assert holdings.revoked == 1


def test_settled_batches_are_reported_while_results_wait_then_for_a_while():
    holdings = Holdings()
    holdings.take("b", None, 0, 60)
    holdings.settled("b", now=100.0)
    assert holdings.report(100.0, 0.0) == ([], ["b"])
    holdings.results_pending = True
    assert holdings.report(100.0 + SETTLING_KEPT + 1, 0.0) == ([], ["b"])
    holdings.results_pending = False
    assert holdings.report(100.0 + SETTLING_KEPT + 1, 0.0) == ([], [])


def held(holdings: Holdings, now: float, drained: bool = True) -> list[str]:
    """What a heartbeat at `now` lists held, the results thread having read every executor
    report sent until then (or, with `drained=False`, still reading an older backlog)."""
    if drained:
        holdings.drained(now)
    return sorted(holdings.report(now, now_wall=10_000.0)[0])


def test_a_late_batch_stays_listed_while_the_executors_live_whether_they_report_it_or_not():
    holdings = Holdings()
    for batch_id in ("pulled", "queued"):
        holdings.take(batch_id, None, fire_at=0, deadline=50)  # long past its deadline
        holdings.relayed(batch_id, now=1.0)
    for now in range(2, 600, 1):  # ten minutes of load reports from two live executors
        holdings.vouch(0, pid=100, batch_ids=["pulled"], now=float(now))
        holdings.vouch(1, pid=101, batch_ids=[], now=float(now))  # "queued" waits in its pipe
        assert held(holdings, float(now)) == ["pulled", "queued"]
    assert holdings.orphaned == 0


def test_a_restarted_executor_orphans_what_no_live_executor_reports_holding():
    holdings = Holdings()
    holdings.vouch(0, pid=100, batch_ids=[], now=0.0)
    holdings.vouch(1, pid=101, batch_ids=[], now=0.0)
    for batch_id in ("with-dead", "with-live"):
        holdings.take(batch_id, None, fire_at=0, deadline=50)
        holdings.relayed(batch_id, now=1.0)
    holdings.take("waiting-in-intake", None, fire_at=0, deadline=50)  # never relayed
    holdings.vouch(0, pid=200, batch_ids=[], now=5.0)  # executor 0 came back: a new process
    holdings.vouch(1, pid=101, batch_ids=["with-live"], now=5.5)
    assert held(holdings, 5.0 + VOUCH_WAIT - 0.1) == ["waiting-in-intake", "with-dead",
                                                      "with-live"]  # reports still due
    assert held(holdings, 5.0 + VOUCH_WAIT) == ["waiting-in-intake", "with-live"]
    assert holdings.orphaned == 1
    holdings.take("after", None, fire_at=0, deadline=50)  # relayed after the loss: kept
    holdings.relayed("after", now=10.0)
    assert held(holdings, 60.0 - EXECUTOR_SILENT) == ["after", "waiting-in-intake", "with-live"]


def test_an_executor_gone_silent_counts_as_lost():
    holdings = Holdings()
    holdings.vouch(0, pid=100, batch_ids=["b"], now=0.0)
    holdings.take("b", None, fire_at=0, deadline=50)
    holdings.relayed("b", now=0.5)
    holdings.vouch(0, pid=100, batch_ids=["b"], now=1.0)
    assert held(holdings, 1.0 + EXECUTOR_SILENT) == ["b"]
    assert held(holdings, 1.1 + EXECUTOR_SILENT) == ["b"]  # lost now: the others report first
    assert held(holdings, 1.1 + EXECUTOR_SILENT + VOUCH_WAIT) == []


def test_executors_are_not_lost_while_the_results_thread_is_behind_on_their_reports():
    holdings = Holdings()
    holdings.vouch(0, pid=100, batch_ids=[], now=0.0)
    holdings.take("b", None, fire_at=0, deadline=50)
    holdings.relayed("b", now=0.5)
    holdings.drained(1.0)
    # Committing a backlog for a minute: no report read, so no silence can be judged.
    for now in range(2, 60):
        assert held(holdings, float(now), drained=False) == ["b"]
    holdings.vouch(0, pid=100, batch_ids=[], now=60.0)  # the backlog read: still alive
    assert held(holdings, 61.0) == ["b"] and holdings.orphaned == 0


def test_a_rate_limited_batch_counts_in_flight_until_it_stops_being_held_however():
    holdings = Holdings()
    for batch_id in ("settles", "revoked", "orphaned"):
        holdings.take(batch_id, (1, 1) if batch_id == "revoked" else None, 0, 60)
        assert holdings.ration(batch_id, project_id=7, size=2)
    assert holdings.in_flight(7) == 6 and holdings.in_flight(8) == 0
    holdings.settled("settles", now=1.0)
    assert holdings.in_flight(7) == 4
    holdings.revoke(keep=[], current=(1, 2))
    assert holdings.in_flight(7) == 2
    # Relayed before its executor was lost, and held by no live executor since.
    holdings.relayed("orphaned", now=1.0)
    holdings.vouch(executor=0, pid=1, batch_ids=[], now=1.0)
    holdings.vouch(executor=0, pid=2, batch_ids=[], now=2.0)
    assert held(holdings, 2.0 + VOUCH_WAIT) == []
    assert holdings.in_flight(7) == 0


def test_a_batch_revoked_while_it_waited_at_its_limit_is_not_counted():
    holdings = Holdings()
    holdings.take("b", (1, 1), 0, 60)
    holdings.revoke(keep=[], current=(1, 2))
    assert not holdings.ration("b", project_id=7, size=1)
    assert holdings.in_flight(7) == 0


def test_a_batch_waiting_at_its_limit_stays_listed_however_late_and_executors_come_and_go():
    """Not relayed yet: it is in this process, so no executor's loss takes it."""
    holdings = Holdings()
    holdings.take("gated", None, fire_at=0, deadline=50)
    for now in range(1, 600):
        holdings.vouch(executor=0, pid=now // 100, batch_ids=[], now=float(now))
        assert held(holdings, float(now)) == ["gated"]


def test_a_silent_executor_counts_as_lost_only_once_it_is_fenced():
    # Silent may be only starved: killed first, it cannot deliver what is re-sent.
    fenced: list[int] = []
    can_fence = [False]

    def fence(pid: int) -> bool:
        fenced.append(pid)
        return can_fence[0]

    holdings = Holdings(fence=fence)
    holdings.take("b", None, fire_at=0, deadline=50)
    holdings.relayed("b", now=0.5)
    holdings.vouch(0, pid=100, batch_ids=["b"], now=1.0)
    late = 1.1 + EXECUTOR_SILENT
    assert held(holdings, late + VOUCH_WAIT) == ["b"]  # not fenced: still its holder
    assert fenced == [100]
    can_fence[0] = True
    assert held(holdings, late + VOUCH_WAIT + 0.1) == ["b"]  # fenced now: the others report
    assert held(holdings, late + 2 * VOUCH_WAIT + 0.2) == []
    assert fenced == [100, 100]
