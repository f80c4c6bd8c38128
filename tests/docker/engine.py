"""A Docker engine of the test's own, and a base image built from Debian packages.

The daemon gets its own data root, exec root and socket under a temporary folder, and is
started so that it leaves the host's networking alone (no iptables rules, no masquerading, no
default bridge, IP forwarding left as it is): a daemon on its defaults sets the FORWARD policy
to DROP and turns bridge netfilter on, which breaks the partition tests' bridged network
namespaces, and turns IP forwarding on. The containers share one bridge per network, so they
reach each other without the host forwarding. No image registry is reachable here, so the
base image is a `debootstrap --variant=minbase` of Debian imported with `docker import`.

Everything this module starts it stops by pid, and every reason it cannot run is a sentence
for pytest.skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from scheduler0.testing import wait_for

TOOLS = ("dockerd", "docker", "docker-compose", "debootstrap")
BASE_TAG = "s0-test-base:bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# Host settings the daemon must not change (the partition tests rely on them).
HOST_NETWORK_SETTINGS = ("/proc/sys/net/ipv4/ip_forward",
                         "/proc/sys/net/bridge/bridge-nf-call-iptables")


def why_not_runnable() -> str | None:
    """None when this machine can run the engine, else why not."""
    if os.geteuid() != 0:
        return "dockerd and debootstrap need root"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return (f"{', '.join(missing)} not installed (Debian: apt-get install docker.io "
                "docker-compose debootstrap; .ci/run does)")
    return None


def host_network_settings() -> dict[str, str | None]:
    """The host settings a default-configured daemon would change, as they are now."""
    found: dict[str, str | None] = {}
    for path in HOST_NETWORK_SETTINGS:
        try:
            found[path] = Path(path).read_text().strip()
        except OSError:
            found[path] = None  # bridge netfilter not loaded: the daemon must not load it
    return found


@dataclass
class Engine:
    """A running dockerd of our own; `env` points the docker clients at it."""

    root: Path
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    def start(self, timeout: float = 60.0) -> str | None:
        """Start the daemon; None once it answers, else why it could not start."""
        self.root.mkdir(parents=True, exist_ok=True)
        log = open(self.root / "dockerd.log", "wb")  # noqa: SIM115 (the daemon writes to it)
        self.process = subprocess.Popen(
            ["dockerd", "--iptables=false", "--ip-masq=false", "--ip-forward=false",
             "--bridge=none", "--data-root", str(self.root / "data"),
             "--exec-root", str(self.root / "exec"), "--pidfile", str(self.root / "dockerd.pid"), "-H", f"unix://{self.socket}"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{self.socket}",
                    "DOCKER_BUILDKIT": "0", "COMPOSE_DOCKER_CLI_BUILD": "0"}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return f"dockerd exited with {self.process.returncode}: {self.log_tail()}"
            if self.docker("info", check=False, timeout=10).returncode == 0:
                return None
            time.sleep(0.5)
        return f"dockerd did not answer within {timeout:.0f} s: {self.log_tail()}"

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = (self.root / "dockerd.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:])

    def docker(self, *args: str, check: bool = True, timeout: float = 300,
               stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return self._run(["docker", *args], check, timeout, stdin)

    def compose(self, project_dir: Path, *args: str, env: dict[str, str] | None = None,
                check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
        return self._run(["docker-compose", *args], check, timeout, None,
                         cwd=project_dir, extra_env=env)

    def _run(self, argv: list[str], check: bool, timeout: float, stdin: bytes | None,
             cwd: Path | None = None,
             extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run(argv, env={**self.env, **(extra_env or {})}, cwd=cwd,
                              input=stdin, capture_output=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(argv[:3])} ... failed ({done.returncode}): "
                                 f"{done.stderr.decode(errors='replace')[-2000:]}")
        return done

    def build_base_image(self) -> None:
        """A minimal Debian with python3, venv and CA certificates, as BASE_TAG."""
        rootfs = self.root / "rootfs"
        done = subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
             "bookworm", str(rootfs), DEBIAN_MIRROR], capture_output=True, timeout=900)
        if done.returncode != 0:
            raise AssertionError(f"debootstrap failed: {done.stdout.decode()[-1500:]}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        try:
            imported = subprocess.run(["docker", "import", "-", BASE_TAG], stdin=tar.stdout,
                                      env=self.env, capture_output=True, timeout=300)
        finally:
            assert tar.stdout is not None
            tar.stdout.close()
            tar.wait(60)
        if imported.returncode != 0:
            raise AssertionError(f"docker import failed: {imported.stderr.decode()}")
        shutil.rmtree(rootfs, ignore_errors=True)

    def stop(self) -> None:
        """Stop the daemon by its pid (it stops its own containerd), then remove its files."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        # dockerd leaves its exec root's netns mount behind; a left mount makes rmtree fail.
        for mount_point in self.mounts_under_root():
            subprocess.run(["umount", "-l", mount_point], capture_output=True)
        wait_for(lambda: not self._processes_under_root(), timeout=30,
                 message="dockerd's own processes to exit")
        shutil.rmtree(self.root, ignore_errors=True)

    def mounts_under_root(self) -> list[str]:
        """Mount points inside our folders, deepest first."""
        mine = str(self.root) + "/"
        with open("/proc/mounts") as mounts:
            points = [line.split()[1] for line in mounts]
        return sorted((p for p in points if p.startswith(mine)), key=len, reverse=True)

    def _processes_under_root(self) -> list[int]:
        """Pids whose command line names our exec root (containerd, shims)."""
        mine = str(self.root)
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if mine in cmdline:
                found.append(int(entry.name))
        return found
