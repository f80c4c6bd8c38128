"""Integration tests: real processes, real sockets, loopback only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.nodeproc import NodeProcess


@pytest.fixture
def node_factory(tmp_path: Path) -> Iterator:
    started: list[NodeProcess] = []

    def make(**settings) -> NodeProcess:
        workdir = tmp_path / f"node{len(started)}"
        workdir.mkdir()
        node = NodeProcess(workdir, **settings)
        started.append(node)
        return node

    yield make
    for node in started:
        node.kill_all()
