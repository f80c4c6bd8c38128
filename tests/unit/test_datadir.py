"""DataDir and the secrets file are made private: created 0700/0600, loosened ones tightened."""

from __future__ import annotations

import os
import stat

import pytest

from scheduler0 import datadir, secrets_file


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _loose_data_dir(tmp_path):
    data = tmp_path / "data"
    (data / "run").mkdir(parents=True)
    (data / "sub").mkdir()
    for path, bits in ((data, 0o755), (data / "run", 0o755), (data / "sub", 0o775)):
        path.chmod(bits)
    files = {"scheduler0.db": 0o644, "scheduler0.db-wal": 0o664, "raft.journal": 0o640,
             "tool": 0o755, "private": 0o600, "sub/deep": 0o644}
    for name, bits in files.items():
        (data / name).write_text(name)
        (data / name).chmod(bits)
    return data


def test_prepare_creates_data_dir_and_run_0700_under_a_loose_umask(tmp_path, loose_umask):
    data = tmp_path / "a" / "data"
    report = datadir.prepare(str(data), str(data / "run"))
    assert mode(data) == 0o700 and mode(data / "run") == 0o700
    assert report.summary() is None and report.warning() is None


def test_prepare_removes_group_and_other_bits_from_everything(tmp_path):
    data = _loose_data_dir(tmp_path)
    report = datadir.prepare(str(data), str(data / "run"))
    assert [mode(data / d) for d in ("", "run", "sub")] == [0o700] * 3
    assert {name: mode(data / name) for name in ("scheduler0.db", "scheduler0.db-wal",
                                                 "raft.journal", "tool", "private",
                                                 "sub/deep")} == {
        "scheduler0.db": 0o600, "scheduler0.db-wal": 0o600, "raft.journal": 0o600,
        "tool": 0o700, "private": 0o600, "sub/deep": 0o600}
    assert report.summary() == (f"tightened permissions of 5 files and 3 directories in {data} "
                                "(they were open to other users)")
    again = datadir.prepare(str(data), str(data / "run"))
    assert again.summary() is None


def test_symlinks_are_not_followed_and_are_reported(tmp_path):
    data = _loose_data_dir(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "file").write_text("not ours to change")
    outside.chmod(0o755)
    (outside / "file").chmod(0o644)
    (data / "link-to-file").symlink_to(outside / "file")
    (data / "link-to-dir").symlink_to(outside)
    report = datadir.prepare(str(data), str(data / "run"))
    assert mode(outside) == 0o755 and mode(outside / "file") == 0o644
    assert sorted(report.left_alone) == [str(data / "link-to-dir"), str(data / "link-to-file")]
    warning = report.warning()
    assert warning is not None and "left the permissions of 2 paths unchanged" in warning
    assert str(data / "link-to-file") in warning


def test_hard_linked_files_are_left_alone(tmp_path):
    data = _loose_data_dir(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("x")
    elsewhere.chmod(0o644)
    os.link(elsewhere, data / "hard")
    report = datadir.prepare(str(data), str(data / "run"))
    assert mode(elsewhere) == 0o644
    assert report.left_alone == [str(data / "hard")]


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_entries_of_another_user_are_left_alone(tmp_path):
    import pwd

    data = _loose_data_dir(tmp_path)
    (data / "theirs").write_text("x")
    (data / "theirs").chmod(0o644)
    os.chown(data / "theirs", pwd.getpwnam("nobody").pw_uid, -1)
    report = datadir.prepare(str(data), str(data / "run"))
    assert mode(data / "theirs") == 0o644 and report.left_alone == [str(data / "theirs")]


def test_a_symlinked_data_dir_is_its_target(tmp_path):
    real = _loose_data_dir(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(real)
    datadir.prepare(str(link), str(link / "run"))
    assert mode(real) == 0o700 and mode(real / "scheduler0.db") == 0o600


def test_the_secrets_file_is_tightened_unless_it_is_a_symlink(tmp_path):
    data = tmp_path / "data"
    secrets = tmp_path / ".scheduler0"
    secrets.write_text("{}")
    secrets.chmod(0o644)
    report = datadir.prepare(str(data), str(data / "run"), str(secrets))
    assert mode(secrets) == 0o600
    assert report.summary() == (f"tightened permissions of the secrets file {secrets} "
                                "(they were open to other users)")
    mounted = tmp_path / "mounted"
    mounted.write_text("{}")
    mounted.chmod(0o644)
    (tmp_path / "linked").symlink_to(mounted)
    report = datadir.prepare(str(data), str(data / "run"), str(tmp_path / "linked"))
    assert mode(mounted) == 0o644 and report.summary() is None and report.left_alone == []


def test_secrets_file_write_is_0600_in_a_new_0700_directory(tmp_path, loose_umask):
    path = tmp_path / "etc" / "scheduler0" / "secrets"
    secrets_file.write(str(path), secrets_file.generate())
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["secrets"]


def test_secrets_file_write_does_not_follow_a_planted_temporary_symlink(tmp_path):
    # The old writer opened `<path>.tmp.<pid>` with O_CREAT|O_TRUNC, following a symlink there.
    path = tmp_path / "secrets"
    target = tmp_path / "attacker-readable"
    target.write_text("")
    target.chmod(0o644)
    (tmp_path / f"secrets.tmp.{os.getpid()}").symlink_to(target)
    secrets_file.write(str(path), secrets_file.generate())
    assert target.read_text() == "" and mode(target) == 0o644
    assert not path.is_symlink() and mode(path) == 0o600
