"""Client tests: the package in clients/python (imported from there, not installed) against a
real node (`scheduler0 start`, loopback only, callbacks restricted to 127.0.0.0/8).

One node serves the whole package (starting one takes seconds); each test keeps to its own
projects, so none depends on another's data.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The package as it is in the tree, ahead of any installed copy. pytest loads this file
# before the test modules beside it, so they import scheduler0_client as usual.
CLIENT_ROOT = Path(__file__).resolve().parents[2] / "clients" / "python"
if str(CLIENT_ROOT) not in sys.path:
    sys.path.insert(0, str(CLIENT_ROOT))

from scheduler0_client import Client  # noqa: E402

from tests.integration.nodeproc import NodeProcess  # noqa: E402
from tests.integration.receiver import Receiver  # noqa: E402


@pytest.fixture(scope="package")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    workdir = tmp_path_factory.mktemp("client-node")
    process = NodeProcess(workdir, JobExecutionRetryDelay=0.2)
    try:
        process.start()
        process.wait_leader()
        yield process
    finally:
        process.kill_all()


@pytest.fixture(scope="package")
def node_auth(node: NodeProcess) -> tuple[str, str]:
    """The node's AuthUsername and AuthPassword, from the secrets file it wrote."""
    secrets = json.loads((node.workdir / ".scheduler0").read_text())
    return secrets["AuthUsername"], secrets["AuthPassword"]


@pytest.fixture(scope="package")
def base_url(node: NodeProcess) -> str:
    return f"http://127.0.0.1:{node.port}"


@pytest.fixture(scope="package")
def credential(base_url: str, node_auth: tuple[str, str]) -> dict[str, str]:
    """An admin API credential, created through the client with the node's auth."""
    created = Client(base_url, basic_auth=node_auth).create_credential(role="admin")
    return {"api_key": created["api_key"], "api_secret": created["api_secret"]}


@pytest.fixture
def client(base_url: str, credential: dict[str, str]) -> Client:
    return Client(base_url, **credential)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as rx:
        yield rx
