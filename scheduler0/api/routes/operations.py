"""POST /jobs/bulk starts a bulk operation (202, applied in chunks in the background);
/operations lists them and shows one's progress, /operations/{id}/executions what a run
fired."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request

from scheduler0 import messages
from scheduler0.api import bulk, serialize, validation
from scheduler0.api.bulk_runner import MAX_RUNNING_HERE, OperationRunner
from scheduler0.api.context import api, ok, reader
from scheduler0.api.writes import submit
from scheduler0.errors import ApiError, NotFoundError, ValidationError
from scheduler0.store.operations import MAX_OPERATIONS_KEPT, Selection
from scheduler0.vocabulary import OPERATION_STATES, OperationState, parse_execution_key

bp = Blueprint("operations", __name__)


@bp.post("/jobs/bulk")
def start() -> Response:
    wanted = bulk.parse(validation.parse_json(request.get_data()))
    runner = api().operations
    if runner.running_here() >= MAX_RUNNING_HERE:
        raise ApiError(f"{MAX_RUNNING_HERE} bulk operations are running on this node, the most "
                       "it runs at once; wait for one to finish (GET /operations?state=running) "
                       "or send this one to another node", status=429, code="too_many_operations")
    found = bulk.select(wanted, reader())
    created = submit(messages.OPERATION_CREATE, _create_body(wanted, found, runner))
    operation = reader().get_operation(int(created["id"])) or created
    _run(runner, operation, found)
    response = ok({"operation_id": operation["id"], **serialize.operation(operation)}, 202)
    prefix = request.path.rsplit("/jobs/bulk", 1)[0]  # /api/v1 or /v1, as asked
    response.headers["Location"] = f"{prefix}/operations/{operation['id']}"
    return response


def _create_body(wanted: bulk.BulkRequest, found: Selection,
                 runner: OperationRunner) -> dict[str, Any]:
    access = g.get("access")
    scope = None if access is None or access.projects is None else list(access.projects)
    return messages.OperationCreate(
        action=wanted.action, selection=wanted.selection, labels=wanted.labels,
        data=wanted.data, total=len(found.ids), created_by=str(g.get("principal") or "unknown"),
        runner_node=runner.node_id, runner_token=runner.token, scope=scope,
        projects=bulk.concerned_projects(wanted, found, None if scope is None else tuple(scope)),
    ).encode()


def _run(runner: OperationRunner, operation: dict[str, Any], found: Selection) -> None:
    """Start the operation's chunks, unless it is not this process's to run: a request
    retried with its Idempotency-Key answers the operation the first attempt created."""
    if operation["state"] != OperationState.RUNNING.value:
        return
    if operation["total"] == len(found.ids):
        runner.start(operation, found.ids)
    elif operation["runner_token"] == runner.token:
        # The first attempt's operation, never started (its answer was lost), and the jobs
        # have changed since: its selection is gone with that attempt.
        runner.fail(int(operation["id"]), "its request was retried after the jobs changed; "
                    "send it again without the Idempotency-Key", runner_token=runner.token)


@bp.get("/operations")
def list_all() -> Response:
    limit, offset = validation.pagination(request.args)
    found = reader().list_operations(state=_state(request.args.get("state")), limit=limit,
                                     offset=offset,
                                     after=validation.query_id(request.args, "after"))
    return ok(serialize.page("operations", found, limit, offset, serialize.operation))


def _state(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in OPERATION_STATES:
        raise ValidationError(f"state: {raw[:40]!r} is not accepted; use one of "
                              f"{', '.join(OPERATION_STATES)}", code="invalid_state")
    return raw


@bp.get("/operations/<operation_id>")
def get_one(operation_id: str) -> Response:
    return ok(serialize.operation(_existing(operation_id)))


@bp.get("/operations/<operation_id>/executions")
def executions(operation_id: str) -> Response:
    """The run-nows a bulk run fired, in the order it fired them (none for another action),
    each as it is now."""
    ident = int(_existing(operation_id)["id"])
    limit, offset = validation.pagination(request.args)
    found = reader().operation_executions(ident, limit=limit, offset=offset,
                                          after_run=_after_run(request.args.get("after")))
    return ok(serialize.page("executions", found, limit, offset, serialize.execution))


def _existing(operation_id: str) -> dict[str, Any]:
    ident = validation.path_id(operation_id)
    found = reader().get_operation(ident)
    if found is None:
        raise NotFoundError(f"operation {ident} does not exist (the newest "
                            f"{MAX_OPERATIONS_KEPT} finished operations are kept)")
    return found


def _after_run(raw: str | None) -> int:
    """The run number of the `after` cursor (a run-now's execution id; none: 0)."""
    if not raw:
        return 0
    try:
        key = parse_execution_key(raw)
    except ValueError:
        key = None
    if key is None or not key.run:
        raise ValidationError(f"after: {raw[:60]!r} is not a run-now's execution id "
                              "(<job>-<tick>-m<run>); pass the previous page's next_after",
                              code="invalid_after")
    return key.run
