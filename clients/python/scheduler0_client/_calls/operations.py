"""/jobs/bulk and /operations: one action on many jobs, applied in the background."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from scheduler0_client._request import Call, fields, path, query
from scheduler0_client.types import (
    BulkAction,
    BulkFilter,
    Execution,
    Operation,
    OperationStarted,
    OperationState,
    Page,
    page_of,
)


def start_bulk(action: BulkAction, *, ids: Sequence[int] | None = None,
               filter: BulkFilter | None = None,
               labels: Mapping[str, str | None] | None = None, data: str | None = None,
               idempotency_key: str | None = None) -> Call[OperationStarted]:
    """Pause, resume, delete, relabel (`set_labels`: each label given set, one given as None
    removed) or run (each job once now, with `data` instead of its own) the jobs named by
    `ids` or chosen by `filter`. The answer (202) is the operation,
    running: follow it with wait_operation."""
    body = fields(action=action, ids=None if ids is None else list(ids),
                  filter=None if filter is None else dict(filter),
                  labels=None if labels is None else dict(labels), data=data)
    return Call("POST", "/jobs/bulk", body=body, idempotency_key=idempotency_key)


def get_operation(operation_id: int) -> Call[Operation]:
    return Call("GET", path("operations", operation_id))


def list_operations(*, state: OperationState | None = None, limit: int | None = None,
                    offset: int | None = None,
                    after: str | int | None = None) -> Call[Page[Operation]]:
    """The operations kept (the newest 1,000 finished ones and those running), newest
    first."""
    return Call("GET", "/operations", query(state=state, limit=limit, offset=offset,
                                            after=after), decode=page_of("operations"))


def list_operation_executions(operation_id: int, *, limit: int | None = None,
                              offset: int | None = None,
                              after: str | None = None) -> Call[Page[Execution]]:
    """The executions a bulk run fired, in the order it fired them, each as it is now."""
    return Call("GET", path("operations", operation_id, "executions"),
                query(limit=limit, offset=offset, after=after), decode=page_of("executions"))
