"""/projects: unique names, a signing secret shown at creation and on rotation, cascade delete."""

from __future__ import annotations

import time
from typing import Any

import pytest

from scheduler0 import messages
from scheduler0.schedule import parse_instant
from scheduler0.store.pipeline import PipelineReader
from tests.api.helpers import Api, data, error, job_body, unique

BASE = "/api/v1/projects"


def test_create_returns_the_signing_secret_once(api: Api, node: Any) -> None:
    name = unique("p")
    created = data(api.post(BASE, json={"name": name, "description": "demo"}), 201)
    assert created["name"] == name and created["description"] == "demo"
    assert len(created["signing_secret"]) >= 32
    assert node.reader().get_project_signing_secret(created["id"]) == created["signing_secret"]
    shown = data(api.get(f"{BASE}/{created['id']}"))
    assert "signing_secret" not in shown
    assert shown["name"] == name and shown["created_at"] == created["created_at"]


def test_description_is_optional(api: Api) -> None:
    created = data(api.post(BASE, json={"name": unique("p")}), 201)
    assert created["description"] == ""


def test_duplicate_name_is_a_conflict(api: Api) -> None:
    name = unique("p")
    data(api.post(BASE, json={"name": name}), 201)
    error(api.post(BASE, json={"name": name}), 409, "conflict", name)


def test_create_errors_name_the_field(api: Api) -> None:
    error(api.post(BASE, json={}), 400, "invalid_name", "name", "required")
    error(api.post(BASE, json={"name": ""}), 400, "invalid_name", "name", "empty")
    error(api.post(BASE, json={"name": 5}), 400, "invalid_name", "name", "string")
    error(api.post(BASE, json={"name": "x" * 201}), 400, "invalid_name", "name", "200")
    error(api.post(BASE, json={"name": unique("p"), "description": "d" * 5000}), 400,
          "invalid_description", "description", "4096")
    error(api.post(BASE, json={"name": unique("p"), "owner": "me"}), 400, "unknown_field",
          "owner", "name, description")
    error(api.post(BASE, data=b'{"name": "\\ud800"}', content_type="application/json"), 400,
          "invalid_name", "name", "surrogate")
    error(api.post(BASE, data=b"", content_type="application/json"), 400, "invalid_json",
          "body required")


@pytest.mark.parametrize(("name", "fragment"), [
    ("billing\x00admin", "NUL"),
    ("invoice\u202egpj.exe", "U+202E"),
    ("\u2066hidden\u2069", "U+2066"),
    ("two\nlines", "control character (U+000A)"),
])
def test_names_refuse_nul_bidi_and_control_characters(api: Api, name: str, fragment: str) -> None:
    error(api.post(BASE, json={"name": name}), 400, "invalid_name", "name", fragment)
    project = api.post(BASE, json={"name": unique("p")}).json["data"]
    error(api.put(f"{BASE}/{project['id']}", json={"name": name}), 400, "invalid_name", fragment)
    assert api.get(f"{BASE}/{project['id']}").json["data"]["name"] == project["name"]


def test_descriptions_keep_newlines_but_refuse_nul_and_bidi(api: Api) -> None:
    created = api.post(BASE, json={"name": unique("p"), "description": "line 1\nline 2"})
    assert created.status_code == 201 and created.json["data"]["description"] == "line 1\nline 2"
    error(api.post(BASE, json={"name": unique("p"), "description": "a\x00b"}), 400,
          "invalid_description", "NUL")
    error(api.post(BASE, json={"name": unique("p"), "description": "a\u202eb"}), 400,
          "invalid_description", "U+202E")


def test_list_is_paginated(api: Api) -> None:
    for _ in range(3):
        api.project()
    page = data(api.get(BASE, query_string={"limit": 2}))
    assert len(page["projects"]) == 2 and page["total"] >= 3 and page["limit"] == 2
    ids = [p["id"] for p in page["projects"]]
    assert ids == sorted(ids)
    assert all("signing_secret" not in p for p in page["projects"])


def test_get_one_errors(api: Api) -> None:
    error(api.get(f"{BASE}/987654"), 404, "not_found", "project 987654")
    error(api.get(f"{BASE}/-1"), 400, "invalid_id", "-1")


def test_update_name_and_description(api: Api) -> None:
    project = api.project()
    name = unique("renamed")
    updated = data(api.put(f"{BASE}/{project['id']}", json={"name": name, "description": "new"}))
    assert updated["name"] == name and updated["description"] == "new"
    assert "signing_secret" not in updated
    assert data(api.get(f"{BASE}/{project['id']}"))["name"] == name


def test_rotate_signing_secret(api: Api, node: Any) -> None:
    project = api.project()
    rotated = data(api.put(f"{BASE}/{project['id']}", json={"rotate_signing_secret": True}))
    assert rotated["signing_secret"] != project["signing_secret"]
    assert node.reader().get_project_signing_secret(project["id"]) == rotated["signing_secret"]


def test_a_rotation_keeps_the_old_secret_for_the_grace_period(api: Api, node: Any) -> None:
    project = api.project()
    assert project["previous_signing_secret_expires_at"] is None
    path = f"{BASE}/{project['id']}"
    before = int(time.time())
    rotated = data(api.put(path, json={"rotate_signing_secret": True, "grace_seconds": 600}))
    expires = parse_instant(rotated["previous_signing_secret_expires_at"], "at")
    assert before + 600 <= expires <= int(time.time()) + 600
    shown = data(api.get(path))
    assert shown["previous_signing_secret_expires_at"] == rotated[
        "previous_signing_secret_expires_at"] and "signing_secret" not in shown
    pipeline = PipelineReader(node.settings.db_path)
    try:
        assert pipeline.previous_secrets([project["id"]], before) == {project["id"]: (
            messages.PreviousSecret(secret=project["signing_secret"], expires_at=expires))}
    finally:
        pipeline.close()
    stopped = data(api.put(path, json={"rotate_signing_secret": True, "grace_seconds": 0}))
    assert stopped["previous_signing_secret_expires_at"] is None


def test_a_rotation_without_grace_seconds_uses_the_nodes_setting(api: Api, node: Any) -> None:
    project = api.project()
    before = int(time.time())
    rotated = data(api.put(f"{BASE}/{project['id']}", json={"rotate_signing_secret": True}))
    expires = parse_instant(rotated["previous_signing_secret_expires_at"], "at")
    grace = node.settings.signing_secret_grace_seconds
    assert grace == 86400 and before + grace <= expires <= int(time.time()) + grace


def test_grace_seconds_errors(api: Api) -> None:
    path = f"{BASE}/{api.project()['id']}"
    error(api.put(path, json={"grace_seconds": 60}), 400, "invalid_grace_seconds",
          "applies only to a rotation")
    error(api.put(path, json={"rotate_signing_secret": False, "grace_seconds": 60}), 400,
          "invalid_grace_seconds", "rotate_signing_secret")
    for bad, words in ((-1, "out of range"), (2_592_001, "out of range"),
                       ("1h", "expected an integer"), (1.5, "expected an integer"),
                       (True, "expected an integer"), (None, "expected an integer")):
        error(api.put(path, json={"rotate_signing_secret": True, "grace_seconds": bad}), 400,
              "invalid_grace_seconds", words)


def test_update_errors(api: Api) -> None:
    project, other = api.project(), api.project()
    path = f"{BASE}/{project['id']}"
    error(api.put(path, json={"name": other["name"]}), 409, "conflict", other["name"])
    error(api.put(path, json={}), 400, "invalid_body", "nothing to change")
    error(api.put(path, json={"rotate_signing_secret": "yes"}), 400,
          "invalid_rotate_signing_secret", "rotate_signing_secret")
    error(api.put(path, json={"name": None}), 400, "invalid_name", "name")
    error(api.put(path, json={"id": 3}), 400, "unknown_field", "id")
    error(api.put(f"{BASE}/999999", json={"name": unique("p")}), 404, "not_found", "999999")


def test_delete_refuses_while_jobs_exist_unless_cascade(api: Api) -> None:
    project = api.project()
    job = api.job(project["id"])
    path = f"{BASE}/{project['id']}"
    error(api.delete(path), 409, "conflict", "cascade=true")
    error(api.delete(path, query_string={"cascade": "maybe"}), 400, "invalid_cascade", "cascade")
    assert data(api.delete(path, query_string={"cascade": "true"})) == {
        "id": project["id"], "jobs_deleted": 1}
    error(api.get(path), 404, "not_found")
    error(api.get(f"/api/v1/jobs/{job['id']}"), 404, "not_found")


def test_delete_empty_project(api: Api) -> None:
    project = api.project()
    path = f"{BASE}/{project['id']}"
    assert data(api.delete(path)) == {"id": project["id"], "jobs_deleted": 0}
    error(api.delete(path), 404, "not_found")


def test_jobs_of_a_deleted_project_cannot_be_created(api: Api) -> None:
    project = api.project()
    data(api.delete(f"{BASE}/{project['id']}"))
    error(api.post("/api/v1/jobs", json=job_body(project["id"])), 404, "not_found",
          f"project {project['id']}", "project_id")
