"""Misfire policies and the threshold."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler0.schedule import MISFIRE_POLICIES, MisfireDecision, decide_misfires

NOW = 10_000
# one job firing every minute, down for 10 minutes; the last tick is 30 s late
DUE = [NOW - 600 + 60 * k for k in range(10)] + [NOW - 30]  # 9400, 9460, ..., 9940, 9970


def test_there_are_exactly_three_policies() -> None:
    assert MISFIRE_POLICIES == ("run_once", "run_all", "skip")


def test_run_once_fires_the_latest_misfire_and_every_tick_within_the_threshold() -> None:
    decision = decide_misfires(DUE, NOW, "run_once")
    # 9940 is 60 s old: not later than the 60 s threshold, so it is not a misfire
    assert decision == MisfireDecision(
        fire=[9880, 9940, 9970], missed=[9400, 9460, 9520, 9580, 9640, 9700, 9760, 9820]
    )


def test_run_all_fires_every_misfire() -> None:
    decision = decide_misfires(DUE, NOW, "run_all")
    assert decision == MisfireDecision(fire=DUE, missed=[])


def test_run_all_keeps_the_newest_up_to_the_cap() -> None:
    decision = decide_misfires(DUE, NOW, "run_all", run_all_cap=3)
    assert decision == MisfireDecision(
        fire=[9760, 9820, 9880, 9940, 9970], missed=[9400, 9460, 9520, 9580, 9640, 9700]
    )


def test_skip_records_every_misfire_as_missed() -> None:
    decision = decide_misfires(DUE, NOW, "skip")
    assert decision == MisfireDecision(
        fire=[9940, 9970], missed=[9400, 9460, 9520, 9580, 9640, 9700, 9760, 9820, 9880]
    )


@pytest.mark.parametrize("policy", MISFIRE_POLICIES)
def test_late_ticks_within_the_threshold_always_fire(policy: str) -> None:
    late = [NOW - 59, NOW - 30, NOW]
    assert decide_misfires(late, NOW, policy) == MisfireDecision(fire=late, missed=[])


@pytest.mark.parametrize(
    ("threshold", "fire", "missed"),
    [
        (0, [9970], [9880, 9940]),  # run_once with threshold 0: every past tick is a misfire
        (29, [9970], [9880, 9940]),
        (30, [9940, 9970], [9880]),
        (120, [9880, 9940, 9970], []),
    ],
)
def test_threshold_boundary(threshold: int, fire: list[int], missed: list[int]) -> None:
    decision = decide_misfires([9880, 9940, 9970], NOW, "run_once", threshold=threshold)
    assert (decision.fire, decision.missed) == (fire, missed)


def test_empty_due() -> None:
    assert decide_misfires([], NOW, "run_once") == MisfireDecision(fire=[], missed=[])


@settings(max_examples=200, deadline=None)
@given(
    due=st.lists(st.integers(0, 20_000), max_size=50),
    policy=st.sampled_from(MISFIRE_POLICIES),
    threshold=st.integers(0, 3600),
    cap=st.integers(1, 20),
)
def test_every_tick_is_fired_or_missed_exactly_once(
    due: list[int], policy: str, threshold: int, cap: int
) -> None:
    ticks = sorted(set(due))
    decision = decide_misfires(ticks, NOW, policy, threshold, cap)
    assert sorted(decision.fire + decision.missed) == ticks
    assert decision.fire == sorted(decision.fire) and decision.missed == sorted(decision.missed)
    on_time = [t for t in ticks if NOW - t <= threshold]
    misfired = [t for t in ticks if NOW - t > threshold]
    assert set(on_time) <= set(decision.fire)
    expected_late = {"run_once": min(len(misfired), 1), "run_all": min(len(misfired), cap), "skip": 0}[policy]
    assert len(decision.fire) - len(on_time) == expected_late
    assert all(
        m < f for m in decision.missed for f in decision.fire
    )  # the newest misfires are the ones fired
