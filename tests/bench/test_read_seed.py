"""The read benchmark's fast seed (bench/history_seed.py) writes what applying its PLAN and
RESULT commands writes: every table, row for row and value for value, in the same types.

One value is left out: the request id each command's result is kept under (`requests`), a
random uuid4 of the proposer's in both. Every other value is compared, times included: the
seed stamps every command with the benchmark's clock (T0 and the ticks), not the wall clock.
Only the physical layout differs (pages, the order of sqlite_master, the indexes' root
pages): it changes no answer, only how many pages one costs.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench import read_bench

# (jobs, ticks): a few batches a tick; several PLAN and RESULT commands a tick, the last of
# each and the last batch short; ten hours of ticks, so hour rollups and the prune of the
# kept results (every 1,024 indexes, those older than an hour) come in.
CASES = [(3000, 5), (20_500, 3), (10, 600)]


def seeded(folder: Path, jobs: int, ticks: int, fast: bool) -> str:
    path = str(folder / "scheduler0.db")
    read_bench.seed(path, jobs, jobs * ticks, fast)
    return path


@pytest.fixture(scope="module", params=CASES, ids=[f"{j}x{t}" for j, t in CASES])
def files(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[str, str, int, int]]:
    jobs, ticks = request.param
    folder = tmp_path_factory.mktemp("read-seed")
    yield (seeded(folder / "apply", jobs, ticks, fast=False),
           seeded(folder / "fast", jobs, ticks, fast=True), jobs, ticks)
    shutil.rmtree(folder, ignore_errors=True)


RANDOM = {"requests": {"request_id"}}


def _rows(conn: sqlite3.Connection, table: str) -> list[tuple[Any, ...]]:
    """Every row of `table` as SQL literals (quote() tells 3 from 3.0, '' from x'' and NULL),
    with the rowid where the table has one (it decides the order of a scan); a random
    column as its shape only."""
    columns = [row[1] if row[1] not in RANDOM.get(table, ()) else
               f"length({row[1]}) || typeof({row[1]})"
               for row in conn.execute(f"PRAGMA table_info({table})")]
    values = ", ".join(f"quote({c})" for c in columns)
    try:
        found = conn.execute(f"SELECT rowid, {values} FROM {table}").fetchall()
    except sqlite3.OperationalError:  # WITHOUT ROWID
        found = conn.execute(f"SELECT {values} FROM {table}").fetchall()
    return sorted(tuple(str(v) for v in row) for row in found)


def contents(path: str) -> dict[str, list[tuple[Any, ...]]]:
    """The file as reads see it: each table's rows, the schema's definitions, the pragmas the
    file keeps."""
    conn = sqlite3.connect(Path(path).as_uri() + "?mode=ro", uri=True)
    try:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        found = {table: _rows(conn, table) for table in tables}
        found["sqlite_master"] = sorted(conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall(), key=repr)
        for pragma in ("user_version", "journal_mode"):
            found[pragma] = conn.execute(f"PRAGMA {pragma}").fetchall()
        return found
    finally:
        conn.close()


def differences(apply_path: str, fast_path: str) -> list[str]:
    applied, fast = contents(apply_path), contents(fast_path)
    return [f"{name}: applied {applied.get(name)!r:.300} fast {fast.get(name)!r:.300}"
            for name in sorted(set(applied) | set(fast)) if applied.get(name) != fast.get(name)]


def test_the_fast_seed_writes_every_table_as_applying_does(
        files: tuple[str, str, int, int]) -> None:
    applied, fast, _, _ = files
    assert differences(applied, fast) == []


def test_the_seeds_wrote_the_workload(files: tuple[str, str, int, int]) -> None:
    """The comparison compares something: both files hold every tick, a few of them failed,
    and the batches, counters and kept results of a finished history."""
    _, fast, jobs, ticks = files
    found = contents(fast)
    assert len(found["runs_ok"]) + len(found["runs_bad"]) == jobs * ticks
    assert 0 < len(found["runs_bad"]) < jobs * ticks // 50
    assert len(found["job_last"]) == jobs
    assert len(found["pending"]) == ticks * -(-jobs // read_bench.BATCH)
    assert ("'pending_ticks'", "0") in found["counters"]
    assert found["requests"]


def test_a_value_of_another_type_is_a_difference(files: tuple[str, str, int, int],
                                                 tmp_path: Path) -> None:
    """An empty text where applying leaves an empty blob reads the same in Python but is
    another encoding: the comparison must see it."""
    changed = str(tmp_path / "changed.db")
    applied, fast, _, _ = files
    shutil.copy(fast, changed)
    conn = sqlite3.connect(changed, isolation_level=None)
    conn.execute("UPDATE pending SET settled = '' WHERE rowid = 1")
    conn.close()
    assert [line.split(":")[0] for line in differences(applied, changed)] == ["pending"]
