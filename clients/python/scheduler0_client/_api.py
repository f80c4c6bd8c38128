"""`Api`: the one table of the client's methods, which Client and AsyncClient inherit; each
flavour adds only how it sends a request and waits (`_run`, `_iterate`)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

from scheduler0_client import _flows
from scheduler0_client._calls import credentials, executions, jobs, node, operations, projects
from scheduler0_client._flows import Flow, Walk
from scheduler0_client._methods import Endpoint, Pages, Procedure
from scheduler0_client._retry import Clock, RetryPolicy
from scheduler0_client._session import Session, Transport
from scheduler0_client._transport import HttpTransport

DEFAULT_URL = "http://127.0.0.1:9091"


class Api:
    """The scheduler0 API, for a node at `base_url` (`/api/v1` is added unless given).

    Authenticate with an API credential (`api_key`, `api_secret`) or with the node's
    `basic_auth` (AuthUsername, AuthPassword); the health check needs neither. `timeout`:
    seconds per attempt. `retry`: when a call is tried again (RetryPolicy: on 503 and 429,
    waiting what Retry-After says, and when no answer came; NO_RETRY for never).
    `transport` sends one request (default: http.client, with `ssl_context` for https).

    Errors: ApiError (the server's status, code and message), TransportError (no answer),
    ValueError (an argument the client can tell is wrong before sending it)."""

    def __init__(self, base_url: str = DEFAULT_URL, *, api_key: str | None = None,
                 api_secret: str | None = None, basic_auth: tuple[str, str] | None = None,
                 timeout: float = 30.0, retry: RetryPolicy | None = None,
                 clock: Clock | None = None, ssl_context: ssl.SSLContext | None = None,
                 transport: Transport | None = None) -> None:
        self.session = Session(base_url, api_key=api_key, api_secret=api_secret,
                               basic_auth=basic_auth, timeout=timeout, retry=retry, clock=clock,
                               transport=transport or HttpTransport(ssl_context))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.session.base_url!r})"

    # How a flavour runs a flow and walks a list: see sync.Client and aio.AsyncClient.
    def _run(self, flow: Flow[Any]) -> Any:
        raise NotImplementedError

    def _iterate(self, pages: Walk[Any]) -> Iterator[Any] | AsyncIterator[Any]:
        raise NotImplementedError

    # -- projects
    create_project = Endpoint(projects.create_project)
    get_project = Endpoint(projects.get_project)
    list_projects = Endpoint(projects.list_projects)
    iter_projects = Pages(projects.list_projects)
    update_project = Endpoint(projects.update_project)
    rotate_signing_secret = Endpoint(projects.rotate_signing_secret)
    delete_project = Endpoint(projects.delete_project)
    list_notifications = Endpoint(projects.list_notifications)
    iter_notifications = Pages(projects.list_notifications)
    # -- credentials
    create_credential = Endpoint(credentials.create_credential)
    get_credential = Endpoint(credentials.get_credential)
    list_credentials = Endpoint(credentials.list_credentials)
    iter_credentials = Pages(credentials.list_credentials)
    archive_credential = Endpoint(credentials.archive_credential)
    delete_credential = Endpoint(credentials.delete_credential)
    # -- jobs
    create_job = Endpoint(jobs.create_job)
    create_jobs = Endpoint(jobs.create_jobs)
    bulk_create = Procedure(_flows.bulk_create)
    dry_run_job = Endpoint(jobs.dry_run_job)
    dry_run_jobs = Endpoint(jobs.dry_run_jobs)
    get_job = Endpoint(jobs.get_job)
    list_jobs = Endpoint(jobs.list_jobs)
    iter_jobs = Pages(jobs.list_jobs)
    update_job = Endpoint(jobs.update_job)
    pause_job = Endpoint(jobs.pause_job)
    resume_job = Endpoint(jobs.resume_job)
    delete_job = Endpoint(jobs.delete_job)
    run_job = Endpoint(jobs.run_job)
    backfill_job = Endpoint(jobs.backfill_job)
    list_job_executions = Endpoint(jobs.list_job_executions)
    iter_job_executions = Pages(jobs.list_job_executions)
    # -- executions
    list_executions = Endpoint(executions.list_executions)
    iter_executions = Pages(executions.list_executions)
    export_executions_csv = Endpoint(executions.export_executions_csv)
    get_execution = Endpoint(executions.get_execution)
    redeliver_execution = Endpoint(executions.redeliver_execution)
    rollups = Endpoint(executions.rollups)
    # -- bulk operations
    start_bulk = Endpoint(operations.start_bulk)
    wait_operation = Procedure(_flows.wait_operation)
    get_operation = Endpoint(operations.get_operation)
    list_operations = Endpoint(operations.list_operations)
    iter_operations = Pages(operations.list_operations)
    list_operation_executions = Endpoint(operations.list_operation_executions)
    iter_operation_executions = Pages(operations.list_operation_executions)
    # -- the node and the cluster
    health = Endpoint(node.health)
    preview_schedule = Endpoint(node.preview_schedule)
    cluster = Endpoint(node.cluster)
    add_member = Endpoint(node.add_member)
    remove_member = Endpoint(node.remove_member)
    pause_cluster = Endpoint(node.pause_cluster)
    resume_cluster = Endpoint(node.resume_cluster)
    summary = Endpoint(node.summary)
    load = Endpoint(node.load)
    metrics = Endpoint(node.metrics)
    openapi = Endpoint(node.openapi)
