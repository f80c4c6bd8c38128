"""The node's data directory, kept private to the user who runs the node.

DataDir holds the SQLite file (every project's signing secret, in plain text), its -wal and
-shm, the Raft journal and dump, snapshots, and run/ with the ipc sockets between the node's
processes. Whoever can read them can forge signed callbacks, so:

- the supervisor sets the umask to PRIVATE_UMASK before it creates anything, and its children
  inherit it: every file the node creates is 0600 (sockets 0700), every directory 0700;
- `prepare` creates DataDir and run/ 0700 and, at every start, removes the group and other
  permission bits from DataDir and everything under it (0755 becomes 0700, 0644 becomes 0600),
  so a DataDir made under a looser umask is private again before any process opens it.

Symlinks under DataDir are never followed or changed (DataDir itself may be one, to another
disk say: its target is meant). A directory is made private before its entries are read, so
no other user can swap an entry between its lstat and its chmod. Symlinks, regular files with
other hard links and entries that are not this user's are left as they are and reported: they
may be or point at someone else's file, whose mode this node has no business changing.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from scheduler0.errors import ConfigError

PRIVATE_UMASK = 0o077
OPEN_BITS = 0o077  # the group and other permission bits
SHOWN_PATHS = 5  # paths a warning names before it says "and N more"


@dataclass
class Tightened:
    """What `prepare` changed (and left alone), for the supervisor's start-up log."""

    data_dir: str
    directories: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    secrets_file: str | None = None  # set when the secrets file was made private
    left_alone: list[str] = field(default_factory=list)

    def summary(self) -> str | None:
        """One line saying what was made private; None when everything already was."""
        counts = [_count(len(self.files), "file", "files"),
                  _count(len(self.directories), "directory", "directories")]
        found = " and ".join(c for c in counts if c)
        parts = [f"{found} in {self.data_dir}"] if found else []
        if self.secrets_file is not None:
            parts.append(f"the secrets file {self.secrets_file}")
        if not parts:
            return None
        return (f"tightened permissions of {' and of '.join(parts)} "
                "(they were open to other users)")

    def warning(self) -> str | None:
        """One line naming what was left open to other users; None when nothing was."""
        if not self.left_alone:
            return None
        shown = ", ".join(self.left_alone[:SHOWN_PATHS])
        more = len(self.left_alone) - SHOWN_PATHS
        if more > 0:
            shown += f" and {more} more"
        return (f"left the permissions of {_count(len(self.left_alone), 'path', 'paths')} "
                "unchanged (symlinks, hard-linked files, unreadable directories or not owned by "
                f"this user); check that other users cannot read them: {shown}")


def _count(n: int, singular: str, plural: str) -> str:
    if n == 0:
        return ""
    return f"{n} {singular if n == 1 else plural}"


def prepare(data_dir: str, run_dir: str, secrets_path: str | None = None) -> Tightened:
    """Create DataDir and run/ (0700) and make DataDir, everything under it and the secrets file
    private to this user.

    Raises ConfigError naming DataDir when it cannot be created or made private; entries under
    it that cannot be changed are reported in `Tightened.left_alone` instead.
    """
    report = Tightened(os.path.abspath(data_dir))
    for path in (data_dir, run_dir):
        try:
            os.makedirs(path, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"config key DataDir: cannot create {os.path.abspath(path)} "
                              f"({exc.strerror}); choose a directory this user can write") from None
    _tighten_root(report)
    _tighten_entries(report)
    if secrets_path is not None:
        _tighten_secrets_file(secrets_path, report)
    return report


def _tighten_root(report: Tightened) -> None:
    # DataDir itself may be a symlink the operator made (to another disk): its target is meant.
    root = report.data_dir
    mode = stat.S_IMODE(os.stat(root).st_mode)
    if not mode & OPEN_BITS:
        return
    try:
        os.chmod(root, mode & ~OPEN_BITS)
    except OSError as exc:
        raise ConfigError(f"config key DataDir: {root} is open to other users (mode "
                          f"{mode:04o}) and cannot be made private ({exc.strerror}); chown it "
                          "to the user running the node, or run `chmod 700` on it") from None
    report.directories.append(root)


def _tighten_entries(report: Tightened) -> None:
    pending = [report.data_dir]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as entries:
                found = [(entry.path, entry.stat(follow_symlinks=False)) for entry in entries]
        except OSError:
            report.left_alone.append(directory)
            continue
        for path, info in found:
            if _tighten_one(path, info, report) and stat.S_ISDIR(info.st_mode):
                pending.append(path)


def _tighten_one(path: str, info: os.stat_result, report: Tightened) -> bool:
    """Make one entry private; True when it now is (or already was)."""
    kind = info.st_mode
    if stat.S_ISLNK(kind):
        report.left_alone.append(path)
        return False
    if not kind & OPEN_BITS:
        return True
    if info.st_uid != os.geteuid() or (stat.S_ISREG(kind) and info.st_nlink > 1):
        report.left_alone.append(path)
        return False
    try:
        os.chmod(path, stat.S_IMODE(kind) & ~OPEN_BITS)
    except OSError:
        report.left_alone.append(path)
        return False
    (report.directories if stat.S_ISDIR(kind) else report.files).append(path)
    return True


def _tighten_secrets_file(path: str, report: Tightened) -> None:
    # A symlinked secrets file (a mounted secret) is left to whoever manages its target.
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(info.st_mode) or not info.st_mode & OPEN_BITS:
        return
    if info.st_uid == os.geteuid():
        try:
            os.chmod(path, stat.S_IMODE(info.st_mode) & ~OPEN_BITS)
            report.secrets_file = os.path.abspath(path)
            return
        except OSError:
            pass  # a read-only mount, say: reported below
    report.left_alone.append(os.path.abspath(path))
