"""POST /pause and POST /resume: stop and restart all planning in the cluster.

The flag is a Raft command (cluster.pause / cluster.resume) the leader's planner reads every
round: while it is set no tick is planned. Batches already dispatched are delivered (ticks up
to PlannerLookAhead seconds ahead may still fire after the answer). On resume, the ticks that
fell in the pause follow each job's misfire policy, as after an outage. Who paused, when and
why shows in the answer, in GET /healthcheck and in /metrics.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request

from scheduler0 import messages
from scheduler0.api import serialize, validation
from scheduler0.api.context import ok
from scheduler0.api.writes import submit
from scheduler0.vocabulary import MAX_PAUSE_REASON

bp = Blueprint("pause", __name__)


def _body(allowed: tuple[str, ...]) -> dict[str, Any]:
    """The optional JSON object of the request (an empty body is an empty object)."""
    body = validation.parse_json(request.get_data(), required=False)
    return {} if body is None else validation.known_fields(validation.expect_object(body),
                                                           allowed)


def _by() -> str:
    return str(g.get("principal") or "unknown")


@bp.post("/pause")
def pause() -> Response:
    reason = _body(("reason",)).get("reason")
    if reason is not None:
        reason = validation.text(reason, "reason", max_length=MAX_PAUSE_REASON,
                                 allow_empty=True, forbid=validation.unsafe_in_name).strip()
    body = messages.ClusterPause(by=_by(), reason=reason or None)
    return ok(serialize.pause(submit(messages.CLUSTER_PAUSE, body.encode())))


@bp.post("/resume")
def resume() -> Response:
    _body(())
    body = messages.ClusterResume(by=_by())
    return ok(serialize.pause(submit(messages.CLUSTER_RESUME, body.encode())))
