"""A client for scheduler0's HTTP API, sync (`Client`) and asyncio (`AsyncClient`), with
nothing but the standard library, and `verify_signature` for the callbacks it sends.

    from scheduler0_client import Client

    client = Client("http://127.0.0.1:9091", api_key=KEY, api_secret=SECRET)
    project = client.create_project("demo")
    job = client.create_job({"project_id": project["id"], "spec": "@every 1m",
                             "callback_url": "http://127.0.0.1:8000/callback"})
    for execution in client.iter_executions(job_id=job["id"]):
        print(execution["state"])
"""

from __future__ import annotations

from scheduler0_client._calls.jobs import MAX_JOBS_PER_REQUEST
from scheduler0_client._request import Call
from scheduler0_client._retry import NO_RETRY, Clock, RetryPolicy, SystemClock
from scheduler0_client._session import Request, Response, Transport
from scheduler0_client._transport import HttpTransport
from scheduler0_client.aio import AsyncClient
from scheduler0_client.errors import (
    ApiError,
    BulkCreateError,
    PaginationError,
    Scheduler0ClientError,
    SignatureError,
    TransportError,
)
from scheduler0_client.signature import (
    ReplayCache,
    Verified,
    check_signature,
    sign,
    verify_signature,
)
from scheduler0_client.sync import Client
from scheduler0_client.types import Page

__version__ = "0.1.0"

__all__ = [
    "MAX_JOBS_PER_REQUEST",
    "NO_RETRY",
    "ApiError",
    "AsyncClient",
    "BulkCreateError",
    "Call",
    "Client",
    "Clock",
    "HttpTransport",
    "Page",
    "PaginationError",
    "ReplayCache",
    "Request",
    "Response",
    "RetryPolicy",
    "Scheduler0ClientError",
    "SignatureError",
    "SystemClock",
    "Transport",
    "TransportError",
    "Verified",
    "check_signature",
    "sign",
    "verify_signature",
]
