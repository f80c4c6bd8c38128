"""API tests: the Flask test client against a real single node (pysyncobj + SQLite).

One node per test module (starting one costs about a second); tests keep to their own
projects (unique names) so they do not depend on each other's data.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from scheduler0.api import create_app
from scheduler0.testing import local_node
from tests.api.helpers import NODE_AUTH, Api, basic_auth


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with local_node(tmp_path_factory.mktemp("node")) as services:
        yield services


@pytest.fixture(scope="module")
def app(node: Any) -> Any:
    return create_app(node.settings, node, node_auth=NODE_AUTH)


@pytest.fixture(scope="module")
def credential(app: Any) -> dict[str, Any]:
    """An active credential created through the API with the node's Basic auth."""
    response = app.test_client().post("/api/v1/credentials", headers=basic_auth(*NODE_AUTH))
    assert response.status_code == 201, response.json
    return dict(response.json["data"])


@pytest.fixture(scope="module")
def api(app: Any, credential: dict[str, Any]) -> Api:
    return Api(app.test_client(), {"x-api-key": credential["api_key"],
                                   "x-secret-key": credential["api_secret"]})
