"""The facts every room shares, written once: execution states, misfire policies, execution ids.

Pure: no I/O, no clock. The store, the API, the coordinator and the executors import these
rather than spelling the values again.
"""

from __future__ import annotations

from enum import StrEnum


class ExecutionState(StrEnum):
    """The life of one execution: `scheduled` when planned, then exactly one final state."""

    SCHEDULED = "scheduled"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    MISSED = "missed"


EXECUTION_STATES = tuple(state.value for state in ExecutionState)
FINAL_STATES = (ExecutionState.SUCCEEDED.value, ExecutionState.FAILED.value,
                ExecutionState.MISSED.value)
DELIVERY_OUTCOMES = (ExecutionState.SUCCEEDED.value, ExecutionState.FAILED.value)


class MisfirePolicy(StrEnum):
    """What a job does with the ticks it missed while no node could plan them."""

    RUN_ONCE = "run_once"
    RUN_ALL = "run_all"
    SKIP = "skip"


MISFIRE_POLICIES = tuple(policy.value for policy in MisfirePolicy)


def execution_id(job_id: int, scheduled_at: int) -> str:
    """One tick of one job, the same on every node: `<job_id>-<scheduled_at epoch seconds>`."""
    return f"{job_id}-{scheduled_at}"
