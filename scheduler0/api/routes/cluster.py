"""/cluster: membership as this node sees it, and adding or removing a node (node auth only).

Membership changes go through pysyncobj's dynamic membership (one change at a time); a new
node must be started with every current member in its Replicas before it is added.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request

from scheduler0.api.context import api, ok
from scheduler0.api.validation import expect_object, invalid, known_fields, parse_json
from scheduler0.config import split_host_port
from scheduler0.errors import ApiError, ConfigError

bp = Blueprint("cluster", __name__)


def _require_node_auth() -> None:
    if g.get("principal") != "node":
        raise ApiError("membership changes need the node secrets (HTTP Basic auth with "
                       "AuthUsername/AuthPassword), not an API credential",
                       status=403, code="forbidden")


def replication_lag(raft: dict[str, Any]) -> int | None:
    """Entries the leader committed that this node has not applied yet (None: no leader
    heard from yet), from the Raft status this node reports anyway."""
    leader_commit = raft.get("leader_commit_index")
    return None if leader_commit is None else max(0, leader_commit - (raft.get("last_applied") or 0))


def cluster_view(status: dict[str, Any]) -> dict[str, Any]:
    raft = status.get("raft") or {}
    return {"node_id": status.get("node_id"), "leader_id": status.get("leader_id"),
            "is_leader": bool(status.get("is_leader")), "term": raft.get("term"),
            "lag": replication_lag(raft), "peers": status.get("peers") or [],
            "nodes": _nodes(status), "lease": status.get("lease")}


def _nodes(status: dict[str, Any]) -> dict[str, Any]:
    """Per node: its load report and, on the leader, its lease: age, liveness, clock offset."""
    nodes = {n: dict(v) for n, v in (status.get("nodes") or {}).items()}
    for node, lease in (status.get("leases") or {}).items():
        nodes.setdefault(node, {})["lease"] = lease
    return nodes


@bp.get("/cluster")
def cluster_status() -> Response:
    return ok(cluster_view(api().services.status()))


def _raft_address(value: Any) -> str:
    if not isinstance(value, str):
        raise invalid("raft_address", "expected host:port as a string, e.g. 127.0.0.1:10094")
    try:
        split_host_port(value, "raft_address")
    except ConfigError:
        raise invalid("raft_address", f"{value!r} is not host:port, e.g. 127.0.0.1:10094") from None
    return value


@bp.post("/cluster/members")
def add_member() -> Response:
    _require_node_auth()
    body = known_fields(expect_object(parse_json(request.get_data())), ("raft_address",))
    address = _raft_address(body.get("raft_address"))
    api().services.membership("add", address)
    return ok({"added": address}, 201)


@bp.delete("/cluster/members/<raft_address>")
def remove_member(raft_address: str) -> Response:
    _require_node_auth()
    address = _raft_address(raft_address)
    api().services.membership("remove", address)
    return ok({"removed": address})
