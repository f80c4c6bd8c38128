"""/healthcheck: this node's view of the cluster, without auth."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from scheduler0.api.auth import public
from scheduler0.api.context import api, ok
from scheduler0.errors import RaftError, TransportError, UnavailableError

bp = Blueprint("health", __name__)


@bp.get("/healthcheck")
@public
def healthcheck() -> Response:
    try:
        status = api().services.status()
    except (RaftError, TransportError) as exc:
        raise UnavailableError(f"the coordinator did not answer ({exc}); retry shortly") from exc
    return ok(shape(status))


def shape(status: dict[str, Any]) -> dict[str, Any]:
    """The health object: the documented keys first, anything extra the node reports after."""
    raft = status.get("raft") or {}
    health = {
        "node_id": status.get("node_id"),
        "is_leader": bool(status.get("is_leader")),
        "leader_id": status.get("leader_id"),
        "leader_address": status.get("leader_address"),
        "peers": list(status.get("peers") or []),
        "raft": {"term": raft.get("term"), "commit_index": raft.get("commit_index"),
                 "last_applied": raft.get("last_applied"), "log_len": raft.get("log_len"),
                 **raft},
        "memory_pressure": bool(status.get("memory_pressure")),
    }
    for key, value in status.items():
        health.setdefault(key, value)
    return health
