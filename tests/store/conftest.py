"""Store tests run against real SQLite files in tmp_path; commands go through apply()."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler0.store import Reader, StateMachine
from tests.store.helpers import Log


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "data" / "scheduler0.db")


@pytest.fixture
def machine(db_path: str) -> Iterator[StateMachine]:
    m = StateMachine(db_path)
    yield m
    m.close()


@pytest.fixture
def log(machine: StateMachine) -> Log:
    return Log(machine)


@pytest.fixture
def reader(machine: StateMachine) -> Iterator[Reader]:
    r = Reader(machine.db_path)
    yield r
    r.close()
