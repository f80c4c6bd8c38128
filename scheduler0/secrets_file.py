"""The node secrets file `.scheduler0`: SecretKey, AuthUsername, AuthPassword (mode 0600).

SecretKey derives the Raft wire password and the ZeroMQ CURVE keys, so every node of a cluster
needs the same file. AuthUsername/AuthPassword authenticate the CLI and node-to-node HTTP calls.
Environment variables SCHEDULER0_SECRET_KEY, SCHEDULER0_AUTH_USERNAME and
SCHEDULER0_AUTH_PASSWORD override the file's values.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from scheduler0.errors import ConfigError

FIELDS = {"SecretKey": "secret_key", "AuthUsername": "auth_username", "AuthPassword": "auth_password"}


@dataclass(frozen=True)
class NodeSecrets:
    secret_key: str
    auth_username: str
    auth_password: str

    def to_file_dict(self) -> dict[str, str]:
        values = asdict(self)
        return {name: values[attr] for name, attr in FIELDS.items()}


def generate(username: str = "admin") -> NodeSecrets:
    return NodeSecrets(secrets.token_urlsafe(32), username, secrets.token_urlsafe(18))


def write(path: str, node_secrets: NodeSecrets) -> None:
    """Write atomically with mode 0600 from the start (never world-readable, even briefly).

    A missing directory is created 0700. The temporary file is a new one (mkstemp: O_EXCL,
    random name, 0600), so a symlink planted beside `path` cannot redirect the secrets.
    Raises ConfigError when the file cannot be written.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.tmp.")
    except OSError as exc:
        raise ConfigError(f"secrets file {path!r} cannot be written ({exc.strerror}); "
                          "choose a SecretsFile path this user can write") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(node_secrets.to_file_dict(), fh, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def read(path: str, environ: Mapping[str, str] | None = None) -> NodeSecrets | None:
    """The secrets from `path` overlaid by the environment; None when neither has them all."""
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    if os.path.exists(path):
        values.update(_read_file(path))
    for attr in FIELDS.values():
        env = environ.get("SCHEDULER0_" + attr.upper())
        if env:
            values[attr] = env
    if all(values.get(attr) for attr in FIELDS.values()):
        return NodeSecrets(**{attr: values[attr] for attr in FIELDS.values()})
    return None


def _read_file(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise ConfigError(f"secrets file {path!r} cannot be read ({exc.strerror}); "
                          "fix its permissions or run `scheduler0 credential init`") from None
    except ValueError:
        raise ConfigError(f"secrets file {path!r} is not valid JSON; "
                          "recreate it with `scheduler0 credential init`") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"secrets file {path!r} must hold a JSON object with "
                          f"{', '.join(FIELDS)}")
    return {attr: str(doc[name]) for name, attr in FIELDS.items() if doc.get(name)}


def load_or_create(path: str, environ: Mapping[str, str] | None = None) -> tuple[NodeSecrets, bool]:
    """The node's secrets, generating and saving them on first start. Returns (secrets, created)."""
    existing = read(path, environ)
    if existing is not None:
        return existing, False
    fresh = generate()
    write(path, fresh)
    return fresh, True
