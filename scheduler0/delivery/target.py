"""Where may a callback go? One answer for the API (when a job is written) and for the executor
(before it sends and when it connects), so the two can never disagree.

Pure: no sockets, no DNS, no clock. Callers resolve names themselves and ask about each address.

    parse(url)                       the Target the HTTP client will connect to, or TargetError
    NetworkPolicy.address_problem    may a callback to `host` go to `address`? (None: yes)
    redact(url)                      scheme://host:port/path, for logs (no userinfo, no query)

URLs are parsed with yarl, the parser the executor's HTTP client (aiohttp) sends with: the host
checked here is the host it connects to. A policy denies first and then allows: an address in a
denied network is refused even when an allowed network holds it too. IPv4-mapped IPv6
(::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses are judged as the IPv4 address they
carry, since that is where the packets go.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

import yarl

SCHEMES = ("http", "https")
HINT = "send an absolute http(s) URL such as https://example.com/hook"
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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
