"""A real node keeps its data from other local users: DataDir and run/ 0700, files 0600.

Checked as another user (`runuser -u nobody`), in a work directory that user can traverse, and
with the umask most shells have (022). Each test first shows that user *can* read what is open,
so a pass means the node closed it.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler0 import secrets_file
from scheduler0.store import db
from scheduler0.testing import wait_for
from tests.integration.nodeproc import NodeProcess

OTHER_USER = "nobody"


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root to run commands as another user"
    if shutil.which("runuser") is None:
        return "runuser is not installed"
    try:
        pwd.getpwnam(OTHER_USER)
    except KeyError:
        return f"there is no user {OTHER_USER!r}"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


def as_other_user(*cmd: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["runuser", "-u", OTHER_USER, "--", *map(str, cmd)],
                          capture_output=True, timeout=30)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def open_workdir() -> Iterator[Path]:
    # Not tmp_path: pytest's base directory is 0700, which would hide everything anyway.
    path = Path(tempfile.mkdtemp(prefix="s0perm-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def started() -> Iterator[list[NodeProcess]]:
    nodes: list[NodeProcess] = []
    yield nodes
    for node in nodes:
        node.kill_all()


def _start_with_loose_umask(node: NodeProcess, started: list[NodeProcess]) -> None:
    with umask(0o022):  # the node inherits it at fork; 022 makes 0644 files unless it acts
        started.append(node.start())


def _write_data(node: NodeProcess) -> dict:
    node.wait_leader()
    project = node.api("POST", "/projects", {"name": "perm"})
    node.api("POST", "/credentials", {})
    data = Path(node.env["SCHEDULER0_DATA_DIR"])
    wait_for(lambda: all((data / name).exists() for name in
                         ("scheduler0.db", "scheduler0.db-wal", "raft.journal")),
             timeout=20, message="the database, its WAL and the Raft journal")
    return project


def _every_entry(root: Path) -> list[Path]:
    found = []
    for parent, dirs, files in os.walk(root):  # os.walk does not descend into symlinks
        found += [Path(parent) / name for name in dirs + files]
    return found


def _assert_private(data: Path, secrets: Path, skip: tuple[Path, ...] = ()) -> None:
    assert mode(data) == 0o700 and mode(data / "run") == 0o700
    entries = [p for p in _every_entry(data) if p not in skip]
    assert {p.name for p in entries} >= {"scheduler0.db", "scheduler0.db-wal", "raft.journal",
                                         "run"}
    opened = {str(p): oct(mode(p)) for p in entries if mode(p) & 0o077}
    assert opened == {}
    files = {str(p): oct(mode(p)) for p in entries if stat.S_ISREG(os.lstat(p).st_mode)}
    assert set(files.values()) == {oct(0o600)}, files
    assert mode(secrets) == 0o600
    for path in (data / "scheduler0.db", data / "scheduler0.db-wal", data / "raft.journal",
                 secrets):
        assert as_other_user("cat", path).returncode != 0, path
    assert as_other_user("ls", data).returncode != 0


def test_a_loosened_data_dir_is_made_private_at_start_and_stays_so(open_workdir, started):
    workdir = open_workdir
    node = NodeProcess(workdir, secrets=secrets_file.generate().to_file_dict())
    secrets = workdir / ".scheduler0"
    secrets.chmod(0o644)
    data = workdir / "data"
    with umask(0o022):  # what an older version left behind
        data.mkdir()
        (data / "run").mkdir()
        db.open_writer(str(data / "scheduler0.db")).close()
        (data / "notes.txt").write_text("an operator's file")
    outside = workdir / "outside.txt"
    outside.write_text("not the node's to change")
    (data / "link").symlink_to(outside)
    loose = [p for p in _every_entry(data) if stat.S_ISREG(os.lstat(p).st_mode)]
    assert {mode(p) for p in loose} == {0o644} and mode(data) == 0o755
    assert as_other_user("cat", data / "scheduler0.db").returncode == 0  # open, as it was
    assert as_other_user("ls", data).returncode == 0
    assert as_other_user("cat", secrets).returncode == 0

    _start_with_loose_umask(node, started)
    project = _write_data(node)

    assert project["signing_secret"].encode() in (data / "scheduler0.db").read_bytes() + (
        data / "scheduler0.db-wal").read_bytes()  # what there is to protect
    _assert_private(data, secrets, skip=(data / "link",))
    assert mode(outside) == 0o644  # the symlink was not followed
    log = node.log_text()
    assert (f"tightened permissions of {len(loose)} files and 2 directories in {data} and of "
            f"the secrets file {secrets} (they were open to other users)") in log, log
    assert "left the permissions of 1 path unchanged" in log and str(data / "link") in log
    assert node.terminate() == 0


def test_a_new_data_dir_is_private_from_the_start(open_workdir, started):
    node = NodeProcess(open_workdir)  # no secrets file: the node generates it
    assert as_other_user("ls", open_workdir).returncode == 0  # the work directory is open
    _start_with_loose_umask(node, started)
    _write_data(node)
    secrets = open_workdir / ".scheduler0"
    assert json.loads(secrets.read_text())["AuthPassword"]
    _assert_private(open_workdir / "data", secrets)
    assert "tightened permissions" not in node.log_text()
    assert node.terminate() == 0
