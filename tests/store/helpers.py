"""Helpers for the store tests: a command log, job inputs, dumps, raw execution rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scheduler0 import messages
from scheduler0.store import StateMachine, schema

TS_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z, the default command time in these tests
TS_S = TS_MS // 1000


class Log:
    """Feeds commands to a StateMachine at consecutive Raft indexes, like pysyncobj does."""

    def __init__(self, machine: StateMachine) -> None:
        self.machine = machine
        self.index = machine.last_applied()

    def command(self, command_type: str, body: dict[str, Any], *, ts_ms: int = TS_MS,
                request_id: str | None = None) -> dict[str, Any]:
        return messages.make(command_type, body, now_ms=ts_ms,
                             request_id=request_id or f"req-{self.index + 1}")

    def apply(self, command_type: str, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
        return self.apply_raw(self.command(command_type, body, **kw))

    def apply_raw(self, command: Any) -> dict[str, Any]:
        self.index += 1
        return self.machine.apply(command, self.index)

    def ok(self, command_type: str, body: dict[str, Any], **kw: Any) -> Any:
        result = self.apply(command_type, body, **kw)
        assert result["ok"] is True, result
        return result["data"]

    def refused(self, command_type: str, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
        result = self.apply(command_type, body, **kw)
        assert result["ok"] is False, result
        return dict(result["error"])

    # shortcuts
    def project(self, name: str = "acme", **fields: Any) -> dict[str, Any]:
        body = {"name": name, "description": "", "signing_secret": "s3cret", **fields}
        return dict(self.ok(messages.PROJECT_CREATE, body))

    def jobs(self, *jobs: dict[str, Any], **kw: Any) -> list[dict[str, Any]]:
        return list(self.ok(messages.JOB_CREATE, {"jobs": list(jobs)}, **kw))

    def job(self, project_id: int, spec: str = "*/5 * * * *", *, ts_ms: int = TS_MS,
            **fields: Any) -> dict[str, Any]:
        return self.jobs(job_input(project_id, spec, **fields), ts_ms=ts_ms)[0]


def job_input(project_id: int, spec: str = "*/5 * * * *", **fields: Any) -> dict[str, Any]:
    return {"project_id": project_id, "spec": spec, "timezone": "UTC",
            "callback_url": "http://127.0.0.1:9/hook", "data": "payload",
            "execution_type": "http", "start_date": None, "end_date": None, "paused": False,
            "misfire_policy": "run_once", **fields}


def table_dump(db_path: str, *, skip_raft_data: bool = False) -> list[str]:
    """Every schema statement and row of the file, in a stable order."""
    conn = sqlite3.connect(db_path)
    try:
        if skip_raft_data:
            conn = _without_raft_data(conn)
        return list(conn.iterdump())
    finally:
        conn.close()


def _without_raft_data(conn: sqlite3.Connection) -> sqlite3.Connection:
    copy = sqlite3.connect(":memory:")
    conn.backup(copy)
    conn.close()
    copy.execute("UPDATE raft_meta SET raft_data = NULL")
    copy.commit()
    return copy


def insert_executions(log: Log, rows: Iterable[dict[str, Any]]) -> None:
    """Record execution rows the way the pipeline does: PLAN (a batch per batch id and tick, or
    missed ticks), then RESULT for the final ones."""
    batches: dict[tuple[str, int], list[dict[str, Any]]] = {}
    missed: dict[int, list[dict[str, Any]]] = {}
    for row in map(lambda r: execution(**r), rows):
        if row["state"] == "missed" and row["batch_id"] is None:
            missed.setdefault(row["scheduled_at"], []).append(row)
        else:
            batches.setdefault((f"{row['batch_id']}-{row['scheduled_at']}", row["scheduled_at"]),
                               []).append(row)
    plan = messages.Plan(
        batches=[messages.PlanBatch(batch_id=batch_id, node_id=group[0]["node_id"],
                                    scheduled_at=tick,
                                    rows=[messages.PlanRow(r["job_id"], r["project_id"])
                                          for r in group])
                 for (batch_id, tick), group in batches.items()],
        missed=[messages.PlanMissed(scheduled_at=tick, rows=[
            messages.PlanRow(r["job_id"], r["project_id"]) for r in group])
            for tick, group in missed.items()])
    log.ok(messages.PLAN, plan.encode(), ts_ms=TS_MS)
    finals = [messages.ResultRow(f"{r['job_id']}-{tick}", r["state"], r["attempts"],
                                 r["http_status"], r["error"], r["node_id"], r["started_at_ms"],
                                 r["finished_at_ms"], batch_id)
              for (batch_id, tick), group in batches.items() for r in group
              if r["state"] != "scheduled"]
    for start in range(0, len(finals), 1000):
        log.ok(messages.RESULT, messages.Result(rows=finals[start:start + 1000]).encode())


def execution(**fields: Any) -> dict[str, Any]:
    base = {"attempts": 1, "http_status": 200, "node_id": 1, "batch_id": "b1", "error": None,
            "planned_at_ms": TS_MS, "started_at_ms": TS_MS, "finished_at_ms": TS_MS,
            "state": "succeeded"}
    return {**base, **fields}


def file_at_version(db_path: str, version: int) -> sqlite3.Connection:
    """A new SQLite file at `db_path` migrated to schema `version` only, as a node of that
    release left it (autocommit); the caller writes its rows and closes it."""
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    schema.migrate(conn, db_path, schema.MIGRATIONS[:version])
    return conn
