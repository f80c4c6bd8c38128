"""Peers' host names resolved in a background thread, so no socket's thread waits on DNS.

libzmq resolves a tcp:// host name inside its I/O thread, and pysyncobj inside its tick thread,
both with a blocking getaddrinfo. When a peer's name stops resolving (a container that died
leaves its network's DNS, and a resolver that cannot reach an upstream server takes 10 s to say
so), every reconnect attempt froze all ZeroMQ sockets of the coordinator, or Raft's heartbeats,
for that long: a cluster of three lost its quorum when one node died. Here one thread per
process does the lookups; callers get the last address that resolved, at once, or None for a
name that has never resolved (they treat the peer as unreachable for now).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from scheduler0 import clock

log = logging.getLogger(__name__)

REFRESH_SECONDS = 2.0  # a restarted peer with a new address is found this fast
Lookup = Callable[[str], list[str]]


def system_lookup(host: str) -> list[str]:
    """The host's addresses, IPv4 first (as pysyncobj prefers); [] when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    found = [str(info[4][0]) for info in infos]
    ordered = sorted(set(found), key=lambda ip: (":" in ip, found.index(ip)))
    return ordered


def is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class Resolver:
    """Last known address per host name, refreshed every `refresh` seconds off the caller's
    thread. A name that stops resolving keeps its last address: a dead peer's old address
    fails fast at connect, where a lookup would have blocked."""

    def __init__(self, lookup: Lookup = system_lookup, refresh: float = REFRESH_SECONDS):
        self._lookup = lookup
        self._refresh = refresh
        self._known: dict[str, str] = {}
        self._wanted: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._resolved = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    def address(self, host: str) -> str | None:
        """`host`'s last resolved address, without waiting; None if it never resolved."""
        if is_literal(host):
            return host
        with self._lock:
            known = self._known.get(host)
            if host not in self._wanted:
                self._wanted.add(host)
                self._wake.set()
            self._start_locked()
        return known

    def prime(self, hosts: Iterable[str], timeout: float) -> list[str]:
        """Wait up to `timeout` s for each of `hosts` to resolve once (at start-up, before any
        socket needs them); returns those that did not."""
        names = [h for h in hosts if not is_literal(h)]
        for host in names:
            self.address(host)
        deadline = clock.monotonic() + timeout
        with self._lock:
            while any(h not in self._known for h in names):
                left = deadline - clock.monotonic()
                if left <= 0:
                    break
                self._resolved.wait(left)
            return [h for h in names if h not in self._known]

    def _start_locked(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="peer-names", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                hosts = sorted(self._wanted)
            for host in hosts:
                self._refresh_one(host)
            self._wake.wait(self._refresh)
            self._wake.clear()

    def _refresh_one(self, host: str) -> None:
        try:
            found = self._lookup(host)
        except Exception:  # a lookup must never end the thread every peer depends on
            log.exception("looking up %s failed", host)
            found = []
        with self._lock:
            before = self._known.get(host)
            if found and before not in found:
                self._known[host] = found[0]
                if before is not None:
                    log.info("%s now resolves to %s (was %s)", host, found[0], before)
            self._resolved.notify_all()


_process_resolver: Resolver | None = None
_process_lock = threading.Lock()


def resolver() -> Resolver:
    """This process's resolver (one thread for every peer name the process uses)."""
    global _process_resolver
    with _process_lock:
        if _process_resolver is None:
            _process_resolver = Resolver()
        return _process_resolver


def split(host_port: str) -> tuple[str, str]:
    host, _, port = host_port.rpartition(":")
    return host.strip("[]"), port


def tcp_endpoint(host_port: str, names: Resolver | None = None) -> str | None:
    """`tcp://<address>:<port>` for `host:port`, or None while its host never resolved."""
    host, port = split(host_port)
    found = (names or resolver()).address(host)
    if found is None:
        return None
    return f"tcp://[{found}]:{port}" if ":" in found else f"tcp://{found}:{port}"


class PysyncobjResolver:
    """pysyncobj's DnsCachingResolver interface over a Resolver: resolve() never blocks."""

    def __init__(self, names: Resolver):
        self._names = names

    def resolve(self, hostname: str) -> str | None:
        return self._names.address(hostname)

    def setTimeouts(self, cacheTime: float, failCacheTime: float) -> None:  # noqa: N802, N803
        """pysyncobj's own cache times do not apply: names are refreshed every few seconds."""

    def setPreferredAddrFamily(self, preferredAddrFamily: Any) -> None:  # noqa: N802, N803
        """IPv4 is preferred, as pysyncobj's default."""

