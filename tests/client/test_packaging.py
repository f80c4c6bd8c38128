"""`clients/python` builds into a wheel that installs alone in a fresh virtual environment,
without the server's dependencies, ships py.typed, and talks to the real node from there.
Offline: the wheel is built with this environment's setuptools and wheel, the new
environment gets pip from ensurepip, and nothing is fetched."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLIENT_ROOT = Path(__file__).resolve().parents[2] / "clients" / "python"
pytest.importorskip("wheel", reason="building the wheel offline needs the wheel package "
                    "(in setup.cfg's test extras)")

CHECK = """
import importlib.util, pathlib, sys
import scheduler0_client
from importlib.metadata import requires
from scheduler0_client import Client, sign, verify_signature
here = pathlib.Path(scheduler0_client.__file__).parent
assert str(here).startswith(sys.prefix), here
assert (here / "py.typed").exists()
assert requires("scheduler0-client") is None, requires("scheduler0-client")
for server_dependency in ("scheduler0", "flask", "zmq", "pysyncobj", "aiohttp", "msgspec"):
    assert importlib.util.find_spec(server_dependency) is None, server_dependency
headers = {"X-Scheduler0-Timestamp": "1800000000",
           "X-Scheduler0-Signature": sign("s", 1800000000, b"[]")}
assert verify_signature("s", headers, b"[]", now=1800000000)
print(Client(sys.argv[1]).health()["healthy"])
"""


def run(*command: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done.stdout


def test_the_wheel_installs_alone_and_reaches_the_node(tmp_path: Path, base_url: str) -> None:
    source = tmp_path / "source"  # a copy: a build leaves build/ and egg-info behind
    shutil.copytree(CLIENT_ROOT, source, ignore=shutil.ignore_patterns(
        "build", "dist", "*.egg-info", "__pycache__", ".ruff_cache"))
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index",
        "--no-build-isolation", "--wheel-dir", tmp_path / "dist", source)
    wheels = list((tmp_path / "dist").glob("scheduler0_client-*-py3-none-any.whl"))
    assert len(wheels) == 1, wheels
    run(sys.executable, "-m", "venv", tmp_path / "venv")
    python = tmp_path / "venv" / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", wheels[0])
    # Run from tmp_path, so that the checkout is not on the new environment's path.
    assert run(python, "-c", CHECK, base_url, cwd=tmp_path).strip() == "True"
