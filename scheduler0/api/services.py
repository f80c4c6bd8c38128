"""What the API process needs from the rest of the node, as one interface.

`create_app(settings, services)` depends only on this protocol. Two implementations:
- `scheduler0.api.process.CoordinatorClient`: the real API process; writes travel over ZeroMQ to
  the local coordinator.
- `scheduler0.testing.LocalServices`: a coordinator in the same process (tests, tools).
"""

from __future__ import annotations

from typing import Any, Protocol

from scheduler0.config import Settings


class NodeServices(Protocol):
    settings: Settings

    def submit(self, command: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Replicate `command` and return its apply result ({"ok": ..., ...}).

        Returns only once the command is committed and applied on this node. Raises
        UnavailableError when it cannot be committed in time (no leader, coordinator down);
        the command may still apply later, which its request_id makes harmless on retry.
        """

    def reader(self) -> Any:
        """A read-only store view (scheduler0.store.reads.Reader) for the calling thread."""

    def status(self) -> dict[str, Any]:
        """Health of this node: node_id, is_leader, leader_id, leader_address, peers
        [{node_id, address, connected}], raft {term, commit_index, last_applied, log_len},
        memory_pressure. Raises UnavailableError when the coordinator does not answer."""
