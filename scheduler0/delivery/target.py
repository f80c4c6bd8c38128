"""Where may a callback go? One answer for the API (when a job is written) and for the executor
(before it sends and when it connects), so the two can never disagree.

    parse(url)                       the Target the HTTP client will connect to, or TargetError
    NetworkPolicy.address_problem    may a callback to `host` go to `address`? (None: yes)
    CallbackGuard.problem            may callbacks go to `host`? The policy applied to every
                                     address it resolves to, cached per host (the SSRF guard
                                     of the API and of the executor)
    redact(url)                      scheme://host:port/path, for logs (no userinfo, no query)

parse and NetworkPolicy are pure (no sockets, no DNS, no clock); CallbackGuard is handed its
resolver and clock (`resolve` below is the blocking one the API uses).

URLs are parsed with yarl, the parser the executor's HTTP client (aiohttp) sends with: the host
checked here is the host it connects to. A policy denies first and then allows: an address in a
denied network is refused even when an allowed network holds it too. IPv4-mapped IPv6
(::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses are judged as the IPv4 address they
carry, since that is where the packets go.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import yarl

from scheduler0 import clock

SCHEMES = ("http", "https")
HINT = "send an absolute http(s) URL such as https://example.com/hook"
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], list[str]]  # host -> its addresses; OSError when it does not resolve
AsyncResolver = Callable[[str], Awaitable[list[str]]]
GUARD_CACHE_SECONDS = 30.0
GUARD_CACHE_ENTRIES = 4096


class TargetError(ValueError):
    """A callback URL that cannot be sent to; the message says why and what to send."""


@dataclass(frozen=True)
class Target:
    """What the HTTP client connects to for one URL."""

    scheme: str
    host: str  # as the client resolves or connects to it (IDNA-encoded, no brackets)
    port: int
    path: str

    @property
    def host_port(self) -> str:
        return f"{self.host}:{self.port}"


def parse(url: str) -> Target:
    """The Target of `url`; raises TargetError naming the problem."""
    shown = _show(url)
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 or ch == "\\" for ch in url):
        raise TargetError(f"{shown} contains whitespace, a backslash or control characters; "
                          f"{HINT}")
    try:
        parsed = yarl.URL(url)
        port = parsed.port
        host = parsed.raw_host
    except (ValueError, TypeError, UnicodeError):
        raise TargetError(f"{shown} is not a valid URL; {HINT}") from None
    if parsed.scheme not in SCHEMES or not host or not parsed.is_absolute():
        raise TargetError(f"{shown} is not an absolute http(s) URL with a host; {HINT}")
    if port is None or not 1 <= port <= 65535:
        raise TargetError(f"{shown} has port {parsed.explicit_port}; use a port 1-65535")
    return Target(parsed.scheme, host.split("%", 1)[0] if ":" in host else host, port,
                  parsed.raw_path or "/")


def redact(url: str) -> str:
    """`url` without userinfo, query or fragment: safe to log."""
    try:
        target = parse(url)
    except TargetError:
        return "<invalid URL>"
    host = f"[{target.host}]" if ":" in target.host else target.host
    return f"{target.scheme}://{host}:{target.port}{target.path}"


def ip_literal(host: str) -> Address | None:
    """`host` as an IP address when it is written as one (brackets and zone id allowed)."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def effective(address: Address) -> Address:
    """The address packets really go to: the IPv4 inside a mapped or NAT64 address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in NAT64_PREFIX:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(str(c), strict=False) for c in cidrs)


@dataclass(frozen=True)
class NetworkPolicy:
    """Allowed and denied networks for callback addresses (CallbackAllowedNetworks and
    CallbackDeniedNetworks). No allowed networks means every address not denied."""

    allowed: tuple[Network, ...] = ()
    denied: tuple[Network, ...] = ()

    @classmethod
    def of(cls, allowed: Iterable[str], denied: Iterable[str]) -> NetworkPolicy:
        return cls(networks(allowed), networks(denied))

    @property
    def restricted(self) -> bool:
        """Does any address need checking (so names must be resolved)?"""
        return bool(self.allowed or self.denied)

    def address_problem(self, host: str, address: str | Address) -> str | None:
        """None when a callback to `host` may connect to `address`, else the reason."""
        ip = ip_literal(address) if isinstance(address, str) else address
        if ip is None:
            return f"host {_show(host)} gave {_show(str(address))}, which is not an IP address"
        ip = effective(ip)
        if str(ip) == host.strip("[]"):
            where = f"host {host}"
        else:
            where = f"host {host} goes to {ip}, which"
        for net in self.denied:
            if ip.version == net.version and ip in net:
                return (f"{where} is in {net}, a network callbacks must not reach "
                        "(CallbackDeniedNetworks); use another host or ask the operator")
        if self.allowed and not any(ip.version == n.version and ip in n for n in self.allowed):
            shown = ", ".join(str(n) for n in self.allowed)
            return (f"{where} is outside the networks callbacks may reach ({shown}); use a "
                    "host in them or ask the operator to extend CallbackAllowedNetworks")
        return None

    def addresses_problem(self, host: str, addresses: Iterable[str | Address]) -> str | None:
        """The problem of the first of `addresses` a callback to `host` must not go to."""
        for address in addresses:
            problem = self.address_problem(host, address)
            if problem is not None:
                return problem
        return None

    def describe(self) -> str:
        """One line for the start-up log: what is in force, and how to tighten it if open."""
        denied = ", ".join(str(n) for n in self.denied) or "none"
        if self.allowed:
            allowed = ", ".join(str(n) for n in self.allowed)
            return f"callbacks may reach only {allowed}; never {denied}"
        return (f"callbacks may reach any address except {denied}; to restrict them, list the "
                "receivers' networks in CallbackAllowedNetworks (e.g. [10.0.0.0/8])")


def _show(value: str, limit: int = 60) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


def resolve(host: str) -> list[str]:
    """Every address `host` resolves to, blocking (raises OSError when it does not resolve)."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


_UNRESOLVED = (OSError, UnicodeError, ValueError)  # what resolvers raise for a bad name


class CallbackGuard:
    """`problem(host)`: None when callbacks may go to `host`, else a message saying why not.

    An IP literal is judged as it is; a name is resolved and every address it resolves to must
    pass the policy. Answers are cached for GUARD_CACHE_SECONDS per host, so a batch of 10,000
    jobs (or executions) to one host costs one lookup. Both ends use it:

    - the API when a job is written (`problem`, with the blocking `resolve`). With
      `refuse_unresolved`, a name that does not resolve is refused when
      CallbackAllowedNetworks is set (then only known-good addresses may be used); with a deny
      list alone it is let through, since the executor checks again at every send.
    - the executor before it sends (`problem_async`, with the event loop's resolver), without
      `refuse_unresolved`: a name that does not resolve is let through, so the attempt fails
      (and is retried) as a DNS error.

    Neither is the last word on a name that resolves elsewhere later (DNS rebinding): the
    executor's connector checks the address it actually connects to with the same policy.
    """

    def __init__(self, policy: NetworkPolicy, resolver: Resolver = resolve, *,
                 refuse_unresolved: bool = True,
                 monotonic: Callable[[], float] = clock.monotonic):
        self.policy = policy
        self._resolver = resolver
        self._refuse_unresolved = refuse_unresolved
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()  # the API checks from several request threads

    @property
    def restricted(self) -> bool:
        return self.policy.restricted

    def problem(self, host: str) -> str | None:
        settled = self._settled(host)
        if settled is not None:
            return settled[0]
        try:
            addresses = self._resolver(host)
        except _UNRESOLVED:
            addresses = []
        return self._remember(host, addresses)

    async def problem_async(self, host: str, resolver: AsyncResolver) -> str | None:
        """`problem` for a caller in an event loop, resolving with `resolver`."""
        settled = self._settled(host)
        if settled is not None:
            return settled[0]
        try:
            addresses = await resolver(host)
        except _UNRESOLVED:
            addresses = []
        return self._remember(host, addresses)

    def _settled(self, host: str) -> tuple[str | None] | None:
        """The answer when no name lookup is needed (unrestricted, cached, an IP literal), as a
        1-tuple; None when `host` must be resolved first."""
        if not self.policy.restricted:
            return (None,)
        hit = self._cached(host)
        if hit is not None:
            return (hit[1],)
        if ip_literal(host) is not None:
            return (self._remember(host, None),)
        return None

    def _cached(self, host: str) -> tuple[float, str | None] | None:
        with self._lock:
            hit = self._cache.get(host)
        return hit if hit is not None and hit[0] > self._monotonic() else None

    def _remember(self, host: str, addresses: list[str] | None) -> str | None:
        """The answer for `host` (an IP literal when `addresses` is None), cached."""
        answer = self._judge(host, addresses)
        expires = self._monotonic() + GUARD_CACHE_SECONDS
        with self._lock:
            if len(self._cache) >= GUARD_CACHE_ENTRIES:
                self._cache.clear()
            self._cache[host] = (expires, answer)
        return answer

    def _judge(self, host: str, addresses: list[str] | None) -> str | None:
        if addresses is None:
            return self.policy.address_problem(host, host)
        if not addresses:
            if self._refuse_unresolved and self.policy.allowed:
                return (f"host {host[:100]!r} does not resolve; use a resolvable host or an IP "
                        "address")
            return None
        return self.policy.addresses_problem(host, addresses)
