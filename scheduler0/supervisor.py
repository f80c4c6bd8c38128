"""The supervisor: `scheduler0 start` / `scheduler0-supervisor`.

Spawns the coordinator, the API process and MaxWorkers executors; restarts a child that dies,
with backoff, and logs why; watches the whole node's memory with psutil and tells the children
over the control socket to stop taking new work at 70 % of MaxMemory (and to resume below 60 %);
stops everything on SIGTERM/SIGINT within STOP_GRACE seconds.

Before anything is created the umask becomes 0o077 (children inherit it) and DataDir is made
private (scheduler0.datadir): its files hold every project's signing secret.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

import psutil

from scheduler0 import clock, config, datadir, logs, messages, secrets_file, transport
from scheduler0.errors import ConfigError, Scheduler0Error

log = logging.getLogger("scheduler0.supervisor")

STOP_GRACE = 8.5  # seconds children get after SIGTERM before SIGKILL (the promise is 10 s)
COORDINATOR_STOP_TIME = 2.0  # of STOP_GRACE, kept for the coordinator to commit and close
WATCH_INTERVAL = 0.25
MEMORY_INTERVAL = 1.0
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
HEALTHY_AFTER = 30.0  # a child that ran this long has its backoff reset
# At start the coordinator gets the CPU to itself until its command socket is bound (Raft is
# up by then), at most this long: the API and the executors import for about as long as it
# does, and a node's election, and with it the cluster's first tick, waits for the coordinator.
COORDINATOR_HEAD_START = 3.0
PRESSURE_ON = 0.70
PRESSURE_OFF = 0.60


class MemoryGuard:
    """Hysteresis on the node's RSS: on at 70 % of the limit, off again below 60 %."""

    def __init__(self, max_memory_mb: int):
        self.limit = max_memory_mb * 1024 * 1024
        self.pressure = False

    def update(self, rss_bytes: int) -> bool:
        """Feed one reading; returns True when the pressure flag changed."""
        before = self.pressure
        if not self.pressure and rss_bytes >= self.limit * PRESSURE_ON:
            self.pressure = True
        elif self.pressure and rss_bytes < self.limit * PRESSURE_OFF:
            self.pressure = False
        return before != self.pressure


def backoff_delay(failures: int) -> float:
    return float(min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, failures - 1)))


@dataclass
class Child:
    role: str
    index: int = 0
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float = 0.0
    restarts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.role if self.role != "executor" else f"executor-{self.index}"


def check_ports_free(settings: config.Settings) -> None:
    """Fail start-up early, naming the key, when a port this node needs is taken."""
    wanted = [("Port", settings.host, settings.port)]
    for key, address in (("RaftAddress", settings.raft_address),
                         ("IntakeAddress", settings.intake_address)):
        host, port = config.split_host_port(address, key)
        wanted.append((key, host, port))
    for key, host, port in wanted:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                raise ConfigError(f"config key {key}: port {port} on {host} is not available "
                                  f"({exc.strerror}); stop what uses it or choose another "
                                  "port") from None


class Supervisor:
    def __init__(self, settings: config.Settings, config_path: str | None):
        self.settings = settings
        self.config_path = config_path
        self.stopping = threading.Event()
        self.guard = MemoryGuard(settings.max_memory)
        self.children = [Child("coordinator"), Child("api")] + [
            Child("executor", i) for i in range(settings.max_workers)]
        self._control: transport.Socket | None = None

    # -- life cycle ---------------------------------------------------------------------------

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, _frame: self._request_stop(signum))
        os.makedirs(self.settings.run_dir, mode=0o700, exist_ok=True)
        self._control = transport.Socket("pub", self.settings.ipc("control"), bind=True)
        coordinator, others = self.children[0], self.children[1:]
        self._spawn(coordinator)
        self._await_coordinator(coordinator, clock.monotonic() + COORDINATOR_HEAD_START)
        for child in others:
            self._spawn(child)
        last_memory = 0.0
        try:
            while not self.stopping.is_set():
                now = clock.monotonic()
                self._reap_and_restart(now)
                if now - last_memory >= MEMORY_INTERVAL:
                    last_memory = now
                    self._check_memory()
                self.stopping.wait(WATCH_INTERVAL)
        finally:
            self._stop_children()
            self._control.close()
        log.info("node stopped")
        return 0

    def _request_stop(self, signum: int) -> None:
        if not self.stopping.is_set():
            log.info("received %s, stopping the node", signal.Signals(signum).name)
        self.stopping.set()

    # -- children -----------------------------------------------------------------------------

    def _spawn(self, child: Child) -> None:
        if child.role == "coordinator":
            # A socket file left by a killed coordinator must not read as the new one's.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._command_socket())
        env = dict(os.environ)
        env["SCHEDULER0_CONFIG_PATH"] = os.path.abspath(self.config_path) if self.config_path else ""
        cmd = [sys.executable, "-m", "scheduler0.child", child.role, "--index", str(child.index)]
        # A new session: a terminal's Ctrl-C reaches only the supervisor, which then stops the
        # children in order instead of having them all die at once.
        child.proc = subprocess.Popen(cmd, env=env, start_new_session=True)
        child.started_at = clock.monotonic()
        log.info("started %s (pid %d)", child.name, child.proc.pid)

    def _command_socket(self) -> str:
        """The file of the coordinator's command socket: it exists once the socket is bound."""
        return self.settings.ipc("commands").removeprefix("ipc://")

    def _await_coordinator(self, coordinator: Child, deadline: float) -> None:
        """Until the coordinator bound its command socket, exited, or the deadline passed."""
        ready = self._command_socket()
        while (clock.monotonic() < deadline and not self.stopping.is_set()
               and coordinator.proc is not None and coordinator.proc.poll() is None
               and not os.path.exists(ready)):
            self.stopping.wait(0.02)

    def _reap_and_restart(self, now: float) -> None:
        for child in self.children:
            if child.proc is not None:
                code = child.proc.poll()
                if code is None:
                    continue
                self._note_exit(child, code, now)
            if child.proc is None and now >= child.restart_at and not self.stopping.is_set():
                child.restarts += 1
                self._spawn(child)

    def _note_exit(self, child: Child, code: int, now: float) -> None:
        ran = now - child.started_at
        child.failures = 1 if ran >= HEALTHY_AFTER else child.failures + 1
        delay = backoff_delay(child.failures)
        child.restart_at = now + delay
        child.proc = None
        log.warning("%s exited (%s) after %.1f s; restarting in %.1f s", child.name,
                    describe_exit(code), ran, delay)

    def _stop_children(self) -> None:
        """Executors and the API first, the coordinator once they are gone.

        Executors finish the POSTs in flight (and publish the results) before they exit; the
        coordinator must still be there to commit those results, or a delivered tick would stay
        `scheduled` and be settled again (re-sent or recorded missed) after the restart.
        """
        # SIGTERM, not the control channel's "stop" (which every child hears at once), so the
        # coordinator outlives the executors.
        deadline = clock.monotonic() + STOP_GRACE
        workers = [c for c in self.children if c.role != "coordinator"]
        coordinators = [c for c in self.children if c.role == "coordinator"]
        self._stop_group(workers, deadline - COORDINATOR_STOP_TIME)
        self._stop_group(coordinators, deadline)

    def _stop_group(self, children: list[Child], deadline: float) -> None:
        running = [c for c in children if c.proc is not None and c.proc.poll() is None]
        for child in running:
            _signal(child, signal.SIGTERM)
        for child in running:
            assert child.proc is not None
            try:
                child.proc.wait(max(0.0, deadline - clock.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time, killing it", child.name)
                _signal(child, signal.SIGKILL)
                child.proc.wait()

    # -- memory -------------------------------------------------------------------------------

    def node_rss(self) -> int:
        total = psutil.Process().memory_info().rss
        for child in self.children:
            if child.proc is not None:
                try:
                    total += psutil.Process(child.proc.pid).memory_info().rss
                except psutil.Error:
                    pass  # it just exited; the reaper logs it
        return int(total)

    def _check_memory(self) -> None:
        rss = self.node_rss()
        if self.guard.update(rss):
            mb = rss / 1024 / 1024
            if self.guard.pressure:
                log.warning("memory %.0f MB is over 70%% of MaxMemory %d MB: taking no new work",
                            mb, self.settings.max_memory)
            else:
                log.info("memory %.0f MB is below 60%% of MaxMemory: resuming work", mb)
        # Sent every time, so a restarted child learns the state within a second.
        assert self._control is not None
        self._control.send(messages.Memory(pressure=self.guard.pressure, rss=rss), block=False)


def _signal(child: Child, sig: int) -> None:
    if child.proc is not None:
        try:
            child.proc.send_signal(sig)
        except ProcessLookupError:
            pass


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def start(config_path: str | None, environ: dict[str, str] | None = None) -> int:
    """Load and check everything, then supervise. Returns the process exit code."""
    environ = dict(os.environ) if environ is None else environ
    # Before the first file is made: every file the node (children included) creates is 0600.
    os.umask(datadir.PRIVATE_UMASK)
    try:
        settings = config.load(environ, config_path)
        logs.setup(settings.log_level, settings.node_id, "supervisor")
        check_ports_free(settings)
        tightened = datadir.prepare(settings.data_dir, settings.run_dir, settings.secrets_file)
        node_secrets, created = secrets_file.load_or_create(settings.secrets_file, environ)
    except ConfigError as exc:
        print(f"scheduler0: {exc}", file=sys.stderr)
        return 2
    _log_tightened(tightened)
    if created:
        log.info("generated node secrets in %s (mode 0600)", os.path.abspath(settings.secrets_file))
    for key in settings.ignored_keys:
        log.warning("config key %s has no effect in this version and is ignored", key)
    log.info("starting node %d: api %s, raft %s, data %s", settings.node_id,
             settings.api_address, settings.raft_address, os.path.abspath(settings.data_dir))
    hint = f" --config {config_path}" if config_path else ""
    log.info("create an API credential with: scheduler0 create credential%s", hint)
    try:
        return Supervisor(settings, config_path).run()
    except Scheduler0Error as exc:
        log.error("%s", exc)
        return 1


def _log_tightened(tightened: datadir.Tightened) -> None:
    summary = tightened.summary()
    if summary:
        log.warning("%s", summary)
    warning = tightened.warning()
    if warning:
        log.warning("%s", warning)
