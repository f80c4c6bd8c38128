"""peer_names: a caller never waits on a lookup, a name that stops resolving keeps its last
address, a changed address is picked up, and prime waits for the first answers only."""

from __future__ import annotations

import threading

import pytest

from scheduler0 import clock, peer_names
from scheduler0.testing import wait_for


class ScriptedDns:
    """Lookups answered from a table the test changes; a name can be made to hang."""

    def __init__(self, table: dict[str, list[str]]):
        self.table = table
        self.hanging: set[str] = set()
        self.release = threading.Event()
        self.asked: list[str] = []

    def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        if host in self.hanging:
            self.release.wait(30)  # a resolver that cannot reach its upstream server
            return []
        return list(self.table.get(host, []))


@pytest.fixture
def dns() -> ScriptedDns:
    scripted = ScriptedDns({"node1": ["10.0.0.1"], "node2": ["10.0.0.2"]})
    yield scripted
    scripted.release.set()


def test_an_address_literal_is_its_own_answer_and_no_lookup_is_made(dns):
    names = peer_names.Resolver(dns, refresh=0.05)
    assert names.address("127.0.0.1") == "127.0.0.1"
    assert names.address("::1") == "::1"
    assert dns.asked == []


def test_prime_waits_for_the_first_answers_then_address_answers_at_once(dns):
    names = peer_names.Resolver(dns, refresh=0.05)
    assert names.prime(["node1", "node2", "10.9.9.9"], timeout=5) == []
    assert (names.address("node1"), names.address("node2")) == ("10.0.0.1", "10.0.0.2")
    assert peer_names.tcp_endpoint("node2:11091", names) == "tcp://10.0.0.2:11091"


def test_a_hanging_lookup_never_holds_a_caller(dns):
    dns.hanging.add("node2")
    names = peer_names.Resolver(dns, refresh=0.05)
    assert names.prime(["node1"], timeout=5) == []
    began = clock.monotonic()
    assert names.address("node2") is None  # never resolved: unreachable for now
    assert peer_names.tcp_endpoint("node2:10091", names) is None
    assert names.prime(["node2"], timeout=0.2) == ["node2"]
    assert clock.monotonic() - began < 5  # the lookup itself hangs for 30 s
    assert names.address("node1") == "10.0.0.1"


def test_a_name_that_stops_resolving_keeps_its_last_address(dns):
    names = peer_names.Resolver(dns, refresh=0.02)
    names.prime(["node2"], timeout=5)
    del dns.table["node2"]
    asked = len(dns.asked)
    wait_for(lambda: len(dns.asked) >= asked + 3, timeout=5, message="three more lookups")
    assert names.address("node2") == "10.0.0.2"


def test_a_changed_address_is_picked_up_by_the_refresh(dns):
    names = peer_names.Resolver(dns, refresh=0.02)
    names.prime(["node2"], timeout=5)
    dns.table["node2"] = ["10.0.0.22"]
    wait_for(lambda: names.address("node2") == "10.0.0.22", timeout=5,
             message="the new address")
    assert peer_names.tcp_endpoint("node2:1", names) == "tcp://10.0.0.22:1"


def test_a_failing_lookup_function_does_not_end_the_thread(dns):
    calls = {"n": 0}

    def flaky(host: str) -> list[str]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("resolver exploded")
        return ["10.0.0.3"]

    names = peer_names.Resolver(flaky, refresh=0.02)
    assert names.prime(["node3"], timeout=5) == []
    assert names.address("node3") == "10.0.0.3"


def test_ipv6_endpoints_are_bracketed():
    names = peer_names.Resolver(lambda host: ["fd00::5"], refresh=0.05)
    names.prime(["node6"], timeout=5)
    assert peer_names.tcp_endpoint("node6:9", names) == "tcp://[fd00::5]:9"


def test_the_system_lookup_answers_ipv4_first_from_the_hosts_file():
    found = peer_names.system_lookup("localhost")  # /etc/hosts: no DNS server is asked
    assert found and found[0] == "127.0.0.1"
