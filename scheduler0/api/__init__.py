"""The REST API: `create_app(settings, services, node_auth)` (see app.py)."""

from scheduler0.api.app import create_app

__all__ = ["create_app"]
