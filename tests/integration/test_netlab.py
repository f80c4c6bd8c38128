"""NetLab: namespaces reach each other and the bridge, a partition cuts peers off (not the
bridge), heal restores, and nothing of the lab is left afterwards."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler0.netlab import NetLab

_SYSCTLS = Path("/proc/sys/net/bridge")

# A TCP server that accepts (and closes) connections until killed; prints "ready" once bound.
_SERVER = """
import socket, sys
server = socket.create_server((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
while True:
    server.accept()[0].close()
"""

# Exit 0 when a TCP connection to argv[1]:argv[2] succeeds within 2 s.
_CLIENT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
except OSError:
    sys.exit(1)
"""


@pytest.fixture(scope="module", autouse=True)
def _needs_netns() -> None:
    reason = NetLab.available()
    if reason is not None:
        pytest.skip(reason)


def sysctl_values() -> dict[str, str]:
    if not _SYSCTLS.exists():
        return {}
    return {p.name: p.read_text().strip() for p in _SYSCTLS.glob("bridge-nf-call-ip*tables")}


def reaches(lab: NetLab, node: int, host: str, port: int) -> bool:
    client = subprocess.run(lab.wrap(node, [sys.executable, "-c", _CLIENT, host, str(port)]),
                            timeout=10)
    return client.returncode == 0


# Subnets of their own (not the default, nor the chaos benchmark's 10.251.0), so other labs
# may run meanwhile.
SUBNET, OTHER_SUBNET = "10.252.0", "10.252.1"


@pytest.fixture
def lab() -> Iterator[NetLab]:
    with NetLab(3, subnet=SUBNET) as made:
        yield made


@pytest.fixture
def node2_server(lab: NetLab) -> Iterator[int]:
    """A TCP server inside namespace 2 on its lab address; yields its port."""
    port = 4567
    server = subprocess.Popen(lab.wrap(2, [sys.executable, "-c", _SERVER, lab.address(2),
                                           str(port)]), stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        yield port
    finally:
        server.kill()
        server.wait(10)
        server.stdout.close()


@pytest.fixture
def bridge_server(lab: NetLab) -> Iterator[int]:
    """A TCP server in the root namespace on the bridge address; yields its port."""
    with socket.create_server((lab.bridge_address, 0)) as server:
        server.settimeout(0.1)
        yield server.getsockname()[1]


def test_reach_partition_heal(lab, node2_server, bridge_server):
    assert reaches(lab, 1, lab.address(2), node2_server)
    assert reaches(lab, 1, lab.bridge_address, bridge_server)

    lab.partition(1)
    assert not reaches(lab, 1, lab.address(2), node2_server)
    assert reaches(lab, 1, lab.bridge_address, bridge_server)
    assert reaches(lab, 3, lab.address(2), node2_server)  # the others still reach each other

    lab.heal(1)
    assert reaches(lab, 1, lab.address(2), node2_server)


def test_nothing_is_left_and_sysctls_are_restored():
    before = sysctl_values()
    lab = NetLab(3, subnet=SUBNET)
    with lab:
        if before:
            assert set(sysctl_values().values()) == {"0"}
        lab.partition(2)
        namespaces = [lab.namespace(i) for i in (1, 2, 3)]
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                timeout=10).stdout
        assert all(ns in listed for ns in namespaces)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                            timeout=10).stdout
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                           timeout=10).stdout
    assert not [ns for ns in namespaces if ns in listed]
    assert lab.tag not in links
    assert sysctl_values() == before
    lab.close()  # a second cleanup is harmless


def test_a_failed_setup_leaves_nothing():
    with NetLab(1, subnet=OTHER_SUBNET) as first:
        clash = NetLab(2, subnet=OTHER_SUBNET)  # the same subnet twice is refused
        with pytest.raises(RuntimeError, match="already on"):
            clash.__enter__()
        assert clash.tag not in subprocess.run(["ip", "-o", "link", "show"], capture_output=True,
                                               text=True, timeout=10).stdout
        assert first.address(1) == f"{OTHER_SUBNET}.1"
