"""A real node (`scheduler0 start`) as a subprocess on loopback, for integration tests.

Every process it starts is stopped by pid when the test ends, children included. `host` and
`wrap` put it elsewhere, e.g. on a NetLab address inside that node's namespace:
`NodeProcess(dir, host=lab.address(1), wrap=partial(lab.wrap, 1))`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from scheduler0.testing import free_port, wait_for


class NodeProcess:
    def __init__(self, workdir: Path, secrets: dict[str, str] | None = None,
                 host: str = "127.0.0.1", wrap: Callable[[list[str]], list[str]] | None = None,
                 **settings: Any):
        self.workdir = workdir
        self.host = host
        # Applied to the start command; it must exec the node (as `ip netns exec` does) so the
        # pid started is the supervisor's and kill_all by pid still reaches it.
        self.wrap = wrap
        if secrets is not None:  # a cluster shares one secrets file
            path = workdir / ".scheduler0"
            path.write_text(json.dumps(secrets))
            path.chmod(0o600)
        self.port = int(settings.pop("Port", free_port()))
        self.env = dict(os.environ)
        base = {"Port": self.port, "DataDir": str(workdir / "data"),
                "RaftAddress": f"{host}:{free_port()}",
                "IntakeAddress": f"{host}:{free_port()}",
                "CallbackAllowedNetworks": "127.0.0.0/8", "LogLevel": "INFO",
                "RaftElectionTimeout": 0.3, "RaftHeartbeatTimeout": 0.05, "MaxWorkers": 1,
                **settings}
        if host != "127.0.0.1":  # the default stays unset, as a config file may choose it
            base.setdefault("Host", host)
        from scheduler0.config import env_name

        for key, value in base.items():
            self.env[env_name(key)] = value if isinstance(value, str) else json.dumps(value)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "node.log"
        self._known_pids: set[int] = set()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/v1"

    def start(self, config_path: str | None = None) -> NodeProcess:
        cmd = [sys.executable, "-m", "scheduler0.cli", "start"]
        if config_path:
            cmd += ["--config", config_path]
        if self.wrap is not None:
            cmd = self.wrap(cmd)
        # The child gets its own copy of the descriptor: this process's copy closes at once.
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.workdir, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT)
        self._known_pids.add(self.proc.pid)
        return self

    def children(self) -> dict[str, psutil.Process]:
        """Role name -> child process, as the supervisor runs them now."""
        assert self.proc is not None
        found = {}
        for child in psutil.Process(self.proc.pid).children():
            try:
                cmd = child.cmdline()
            except psutil.Error:
                continue
            if "scheduler0.child" in " ".join(cmd):
                role = cmd[cmd.index("scheduler0.child") + 1]
                index = cmd[-1] if role == "executor" else ""
                found[f"{role}{'-' + index if index else ''}"] = child
                self._known_pids.add(child.pid)
        return found

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(self.base_url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")
        except (urllib.error.URLError, OSError):
            return 0, None

    def _auth_header(self) -> dict[str, str]:
        import base64

        secrets = json.loads((self.workdir / ".scheduler0").read_text())
        token = base64.b64encode(f"{secrets['AuthUsername']}:{secrets['AuthPassword']}".encode())
        return {"Authorization": "Basic " + token.decode(), "Content-Type": "application/json"}

    def raw(self, path: str) -> str:
        """GET a non-JSON route (e.g. /metrics) with the node secrets."""
        request = urllib.request.Request(self.base_url + path, headers=self._auth_header())
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(response.read().decode())

    def api(self, method: str, path: str, body: Any = None,
            headers: dict[str, str] | None = None) -> Any:
        """Call the API with the node secrets (HTTP Basic) and `headers`; returns `data`,
        asserts success."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={**self._auth_header(), **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())["data"]
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from None

    def executions(self, **query: Any) -> list[dict[str, Any]]:
        """Every execution matching `query` (all pages, by keyset): without a state, those in
        flight (`state=scheduled`) and then the recorded ones. A tick settling between the two
        reads is in both: its recorded row is kept, so each tick is listed once."""
        states = [query.pop("state")] if "state" in query else ["scheduled", None]
        rows: list[dict[str, Any]] = []
        for state in states:
            after = None
            for _ in range(10_000):
                params = {**query, "limit": 1000}
                if state:
                    params["state"] = state
                if after:
                    params["after"] = after
                page = self.api("GET", "/executions?" + "&".join(
                    f"{k}={v}" for k, v in params.items()))
                rows += page["executions"]
                after = page["next_after"]
                if not after:
                    break
        if len(states) == 1:
            return rows
        by_id = {row["execution_id"]: row for row in rows}  # the recorded row comes last
        return list(by_id.values())

    def health(self, detail: bool = True) -> dict[str, Any] | None:
        """The health check; `detail` sends the node secrets (once the node has written them),
        which adds peers, Raft indexes and the planner and intake counters."""
        send_auth = detail and (self.workdir / ".scheduler0").exists()
        status, body = self.get("/healthcheck", self._auth_header() if send_auth else None)
        return body["data"] if status == 200 else None

    def wait_leader(self, timeout: float = 20.0) -> dict[str, Any]:
        return wait_for(lambda: (h := self.health()) and h["is_leader"] and h,
                        timeout=timeout, message=f"node on {self.port} to lead ({self.log_path})")

    def terminate(self, timeout: float = 10.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill_all(self) -> None:
        """Stop the supervisor and every child it ever had, by pid."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.children()
            except psutil.Error:
                pass
        for pid in self._known_pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            self.proc.wait(10)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")
