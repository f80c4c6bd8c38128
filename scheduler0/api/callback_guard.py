"""The SSRF guard for callback URLs: may a job's callbacks go to this host?

With `CallbackAllowedNetworks` empty every host is allowed and nothing is resolved. Otherwise
the host must be an IP literal inside one of the networks, or a name whose every address
(socket.getaddrinfo) is inside them. Answers are cached for a short time so a batch of 10,000
jobs to one host costs one lookup.

This is the first line only: a name can resolve differently later (DNS rebinding), so the
executor must check the address it actually connects to as well.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from scheduler0 import clock

CACHE_SECONDS = 30.0
CACHE_ENTRIES = 4096

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], list[str]]


def resolve(host: str) -> list[str]:
    """Every address `host` resolves to (raises OSError when it does not resolve)."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class CallbackGuard:
    """`problem(host)`: None when callbacks may go to `host`, else a message saying why not."""

    def __init__(self, networks: Iterable[str], resolver: Resolver = resolve):
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(net, strict=False) for net in networks)
        self._resolver = resolver
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    @property
    def restricted(self) -> bool:
        return bool(self.networks)

    def problem(self, host: str) -> str | None:
        if not self.networks:
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

    def _allowed(self, address: Any) -> bool:
        return any(address.version == net.version and address in net for net in self.networks)

    def _check(self, host: str) -> str | None:
        allowed = ", ".join(str(net) for net in self.networks)
        literal = _ip_literal(host)
        if literal is not None:
            if self._allowed(literal):
                return None
            return (f"host {host} is outside the networks callbacks may reach ({allowed}); "
                    "use a host in them or ask the operator to extend CallbackAllowedNetworks")
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in self._resolver(host)]
        except (OSError, UnicodeError, ValueError):
            return f"host {host[:100]!r} does not resolve; use a resolvable host or an IP address"
        if not addresses:
            return f"host {host[:100]!r} does not resolve; use a resolvable host or an IP address"
        outside = [str(a) for a in addresses if not self._allowed(a)]
        if outside:
            return (f"host {host[:100]!r} resolves to {outside[0]}, outside the networks "
                    f"callbacks may reach ({allowed}); use a host in them or ask the operator "
                    "to extend CallbackAllowedNetworks")
        return None


def _ip_literal(host: str) -> Any:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
