"""The API process: the Flask app under waitress. Reads SQLite read-only; every write is a
command sent to the local coordinator over ZeroMQ."""

from __future__ import annotations

import logging
import threading
from typing import Any

from waitress.server import create_server

from scheduler0 import secrets_file, transport
from scheduler0.config import Settings
from scheduler0.errors import ApiError, TransportError, UnavailableError
from scheduler0.roles.lifecycle import Lifecycle

log = logging.getLogger(__name__)

API_THREADS = 16
# Extra seconds the API waits beyond the write timeout: the coordinator answers the timeout
# itself, so the transport deadline only catches a coordinator that does not answer at all.
TRANSPORT_GRACE = 2.0


class CoordinatorClient:
    """NodeServices over the `commands` socket (see scheduler0.services)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._client = transport.RequestClient(settings.ipc("commands"))
        self._local = threading.local()

    def submit(self, command: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        timeout = self.settings.write_timeout if timeout is None else timeout
        reply = self._request({"op": "submit", "command": command, "timeout": timeout},
                              timeout + TRANSPORT_GRACE)
        return dict(reply["result"])

    def membership(self, action: str, raft_address: str) -> dict[str, Any]:
        reply = self._request({"op": "membership", "action": action,
                               "raft_address": raft_address}, 15.0)
        return dict(reply["result"])

    def status(self) -> dict[str, Any]:
        return dict(self._request({"op": "status"}, 3.0)["status"])

    def reader(self) -> Any:
        from scheduler0.store import Reader

        return Reader.for_thread(self._local, self.settings.db_path)

    def _request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        try:
            reply = self._client.request(message, timeout)
        except TransportError:
            raise UnavailableError("the node's coordinator did not answer in time; "
                                   "retry shortly") from None
        if not reply.get("ok"):
            error = reply.get("error") or {}
            raise ApiError(str(error.get("message", "coordinator error")),
                           code=str(error.get("code", "unavailable")),
                           status=int(error.get("status", 503)))
        return reply


def run(settings: Settings, lifecycle: Lifecycle) -> int:
    from scheduler0.api.app import create_app

    node_secrets = secrets_file.read(settings.secrets_file)
    if node_secrets is None:
        log.error("no node secrets in %s; run `scheduler0 credential init`", settings.secrets_file)
        return 2
    app = create_app(settings, CoordinatorClient(settings),
                     node_auth=(node_secrets.auth_username, node_secrets.auth_password))
    server = create_server(app, host=settings.host, port=settings.port, threads=API_THREADS,
                           ident="scheduler0", clear_untrusted_proxy_headers=True)
    stopper = threading.Thread(target=_close_on_stop, args=(lifecycle, server), daemon=True)
    stopper.start()
    log.info("api listening on %s", settings.api_address)
    try:
        server.run()
    except (OSError, ValueError):
        # waitress raises these when close() tears its sockets down under run()
        if not lifecycle.stopping.is_set():
            raise
    log.info("api stopped")
    return 0


def _close_on_stop(lifecycle: Lifecycle, server: Any) -> None:
    lifecycle.stopping.wait()
    server.close()
