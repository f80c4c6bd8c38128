"""The web console's session token and its CSRF token (pure: no Flask, no I/O).

A token is `v1.<kind>.<subject>.<issued>.<expires>.<nonce>.<mac>`: kind `credential` (subject:
the API key, base64url) or `node` (subject: `node`), epoch seconds, a random nonce (two
sign-ins never share a token, nor so a CSRF token), and an HMAC-SHA256 keyed from the
node's SecretKey (every node of a cluster shares it, so a session works on any of them). The
MAC also covers a `binding` the token does not carry: the credential's stored secret hash, or a
digest of the node's username and password. Changing either signs every session out without
any session store, and the request that presents the token re-reads the credential anyway
(archived: signed out).

The CSRF token is HMAC(token, "csrf"): a page gets it from the server, a cross-site form cannot.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

COOKIE_NAME = "s0_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"  # the same token in a console form (sign-out), which cannot send headers
LIFETIME_SECONDS = 12 * 3600
MAX_TOKEN_LENGTH = 1024
VERSION = "v1"
KINDS = ("credential", "node")
NODE_SUBJECT = "node"
_KEY_LABEL = b"scheduler0 console session v1"
_CREDENTIAL_LABEL = b"scheduler0 idempotent credential v1"


@dataclass(frozen=True)
class Claims:
    """What a valid token says: who signed in and until when."""

    kind: str  # "credential" or "node"
    subject: str  # the API key, or "node"
    issued: int
    expires: int


def session_key(secret_key: str) -> bytes:
    """The signing key, derived from the node's SecretKey (never the SecretKey itself, which
    also derives the Raft and ZeroMQ keys)."""
    return hmac.new(secret_key.encode("utf-8", "surrogatepass"), _KEY_LABEL,
                    hashlib.sha256).digest()


def credential_key(secret_key: str) -> bytes:
    """The key that derives a credential created with an Idempotency-Key (its key and secret
    follow from the request, so a retry can show the same secret again)."""
    return hmac.new(secret_key.encode("utf-8", "surrogatepass"), _CREDENTIAL_LABEL,
                    hashlib.sha256).digest()


def derived_credential(key: bytes, request_id: str) -> tuple[str, str]:
    """(api_key, api_secret) for the request `request_id`: shaped as secrets.token_hex(16) and
    token_urlsafe(32) make them, and reproducible only with the node's SecretKey."""
    digest = hmac.new(key, request_id.encode(), hashlib.sha512).digest()
    return digest[:16].hex(), base64.urlsafe_b64encode(digest[16:48]).rstrip(b"=").decode()


def node_binding(username: str, password: str) -> str:
    """What a node session is bound to: changing the node's Basic auth signs it out."""
    # Each part hashed on its own: no joining character can make two pairs look alike.
    parts = (hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()
             for value in (username, password))
    return hashlib.sha256(b"".join(parts)).hexdigest()


def issue(key: bytes, kind: str, subject: str, binding: str, now: float,
          lifetime: int = LIFETIME_SECONDS) -> str:
    """A new token for `subject`, valid from `now` for `lifetime` seconds."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {KINDS}")
    issued = int(now)
    body = (f"{VERSION}.{kind}.{_b64(subject.encode())}.{issued}.{issued + lifetime}."
            f"{secrets.token_urlsafe(12)}")
    return f"{body}.{_mac(key, body, binding)}"


def peek(token: str) -> Claims | None:
    """The claims a token states, unverified (to find what binding to verify it with); None
    when it is not a token of this shape."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        return None
    parts = token.split(".")
    if len(parts) != 7 or parts[0] != VERSION or parts[1] not in KINDS:
        return None
    _, kind, subject_b64, issued, expires, _, _ = parts
    if not (issued.isdigit() and expires.isdigit()):
        return None
    try:
        subject = _unb64(subject_b64).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return Claims(kind=kind, subject=subject, issued=int(issued), expires=int(expires))


def verify(key: bytes, token: str, binding: str, now: float) -> Claims | None:
    """The token's claims when its MAC matches `binding` and it has not expired; else None."""
    claims = peek(token)
    if claims is None:
        return None
    body, _, mac = token.rpartition(".")
    if not hmac.compare_digest(mac.encode(), _mac(key, body, binding).encode()):
        return None
    if not claims.issued <= int(now) < claims.expires:
        return None
    return claims


def csrf_token(token: str) -> str:
    """The CSRF token of a session token."""
    return _b64(hmac.new(token.encode(), b"csrf", hashlib.sha256).digest())


def csrf_matches(token: str, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(csrf_token(token).encode(),
                                              (sent or "").encode("utf-8", "replace"))


def _mac(key: bytes, body: str, binding: str) -> str:
    message = f"{body}\x00{binding}".encode("utf-8", "surrogatepass")
    return _b64(hmac.new(key, message, hashlib.sha256).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if "=" in text:
        raise ValueError("padding is not part of the token")
    # validate: a character outside the alphabet is an error, not skipped.
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
