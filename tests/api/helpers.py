"""Helpers for the API tests: an authenticated client, envelope assertions, and commands the
API has no route for (the pipeline's PLAN and RESULT) committed through the node."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from scheduler0 import messages
from scheduler0.vocabulary import execution_id

NODE_AUTH = ("node-admin", "node-password")
LOOPBACK_URL = "http://127.0.0.1:9/hook"


def basic_auth(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class Api:
    """The test client with a credential's headers on every request."""

    def __init__(self, client: Any, headers: dict[str, str]):
        self.client = client
        self.headers = headers

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                **kwargs: Any) -> Any:
        return self.client.open(path, method=method, headers={**self.headers, **(headers or {})},
                                **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def project(self, **fields: Any) -> dict[str, Any]:
        body = {"name": unique("project"), **fields}
        return data(self.post("/api/v1/projects", json=body), 201)

    def job(self, project_id: int, **fields: Any) -> dict[str, Any]:
        return data(self.post("/api/v1/jobs", json=job_body(project_id, **fields)), 201)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def job_body(project_id: int, **fields: Any) -> dict[str, Any]:
    return {"project_id": project_id, "spec": "*/5 * * * *", "callback_url": LOOPBACK_URL,
            **fields}


def data(response: Any, status: int = 200) -> Any:
    """The `data` of a success envelope, after checking status and envelope."""
    body = response.get_json()
    assert response.status_code == status, (response.status_code, body)
    assert body is not None and set(body) == {"success", "data"}, body
    assert body["success"] is True
    return body["data"]


def error(response: Any, status: int, code: str, *fragments: str) -> str:
    """The error message, after checking status, envelope, code and that it names `fragments`."""
    body = response.get_json()
    assert response.status_code == status, (response.status_code, body)
    assert response.mimetype == "application/json"
    assert body is not None and set(body) == {"success", "data", "error"}, body
    assert body["success"] is False and body["data"] is None
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code, body
    message = str(body["error"]["message"])
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def commit(node: Any, body: messages.Body, **kwargs: Any) -> Any:
    """Commit a typed command through the node's Raft log, as the coordinator does; the
    `data` of its result, after checking it was applied."""
    result = node.submit(messages.command(body, **kwargs))
    assert result["ok"] is True, result
    return result["data"]


def record(node: Any, jobs: list[dict[str, Any]], tick: int, state: str, node_id: int = 1,
           error_text: str | None = None) -> None:
    """Record a PLAN of `jobs` at `tick` on `node_id`, then their RESULT in `state`, as the
    coordinator does."""
    batch = unique("b")
    commit(node, messages.Plan(batches=[messages.PlanBatch(
        batch_id=batch, node_id=node_id, scheduled_at=tick,
        rows=[messages.PlanRow(job["id"], job["project_id"]) for job in jobs])]))
    commit(node, messages.Result(rows=[messages.ResultRow(
        execution_id(job["id"], tick), state, 1, 200 if state == "succeeded" else 500,
        error_text, node_id, tick * 1000 + 25, tick * 1000 + 30, batch) for job in jobs]))
