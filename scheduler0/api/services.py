"""What the API process needs from the rest of the node, as one interface.

`create_app(settings, services)` depends only on this protocol. Two implementations:
- `scheduler0.api.process.CoordinatorClient`: the real API process; writes travel over ZeroMQ to
  the local coordinator.
- `scheduler0.testing.LocalServices`: a coordinator in the same process (tests, tools).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from scheduler0.config import Settings

if TYPE_CHECKING:
    from scheduler0.store.reads import Reader


class NodeServices(Protocol):
    settings: Settings

    def submit(self, command: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Replicate `command` and return its apply result ({"ok": ..., ...}).

        Returns only once the command is committed and applied on this node. Raises
        UnavailableError when it cannot be committed in time (no leader, coordinator down);
        the command may still apply later, which its request_id makes harmless on retry.
        """
        ...

    def reader(self) -> Reader:
        """A read-only store view for the calling thread."""
        ...

    def status(self) -> dict[str, Any]:
        """Health of this node: node_id, is_leader, leader_id, leader_address, peers
        [{node_id, address, connected}], raft {term, commit_index, last_applied, log_len},
        memory_pressure. Raises UnavailableError when the coordinator does not answer."""
        ...

    def membership(self, action: str, raft_address: str) -> dict[str, Any]:
        """Add (`action` "add") or remove ("remove") the node at `raft_address` (host:port)
        through Raft's membership change, one change at a time; returns {"ok": True, ...}.
        Raises UnavailableError when it does not commit in time, RaftError (ApiError over
        the API process's socket) when Raft refuses it."""
        ...
