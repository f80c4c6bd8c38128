"""Fencing kills a silent executor of this node, and nothing else."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import psutil

from scheduler0.coordinator.fencing import fence_executor

# A stand-in supervisor: starts an "executor" and a "coordinator" (siblings); the coordinator
# fences the executor and prints what fence_executor answered.
SUPERVISOR = textwrap.dedent("""
    import subprocess, sys
    executor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    coordinator = subprocess.run(
        [sys.executable, "-c",
         "import sys; from scheduler0.coordinator.fencing import fence_executor; "
         f"print(fence_executor({executor.pid}))"],
        capture_output=True, text=True, timeout=30)
    code = executor.wait(timeout=10)
    print(coordinator.stdout.strip(), code)
""")


def test_a_sibling_executor_is_killed():
    run = subprocess.run([sys.executable, "-c", SUPERVISOR], capture_output=True, text=True,
                         timeout=60)
    assert run.stdout.split() == ["True", "-9"], run.stderr


def test_a_process_that_is_not_a_sibling_is_left_alone():
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert fence_executor(stranger.pid)  # not this node's: its executor is gone already
        assert psutil.Process(stranger.pid).status() != psutil.STATUS_ZOMBIE
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait(timeout=10)


def test_a_pid_with_no_process_counts_as_gone():
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=10)
    assert fence_executor(gone.pid)
