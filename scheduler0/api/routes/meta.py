"""/openapi.json and /docs (no auth), /metrics (auth: it tells how busy the node is)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, jsonify

from scheduler0.api import docs, openapi
from scheduler0.api.auth import public
from scheduler0.api.context import api, reader
from scheduler0.api.metrics import CONTENT_TYPE, histogram_lines
from scheduler0.api.routes.cluster import replication_lag
from scheduler0.errors import ApiError, RaftError, StoreError, TransportError
from scheduler0.store import counters
from scheduler0.vocabulary import FINAL_STATES

log = logging.getLogger(__name__)

bp = Blueprint("meta", __name__)
Sample = tuple[str, str, str, dict[str, Any], float]


@bp.get("/openapi.json")
@public
def openapi_document() -> Response:
    return jsonify(openapi.DOCUMENT)


@functools.cache
def _docs_page() -> str:
    return docs.render(openapi.DOCUMENT)


@bp.get("/docs")
@public
def docs_page() -> Response:
    return Response(_docs_page(), mimetype="text/html")


@bp.get("/metrics")
def metrics() -> Response:
    ctx = api()
    status = _status(ctx.services)
    samples = list(_store_samples()) + list(_raft_samples(status))
    samples += list(_pipeline_samples(status))
    lateness = ((status or {}).get("executors") or {}).get("metrics", {}).get("lateness")
    extra = histogram_lines("scheduler0_callback_lateness_seconds",
                            "First send minus scheduled time, per execution (this node's "
                            "executors).", lateness) if lateness else []
    return Response(ctx.metrics.render(samples, extra), content_type=CONTENT_TYPE)


def _status(services: Any) -> dict[str, Any] | None:
    try:
        return dict(services.status())
    except (ApiError, RaftError, TransportError) as exc:
        log.warning("metrics: coordinator unavailable: %s", exc)
        return None


PIPELINE_COUNTERS = (
    ("delivered", "scheduler0_callbacks_delivered_total", "Executions delivered (2xx)."),
    ("failed", "scheduler0_callbacks_failed_total", "Executions failed after their retries."),
    ("refused", "scheduler0_callbacks_refused_total", "Executions refused by the SSRF guard."),
    ("retries", "scheduler0_callback_retries_total", "Callback attempts that were retries."),
    ("posts", "scheduler0_callback_posts_total", "HTTP POSTs sent (attempts included)."),
    ("chunks", "scheduler0_callback_chunks_total", "Chunks (request bodies) delivered or failed."),
)
PLANNER_GAUGES = (
    ("planned", "scheduler0_planner_planned_total", "counter", "Executions planned and dispatched."),
    ("batches", "scheduler0_planner_batches_total", "counter", "Batches dispatched."),
    ("missed", "scheduler0_planner_missed_total", "counter", "Ticks recorded as missed."),
    ("redispatched", "scheduler0_planner_redispatched_total", "counter",
     "Executions re-dispatched (overdue or after a leader change): possible duplicates."),
    ("in_flight", "scheduler0_planner_batches_in_flight", "gauge", "Batches awaiting results."),
    ("last_round_ms", "scheduler0_planner_last_round_milliseconds", "gauge",
     "Duration of the last planning round."),
)


def _pipeline_samples(status: dict[str, Any] | None) -> Iterator[Sample]:
    if not status:
        return
    executors = status.get("executors") or {}
    counters = executors.get("metrics") or {}
    for key, name, help_text in PIPELINE_COUNTERS:
        if isinstance(counters.get(key), (int, float)):
            yield name, "counter", help_text, {}, counters[key]
    yield ("scheduler0_executor_batches_held", "gauge",
           "Batches this node's executors hold or deliver now (queue depth).", {},
           int(executors.get("held") or 0))
    yield ("scheduler0_executors_alive", "gauge", "Executor processes reporting.", {},
           int(executors.get("executors") or 0))
    planner = status.get("planner") or {}
    for key, name, kind, help_text in PLANNER_GAUGES:
        if isinstance(planner.get(key), (int, float)):
            yield name, kind, help_text, {}, planner[key]
    batches, planned = planner.get("batches") or 0, planner.get("planned") or 0
    if batches:
        yield ("scheduler0_planner_batch_size_mean", "gauge", "Mean executions per batch.", {},
               planned / batches)
    yield from _lease_samples(status)


def _lease_samples(status: dict[str, Any]) -> Iterator[Sample]:
    """Re-dispatches by reason, lapses, duplicates dropped, and each node's lease age and
    clock offset as this node (the leader) sees them."""
    planner = status.get("planner") or {}
    for reason, count in sorted((planner.get("redispatched_by") or {}).items()):
        yield ("scheduler0_redispatched_total", "counter",
               "Executions re-dispatched, by reason (lease lapsed, result deadline, reconcile).",
               {"reason": reason}, count)
    if isinstance(planner.get("lease_lapses"), int):
        yield ("scheduler0_lease_lapses_total", "counter",
               "Node leases that lapsed on this leader (their batches were re-sent).", {},
               planner["lease_lapses"])
    intake = status.get("intake") or {}
    for key, name, help_text in (
            ("duplicates_dropped", "scheduler0_intake_duplicates_dropped_total",
             "Copies of a batch held or settled here, dropped at the intake."),
            ("revoked", "scheduler0_intake_revoked_total",
             "Batches dropped here because the leader gave them to another node.")):
        if isinstance(intake.get(key), int):
            yield name, "counter", help_text, {}, intake[key]
    yield from _rate_limit_samples(intake.get("rate_limited") or {})
    for node, lease in sorted((status.get("leases") or {}).items()):
        yield ("scheduler0_lease_age_seconds", "gauge",
               "Seconds since the leader last heard the node's heartbeat.", {"node": node},
               lease.get("lease_age") or 0)
        if isinstance(lease.get("clock_offset_ms"), (int, float)):
            yield ("scheduler0_clock_offset_seconds", "gauge",
                   "The node's wall clock minus the leader's, as the node measured it.",
                   {"node": node}, lease["clock_offset_ms"] / 1000)


def _rate_limit_samples(projects: dict[str, Any]) -> Iterator[Sample]:
    """Per rate-limited project whose batches this node took: what waits at its limit now,
    and how long its ticks waited in all."""
    for project_id, values in sorted(projects.items(), key=lambda item: int(item[0])):
        yield ("scheduler0_rate_limited_waiting", "gauge",
               "Executions of the project held back at its rate limit on this node now.",
               {"project_id": project_id}, values.get("waiting") or 0)
    for project_id, values in sorted(projects.items(), key=lambda item: int(item[0])):
        yield ("scheduler0_rate_limit_wait_seconds_total", "counter",
               "Seconds the project's ticks waited at its rate limit on this node, summed "
               "over executions.", {"project_id": project_id}, values.get("wait_seconds") or 0)


def _store_samples() -> Iterator[Sample]:
    try:
        store = reader()
        kept = store.counters()  # counters kept on apply: one small read, whatever the size
    except StoreError as exc:
        log.warning("metrics: store unavailable: %s", exc)
        return
    yield "scheduler0_jobs", "gauge", "Jobs in the store.", {}, kept[counters.JOBS]
    yield "scheduler0_projects", "gauge", "Projects in the store.", {}, kept[counters.PROJECTS]
    yield ("scheduler0_executions", "gauge", "Executions in the history by state (scheduled: "
           "planned, not settled yet).", {"state": "scheduled"}, kept[counters.PENDING])
    for state in FINAL_STATES:
        yield ("scheduler0_executions", "gauge", "", {"state": state},
               kept[counters.retained(state)])
    for state in FINAL_STATES:
        yield ("scheduler0_executions_recorded_total", "counter",
               "Executions recorded with a final state since the store began.",
               {"state": state}, kept[counters.recorded(state)])
    yield from _operation_samples(store)


def _operation_samples(store: Any) -> Iterator[Sample]:
    """The cluster pause and the bulk operations, from this node's copy of the state."""
    try:
        pause, kept = store.cluster_pause(), store.operation_counts()
    except StoreError as exc:
        log.warning("metrics: store unavailable: %s", exc)
        return
    yield ("scheduler0_planning_paused", "gauge",
           "1 while planning is paused in the cluster (POST /pause).", {}, int(pause["paused"]))
    if pause["paused"] and pause["paused_at_ms"] is not None:
        yield ("scheduler0_planning_paused_since_seconds", "gauge",
               "When planning was paused (epoch seconds).", {}, pause["paused_at_ms"] / 1000)
    for index, (state, count) in enumerate(sorted(kept.items())):
        yield ("scheduler0_bulk_operations", "gauge",
               "Bulk operations kept, by state." if index == 0 else "", {"state": state},
               count)


def _raft_samples(status: dict[str, Any] | None) -> Iterator[Sample]:
    if status is None:
        yield "scheduler0_coordinator_up", "gauge", "1 when the coordinator answered.", {}, 0
        return
    raft = status.get("raft") or {}
    yield "scheduler0_coordinator_up", "gauge", "1 when the coordinator answered.", {}, 1
    yield "scheduler0_is_leader", "gauge", "1 on the Raft leader.", {}, int(bool(
        status.get("is_leader")))
    for key, help_text in (("term", "Current Raft term."),
                           ("commit_index", "Raft commit index."),
                           ("last_applied", "Last Raft index applied to SQLite.")):
        if isinstance(raft.get(key), (int, float)):
            yield f"scheduler0_raft_{key}", "gauge", help_text, {}, raft[key]
    yield ("scheduler0_memory_pressure", "gauge", "1 while over 70% of MaxMemory.", {},
           int(bool(status.get("memory_pressure"))))
    yield from _raft_view_samples(status)


RAFT_STATE_COUNTERS = (
    ("became_leader", "scheduler0_raft_leader_changes_total",
     "Times this node became the Raft leader (summed over the nodes: the leader changes)."),
    ("became_candidate", "scheduler0_raft_elections_started_total",
     "Elections this node started (it became a candidate)."),
)


def _raft_view_samples(status: dict[str, Any]) -> Iterator[Sample]:
    """This node's view of the cluster, labelled by its node id: whether it knows a leader
    and a quorum, how far its copy lags the leader, and its state changes."""
    raft = status.get("raft") or {}
    node = {"node": str(status.get("node_id"))}
    yield ("scheduler0_raft_has_leader", "gauge", "1 while this node knows a Raft leader.",
           node, int(status.get("leader_id") is not None))
    yield ("scheduler0_raft_has_quorum", "gauge", "1 while this node sees a Raft quorum.",
           node, int(bool(status.get("has_quorum"))))
    lag = replication_lag(raft)
    if lag is not None:
        yield ("scheduler0_raft_replication_lag_entries", "gauge",
               "Entries the leader committed that this node has not applied yet.", node, lag)
    for key, name, help_text in RAFT_STATE_COUNTERS:
        if isinstance(raft.get(key), int):
            yield name, "counter", help_text, node, raft[key]
