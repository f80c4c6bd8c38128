"""On a real node (`scheduler0 start`, loopback only): a rotated signing secret reaches the
executor inside the batch and signs beside the new one until its grace period ends; a
credential made with the CLI's --role and --project is held to them over real HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

from scheduler0.testing import wait_for
from tests.integration.receiver import Receiver

CURRENT, PREVIOUS = "X-Scheduler0-Signature", "X-Scheduler0-Signature-Previous"



def test_callbacks_carry_both_signatures_during_the_grace_period(node_factory):
    node = node_factory().start()
    node.wait_leader()
    with Receiver() as rx:
        project = node.api("POST", "/projects", {"name": "rotating"})
        path = f"/projects/{project['id']}"
        rotated = node.api("PUT", path, {"rotate_signing_secret": True, "grace_seconds": 3600})
        node.api("POST", "/jobs", [{"project_id": project["id"], "spec": "@every 1s",
                                    "callback_url": rx.url("/rotating")}])
        first = rx.wait_for_requests(1, timeout=15)[0]
        assert first.signed_by(rotated["signing_secret"], CURRENT)
        assert first.signed_by(project["signing_secret"], PREVIOUS)

        # Rotating again with no grace period: the old secrets stop at once.
        ended = node.api("PUT", path, {"rotate_signing_secret": True, "grace_seconds": 0})
        assert ended["previous_signing_secret_expires_at"] is None
        newest = wait_for(lambda: [r for r in rx.requests
                                   if r.signed_by(ended["signing_secret"], CURRENT)],
                          timeout=20, message="a callback signed with the newest secret")
        assert all(r.header(PREVIOUS) is None for r in newest)


def _call(node: Any, method: str, path: str, headers: dict[str, str],
          body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(node.base_url + path, method=method, headers={
        "Content-Type": "application/json", **headers},
        data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_credential_created_with_the_cli_keeps_to_its_role_and_projects(node_factory):
    node = node_factory().start()
    node.wait_leader()
    mine = node.api("POST", "/projects", {"name": "mine"})
    theirs = node.api("POST", "/projects", {"name": "theirs"})
    for project in (mine, theirs):
        node.api("POST", "/jobs", {"project_id": project["id"], "spec": "@hourly",
                                   "callback_url": "http://127.0.0.1:9/x"})
    done = subprocess.run([sys.executable, "-m", "scheduler0.cli", "create", "credential",
                           "--role", "read", "--project", str(mine["id"])],
                          cwd=node.workdir, env=node.env, capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert (created["role"], created["projects"]) == ("read", [mine["id"]])
    headers = {"x-api-key": created["api_key"], "x-secret-key": created["api_secret"]}

    status, body = _call(node, "GET", "/jobs", headers)
    assert status == 200 and {j["project_id"] for j in body["data"]["jobs"]} == {mine["id"]}
    status, body = _call(node, "POST", "/jobs", headers, {
        "project_id": mine["id"], "spec": "@hourly", "callback_url": "http://127.0.0.1:9/x"})
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert "has role read; POST /jobs needs role write" in body["error"]["message"]
    status, body = _call(node, "GET", f"/projects/{theirs['id']}", headers)
    assert status == 403
    assert f"limited to projects [{mine['id']}]" in body["error"]["message"]

    refused = subprocess.run([sys.executable, "-m", "scheduler0.cli", "create", "credential",
                              "--role", "owner"],
                             cwd=node.workdir, env=node.env, capture_output=True, timeout=30)
    assert refused.returncode == 2 and b"'owner' is not one of" in refused.stderr
    missing = subprocess.run([sys.executable, "-m", "scheduler0.cli", "create", "credential",
                              "--project", "999"],
                             cwd=node.workdir, env=node.env, capture_output=True, timeout=30)
    assert missing.returncode == 1
    assert b"projects[0]: project 999 does not exist" in missing.stderr
