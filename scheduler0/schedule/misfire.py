"""What to do with the ticks that fell while nobody could fire them.

A tick t is a MISFIRE when `now - t > threshold`. Ticks within the threshold (and ticks not yet
due, should a caller include them) always fire: a failover, a restart or a stall delivers
them late, never drops them. The policy decides only about misfires:

    policy     fires                                       records as missed
    run_once   the latest misfire                          the other misfires
    run_all    the newest `run_all_cap` misfires           the older misfires
    skip       none                                        every misfire
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass

from scheduler0.errors import ScheduleError
from scheduler0.vocabulary import MISFIRE_POLICIES


@dataclass(frozen=True)
class MisfireDecision:
    fire: list[int]  # increasing
    missed: list[int]  # increasing


def _run_once(late: list[int], cap: int) -> tuple[list[int], list[int]]:
    return late[-1:], late[:-1]


def _run_all(late: list[int], cap: int) -> tuple[list[int], list[int]]:
    split = max(len(late) - cap, 0)
    return late[split:], late[:split]


def _skip(late: list[int], cap: int) -> tuple[list[int], list[int]]:
    return [], late


# policy -> (misfires, cap) -> (misfires to fire, misfires to record as missed)
_POLICY: dict[str, Callable[[list[int], int], tuple[list[int], list[int]]]] = {
    "run_once": _run_once,
    "run_all": _run_all,
    "skip": _skip,
}


def decide_misfires(
    due: list[int], now: int, policy: str, threshold: int = 60, run_all_cap: int = 100
) -> MisfireDecision:
    """Split one job's unfired ticks (increasing) into those to fire and those missed.

    Raises ScheduleError naming `misfire_policy`, `misfire_threshold` or `run_all_cap`.
    """
    decide = _POLICY.get(policy)
    if decide is None:
        raise ScheduleError(f'misfire_policy: "{policy}" is not one of {", ".join(MISFIRE_POLICIES)}')
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        raise ScheduleError(f"misfire_threshold: {threshold!r} must be a whole number of seconds >= 0")
    if isinstance(run_all_cap, bool) or not isinstance(run_all_cap, int) or run_all_cap < 1:
        raise ScheduleError(f"run_all_cap: {run_all_cap!r} must be a whole number >= 1")
    ticks = sorted(set(due))  # the contract says increasing; be safe, it is cheap
    cut = now - threshold  # t < cut  <=>  now - t > threshold
    split = bisect_left(ticks, cut)
    fire_late, missed = decide(ticks[:split], run_all_cap)
    return MisfireDecision(fire=fire_late + ticks[split:], missed=missed)
