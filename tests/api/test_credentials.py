"""/credentials: create (secret shown once, stored hashed), list, read, archive, delete."""

from __future__ import annotations

import hashlib
from typing import Any

from scheduler0.api import create_app
from tests.api.helpers import NODE_AUTH, Api, data, error

BASE = "/api/v1/credentials"


def test_create_shows_the_secret_once_and_stores_only_its_hash(api: Api, node: Any) -> None:
    created = data(api.post(BASE), 201)
    assert set(created) == {"id", "api_key", "archived", "role", "projects", "created_at",
                            "updated_at", "api_secret"}
    assert created["archived"] is False
    assert (created["role"], created["projects"]) == ("admin", None)  # full access by default
    assert created["created_at"].endswith("Z")
    stored = node.reader().credential_by_api_key(created["api_key"])
    assert stored["secret_hash"] == hashlib.sha256(created["api_secret"].encode()).hexdigest()
    assert created["api_secret"] not in stored.values()
    shown = data(api.get(f"{BASE}/{created['id']}"))
    assert "api_secret" not in shown and "secret_hash" not in shown
    assert shown["api_key"] == created["api_key"]


def test_new_credential_authenticates(api: Api) -> None:
    created = data(api.post(BASE, json={}), 201)
    headers = {"x-api-key": created["api_key"], "x-secret-key": created["api_secret"]}
    response = api.client.get("/api/v1/projects", headers=headers)
    assert response.status_code == 200


def test_create_archived(api: Api) -> None:
    created = data(api.post(BASE, json={"archived": True}), 201)
    assert created["archived"] is True


def test_create_rejects_bad_bodies(api: Api) -> None:
    error(api.post(BASE, json={"archived": "yes"}), 400, "invalid_archived", "archived",
          "true or false")
    error(api.post(BASE, json={"apiKey": "mine"}), 400, "unknown_field", "apiKey", "archived")
    error(api.post(BASE, data=b"{nope", content_type="application/json"), 400, "invalid_json")
    error(api.post(BASE, json=[1]), 400, "invalid_body", "object")


def test_list_is_paginated_newest_first(api: Api) -> None:
    for _ in range(3):
        data(api.post(BASE), 201)
    page = data(api.get(BASE, query_string={"limit": 2, "offset": 0}))
    assert page["limit"] == 2 and page["offset"] == 0 and page["total"] >= 4
    assert len(page["credentials"]) == 2
    ids = [c["id"] for c in page["credentials"]]
    assert ids == sorted(ids, reverse=True)
    second = data(api.get(BASE, query_string={"limit": 2, "offset": 2}))
    assert second["total"] == page["total"]
    assert not {c["id"] for c in second["credentials"]} & set(ids)
    default = data(api.get(BASE))
    assert default["limit"] == 50 and default["offset"] == 0


def test_list_rejects_bad_pagination(api: Api) -> None:
    error(api.get(BASE, query_string={"limit": 0}), 400, "invalid_limit", "limit", "1-1000")
    error(api.get(BASE, query_string={"limit": 1001}), 400, "invalid_limit", "limit")
    error(api.get(BASE, query_string={"limit": "ten"}), 400, "invalid_limit", "limit")
    error(api.get(BASE, query_string={"offset": -1}), 400, "invalid_offset", "offset")
    error(api.get(BASE, query_string={"offset": "9" * 40}), 400, "invalid_offset", "offset")


def test_get_one_errors(api: Api) -> None:
    error(api.get(f"{BASE}/999999"), 404, "not_found", "credential 999999")
    error(api.get(f"{BASE}/abc"), 400, "invalid_id", "abc")
    error(api.get(f"{BASE}/0"), 400, "invalid_id")
    error(api.get(f"{BASE}/{10**30}"), 400, "invalid_id")


def test_archive_refuses_the_credential_and_restore_accepts_it(api: Api) -> None:
    created = data(api.post(BASE), 201)
    headers = {"x-api-key": created["api_key"], "x-secret-key": created["api_secret"]}
    archived = data(api.put(f"{BASE}/{created['id']}", json={"archived": True}))
    assert archived["archived"] is True
    assert api.client.get("/api/v1/projects", headers=headers).status_code == 401
    restored = data(api.put(f"{BASE}/{created['id']}", json={"archived": False}))
    assert restored["archived"] is False
    assert api.client.get("/api/v1/projects", headers=headers).status_code == 200


def test_update_errors(api: Api) -> None:
    created = data(api.post(BASE), 201)
    path = f"{BASE}/{created['id']}"
    error(api.put(path, json={}), 400, "invalid_archived", "archived", "required")
    error(api.put(path, json={"archived": 1}), 400, "invalid_archived", "archived")
    error(api.put(path, json={"archived": True, "api_key": "x"}), 400, "unknown_field", "api_key")
    error(api.put(path), 400, "invalid_json", "body required")
    error(api.put(f"{BASE}/999999", json={"archived": True}), 404, "not_found", "999999")


def test_delete(api: Api) -> None:
    created = data(api.post(BASE), 201)
    path = f"{BASE}/{created['id']}"
    assert data(api.delete(path)) == {"id": created["id"]}
    error(api.get(path), 404, "not_found")
    error(api.delete(path), 404, "not_found")
    headers = {"x-api-key": created["api_key"], "x-secret-key": created["api_secret"]}
    assert api.client.get("/api/v1/projects", headers=headers).status_code == 401


def test_a_retried_create_with_the_same_idempotency_key_gets_the_same_secret(api: Api) -> None:
    headers = {"Idempotency-Key": "cred-retry"}
    first = data(api.post(BASE, headers=headers), 201)
    again = data(api.post(BASE, headers=headers), 201)
    assert again == first  # the first answer was lost: the retry shows the same secret
    signed_in = {"x-api-key": again["api_key"], "x-secret-key": again["api_secret"]}
    assert api.client.get("/api/v1/projects", headers=signed_in).status_code == 200
    other = data(api.post(BASE, headers={"Idempotency-Key": "cred-other"}), 201)
    assert (other["api_key"], other["api_secret"]) != (first["api_key"], first["api_secret"])
    error(api.post(BASE, json={"role": "read"}, headers=headers), 422, "idempotency_key_reused")


def test_a_retry_on_a_node_with_another_secret_key_cannot_show_the_secret(
        api: Api, node: Any) -> None:
    headers = {"Idempotency-Key": "cred-elsewhere"}
    first = data(api.post(BASE, headers=headers), 201)
    elsewhere = Api(create_app(node.settings, node, node_auth=NODE_AUTH,
                               secret_key="another-clusters-key").test_client(), api.headers)
    error(elsewhere.post(BASE, headers=headers), 409, "conflict", f"credential {first['id']}",
          "shown once")
