"""/credentials: API keys, each limited to a role and to projects when created so."""

from __future__ import annotations

from collections.abc import Sequence

from scheduler0_client._request import Call, fields, path, query
from scheduler0_client.types import Credential, Deleted, NewCredential, Page, Role, page_of


def create_credential(*, role: Role | None = None, projects: Sequence[int] | None = None,
                      archived: bool | None = None,
                      idempotency_key: str | None = None) -> Call[NewCredential]:
    """A new API key and secret (`api_secret` is shown this once), for `role` and limited to
    `projects` when given (default: admin of every project).

    A retry of a create that did commit answers 409: the secret it made cannot be shown
    again, so no second credential is created behind the caller's back."""
    body = fields(role=role, projects=None if projects is None else list(projects),
                  archived=archived)
    return Call("POST", "/credentials", body=body, idempotency_key=idempotency_key)


def list_credentials(*, limit: int | None = None, offset: int | None = None,
                     after: str | int | None = None) -> Call[Page[Credential]]:
    return Call("GET", "/credentials", query(limit=limit, offset=offset, after=after),
                decode=page_of("credentials"))


def get_credential(credential_id: int) -> Call[Credential]:
    return Call("GET", path("credentials", credential_id))


def archive_credential(credential_id: int, archived: bool = True, *,
                       idempotency_key: str | None = None) -> Call[Credential]:
    """Archive a credential (it is refused from then on), or restore it with
    `archived=False`."""
    return Call("PUT", path("credentials", credential_id), body={"archived": archived},
                idempotency_key=idempotency_key)


def delete_credential(credential_id: int, *,
                      idempotency_key: str | None = None) -> Call[Deleted]:
    return Call("DELETE", path("credentials", credential_id), idempotency_key=idempotency_key)
