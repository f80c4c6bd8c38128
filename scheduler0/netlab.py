"""Network namespaces for tests and benchmarks: one namespace per node on a private bridge.

    with NetLab(3) as lab:
        argv = lab.wrap(1, [sys.executable, "-m", "scheduler0.cli", "start"])
        lab.address(1)          # "10.250.0.1", exists only inside namespace 1
        lab.bridge_address      # "10.250.0.254", the root namespace's end (receivers bind here)
        lab.partition(1)        # node 1 and its peers drop each other's packets
        lab.heal(1)

Needs root and iproute2. Every name carries a random suffix, so parallel or leftover labs
never clash by name; two labs must not share a subnet at the same time (the root namespace
would route it to two bridges), which `__enter__` refuses with a clear error.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

_COMMAND_TIMEOUT = 10.0  # seconds; an `ip` call that takes longer is stuck, not slow
_BRIDGE_SYSCTLS = ("bridge-nf-call-iptables", "bridge-nf-call-ip6tables")
_BRIDGE_SYSCTL_DIR = Path("/proc/sys/net/bridge")
# Labs in several processes share the host's bridge sysctls: the first lab saves the values,
# the last one to leave restores them. This file (under its lock) says who is still holding.
_SYSCTL_STATE = Path("/tmp/scheduler0-netlab-sysctls.json")
_MAX_IFNAME = 15  # the kernel's IFNAMSIZ minus the terminating NUL


class NetLabError(RuntimeError):
    """An `ip` command failed; the message has the command and its stderr."""


def _run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=_COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise NetLabError(f"{' '.join(argv)}: no answer within {_COMMAND_TIMEOUT} s") from exc
    if check and done.returncode != 0:
        raise NetLabError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
    return done


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


class NetLab:
    """A bridge and one network namespace per node, with addresses that exist only there."""

    def __init__(self, size: int, prefix: str = "s0", subnet: str = "10.250.0"):
        if not 1 <= size <= 253:
            raise ValueError(f"a lab has 1 to 253 nodes, not {size}")
        self.size = size
        self.subnet = subnet
        self.tag = prefix + secrets.token_hex(3)
        longest = f"{self.tag}h{size}"
        if len(longest) > _MAX_IFNAME:
            raise ValueError(f"prefix {prefix!r} too long: {longest!r} exceeds {_MAX_IFNAME} chars")
        self.bridge = f"{self.tag}br"
        self._namespaces_made: list[str] = []
        self._links_made: list[str] = []
        self._partitions: set[tuple[int, int]] = set()  # (in namespace of, blackholed peer)
        self._holds_sysctls = False
        self._entered = False

    # -- names and addresses ----------------------------------------------------------------

    def address(self, node: int) -> str:
        self._check_node(node)
        return f"{self.subnet}.{node}"

    @property
    def bridge_address(self) -> str:
        return f"{self.subnet}.254"

    def namespace(self, node: int) -> str:
        self._check_node(node)
        return f"{self.tag}-n{node}"

    def wrap(self, node: int, argv: list[str]) -> list[str]:
        """`argv` run inside node's namespace; `ip netns exec` execs it, so the pid is argv's."""
        return ["ip", "netns", "exec", self.namespace(node), *argv]

    def _host_end(self, node: int) -> str:
        return f"{self.tag}h{node}"

    def _inner_end(self, node: int) -> str:
        return f"{self.tag}n{node}"

    def _check_node(self, node: int) -> None:
        if not 1 <= node <= self.size:
            raise ValueError(f"node {node} is not in 1..{self.size}")

    # -- lifetime -----------------------------------------------------------------------------

    def __enter__(self) -> NetLab:
        if self._entered:
            raise RuntimeError("a NetLab is entered once")
        self._entered = True
        try:
            self._refuse_subnet_in_use()
            self._make_bridge()
            for node in range(1, self.size + 1):
                self._make_node(node)
            self._hold_bridge_sysctls()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove everything this lab made and restore the sysctls; safe to call repeatedly."""
        for namespace in reversed(self._namespaces_made):
            # Deleting a namespace destroys the veth end inside it, and so its host end too.
            _run(["ip", "netns", "delete", namespace], check=False)
        self._namespaces_made.clear()
        for link in reversed(self._links_made):
            if _link_exists(link):
                _run(["ip", "link", "delete", link], check=False)
        self._links_made.clear()
        self._partitions.clear()
        if self._holds_sysctls:
            self._holds_sysctls = False
            _release_bridge_sysctls(self.bridge)

    def _refuse_subnet_in_use(self) -> None:
        shown = _run(["ip", "-o", "-4", "addr", "show"]).stdout
        for line in shown.splitlines():
            fields = line.split()
            if "inet" in fields and fields[fields.index("inet") + 1].startswith(
                    f"{self.subnet}."):
                raise NetLabError(f"subnet {self.subnet}.0/24 is already on {fields[1]} "
                                  "(another lab, or one left over: delete that link)")

    def _make_bridge(self) -> None:
        _run(["ip", "link", "add", self.bridge, "type", "bridge"])
        self._links_made.append(self.bridge)
        _run(["ip", "addr", "add", f"{self.bridge_address}/24", "dev", self.bridge])
        _run(["ip", "link", "set", self.bridge, "up"])

    def _make_node(self, node: int) -> None:
        namespace, host_end, inner_end = self.namespace(node), self._host_end(node), \
            self._inner_end(node)
        _run(["ip", "netns", "add", namespace])
        self._namespaces_made.append(namespace)
        _run(["ip", "link", "add", host_end, "type", "veth", "peer", "name", inner_end,
              "netns", namespace])
        self._links_made.append(host_end)
        _run(["ip", "link", "set", host_end, "master", self.bridge])
        _run(["ip", "link", "set", host_end, "up"])
        inside = ["ip", "netns", "exec", namespace]
        _run([*inside, "ip", "link", "set", "lo", "up"])
        _run([*inside, "ip", "addr", "add", f"{self.address(node)}/24", "dev", inner_end])
        _run([*inside, "ip", "link", "set", inner_end, "up"])

    def _hold_bridge_sysctls(self) -> None:
        # Where Docker has run, FORWARD is DROP and bridged frames pass through iptables, which
        # silently drops traffic between the namespaces; a lab must not depend on that state.
        if not _BRIDGE_SYSCTL_DIR.exists():  # br_netfilter not loaded: nothing filters
            return
        _acquire_bridge_sysctls(self.bridge)
        self._holds_sysctls = True

    # -- faults -------------------------------------------------------------------------------

    def partition(self, node: int) -> None:
        """Cut node off from every other node, both ways; both still reach the bridge address."""
        for peer in self._peers(node):
            self._blackhole(node, peer)
            self._blackhole(peer, node)

    def heal(self, node: int) -> None:
        """Undo partition(node); a no-op for routes that are not there."""
        for peer in self._peers(node):
            self._unblackhole(node, peer)
            self._unblackhole(peer, node)

    def _peers(self, node: int) -> list[int]:
        self._check_node(node)
        return [peer for peer in range(1, self.size + 1) if peer != node]

    def _blackhole(self, inside: int, peer: int) -> None:
        if (inside, peer) in self._partitions:
            return
        _run(["ip", "netns", "exec", self.namespace(inside), "ip", "route", "add", "blackhole",
              f"{self.address(peer)}/32"])
        self._partitions.add((inside, peer))

    def _unblackhole(self, inside: int, peer: int) -> None:
        if (inside, peer) not in self._partitions:
            return
        _run(["ip", "netns", "exec", self.namespace(inside), "ip", "route", "del", "blackhole",
              f"{self.address(peer)}/32"], check=False)
        self._partitions.discard((inside, peer))

    # -- can this machine run a lab -------------------------------------------------------------

    @staticmethod
    def available() -> str | None:
        """None when labs work here (root, `ip` present, a namespace can be made), else why not."""
        if os.geteuid() != 0:
            return "network namespaces need root"
        if shutil.which("ip") is None:
            return "the `ip` command (iproute2) is not installed"
        probe = f"s0probe{secrets.token_hex(3)}"
        try:
            made = _run(["ip", "netns", "add", probe], check=False)
        except NetLabError as exc:
            return str(exc)
        if made.returncode != 0:
            return f"cannot create a network namespace: {made.stderr.strip()}"
        _run(["ip", "netns", "delete", probe], check=False)
        return None


# -- the shared bridge sysctls ---------------------------------------------------------------

def _read_sysctls() -> dict[str, str]:
    return {name: (_BRIDGE_SYSCTL_DIR / name).read_text().strip() for name in _BRIDGE_SYSCTLS
            if (_BRIDGE_SYSCTL_DIR / name).exists()}


def _write_sysctls(values: dict[str, str]) -> None:
    for name, value in values.items():
        path = _BRIDGE_SYSCTL_DIR / name
        if path.exists():
            path.write_text(value)


SysctlState = dict[str, Any]


def _with_state(change: Callable[[SysctlState | None], SysctlState | None]) -> None:
    """Run change(state) -> new state under the state file's lock; None deletes the file."""
    with open(f"{_SYSCTL_STATE}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            state = json.loads(_SYSCTL_STATE.read_text()) if _SYSCTL_STATE.exists() else None
        except ValueError:
            state = None
        state = change(state)
        if state is None:
            _SYSCTL_STATE.unlink(missing_ok=True)
        else:
            _SYSCTL_STATE.write_text(json.dumps(state))


def _live_holders(state: SysctlState | None) -> list[str]:
    """Holders whose bridge still exists; a crashed lab's bridge is gone or will be removed."""
    return [bridge for bridge in (state or {}).get("holders", []) if _link_exists(bridge)]


def _acquire_bridge_sysctls(bridge: str) -> None:
    def change(state: SysctlState | None) -> SysctlState:
        if state is None:  # the first lab: what is there now is the host's own setting
            state = {"saved": _read_sysctls(), "holders": []}
        # A stale state (its holders crashed) keeps its saved values: the current ones are
        # the crashed lab's zeros, not the host's.
        state["holders"] = [*_live_holders(state), bridge]
        _write_sysctls({name: "0" for name in state["saved"]})
        return state

    _with_state(change)


def _release_bridge_sysctls(bridge: str) -> None:
    def change(state: SysctlState | None) -> SysctlState | None:
        if state is None:
            return None
        holders = [b for b in _live_holders(state) if b != bridge]
        if holders:
            return {**state, "holders": holders}
        _write_sysctls(state["saved"])
        return None

    _with_state(change)
