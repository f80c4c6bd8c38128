"""The Raft engine: pysyncobj is imported here and in raft_wire (its transport), nowhere else.

`RaftNode` replicates command dicts (scheduler0.messages.commands) into a StateMachine (scheduler0.store)
with measured settings: journal and dump always together, the
SQLite file as the snapshot (copied in the background: scheduler0.coordinator.raft_snapshots),
a password on the wire, `connectionTimeout` long enough for
one-round elections and a short `leaderFallbackTimeout`, pickles with protocol 4 (see
SYNCOBJ_PICKLE_PROTOCOL), and a TCP transport whose read side is bounded and which reassembles
an entry that arrives in pieces itself (scheduler0.coordinator.raft_wire).

There is ONE replicated method (`_Consumer.apply`): pysyncobj numbers replicated methods by
sorted name, so adding a second one later would make old journals run the wrong method.
"""

from __future__ import annotations

import _socket
import functools
import hashlib
import logging
import os
import pickle
import socket
import threading
from collections.abc import Callable
from typing import Any

from pysyncobj import (
    FAIL_REASON,
    SERIALIZER_STATE,
    SyncObj,
    SyncObjConf,
    SyncObjConsumer,
    dns_resolver,
    replicated,
)
from pysyncobj import pickle as syncobj_pickle
from pysyncobj.node import TCPNode
from pysyncobj.syncobj import SyncObjException

from scheduler0 import clock, peer_names
from scheduler0.config import Settings
from scheduler0.coordinator.raft_snapshots import DONE, FAILED, IDLE, RUNNING, BackgroundSnapshots
from scheduler0.coordinator.raft_wire import BoundedTransport, frame_cap
from scheduler0.errors import RaftError, UnavailableError

# pysyncobj replaces socket.inet_ntop with a Windows-only function on every OS (its
# win_inet_pton module), which breaks IPv6 formatting for the whole process: put the real one back.
socket.inet_ntop = _socket.inet_ntop

# pysyncobj pickles with protocol 2 (pysyncobj.pickle.__protocol) the commands, the big entries it
# cuts into pieces and every frame. Protocol 2 carries bytes as latin-1 text encoded as UTF-8:
# two bytes for each byte >= 0x80, and a command with non-ASCII text is mostly such bytes once
# pickled, so each layer doubled it again (an entry in pieces: command, entry, frame). Protocol 4
# carries bytes as they are. pickle.loads reads both, so journals written before and nodes running
# without this line still understand each other. Measured, three nodes, a job.create from a 16 MiB
# body of random non-ASCII text: with protocol 2, 15 s and 4 leader elections to commit, or not
# within 40 s (the leader's tick spends seconds compressing one follower's 512 pieces while the
# other's election timer runs out); with protocol 4 (256 pieces), 1.8 s and at most one election.
SYNCOBJ_PICKLE_PROTOCOL = 4
setattr(syncobj_pickle, "__protocol", SYNCOBJ_PICKLE_PROTOCOL)

log = logging.getLogger(__name__)

STATE_NAMES = {0: "follower", 1: "candidate", 2: "leader"}
SNAPSHOT_STATES = {IDLE: SERIALIZER_STATE.NOT_SERIALIZING, RUNNING: SERIALIZER_STATE.SERIALIZING,
                   DONE: SERIALIZER_STATE.SUCCESS, FAILED: SERIALIZER_STATE.FAILED}
RAFT_CONNECT_RETRY = 0.25  # seconds between connects to a peer that is down
NAME_PRIME_SECONDS = 5.0  # at start-up, how long to wait for the peers' names to resolve
# Outcomes after which the same command (same request_id) may simply be proposed again:
# the state machine's request-id dedup makes a second apply return the first result.
RETRYABLE = {
    FAIL_REASON.QUEUE_FULL, FAIL_REASON.MISSING_LEADER, FAIL_REASON.DISCARDED,
    FAIL_REASON.NOT_LEADER, FAIL_REASON.LEADER_CHANGED, getattr(FAIL_REASON, "UNKNOWN_OUTCOME", 7),
}


def raft_password(secret_key: str) -> str:
    """The wire password, derived so the raw SecretKey never leaves the secrets file."""
    return hashlib.sha256(("scheduler0-raft:" + secret_key).encode()).hexdigest()


class _Consumer(SyncObjConsumer):
    """Holds the state machine; its only replicated method applies one command."""

    def __init__(self, machine: Any, index_of_next: Callable[[], int]):
        super().__init__()
        self._machine = machine
        self._index_of_next = index_of_next

    @replicated
    def apply(self, command: dict[str, Any]) -> dict[str, Any]:
        # Runs in pysyncobj's tick thread on every node; StateMachine.apply never raises.
        result: dict[str, Any] = self._machine.apply(command, self._index_of_next())
        return result


class RaftNode:
    """A pysyncobj node applying commands to `machine` (a scheduler0.store.StateMachine)."""

    def __init__(self, settings: Settings, machine: Any, password: str,
                 on_state_change: Callable[[str, str], None] | None = None):
        self._settings = settings
        self._machine = machine
        self._password = password
        self._on_state_change = on_state_change
        self._syncobj: SyncObj | None = None
        self._consumer: _Consumer | None = None
        self._ids_by_address = {r.raft_address: r.node_id for r in settings.replicas}
        self.snapshots = BackgroundSnapshots(machine, self._dump_path())
        self._replicas_by_id = {r.node_id: r for r in settings.replicas}
        # Times this node entered each state, for /metrics: written only by the tick thread,
        # on a state change (not per command), so a plain dict of ints is enough.
        self.states_entered = {name: 0 for name in STATE_NAMES.values()}

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        os.makedirs(self._settings.data_dir, exist_ok=True)
        self.snapshots.discard_leftovers()
        self._consumer = _Consumer(self._machine, self._next_index)
        others = [r.raft_address for r in self._settings.peers()]
        _resolve_names_off_the_tick_thread([self._settings.raft_address, *others])
        transport = functools.partial(BoundedTransport, frame_cap=frame_cap(self._settings))
        self._syncobj = SyncObj(self._settings.raft_address, others, conf=self._conf(),
                                consumers=[self._consumer], transportClass=transport)

    def stop(self) -> None:
        if self._syncobj is not None:
            self._syncobj.destroy_synchronous()
            self._syncobj = None
        self.snapshots.close()

    def _next_index(self) -> int:
        assert self._syncobj is not None
        return int(self._syncobj.raftLastApplied) + 1

    def _conf(self) -> SyncObjConf:
        s = self._settings
        data = s.data_dir
        conf = SyncObjConf(
            # Listen on RaftAddress only: unset, pysyncobj binds every interface.
            bindAddress=s.raft_address,
            journalFile=os.path.join(data, "raft.journal"),
            fullDumpFile=self._dump_path(),
            serializer=self._serialize,
            serializeChecker=self._serialize_state,
            deserializer=self._deserialize,
            password=self._password,
            appendEntriesUseBatch=False,
            raftMinTimeout=s.raft_election_timeout,
            raftMaxTimeout=s.raft_election_timeout * 2.5,
            appendEntriesPeriod=min(s.raft_heartbeat_timeout, s.raft_election_timeout / 4),
            connectionTimeout=60.0,
            # pysyncobj retries a refused connect after 5 s by default: a restarted peer then
            # hears no leader for that long, starts an election and deposes a healthy leader.
            connectionRetryTime=RAFT_CONNECT_RETRY,
            leaderFallbackTimeout=s.raft_leader_fallback_timeout,
            logCompactionMinEntries=s.raft_snapshot_threshold,
            logCompactionMinTime=s.raft_snapshot_interval,
            dynamicMembershipChange=True,
            commandsQueueSize=10000,
            # The tick thread sleeps this long between ticks; a single node commits and applies
            # only on the next tick, so it bounds the latency of every write (measured:
            # 0.05 s gives 51 ms per write, 0.005 s gives 5.5 ms).
            autoTickPeriod=0.005,
            onStateChanged=self._state_changed,
        )
        return conf

    # -- snapshots: the SQLite file itself, copied in the background (raft_snapshots) ---------

    def _dump_path(self) -> str:
        return os.path.join(self._settings.data_dir, "raft.dump")

    def _serialize(self, path: str, raft_data: Any) -> None:
        self.snapshots.start(path, pickle.dumps(raft_data))

    def _serialize_state(self) -> int:
        return int(SNAPSHOT_STATES[self.snapshots.check()])

    def _deserialize(self, path: str) -> Any:
        # A snapshot from the leader replaces the state a copy in progress is of.
        self.snapshots.cancel()
        last_applied, raw = self._machine.read_snapshot(path)
        self._machine.restore_from(path)
        log.info("raft snapshot loaded (index %s)", last_applied)
        return pickle.loads(raw)

    def _state_changed(self, old: int, new: int) -> None:
        log.info("raft state %s -> %s", STATE_NAMES.get(old, old), STATE_NAMES.get(new, new))
        if new in STATE_NAMES:
            self.states_entered[STATE_NAMES[new]] += 1
        if self._on_state_change is not None:
            self._on_state_change(STATE_NAMES.get(old, str(old)), STATE_NAMES.get(new, str(new)))

    # -- commands -----------------------------------------------------------------------------

    def submit(self, command: dict[str, Any], timeout: float, retry: bool = True) -> dict[str, Any]:
        """Replicate `command`; return its apply result once applied on this node.

        Retries the same command (same request_id) on outcomes that leave it unapplied or
        unknown, until `timeout`. Raises UnavailableError when the deadline passes. With
        retry=False any failure raises at once: the planner uses it so that a deposed leader's
        command is never forwarded to its successor and committed there.
        """
        consumer = self._require_consumer()
        deadline = clock.monotonic() + timeout
        last_reason = "timeout"
        while True:
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                raise UnavailableError(
                    f"the write was not committed within {timeout:g} s ({last_reason}); "
                    "the cluster may be electing a leader: retry the request")
            try:
                result: dict[str, Any] = consumer.apply(command, sync=True, timeout=remaining)
                return result
            except SyncObjException as exc:
                code = exc.errorCode
                not_taken = code == "Timeout" or code in RETRYABLE  # unapplied or unknown
                if not_taken and retry:
                    last_reason = _reason_name(code)
                    # Yield briefly: an election is in progress or the queue is full.
                    threading.Event().wait(min(0.05, max(0.0, deadline - clock.monotonic())))
                    continue
                if not_taken:
                    raise UnavailableError(f"the command was not committed ({_reason_name(code)})"
                                           ) from None
                raise RaftError(f"raft refused the command: {_reason_name(code)}") from None

    def submit_as_leader(self, command: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Commit `command` only as the leader; raises UnavailableError otherwise.

        A node that is no longer leader would forward the command to its successor, which
        would commit it: that must not count as proof that this node still leads. So this
        node must be leader before proposing and still be leader once it is committed.
        """
        if not self.is_leader:
            raise UnavailableError("this node is not the leader")
        result = self.submit(command, timeout, retry=False)
        if not self.is_leader:
            raise UnavailableError("this node lost the leadership while committing")
        return result

    def submit_async(self, command: dict[str, Any],
                     callback: Callable[[dict[str, Any] | None, str | None], None]) -> None:
        """Propose without waiting; `callback(result, error)` runs in the tick thread."""
        consumer = self._require_consumer()

        def done(result: Any, reason: int) -> None:
            if reason == FAIL_REASON.SUCCESS:
                callback(result, None)
            else:
                callback(None, _reason_name(reason))

        consumer.apply(command, callback=done)

    def _require_consumer(self) -> _Consumer:
        if self._consumer is None or self._syncobj is None:
            raise UnavailableError("the coordinator is not running; retry shortly")
        return self._consumer

    # -- queries ------------------------------------------------------------------------------

    @property
    def term(self) -> int:
        """This node's current Raft term (0 before it started)."""
        return int(self._syncobj.raftCurrentTerm) if self._syncobj is not None else 0

    @property
    def is_leader(self) -> bool:
        return self._syncobj is not None and bool(self._syncobj._isLeader())

    def leader_id(self) -> int | None:
        if self._syncobj is None:
            return None
        leader = self._syncobj._getLeader()
        if leader is None:
            return None
        address = leader.address if isinstance(leader, TCPNode) else str(leader)
        if address == self._settings.raft_address:
            return self._settings.node_id
        return self._ids_by_address.get(address)

    def node_connected(self, raft_address: str) -> bool:
        if self._syncobj is None:
            return False
        for node in self._syncobj.otherNodes:
            if getattr(node, "address", None) == raft_address:
                return bool(self._syncobj.isNodeConnected(node))
        return False

    def status(self) -> dict[str, Any]:
        """Health of this node's Raft view, in the API's shape."""
        if self._syncobj is None:
            raise UnavailableError("the coordinator is not running; retry shortly")
        raw = self._syncobj.getStatus()
        leader_id = self.leader_id()
        leader = self._replicas_by_id.get(leader_id) if leader_id is not None else None
        leader_address: str | None
        if leader_id == self._settings.node_id:
            leader_address = self._settings.api_address
        else:
            leader_address = leader.address if leader else None
        return {
            "node_id": self._settings.node_id,
            "state": STATE_NAMES.get(raw["state"], str(raw["state"])),
            "is_leader": raw["state"] == 2,
            "leader_id": leader_id,
            "leader_address": leader_address,
            "has_quorum": bool(raw["has_quorum"]),
            "peers": [
                {"node_id": r.node_id, "address": r.address, "raft_address": r.raft_address,
                 "connected": self.node_connected(r.raft_address)}
                for r in self._settings.peers()
            ],
            "raft": {
                "term": raw["raft_term"],
                "commit_index": raw["commit_idx"],
                "last_applied": raw["last_applied"],
                "log_len": raw["log_len"],
                "leader_commit_index": raw["leader_commit_idx"],
                "became_leader": self.states_entered["leader"],
                "became_candidate": self.states_entered["candidate"],
            },
        }

    # -- membership ---------------------------------------------------------------------------

    def change_membership(self, action: str, raft_address: str, timeout: float = 10.0) -> None:
        """Add or remove a node (one change at a time, as pysyncobj requires)."""
        if self._syncobj is None:
            raise UnavailableError("the coordinator is not running")
        done = threading.Event()
        outcome: dict[str, Any] = {}

        def callback(result: Any, reason: int) -> None:
            outcome["reason"] = reason
            done.set()

        method = (self._syncobj.addNodeToCluster if action == "add"
                  else self._syncobj.removeNodeFromCluster)
        method(raft_address, callback=callback)
        if not done.wait(timeout):
            raise UnavailableError(f"{action} {raft_address} did not commit within {timeout:g} s")
        if outcome["reason"] != FAIL_REASON.SUCCESS:
            raise RaftError(f"{action} {raft_address} refused: {_reason_name(outcome['reason'])}")


def _reason_name(code: Any) -> str:
    if isinstance(code, str):
        return code
    for name in dir(FAIL_REASON):
        if not name.startswith("_") and getattr(FAIL_REASON, name) == code:
            return name
    return str(code)


def _resolve_names_off_the_tick_thread(raft_addresses: list[str]) -> None:
    """pysyncobj looks peers up through peer_names (never blocking its tick thread), after
    waiting a little at start-up for every name to resolve once."""
    # pysyncobj 0.3.17 (pinned) keeps its resolver in this module global.
    dns_resolver._g_resolver = peer_names.PysyncobjResolver(peer_names.resolver())
    hosts = [peer_names.split(address)[0] for address in raft_addresses]
    unresolved = peer_names.resolver().prime(hosts, timeout=NAME_PRIME_SECONDS)
    if unresolved:
        log.warning("raft peers %s do not resolve yet; they are tried again as their names "
                    "resolve", ", ".join(unresolved))
