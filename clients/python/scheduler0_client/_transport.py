"""The default transport: one HTTP exchange over http.client, nothing retried, no redirect
followed (the API answers none), nothing decoded.

A connection per request: a write is answered once it commits, which takes far longer than
a loopback or LAN handshake, and nothing is shared between the threads the async client
sends from."""

from __future__ import annotations

import http.client
import ssl
from urllib.parse import urlsplit

from scheduler0_client._session import Request, Response
from scheduler0_client.errors import TransportError


class HttpTransport:
    """Sends a Request and returns its Response; TransportError when no HTTP answer came
    (refused, reset, timed out, a bad address). `ssl_context` serves https URLs."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context

    def __call__(self, request: Request, timeout: float) -> Response:
        parts = urlsplit(request.url)
        connection = self._connect(parts.scheme, parts.netloc, timeout)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request(request.method, target, body=request.body,
                               headers=dict(request.headers))
            response = connection.getresponse()
            body = response.read()
            headers = {name.lower(): value for name, value in response.getheaders()}
            return Response(response.status, headers, body)
        except (OSError, http.client.HTTPException) as exc:
            # The query may hold a label selector or a job name: name the route only.
            where = f"{parts.scheme}://{parts.netloc}{parts.path}"
            raise TransportError(f"{request.method} {where}: no answer "
                                 f"({type(exc).__name__}: {exc})") from exc
        finally:
            connection.close()

    def _connect(self, scheme: str, netloc: str, timeout: float) -> http.client.HTTPConnection:
        if scheme == "https":
            context = self.ssl_context or ssl.create_default_context()
            return http.client.HTTPSConnection(netloc, timeout=timeout, context=context)
        return http.client.HTTPConnection(netloc, timeout=timeout)
