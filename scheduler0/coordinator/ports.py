"""What the leader's threads (planner, lease desk, pruner, placement, the leadership proof) use
of their collaborators, as Protocols: the Raft node, the planner's store reads and the
dispatcher's sockets. The real ones (RaftNode, PipelineReader, Dispatcher) satisfy them, and so
do the in-memory fakes of scheduler0.testing, on which tests drive these threads' rules
(reconcile, re-dispatch, leadership loss, lease lapse) without processes or waits. The clock
they read is scheduler0.clock.Clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from scheduler0.messages import Message, PreviousSecret, RateLimit
from scheduler0.schedule.planning import DueSchedule, PlannedJob


class PeerLinks(Protocol):
    """Which Raft members this node is connected to (placement sends work only to those)."""

    def node_connected(self, raft_address: str) -> bool: ...


class Raft(PeerLinks, Protocol):
    """The Raft node (scheduler0.coordinator.raft.RaftNode) as the leader's threads use it."""

    @property
    def is_leader(self) -> bool: ...

    @property
    def term(self) -> int: ...

    def submit(self, command: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Replicate `command` (forwarded to the leader if need be); its apply result."""
        ...

    def submit_as_leader(self, command: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Commit `command` only as the leader; raises UnavailableError otherwise."""
        ...


class PlanningReader(Protocol):
    """The planner's reads of the store (scheduler0.store.pipeline.PipelineReader)."""

    def due_schedules(self, horizon: int, limit: int) -> list[DueSchedule]: ...

    def jobs_of_schedules(self, schedule_ids: Sequence[int]) -> dict[int, list[PlannedJob]]: ...

    def project_secrets(self, project_ids: Sequence[int]) -> dict[int, str]: ...

    def previous_secrets(self, project_ids: Sequence[int], now: int
                         ) -> dict[int, PreviousSecret]: ...

    def unfinished_of_batch(self, batch_id: str) -> list[PlannedJob]: ...

    def unfinished_batches(self) -> dict[str, list[PlannedJob]]: ...

    def batch_fire_at(self, batch_id: str) -> int: ...

    def revoked_leases(self) -> dict[int, tuple[int, int]]: ...

    def planning_paused(self) -> bool: ...

    def requested_batches(self) -> list[str]: ...

    def rate_limits(self) -> dict[int, RateLimit]: ...


class Pusher(Protocol):
    """Sending to the nodes' intakes (scheduler0.coordinator.dispatcher.Dispatcher)."""

    def send(self, node_id: int, message: Message) -> bool:
        """Queue `message` for node `node_id` without blocking; False when its queue is full."""
        ...

    def close(self) -> None: ...


if TYPE_CHECKING:
    from scheduler0.clock import Clock, SystemClock
    from scheduler0.coordinator.dispatcher import Dispatcher
    from scheduler0.coordinator.raft import RaftNode
    from scheduler0.store.pipeline import PipelineReader

    def _the_real_ones_fit(raft: RaftNode, reader: PipelineReader, pusher: Dispatcher,
                           clock: SystemClock) -> tuple[Raft, PlanningReader, Pusher, Clock]:
        """Never called: mypy checks here that the real collaborators satisfy the Protocols."""
        return raft, reader, pusher, clock
