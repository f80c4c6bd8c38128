"""The callback target rule shared by the API and the executor: parsing, policy, the guard
(resolving and caching), redaction."""

from __future__ import annotations

import asyncio

import pytest

from scheduler0 import config
from scheduler0.delivery.target import CallbackGuard, NetworkPolicy, TargetError, parse, redact

DEFAULT = NetworkPolicy.of((), config.Settings().callback_denied_networks)


@pytest.mark.parametrize("address", [
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack metadata
    "169.254.170.2",  # ECS task credentials
    "fd00:ec2::254",  # AWS metadata over IPv6
    "100.100.100.200",  # Alibaba Cloud metadata
    "fe80::1",  # IPv6 link-local
    "::ffff:169.254.169.254",  # IPv4-mapped
    "::ffff:a9fe:a9fe",  # the same, written in hex
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
])
def test_default_denies_link_local_and_metadata(address: str) -> None:
    problem = DEFAULT.address_problem(address, address)
    assert problem is not None and "CallbackDeniedNetworks" in problem


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "192.168.1.10",
                                     "172.16.0.5", "fd12::1", "93.184.216.34"])
def test_default_allows_loopback_private_and_public(address: str) -> None:
    assert DEFAULT.address_problem(address, address) is None


def test_denied_wins_over_allowed_and_names_the_resolved_address() -> None:
    policy = NetworkPolicy.of(["0.0.0.0/0"], ["10.9.0.0/16"])
    problem = policy.address_problem("hooks.internal", "10.9.1.1")
    assert problem is not None
    assert "hooks.internal" in problem and "10.9.1.1" in problem and "10.9.0.0/16" in problem
    assert policy.address_problem("hooks.internal", "10.8.1.1") is None


def test_allowed_list_refuses_what_is_outside_it_mapped_forms_included() -> None:
    policy = NetworkPolicy.of(["127.0.0.0/8"], [])
    assert policy.address_problem("127.0.0.9", "127.0.0.9") is None
    assert policy.address_problem("x", "::ffff:127.0.0.1") is None
    problem = policy.address_problem("x", "::ffff:10.0.0.1")
    assert problem is not None and "10.0.0.1" in problem and "CallbackAllowedNetworks" in problem
    assert policy.address_problem("x", "not-an-ip") is not None


def test_unrestricted_policy_says_how_to_restrict() -> None:
    assert not NetworkPolicy().restricted
    assert DEFAULT.restricted
    assert "CallbackAllowedNetworks" in DEFAULT.describe()
    assert "169.254.0.0/16" in DEFAULT.describe()
    assert NetworkPolicy.of(["10.0.0.0/8"], []).describe().startswith(
        "callbacks may reach only 10.0.0.0/8")


def test_parse_gives_what_the_client_connects_to() -> None:
    target = parse("HTTPS://user:pw@Example.COM/a/b?token=1#f")
    assert (target.scheme, target.host, target.port, target.path) == (
        "https", "example.com", 443, "/a/b")
    assert parse("http://a@b@127.0.0.1:8080/").host_port == "127.0.0.1:8080"
    assert parse("http://[::ffff:169.254.169.254]/").host == "::ffff:a9fe:a9fe"
    assert parse("http://пример.рф/").host == "xn--e1afmkfd.xn--p1ai"


@pytest.mark.parametrize(("url", "fragment"), [
    ("http://127.0.0.1\\@10.0.0.1/", "backslash"),
    ("http://a\\b/", "backslash"),
    ("http://127.0.0.1:0/", "port 0"),
    ("http://127.0.0.1:99999/", "not a valid URL"),
    ("ftp://127.0.0.1/", "http(s)"),
    ("http:///path", "host"),
    ("/relative", "absolute"),
    ("http://h .com/", "whitespace"),
])
def test_parse_refuses_what_cannot_be_sent(url: str, fragment: str) -> None:
    with pytest.raises(TargetError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        parse(url)


@pytest.mark.parametrize(("url", "shown"), [
    ("https://bot:s3cret@hooks.example.com:8443/in/abc?token=t0k&x=1#frag",
     "https://hooks.example.com:8443/in/abc"),
    ("http://user@127.0.0.1/hook?sig=t0k", "http://127.0.0.1:80/hook"),
    ("http://Example.COM", "http://example.com:80/"),
    ("http://h:notaport/p?token=t0k", "<invalid URL>"),
])
def test_redact_drops_userinfo_query_and_fragment(url: str, shown: str) -> None:
    assert redact(url) == shown
    assert "s3cret" not in redact(url) and "t0k" not in redact(url)


def test_redact_keeps_only_scheme_host_port_path() -> None:
    assert redact("https://alice:s3cret@hooks.example.com/cb?token=abc#x") == (
        "https://hooks.example.com:443/cb")
    assert redact("http://[::1]:8080/x?k=v") == "http://[::1]:8080/x"
    assert redact("not a url") == "<invalid URL>"


# -- the guard ---------------------------------------------------------------------------------


def test_guard_unrestricted_resolves_nothing() -> None:
    def never(host: str) -> list[str]:
        raise AssertionError("resolved")

    assert CallbackGuard(NetworkPolicy(), resolver=never).problem("anything.example") is None


def test_guard_checks_every_address_and_caches() -> None:
    calls: list[str] = []
    answers = {"inside.test": ["127.0.0.5"], "mixed.test": ["127.0.0.1", "10.0.0.1"]}

    def resolver(host: str) -> list[str]:
        calls.append(host)
        if host not in answers:
            raise OSError("no such host")
        return answers[host]

    guard = CallbackGuard(NetworkPolicy.of(["127.0.0.0/8"], []), resolver=resolver)
    assert guard.problem("127.0.0.1") is None
    assert "outside" in str(guard.problem("10.1.1.1"))
    assert "outside" in str(guard.problem("[::1]"))
    assert guard.problem("inside.test") is None
    assert "10.0.0.1" in str(guard.problem("mixed.test"))
    assert "does not resolve" in str(guard.problem("missing.test"))
    assert guard.problem("inside.test") is None
    assert calls == ["inside.test", "mixed.test", "missing.test"]


def test_guard_for_the_executor_lets_an_unresolved_name_through_and_expires() -> None:
    now = [100.0]
    calls: list[str] = []

    async def resolver(host: str) -> list[str]:
        calls.append(host)
        if host == "missing.test":
            raise OSError("no such host")
        return ["10.0.0.1"]

    guard = CallbackGuard(NetworkPolicy.of(["127.0.0.0/8"], []), refuse_unresolved=False,
                          monotonic=lambda: now[0])

    async def ask(host: str) -> str | None:
        return await guard.problem_async(host, resolver)

    assert asyncio.run(ask("missing.test")) is None  # the attempt fails as a DNS error
    assert "10.0.0.1" in str(asyncio.run(ask("outside.test")))
    assert asyncio.run(ask("127.0.0.1")) is None
    assert "outside" in str(asyncio.run(ask("outside.test")))
    assert calls == ["missing.test", "outside.test"]  # cached, literals never resolved
    now[0] += 31  # past the cache time: asked again
    assert "outside" in str(asyncio.run(ask("outside.test")))
    assert calls == ["missing.test", "outside.test", "outside.test"]
