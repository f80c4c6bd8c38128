"""The SSRF guard at the API: may a job's callbacks go to this host?

The rule is scheduler0.delivery.target.NetworkPolicy, shared with the executor. Here it is
applied when a job is written: an IP literal is judged as it is; a name is resolved
(socket.getaddrinfo) and every address it resolves to must pass. Answers are cached for a short
time so a batch of 10,000 jobs to one host costs one lookup.

A name that does not resolve is refused only when CallbackAllowedNetworks is set (then only
known-good addresses may be used); with a deny list alone it is let through, since the executor
checks the address it actually connects to at every send anyway. That second check is also what
catches a name that resolves elsewhere later (DNS rebinding).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from scheduler0 import clock
from scheduler0.delivery.target import NetworkPolicy, ip_literal

CACHE_SECONDS = 30.0
CACHE_ENTRIES = 4096

Resolver = Callable[[str], list[str]]


def resolve(host: str) -> list[str]:
    """Every address `host` resolves to (raises OSError when it does not resolve)."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class CallbackGuard:
    """`problem(host)`: None when callbacks may go to `host`, else a message saying why not."""

    def __init__(self, policy: NetworkPolicy, resolver: Resolver = resolve):
        self.policy = policy
        self._resolver = resolver
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    @property
    def restricted(self) -> bool:
        return self.policy.restricted

    def problem(self, host: str) -> str | None:
        if not self.policy.restricted:
            return None
        now = clock.monotonic()
        with self._lock:
            hit = self._cache.get(host)
        if hit is not None and hit[0] > now:
            return hit[1]
        answer = self._check(host)
        with self._lock:
            if len(self._cache) >= CACHE_ENTRIES:
                self._cache.clear()
            self._cache[host] = (now + CACHE_SECONDS, answer)
        return answer

    def _check(self, host: str) -> str | None:
        literal = ip_literal(host)
        if literal is not None:
            return self.policy.address_problem(host, literal)
        try:
            addresses = self._resolver(host)
        except (OSError, UnicodeError, ValueError):
            addresses = []
        if not addresses:
            if not self.policy.allowed:
                return None
            return f"host {host[:100]!r} does not resolve; use a resolvable host or an IP address"
        return self.policy.addresses_problem(host, addresses)
