"""/healthcheck: this node's view of the cluster.

Anyone gets the short answer a load balancer or a peer needs (who leads, is it healthy, is it
under memory pressure, is planning paused in the cluster). A caller with credentials (a
credential for every project or the node's Basic auth) gets the detail as well: peers, Raft
indexes, planner, executor and intake counters, which tell how busy the node is and so stay
behind auth like /metrics, and who paused the cluster, when and why.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g

from scheduler0.api import serialize
from scheduler0.api.access import sees_every_project
from scheduler0.api.auth import optional_auth
from scheduler0.api.context import api, ok, reader
from scheduler0.errors import RaftError, StoreError, TransportError, UnavailableError

bp = Blueprint("health", __name__)


@bp.get("/healthcheck")
@optional_auth
def healthcheck() -> Response:
    try:
        status = api().services.status()
    except (RaftError, TransportError) as exc:
        raise UnavailableError(f"the coordinator did not answer ({exc}); retry shortly") from exc
    status = {**status, "pause": _pause()}
    # The detail is the whole node's: not for a credential limited to some projects.
    return ok(detail(status) if g.get("principal") and sees_every_project() else public(status))


def _pause() -> dict[str, Any] | None:
    """The cluster pause as this node's copy of the state says (None: the file cannot be
    read now)."""
    try:
        return serialize.pause(reader().cluster_pause())
    except StoreError:
        return None


def public(status: dict[str, Any]) -> dict[str, Any]:
    """The answer for anyone (openapi.py `Health`)."""
    leader_id = status.get("leader_id")
    return {
        "node_id": status.get("node_id"),
        "state": status.get("state"),
        "is_leader": bool(status.get("is_leader")),
        "leader_id": leader_id,
        "leader_address": status.get("leader_address"),
        # A leader is known and a majority reachable, so a write sent here can commit, and
        # every coordinator thread runs (on a leader, the planner plans).
        "healthy": (bool(status.get("has_quorum")) and leader_id is not None
                    and not status.get("unhealthy")),
        "memory_pressure": bool(status.get("memory_pressure")),
        # POST /pause: the leader plans no tick (healthy stays true: it was asked for).
        "planning_paused": None if status.get("pause") is None else status["pause"]["paused"],
        # The term tells which of two differing leader views is the newer one.
        "raft": {"term": (status.get("raft") or {}).get("term")},
    }


def detail(status: dict[str, Any]) -> dict[str, Any]:
    """The answer for an authenticated caller (openapi.py `HealthDetail`): the public keys,
    then the documented detail, then anything extra the node reports."""
    raft = status.get("raft") or {}
    health = public(status)
    health["peers"] = list(status.get("peers") or [])
    health["raft"] = {"term": raft.get("term"), "commit_index": raft.get("commit_index"),
                      "last_applied": raft.get("last_applied"), "log_len": raft.get("log_len"),
                      **raft}
    for key, value in status.items():
        health.setdefault(key, value)
    return health
