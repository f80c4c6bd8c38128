"""Store rows to API objects: snake_case fields, instants as RFC 3339 UTC strings or null.

Rows name epoch-millisecond times `*_ms` (created_at_ms -> created_at, with milliseconds) and
keep other instants in epoch seconds (start_date, scheduled_at, ...), written without a fraction.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Row = Mapping[str, Any]


# Cached: a page or a batch of jobs shares most of its instants (created_at, next tick).
@functools.lru_cache(maxsize=4096)
def instant(seconds: Any) -> str | None:
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(seconds)))


@functools.lru_cache(maxsize=4096)
def instant_ms(millis: Any) -> str | None:
    if millis is None:
        return None
    whole, fraction = divmod(int(millis), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{fraction:03d}Z"


def credential(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "api_key": row["api_key"],
        "archived": bool(row["archived"]),
        "created_at": instant_ms(row.get("created_at_ms")),
        "updated_at": instant_ms(row.get("updated_at_ms")),
    }


def project(row: Row) -> dict[str, Any]:
    result = {
        "id": row["id"],
        "name": row["name"],
        "description": row.get("description") or "",
        "created_at": instant_ms(row.get("created_at_ms")),
        "updated_at": instant_ms(row.get("updated_at_ms")),
    }
    if row.get("signing_secret"):
        result["signing_secret"] = row["signing_secret"]
    return result


def job(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "project_id": row["project_id"],
        "spec": row["spec"],
        "timezone": row["timezone"],
        "callback_url": row["callback_url"],
        "data": row.get("data") or "",
        "execution_type": row.get("execution_type") or "http",
        "start_date": instant(row.get("start_date")),
        "end_date": instant(row.get("end_date")),
        "paused": bool(row.get("paused")),
        "misfire_policy": row.get("misfire_policy"),
        "created_at": instant_ms(row.get("created_at_ms")),
        "updated_at": instant_ms(row.get("updated_at_ms")),
        "next_execution_at": instant(row.get("next_execution_at")),
        "last_execution_at": instant(row.get("last_execution_at")),
    }


def execution(row: Row) -> dict[str, Any]:
    return {
        "execution_id": row["execution_id"],
        "job_id": row["job_id"],
        "project_id": row.get("project_id"),
        "scheduled_at": instant(row.get("scheduled_at")),
        "state": row.get("state"),
        "attempts": row.get("attempts") or 0,
        "http_status": row.get("http_status"),
        "node_id": row.get("node_id"),
        "batch_id": row.get("batch_id"),
        "error": row.get("error"),
        "planned_at": instant_ms(row.get("planned_at_ms")),
        "started_at": instant_ms(row.get("started_at_ms")),
        "finished_at": instant_ms(row.get("finished_at_ms")),
    }


def page(name: str, rows: Iterable[Row], total: int, limit: int, offset: int,
         convert: Callable[[Row], dict[str, Any]]) -> dict[str, Any]:
    """A list answer: `{"total", "limit", "offset", name: [...]}` (the original's page shape)."""
    return {"total": int(total), "limit": limit, "offset": offset,
            name: [convert(row) for row in rows]}
