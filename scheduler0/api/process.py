"""The API process: the Flask app under waitress. Reads SQLite read-only; every write is a
command sent to the local coordinator over ZeroMQ.

waitress is imported here only, and set up for clients that misbehave:
- an idle or stalled connection costs a socket in waitress's poll loop, not a thread, and is
  closed after ApiChannelTimeout; up to ApiConnectionLimit of them are held, with poll(2)
  (ApiUsePoll) so there is no select(2) ceiling of 1024 descriptors, and RLIMIT_NOFILE raised
  to fit (or the limit lowered, with a warning, when the hard limit is too low);
- a body over ApiMaxBodyMb (Content-Length or chunked) and headers over MAX_HEADER_BYTES are
  refused as they arrive, before anything is spooled to a temporary file;
- what waitress refuses itself is answered in the API's JSON envelope (EnvelopeErrorTask), like
  everything the Flask app answers.
"""

from __future__ import annotations

import json
import logging
import resource
import threading
from dataclasses import dataclass
from typing import Any

from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask

from scheduler0 import messages, secrets_file, transport
from scheduler0.config import Settings
from scheduler0.errors import ApiError, TransportError, UnavailableError
from scheduler0.lifecycle import Lifecycle

log = logging.getLogger(__name__)

# Requests served at once. A thread waits while its write commits (up to WriteTimeout); waiting
# connections and requests still arriving cost no thread, so this bounds work, not clients.
API_THREADS = 16
# Descriptors the API process needs besides client sockets: the listener, waitress's trigger
# pipe, ZeroMQ sockets, SQLite files, logs and bodies over 512 KiB spooled to temporary files.
FD_HEADROOM = 128
SELECT_FD_LIMIT = 1024  # FD_SETSIZE: select(2) cannot watch a descriptor above it
MIN_CONNECTIONS = 10  # ApiConnectionLimit's lowest value
# The request line and headers: credentials, Idempotency-Key and a proxy's additions fit many
# times over; a connection stalled mid-header holds at most this much memory.
MAX_HEADER_BYTES = 32 * 1024
# Connections the kernel completes while waitress is at its limit wait here (capped by
# net.core.somaxconn); beyond it, clients retry their SYN.
MIN_BACKLOG = 1024
# Extra seconds the API waits beyond the write timeout: the coordinator answers the timeout
# itself, so the transport deadline only catches a coordinator that does not answer at all.
TRANSPORT_GRACE = 2.0


class CoordinatorClient:
    """NodeServices over the `commands` socket (see scheduler0.api.services)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._client = transport.RequestClient(settings.ipc("commands"))
        self._local = threading.local()

    def submit(self, command: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        timeout = self.settings.write_timeout if timeout is None else timeout
        reply = self._request(messages.Submit(command=command, timeout=timeout),
                              timeout + TRANSPORT_GRACE)
        return dict(reply.result or {})

    def membership(self, action: str, raft_address: str) -> dict[str, Any]:
        reply = self._request(messages.Membership(action=action, raft_address=raft_address),
                              15.0)
        return dict(reply.result or {})

    def status(self) -> dict[str, Any]:
        return dict(self._request(messages.StatusRequest(), 3.0).status or {})

    def reader(self) -> Any:
        from scheduler0.store import Reader

        return Reader.for_thread(self._local, self.settings.db_path)

    def _request(self, message: messages.Request, timeout: float) -> messages.Reply:
        try:
            reply = self._client.request(message, timeout)
        except TransportError:
            raise UnavailableError("the node's coordinator did not answer in time; "
                                   "retry shortly") from None
        if not reply.ok:
            error = reply.error or messages.ReplyError(status=503, code="unavailable",
                                                       message="coordinator error")
            raise ApiError(error.message, code=error.code, status=error.status)
        return reply


def run(settings: Settings, lifecycle: Lifecycle) -> int:
    from scheduler0.api.app import create_app
    from scheduler0.api.bulk_runner import sweep_forever
    from scheduler0.api.context import EXTENSION

    node_secrets = secrets_file.read(settings.secrets_file)
    if node_secrets is None:
        log.error("no node secrets in %s; run `scheduler0 credential init`", settings.secrets_file)
        return 2
    app = create_app(settings, CoordinatorClient(settings),
                     node_auth=(node_secrets.auth_username, node_secrets.auth_password),
                     stopping=lifecycle.stopping, secret_key=node_secrets.secret_key)
    runner = app.extensions[EXTENSION].operations
    # Records failed the bulk operations an earlier API process of this node left running.
    threading.Thread(target=sweep_forever, args=(runner, lifecycle.stopping.wait),
                     name="operation-sweep", daemon=True).start()
    connection_limit = _raise_fd_limit(settings.api_connection_limit, settings.api_use_poll)
    server = ApiServer(app, **server_adjustments(settings, connection_limit))
    stopper = threading.Thread(target=_close_on_stop, args=(lifecycle, server), daemon=True)
    stopper.start()
    log.info("api listening on %s (at most %d connections, idle ones closed after %d s)",
             settings.api_address, server.adj.connection_limit, server.adj.channel_timeout)
    try:
        server.run()
    except (OSError, ValueError):
        # waitress raises these when close() tears its sockets down under run()
        if not lifecycle.stopping.is_set():
            raise
    runner.stop_all()  # each running bulk operation records where it stopped
    log.info("api stopped")
    return 0


def _close_on_stop(lifecycle: Lifecycle, server: Any) -> None:
    lifecycle.stopping.wait()
    server.close()


# -- waitress ----------------------------------------------------------------------------------


def server_adjustments(settings: Settings, connection_limit: int) -> dict[str, Any]:
    """waitress's settings for this node, every limit chosen rather than inherited."""
    from scheduler0.api.app import max_body_bytes

    channel_timeout = max(1, round(settings.api_channel_timeout))
    return {
        "host": settings.host, "port": settings.port, "threads": API_THREADS,
        "ident": "scheduler0", "clear_untrusted_proxy_headers": True,
        "connection_limit": connection_limit,
        "channel_timeout": channel_timeout,
        # The sweep that enforces channel_timeout runs this often: an idle connection lives
        # between the timeout and the timeout plus this.
        "cleanup_interval": max(1, channel_timeout // 5),
        "asyncore_use_poll": settings.api_use_poll,
        "backlog": max(MIN_BACKLOG, connection_limit),
        # waitress refuses a Content-Length >= its limit (Flask: > MAX_CONTENT_LENGTH).
        "max_request_body_size": max_body_bytes(settings) + 1,
        "max_request_header_size": MAX_HEADER_BYTES,
    }


@dataclass(frozen=True)
class FdBudget:
    soft_limit: int | None  # RLIMIT_NOFILE soft limit to set; None: keep the current one
    connection_limit: int  # connections the API may hold
    warning: str | None  # why connection_limit is below what was asked for


def fd_budget(wanted: int, soft: int, hard: int, use_poll: bool, infinity: int) -> FdBudget:
    """How many connections fit in this process's open-file limits (`infinity`: the value of
    RLIM_INFINITY). The soft limit is raised to the hard one; a hard limit (or, without poll,
    select's ceiling) too low for `wanted` lowers the connection limit and says why."""
    if hard == infinity:
        soft_limit = soft if soft == infinity else max(soft, wanted + FD_HEADROOM)
        ceiling = None
    else:
        soft_limit = ceiling = hard
    limit, warning = wanted, None
    if ceiling is not None and ceiling - FD_HEADROOM < wanted:
        limit = max(MIN_CONNECTIONS, ceiling - FD_HEADROOM)
        warning = (f"ApiConnectionLimit {wanted} needs {wanted + FD_HEADROOM} open files but "
                   f"this process may open {ceiling} (RLIMIT_NOFILE hard limit); holding at "
                   f"most {limit} connections. Raise the hard limit (ulimit -Hn, systemd "
                   "LimitNOFILE=) or lower ApiConnectionLimit")
    if not use_poll and limit > SELECT_FD_LIMIT - FD_HEADROOM:
        limit = SELECT_FD_LIMIT - FD_HEADROOM
        warning = (f"ApiUsePoll is false and select(2) watches at most {SELECT_FD_LIMIT} "
                   f"descriptors; holding at most {limit} connections. Set ApiUsePoll: true "
                   "to hold ApiConnectionLimit")
    return FdBudget(None if soft_limit == soft else soft_limit, limit, warning)


def _raise_fd_limit(wanted: int, use_poll: bool) -> int:
    """Raise this process's soft RLIMIT_NOFILE; returns the connection limit that fits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    budget = fd_budget(wanted, soft, hard, use_poll, resource.RLIM_INFINITY)
    if budget.soft_limit is not None:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (budget.soft_limit, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft,
                        budget.soft_limit, exc)
            budget = fd_budget(wanted, soft, soft, use_poll, resource.RLIM_INFINITY)
    if budget.warning:
        log.warning("%s", budget.warning)
    return budget.connection_limit


def error_body(status: int, detail: str, max_body: int, max_header: int) -> bytes:
    """The JSON envelope for a request waitress refused itself (`detail`: its own text)."""
    from scheduler0.api.app import HTTP_CODES, INTERNAL_ERROR_MESSAGE, body_too_large_message
    from scheduler0.api.context import error_envelope

    if status == 413:
        message = body_too_large_message(max_body)
    elif status == 431:
        message = (f"request line and headers larger than {max_header // 1024} KiB; send "
                   "fewer or shorter headers")
    elif status == 501:
        message = (f"not implemented: {detail}; send the body with Content-Length or "
                   "Transfer-Encoding: chunked")
    elif status >= 500:
        message = INTERNAL_ERROR_MESSAGE
    else:
        message = f"bad request: {detail or 'the request could not be read'}"
    envelope = error_envelope(HTTP_CODES.get(status, f"http_{status}"), message)
    return json.dumps(envelope, separators=(",", ":")).encode()


class EnvelopeErrorTask(ErrorTask):
    """waitress's own error answers (400, 413, 431, 501, 500) in the API's JSON envelope.

    Its channel hands every request its parser refused (and a crash in the app's call) to
    `error_task_class`; this replaces ErrorTask.execute, which writes a text/plain page."""

    def execute(self) -> None:
        error = self.request.error  # type: ignore[attr-defined]  # an ErrorTask's request is waitress's parser, with .error
        adj = self.channel.server.adj
        body = error_body(int(error.code), str(error.body), adj.max_request_body_size - 1,
                          adj.max_request_header_size)
        self.status = f"{error.code} {error.reason}"
        self.response_headers = [*self.response_headers, ("Content-Type", "application/json"),
                                 ("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store")]
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class ApiChannel(HTTPChannel):
    error_task_class = EnvelopeErrorTask


class ApiServer(TcpWSGIServer):
    """waitress's TCP server with ApiChannel: create_server has no hook for the channel, and
    TcpWSGIServer takes the same keyword adjustments (it listens on Host, one address)."""

    channel_class = ApiChannel
