"""The supervisor as real processes: start, health, restart of a killed child, clean stop,
the memory guard, and start-up refusals."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime

import psutil

from scheduler0.supervisor import MemoryGuard, backoff_delay
from scheduler0.testing import free_port, wait_for

ROLES = {"coordinator", "api", "executor-0"}


def test_node_starts_answers_health_and_stops_on_sigterm_within_10s(node_factory):
    node = node_factory().start()
    health = node.wait_leader()
    assert health["node_id"] == 1 and health["leader_id"] == 1
    assert health["memory_pressure"] is False
    children = wait_for(lambda: (c := node.children()) and set(c) == ROLES and c,
                        message="all children")
    pids = [p.pid for p in children.values()]
    started = time.monotonic()
    assert node.terminate(timeout=10) == 0
    assert time.monotonic() - started < 10
    assert not [pid for pid in pids if psutil.pid_exists(pid)
                and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert "node stopped" in node.log_text()


def test_a_killed_child_is_restarted_and_the_reason_logged(node_factory):
    node = node_factory().start()
    node.wait_leader()
    before = wait_for(lambda: (c := node.children()) and set(c) == ROLES and c,
                      message="all children")
    for role in ("coordinator", "executor-0"):
        old = before[role].pid
        before[role].send_signal(signal.SIGKILL)
        wait_for(lambda r=role, o=old: (c := node.children()).get(r) and c[r].pid != o,
                 timeout=15, message=f"{role} restarted")
    assert "coordinator exited (killed by SIGKILL)" in node.log_text()
    assert "executor-0 exited (killed by SIGKILL)" in node.log_text()
    assert node.wait_leader()["is_leader"] is True


def test_create_credential_prints_only_json(node_factory):
    node = node_factory().start()
    node.wait_leader()
    result = subprocess.run([sys.executable, "-m", "scheduler0.cli", "create", "credential"],
                            cwd=node.workdir, env=node.env, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert {"id", "api_key", "api_secret"} <= set(created)
    listed = subprocess.run([sys.executable, "-m", "scheduler0.cli", "list", "credentials"],
                            cwd=node.workdir, env=node.env, capture_output=True, timeout=30)
    assert json.loads(listed.stdout)["credentials"][0]["api_key"] == created["api_key"]
    assert "api_secret" not in listed.stdout.decode()


def test_memory_guard_reports_pressure_with_a_small_limit(node_factory):
    # Four Python processes need far more than 70 % of 64 MB: the guard must switch on,
    # and the node must keep running and answering.
    node = node_factory(MaxMemory=64).start()
    wait_for(lambda: (h := node.health()) and h["memory_pressure"], timeout=20,
             message="memory_pressure true")
    assert "taking no new work" in node.log_text()
    assert node.proc.poll() is None


def test_memory_guard_hysteresis():
    guard = MemoryGuard(100)
    mb = 1024 * 1024
    assert guard.update(69 * mb) is False and guard.pressure is False
    assert guard.update(70 * mb) is True and guard.pressure is True
    assert guard.update(61 * mb) is False and guard.pressure is True
    assert guard.update(59 * mb) is True and guard.pressure is False


def test_backoff_doubles_and_is_capped():
    assert [backoff_delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_delay(50) == 30.0


def _start(workdir, env, *args):
    return subprocess.run([sys.executable, "-m", "scheduler0.cli", "start", *args], cwd=workdir,
                          env=env, capture_output=True, timeout=30)


def test_bad_config_stops_start_up_with_exit_2_and_one_line(node_factory):
    node = node_factory()
    (node.workdir / "config.yml").write_text("MaxQueue: lots\n")
    result = _start(node.workdir, node.env, "--config", "config.yml")
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "MaxQueue" in lines[0] and "'lots'" in lines[0]
    (node.workdir / "config.yml").unlink()  # ./config.yml is read when present
    env = dict(node.env, SCHEDULER0_DEFAULT_TIMEZONE="Mars/Olympus")
    result = _start(node.workdir, env)
    assert result.returncode == 2 and b"Mars/Olympus" in result.stderr
    missing = _start(node.workdir, node.env, "--config", "nope.yml")
    assert missing.returncode == 2 and b"cannot be read" in missing.stderr
    assert b"Traceback" not in result.stderr + missing.stderr


def test_port_in_use_stops_start_up_with_exit_2(node_factory):
    port = free_port()
    node = node_factory(Port=port)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = _start(node.workdir, node.env)
    assert result.returncode == 2
    assert f"config key Port: port {port}" in result.stderr.decode()


def test_start_up_log_says_which_callback_networks_are_in_force(node_factory):
    open_node = node_factory(CallbackAllowedNetworks="[]").start()
    open_node.wait_leader()
    wait_for(lambda: "callbacks may reach any address except" in open_node.log_text(),
             message="the callback policy line")
    line = next(t for t in open_node.log_text().splitlines() if "callbacks may reach" in t)
    assert "169.254.0.0/16" in line and "fe80::/10" in line
    assert "CallbackAllowedNetworks" in line  # how to restrict them
    assert open_node.terminate(timeout=10) == 0

    closed_node = node_factory().start()  # the test default: 127.0.0.0/8
    closed_node.wait_leader()
    wait_for(lambda: "callbacks may reach only 127.0.0.0/8; never 169.254.0.0/16"
             in closed_node.log_text(), message="the restricted policy line")
    assert closed_node.terminate(timeout=10) == 0


def test_the_coordinator_has_its_command_socket_bound_before_the_others_start(node_factory):
    """The coordinator starts alone (Raft and the node's election wait for it); the API and the
    executors start once its command socket is bound."""
    node = node_factory().start()
    node.wait_leader()
    wait_for(lambda: (c := node.children()) and set(c) == ROLES, message="all children")
    bound_at = (node.workdir / "data" / "run" / "commands.sock").stat().st_mtime  # bind()
    started = {}
    for line in node.log_text().splitlines():
        if "role=supervisor" in line and " started " in line:
            stamp, role = line.split()[0], line.split(" started ")[1].split()[0]
            started[role] = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=UTC).timestamp()
    assert set(started) == ROLES
    assert started["coordinator"] < bound_at
    for role in ("api", "executor-0"):
        # The file's time is the kernel's coarse clock (a few ms behind): allow 10 ms.
        assert started[role] >= bound_at - 0.01, role
