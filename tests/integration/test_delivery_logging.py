"""A failed delivery is logged without the secrets a callback URL may carry."""

from __future__ import annotations

import asyncio
import logging

import pytest

from scheduler0 import config, messages
from scheduler0.delivery.client import Deliverer
from scheduler0.testing import free_port

pytestmark = pytest.mark.timeout(60)


def test_a_failed_chunk_is_logged_without_userinfo_or_query(tmp_path, caplog):
    settings = config.Settings(data_dir=str(tmp_path), node_id=7,
                               callback_allowed_networks=("127.0.0.0/8",),
                               job_execution_timeout=5.0, job_execution_retry_max=0)
    port = free_port()  # nothing listens there: the attempt is refused
    url = f"http://bot:pw-secret@127.0.0.1:{port}/hook/in?token=tok-secret#frag"
    batch = messages.BATCHES.decode_map({
        "v": 1, "type": "batch", "batch_id": "b-log", "fire_at": 0, "deadline": 60,
        "executions": [{"execution_id": "exe-1", "id": 1, "project_id": 1,
                        "scheduled_at": 1795784400, "spec": "@every 1m", "timezone": "UTC",
                        "data": "d", "callback_url": url}],
        "signing_secrets": {"1": "s"}})
    assert batch is not None

    async def go() -> list:
        async with Deliverer(settings) as deliverer:
            return await asyncio.wait_for(deliverer.deliver(batch), 30)

    with caplog.at_level(logging.INFO, logger="scheduler0.delivery.client"):
        [result] = asyncio.run(go())
    assert (result.state, result.error) == ("failed", "connection refused")
    [line] = [r.getMessage() for r in caplog.records if "failed after" in r.getMessage()]
    assert f"to http://127.0.0.1:{port}/hook/in failed after 1 attempts" in line
    assert "pw-secret" not in caplog.text and "tok-secret" not in caplog.text
    assert "bot" not in line and "frag" not in line
