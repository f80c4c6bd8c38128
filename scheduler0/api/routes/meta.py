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
from scheduler0.api.metrics import CONTENT_TYPE
from scheduler0.errors import ApiError, RaftError, StoreError, TransportError

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
    samples = list(_store_samples()) + list(_raft_samples(ctx.services))
    return Response(ctx.metrics.render(samples), content_type=CONTENT_TYPE)


def _store_samples() -> Iterator[Sample]:
    try:
        store = reader()
        jobs, projects = store.count_jobs(), store.count_projects()
        by_state = dict(store.executions_by_state())
    except StoreError as exc:
        log.warning("metrics: store unavailable: %s", exc)
        return
    yield "scheduler0_jobs", "gauge", "Jobs in the store.", {}, jobs
    yield "scheduler0_projects", "gauge", "Projects in the store.", {}, projects
    for state in sorted(set(by_state) | set(openapi.EXECUTION_STATES)):
        yield ("scheduler0_executions", "gauge", "Executions in the history by state.",
               {"state": state}, by_state.get(state, 0))


def _raft_samples(services: Any) -> Iterator[Sample]:
    try:
        status = services.status()
    except (ApiError, RaftError, TransportError) as exc:
        log.warning("metrics: coordinator unavailable: %s", exc)
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
