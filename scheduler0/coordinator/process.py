"""The coordinator process: the node's Raft member and the only writer of its SQLite file.

It answers the API process over the `commands` socket (submit a command, read status), relays
batches that arrive on the node's intake to its executors, and on the leader runs the planner
(and the lease desk, the pruner and the failure notifier).
"""

from __future__ import annotations

import logging
import queue
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from scheduler0 import clock, messages, secrets_file, transport
from scheduler0.clock import SYSTEM_CLOCK
from scheduler0.config import Settings
from scheduler0.coordinator.dispatcher import LeadershipProof
from scheduler0.coordinator.fencing import fence_executor
from scheduler0.coordinator.heartbeat import Heartbeat
from scheduler0.coordinator.holdings import Holdings
from scheduler0.coordinator.intake import IntakeRelay, LeaseKeeper
from scheduler0.coordinator.lease_desk import LeaseBook, LeaseDesk
from scheduler0.coordinator.notifier import Notifier
from scheduler0.coordinator.placement import NodeReports
from scheduler0.coordinator.planner import Planner
from scheduler0.coordinator.pruner import Pruner
from scheduler0.coordinator.raft import RaftNode, raft_password
from scheduler0.coordinator.results import ResultCollector
from scheduler0.delivery.target import NetworkPolicy
from scheduler0.errors import ApiError, RaftError, Scheduler0Error
from scheduler0.lifecycle import Lifecycle
from scheduler0.store import StateMachine
from scheduler0.store.notification_reads import NotificationReader
from scheduler0.store.pipeline import PipelineReader

log = logging.getLogger(__name__)

SUBMIT_THREADS = 32
# A leader whose planner has not finished a loop for this long plans nothing: unhealthy.
PLANNER_STALL = 5.0  # seconds


class Coordinator:
    """Wires the Raft node, the state machine and the node's sockets together."""

    def __init__(self, settings: Settings, lifecycle: Lifecycle, secret_key: str):
        self.settings = settings
        self.lifecycle = lifecycle
        self.machine = StateMachine(settings.db_path)
        self.raft = RaftNode(settings, self.machine, raft_password(secret_key))
        self.curve = transport.CurveKeys.derive(secret_key)
        # One clock for the leader's threads: the lease desk compares the reports' arrival
        # times with its own readings, and the planner reads the leases the desk keeps.
        self.clock = SYSTEM_CLOCK
        self.reports = NodeReports(self.clock)
        self._replies: queue.Queue[tuple[list[bytes], messages.Reply]] = queue.Queue()
        self._pool = ThreadPoolExecutor(SUBMIT_THREADS, thread_name_prefix="submit")

    def run(self) -> int:
        self.raft.start()
        server = transport.RouterServer(self.settings.ipc("commands"))
        stopping = self.lifecycle.stopping
        holdings, keeper = Holdings(fence=fence_executor), LeaseKeeper()
        self.intake = IntakeRelay(self.settings, stopping, self.curve, self.reports,
                                  lambda: self.raft.term, holdings, keeper)
        self.results = ResultCollector(self.settings, stopping, self.raft.submit, holdings)
        book = LeaseBook(self.clock, own=self.settings.node_id)
        proof = LeadershipProof(self.raft, self.clock)
        self.planner = Planner(self.settings, self.raft, self.lifecycle, self._pipeline_reader,
                               self.curve, self.reports, book, proof, clock=self.clock)
        self.desk = LeaseDesk(self.settings, self.raft, stopping, self.reports, self.curve,
                              book, proof, self._revoked_leases, clock=self.clock)
        self.pruner = Pruner(self.settings, self.raft, stopping, clock=self.clock)
        self.notifier = Notifier(self.settings, self.raft, stopping, self._notification_reader,
                                 clock=self.clock)
        self.heartbeat = Heartbeat(self.settings, stopping, self.curve, self.reports, self._load,
                                   holdings, keeper)
        self.threads = threads = (self.intake, self.results, self.planner, self.desk,
                                  self.pruner, self.heartbeat, self.notifier)
        for thread in threads:
            thread.start()
        log.info("coordinator ready: raft %s, commands %s", self.settings.raft_address,
                 self.settings.ipc("commands"))
        log.info("%s", NetworkPolicy.of(self.settings.callback_allowed_networks,
                                        self.settings.callback_denied_networks).describe())
        try:
            self._serve(server)
        finally:
            server.close()
            for thread in threads:
                thread.join(timeout=3.0)
            self._pool.shutdown(wait=False, cancel_futures=True)
            self.raft.stop()
            self.machine.close()
            log.info("coordinator stopped")
        return 1 if any(t.fatal for t in threads) else 0

    def _serve(self, server: transport.RouterServer) -> None:
        pending = 0
        while not self.lifecycle.stopping.is_set():
            request = server.recv(timeout=0.005 if pending else 0.1)
            if request is not None:
                envelope, message = request
                if isinstance(message, messages.StatusRequest):
                    server.reply(envelope, self._status_reply())
                else:
                    pending += 1
                    self._pool.submit(self._answer_in_worker, envelope, message)
            while True:
                try:
                    envelope, reply = self._replies.get_nowait()
                except queue.Empty:
                    break
                pending -= 1
                server.reply(envelope, reply)

    def _answer_in_worker(self, envelope: list[bytes], message: messages.Request) -> None:
        try:
            reply = self._answer(message)
        except ApiError as exc:
            reply = messages.Reply.refused(exc.status, exc.code, exc.message)
        except Scheduler0Error as exc:
            reply = messages.Reply.refused(503, "unavailable", str(exc))
        except Exception:  # a worker must always answer, or the API thread waits in vain
            log.exception("request failed")
            reply = messages.Reply.refused(500, "internal_error",
                                           "the coordinator failed; see its log")
        self._replies.put((envelope, reply))

    def _answer(self, message: messages.Request) -> messages.Reply:
        if isinstance(message, messages.Submit):
            timeout = float(message.timeout or self.settings.write_timeout)
            return messages.Reply(ok=True, result=self.raft.submit(message.command, timeout))
        if isinstance(message, messages.Membership):
            self.raft.change_membership(message.action, message.raft_address)
            return messages.Reply(ok=True, result=messages.ok(None))
        raise RaftError(f"unknown request {type(message).__name__}")

    def _status_reply(self) -> messages.Reply:
        try:
            return messages.Reply(ok=True, status=self._status())
        except ApiError as exc:
            return messages.Reply.refused(exc.status, exc.code, exc.message)
        except Exception:  # the health check must answer, whatever broke
            log.exception("status failed")
            return messages.Reply.refused(503, "unavailable",
                                          "the coordinator could not read its status")

    def _status(self) -> dict[str, Any]:
        status = self.raft.status()
        status["memory_pressure"] = self.lifecycle.memory_pressure
        status["executors"] = self.results.executor_load()
        status["nodes"] = {str(n): {k: r.get(k) for k in ("held", "executors", "memory_pressure")}
                           for n, r in self.reports.fresh().items()}
        status["planner"] = self._planner_status()
        status["results_committed"] = self.results.committed
        holdings = self.intake.holdings
        status["intake"] = {"relayed": self.intake.relayed,
                            "stale_dropped": self.intake.stale_dropped,
                            "duplicates_dropped": holdings.duplicates_dropped,
                            "revoked": holdings.revoked, "orphaned": holdings.orphaned,
                            "held": holdings.count(),
                            "rate_limited": self.intake.rate_limit_stats()}
        status["lease"] = self._own_lease()
        status["leases"] = self.planner.book.view()
        status["threads"] = {t.name: t.alive() for t in self.threads}
        problem = work_problem(status["threads"], self.planner.leases is not None,
                               status["planner"]["last_round_age"])
        if problem:
            status["unhealthy"] = problem
        return status

    def _planner_status(self) -> dict[str, Any]:
        stats = dict(self.planner.stats, in_flight=len(self.planner.in_flight),
                     lease_lapses=self.desk.lapses)
        last = stats.pop("last_round_at")
        stats["last_round_age"] = (None if last is None
                                   else round(self.clock.monotonic() - last, 3))
        stats["redispatched_by"] = dict(stats["redispatched_by"])
        return stats

    def _own_lease(self) -> dict[str, Any]:
        holder = self.intake.keeper.snapshot()
        return {"current": list(holder.current) if holder.current else None,
                "valid_for": round(holder.valid_until - clock.monotonic(), 3),
                "clock_offset_ms": None if holder.clock_offset is None
                else round(holder.clock_offset * 1000, 1)}

    def _load(self) -> dict[str, Any]:
        load = self.results.executor_load()
        return {"held": load["held"], "executors": load["executors"],
                "memory_pressure": self.lifecycle.memory_pressure}

    def _pipeline_reader(self) -> PipelineReader:
        return PipelineReader(self.settings.db_path)

    def _notification_reader(self) -> NotificationReader:
        return NotificationReader(self.settings.db_path)

    def _revoked_leases(self) -> dict[int, tuple[int, int]]:
        """Read once per term by the lease desk: a reader of its own, closed at once."""
        reader = self._pipeline_reader()
        try:
            return reader.revoked_leases()
        finally:
            reader.close()


def work_problem(threads: dict[str, bool], leading: bool, planner_age: float | None) -> str | None:
    """Why this node cannot do its work although its process answers, or None."""
    dead = [name for name, alive in threads.items() if not alive]
    if dead:
        return f"coordinator threads not running: {', '.join(dead)}"
    if leading and planner_age is not None and planner_age > PLANNER_STALL:
        return f"the leader's planner has not run a round for {planner_age:.0f} s"
    return None


def run(settings: Settings, lifecycle: Lifecycle) -> int:
    node_secrets = secrets_file.read(settings.secrets_file)
    if node_secrets is None:
        log.error("no node secrets in %s; run `scheduler0 credential init`", settings.secrets_file)
        return 2
    return Coordinator(settings, lifecycle, node_secrets.secret_key).run()
