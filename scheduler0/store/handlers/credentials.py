"""credential.create / update / delete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scheduler0.errors import ConflictError, NotFoundError
from scheduler0.store import body, rows
from scheduler0.store.tx import Tx


def create(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    api_key = body.req_str(data, "api_key")
    secret_hash = body.req_str(data, "secret_hash")
    archived = body.opt_bool(data, "archived", False)
    if tx.conn.execute("SELECT 1 FROM credentials WHERE api_key = ?", (api_key,)).fetchone():
        raise ConflictError("a credential with this api_key already exists; generate another key")
    cursor = tx.conn.execute(
        "INSERT INTO credentials (api_key, secret_hash, archived, created_at_ms, updated_at_ms) "
        "VALUES (?, ?, ?, ?, ?)", (api_key, secret_hash, int(archived), tx.ts_ms, tx.ts_ms))
    return _fetch(tx, int(cursor.lastrowid or 0))


def update(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    credential_id = body.req_int(data, "id")
    archived = body.as_bool(data.get("archived"), "archived")
    _fetch(tx, credential_id)
    tx.conn.execute("UPDATE credentials SET archived = ?, updated_at_ms = ? WHERE id = ?",
                    (int(archived), tx.ts_ms, credential_id))
    return _fetch(tx, credential_id)


def delete(tx: Tx, data: Mapping[str, Any]) -> dict[str, Any]:
    credential_id = body.req_int(data, "id")
    _fetch(tx, credential_id)
    tx.conn.execute("DELETE FROM credentials WHERE id = ?", (credential_id,))
    return {"id": credential_id}


def _fetch(tx: Tx, credential_id: int) -> dict[str, Any]:
    row = tx.conn.execute(f"SELECT {rows.CREDENTIAL_COLUMNS} FROM credentials WHERE id = ?",
                          (credential_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"credential {credential_id} does not exist")
    return rows.credential(row)
