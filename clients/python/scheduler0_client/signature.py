"""Verifying that a callback (or a failure notification) is scheduler0's, fresh, and not a
replay.

scheduler0 signs each request it sends: `X-Scheduler0-Timestamp` is the epoch second of the
attempt, `X-Scheduler0-Signature` is `sha256=` and the hex HMAC-SHA256, keyed with the
project's signing secret, of the timestamp, a dot and the raw body. A GET callback has no
body: its signature covers its `X-Scheduler0-Execution-Id` instead. For a grace period
after a rotation, `X-Scheduler0-Signature-Previous` carries the same HMAC keyed with the
secret it replaced, so a receiver that holds either secret accepts every callback.

Replays: a timestamp more than `tolerance` seconds from now is refused, so a captured
request cannot be sent again later; within that window a `ReplayCache` refuses a request
it has accepted before. Every attempt of scheduler0's own (a retry, a re-dispatch) is
signed anew with its own timestamp, so the cache never refuses one of them for a copy:
deduplicate those on `execution_id`, as deliveries are at least once.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from scheduler0_client.errors import SignatureError

TIMESTAMP_HEADER = "X-Scheduler0-Timestamp"
SIGNATURE_HEADER = "X-Scheduler0-Signature"
PREVIOUS_SIGNATURE_HEADER = "X-Scheduler0-Signature-Previous"
EXECUTION_ID_HEADER = "X-Scheduler0-Execution-Id"
DEFAULT_TOLERANCE = 300.0  # seconds, as the README's receiver


class Headers(Protocol):
    """A dict, http.server's or email's message, a framework's headers: anything with
    items(); names are matched in any case."""

    def items(self) -> Iterable[tuple[str, str]]: ...


class ReplayCache:
    """The requests accepted within the tolerance window, by signature, thread-safe: keep
    one per receiver process (or share the idea through your database, with a unique key).

    An entry is dropped once its timestamp leaves the window (the timestamp check refuses
    such a request anyway); past `max_entries` the oldest go first."""

    def __init__(self, max_entries: int = 1_000_000) -> None:
        self.max_entries = max_entries
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, key: str, expires_at: float, now: float) -> bool:
        """Add `key`; False when it is held already (a replay)."""
        with self._lock:
            while self._expiry and next(iter(self._expiry.values())) < now:
                self._expiry.popitem(last=False)
            if key in self._expiry:
                return False
            self._expiry[key] = expires_at
            while len(self._expiry) > self.max_entries:
                self._expiry.popitem(last=False)
            return True

    def forget(self, key: str) -> None:
        """Accept the request of `key` again (e.g. its handling failed before it was done)."""
        with self._lock:
            self._expiry.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry)


@dataclass(frozen=True)
class Verified:
    """A request that passed: the header whose signature matched, its timestamp, and the key
    a ReplayCache holds it under."""

    header: str
    timestamp: int
    replay_key: str


def sign(secret: str, timestamp: int | str, signed: bytes) -> str:
    """A signature header's value for `signed` (the raw body, or a GET's execution id)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + signed, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str | Iterable[str], headers: Headers | Mapping[str, str],
                     body: bytes, *, tolerance: float = DEFAULT_TOLERANCE,
                     now: float | None = None,
                     replay_cache: ReplayCache | None = None) -> bool:
    """True when the request is scheduler0's (signed with `secret`, or one of several),
    its timestamp within `tolerance` seconds of `now` (default: this machine's clock) and,
    with a `replay_cache`, not accepted before. check_signature says why not."""
    try:
        check_signature(secret, headers, body, tolerance=tolerance, now=now,
                        replay_cache=replay_cache)
    except SignatureError:
        return False
    return True


def check_signature(secret: str | Iterable[str], headers: Headers | Mapping[str, str],
                    body: bytes, *, tolerance: float = DEFAULT_TOLERANCE,
                    now: float | None = None,
                    replay_cache: ReplayCache | None = None) -> Verified:
    """verify_signature, raising SignatureError with the reason instead of returning False.
    `body` is the raw bytes as received, before any parsing."""
    secrets = _secrets(secret)
    given = {str(name).lower(): str(value) for name, value in headers.items()}
    timestamp = _timestamp(given.get(TIMESTAMP_HEADER.lower()))
    execution_id = given.get(EXECUTION_ID_HEADER.lower())
    signed = execution_id.encode() if not body and execution_id else body
    header, signature = _matching_signature(secrets, given, timestamp, signed)
    wall = time.time() if now is None else now
    if abs(wall - timestamp) > tolerance:
        raise SignatureError("stale_timestamp", f"{TIMESTAMP_HEADER} {timestamp} is "
                             f"{wall - timestamp:.0f} s from now; at most {tolerance:g} s is "
                             "accepted (a replay, or a clock out of sync)")
    key = f"{timestamp}:{signature}"
    if replay_cache is not None and not replay_cache.remember(key, timestamp + tolerance, wall):
        raise SignatureError("replayed", "this very request (timestamp and signature) was "
                             "accepted before")
    return Verified(header, timestamp, key)


def _secrets(secret: str | Iterable[str]) -> list[str]:
    found = [secret] if isinstance(secret, str) else list(secret)
    if not found or not all(found):
        raise ValueError("secret: give the project's signing_secret (or several)")
    return found


def _timestamp(raw: str | None) -> int:
    if not raw:
        raise SignatureError("missing_timestamp", f"no {TIMESTAMP_HEADER} header")
    if not (raw.isascii() and raw.isdigit()):
        raise SignatureError("bad_timestamp", f"{TIMESTAMP_HEADER} is not epoch seconds")
    return int(raw)


def _matching_signature(secrets: list[str], headers: Mapping[str, str], timestamp: int,
                        signed: bytes) -> tuple[str, str]:
    """The signature header that matches one of `secrets`, and its value."""
    present = [(name, headers[name.lower()]) for name in (SIGNATURE_HEADER,
                                                          PREVIOUS_SIGNATURE_HEADER)
               if headers.get(name.lower())]
    if not present:
        raise SignatureError("missing_signature", f"no {SIGNATURE_HEADER} header")
    for secret in secrets:
        expected = sign(secret, timestamp, signed).encode()
        for name, value in present:
            if hmac.compare_digest(expected, value.encode()):
                return name, value
    raise SignatureError("bad_signature", "no signature header matches the secret(s) held: "
                         "the body was changed, or it was signed with another secret")
