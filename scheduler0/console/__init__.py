"""The web console: HTML pages at /ui/, rendered on the server from the node's own REST API.

Pages get their data through scheduler0.console.rest, an in-process call to the API with the
caller's own session, so a page can never show or do more than the API lets that caller.
Writes happen in the browser (static/console.js) against /api/v1 with the session cookie and
the CSRF header. Sign-in, sessions and the CSRF check: scheduler0.console.session and
scheduler0.api.auth.
"""

from __future__ import annotations

# The blueprint first: importing the pages registers their views on it, and a page's imports
# (scheduler0.api.app among them) may ask this package for it while the pages load.
from scheduler0.console.blueprint import console

# isort: split
from scheduler0.console import pages, render  # noqa: F401

__all__ = ["console"]
