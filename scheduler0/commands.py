"""Replicated commands: the only way shared state changes.

A command is plain data, a dict that msgpack and pickle both carry:

    {"v": 1, "type": "<type>", "request_id": "<uuid4 hex>", "ts": <epoch ms>, "body": {...}}

The proposer stamps everything that is not deterministic (ids it generates, secrets, the time
`ts`) before proposing; `apply` (scheduler0.store) reads nothing else, so every node reaches the
same SQLite state. A command applied twice with the same `request_id` returns the first result
(client retries after a timeout or a leader change are safe).

Every apply returns a result dict, never raises:
    {"ok": True, "data": <any>}                                   on success
    {"ok": False, "error": {"status": 4xx, "code": str, "message": str}}   when refused

Bodies by type (all times epoch seconds unless named *_ms):
    credential.create  {"api_key": str, "secret_hash": str, "archived": bool}
                       -> data: credential row dict (no secret)
    credential.update  {"id": int, "archived": bool}                 -> credential row
    credential.delete  {"id": int}                                   -> {"id": int}
    project.create     {"name": str, "description": str, "signing_secret": str}
                       -> project row (with signing_secret)
    project.update     {"id": int, "name"?: str, "description"?: str, "signing_secret"?: str}
                       -> project row (signing_secret only when it was rotated)
    project.delete     {"id": int, "cascade": bool}                  -> {"id": int, "jobs_deleted": int}
    job.create         {"jobs": [job_input, ...]}                    -> [job row, ...] (ids included)
        job_input: {"project_id", "spec", "timezone", "callback_url", "data", "execution_type",
                    "start_date", "end_date", "paused", "misfire_policy", "anchor"}
    job.update         {"id": int, "changes": {field: value}}        -> job row
    job.delete         {"id": int}                                   -> {"id": int}
    plan               ticks planned for dispatch
    result             execution outcomes
    prune              {"before": int, "limit": int}                 -> {"deleted": int}
"""

from __future__ import annotations

import uuid
from typing import Any

from scheduler0 import clock

COMMAND_VERSION = 1

CREDENTIAL_CREATE = "credential.create"
CREDENTIAL_UPDATE = "credential.update"
CREDENTIAL_DELETE = "credential.delete"
PROJECT_CREATE = "project.create"
PROJECT_UPDATE = "project.update"
PROJECT_DELETE = "project.delete"
JOB_CREATE = "job.create"
JOB_UPDATE = "job.update"
JOB_DELETE = "job.delete"
PLAN = "plan"
RESULT = "result"
PRUNE = "prune"

TYPES = (
    CREDENTIAL_CREATE, CREDENTIAL_UPDATE, CREDENTIAL_DELETE,
    PROJECT_CREATE, PROJECT_UPDATE, PROJECT_DELETE,
    JOB_CREATE, JOB_UPDATE, JOB_DELETE,
    PLAN, RESULT, PRUNE,
)


def make(command_type: str, body: dict[str, Any], *, now_ms: int | None = None,
         request_id: str | None = None) -> dict[str, Any]:
    """A command stamped by its proposer with a request id and the time."""
    if command_type not in TYPES:
        raise ValueError(f"unknown command type {command_type!r}")
    return {
        "v": COMMAND_VERSION,
        "type": command_type,
        "request_id": request_id or uuid.uuid4().hex,
        "ts": clock.now_ms() if now_ms is None else now_ms,
        "body": body,
    }


def ok(data: Any) -> dict[str, Any]:
    return {"ok": True, "data": data}


def refused(status: int, code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"status": status, "code": code, "message": message}}
