"""credential.create / update / delete. A credential's role and projects are set when it is
created and never change (create another credential for another scope)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scheduler0.errors import ConflictError, NotFoundError
from scheduler0.messages import CredentialCreate, CredentialDelete, CredentialUpdate
from scheduler0.store import rows
from scheduler0.store.tx import Tx


def create(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    body = CredentialCreate.decode(data)
    if tx.conn.execute("SELECT 1 FROM credentials WHERE api_key = ?",
                       (body.api_key,)).fetchone():
        raise ConflictError("a credential with this api_key already exists; generate another key")
    if body.projects is not None:
        _require_projects(tx, body.projects)
    cursor = tx.conn.execute(
        "INSERT INTO credentials (api_key, secret_hash, archived, created_at_ms, updated_at_ms, "
        "role, project_ids) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (body.api_key, body.secret_hash, int(body.archived), tx.ts_ms, tx.ts_ms, body.role,
         rows.stored_projects(body.projects)))
    return _fetch(tx, int(cursor.lastrowid or 0))


def _require_projects(tx: Tx, project_ids: list[int]) -> None:
    """A credential may only be limited to projects that exist (the API checked first; this
    holds for whatever proposed the command)."""
    for index, project_id in enumerate(project_ids):
        if tx.conn.execute("SELECT 1 FROM projects WHERE id = ?", (project_id,)).fetchone() is None:
            raise NotFoundError(f"projects[{index}]: project {project_id} does not exist; "
                                "limit the credential to existing projects (GET /projects)")


def update(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    body = CredentialUpdate.decode(data)
    _fetch(tx, body.id)
    tx.conn.execute("UPDATE credentials SET archived = ?, updated_at_ms = ? WHERE id = ?",
                    (int(body.archived), tx.ts_ms, body.id))
    return _fetch(tx, body.id)


def delete(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    credential_id = CredentialDelete.decode(data).id
    _fetch(tx, credential_id)
    tx.conn.execute("DELETE FROM credentials WHERE id = ?", (credential_id,))
    return {"id": credential_id}


def _fetch(tx: Tx, credential_id: int) -> dict[str, Any]:
    row = tx.conn.execute(f"SELECT {rows.CREDENTIAL_COLUMNS} FROM credentials WHERE id = ?",
                          (credential_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"credential {credential_id} does not exist")
    return rows.credential(row)
