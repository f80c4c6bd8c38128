"""/projects and /projects/{id}/notifications."""

from __future__ import annotations

from scheduler0_client._request import Call, fields, path, query
from scheduler0_client.types import (
    Notification,
    NotificationDelivery,
    NotificationFormat,
    Page,
    Project,
    ProjectChanges,
    ProjectDeleted,
    RateLimit,
    page_of,
)


def create_project(name: str, *, description: str | None = None,
                   notification_url: str | None = None,
                   notification_format: NotificationFormat | None = None,
                   rate_limit: RateLimit | None = None,
                   idempotency_key: str | None = None) -> Call[Project]:
    """Create a project. The answer holds its `signing_secret`, which signs its callbacks:
    keep it (it is shown again only by a rotation)."""
    body = fields(name=name, description=description, notification_url=notification_url,
                  notification_format=notification_format,
                  rate_limit=None if rate_limit is None else dict(rate_limit))
    return Call("POST", "/projects", body=body, idempotency_key=idempotency_key)


def list_projects(*, job_count: bool | None = None, limit: int | None = None,
                  offset: int | None = None,
                  after: str | int | None = None) -> Call[Page[Project]]:
    """One page of projects by id, each with its `job_count` (`job_count=False`: without,
    which spares a count per project)."""
    return Call("GET", "/projects", query(job_count=job_count, limit=limit, offset=offset,
                                          after=after), decode=page_of("projects"))


def get_project(project_id: int) -> Call[Project]:
    return Call("GET", path("projects", project_id))


def update_project(project_id: int, changes: ProjectChanges, *,
                   idempotency_key: str | None = None) -> Call[Project]:
    """Change the fields given: `{"rate_limit": None}` lifts the limit,
    `{"notification_url": None}` stops the notifications."""
    return Call("PATCH", path("projects", project_id), body=dict(changes),
                idempotency_key=idempotency_key)


def rotate_signing_secret(project_id: int, *, grace_seconds: int | None = None,
                          idempotency_key: str | None = None) -> Call[Project]:
    """A new signing secret, in the answer. The old one still signs, in
    X-Scheduler0-Signature-Previous, for `grace_seconds` (default: the node's
    SigningSecretGraceSeconds, 24 h; 0 stops it at once)."""
    body = fields(rotate_signing_secret=True, grace_seconds=grace_seconds)
    return Call("PATCH", path("projects", project_id), body=body,
                idempotency_key=idempotency_key)


def delete_project(project_id: int, *, cascade: bool = False,
                   idempotency_key: str | None = None) -> Call[ProjectDeleted]:
    """Delete a project; a project with jobs is refused (409) unless `cascade`, which
    deletes its jobs and their history too."""
    return Call("DELETE", path("projects", project_id), query(cascade=cascade or None),
                idempotency_key=idempotency_key)


def list_notifications(project_id: int, *, delivery: NotificationDelivery | None = None,
                       limit: int | None = None, offset: int | None = None,
                       after: str | int | None = None) -> Call[Page[Notification]]:
    """The project's failure notifications, newest first, with how sending each went."""
    return Call("GET", path("projects", project_id, "notifications"),
                query(delivery=delivery, limit=limit, offset=offset, after=after),
                decode=page_of("notifications"))

