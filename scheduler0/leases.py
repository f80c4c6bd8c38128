"""Execution leases: which node owns which batches, and for how long. Pure: no I/O and no
clock (`now` is an argument: a monotonic reading, except where a name says wall).

Every node sends a heartbeat every HEARTBEAT_INTERVAL to every node: a sequence number, its
wall clock, the lease it holds and the batches it holds or has just settled. The leader keeps a
`LeaseTable`: a node's lease is live while its latest heartbeat is younger than LEASE_PERIOD.
The leader places work only on live nodes and answers each heartbeat with an ack naming the
node's lease, an id `(term, epoch)`. When a lease lapses the leader re-dispatches the node's
unfinished batches at once and the node's next lease gets a new epoch: the batches it held
under the old one are no longer its own.

A node keeps a `Holder`: its lease counts as valid until the send time of the latest
acknowledged heartbeat plus LEASE_PERIOD minus NODE_MARGIN. That is never later than the
leader's own lapse (the leader counts from when the heartbeat arrived, which is after it was
sent), so a node that froze or was cut off stops delivering before its batches are handed to
someone else. Each batch carries the lease it was placed under; `Holder.verdict` says whether
it may be delivered now, must wait (the lease is not valid yet or any more), or was revoked.

A new leader adopts the batches live nodes hold: its first lease for a node says which lease it
continues, so the node keeps what it holds; a node it does not continue drops them, because the
new leader re-sent them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scheduler0.messages import LeaseAck, LeaseId, LeaseState

LEASE_PERIOD = 1.5  # seconds a node's lease lives on the leader after its latest heartbeat
HEARTBEAT_INTERVAL = 0.25  # seconds between a node's heartbeats
NODE_MARGIN = 0.25  # a node stops this much before the leader would count its lease lapsed
CLOCK_WARNING = 0.5  # seconds of clock offset from the leader worth a warning
ACCEPTED_KEPT = 16  # lease ids a node remembers as its own chain (adoptions across terms)
SENT_KEPT = 64  # heartbeats a node remembers, to match acks against their send time

OWN, WAIT, REVOKED = "own", "wait", "revoked"


def lease_id(value: Any) -> LeaseId | None:
    """A lease id from its wire form ([term, epoch]), or None."""
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        return int(value[0]), int(value[1])
    return None


# -- the leader's side ------------------------------------------------------------------------


@dataclass
class NodeLease:
    """What the leader knows of one node's lease in its term."""

    node_id: int
    epoch: int
    continues: LeaseId | None  # the lease of an earlier leader this one carries on, if any
    seq: int = -1  # the latest heartbeat's sequence number
    seen: float = 0.0  # when it arrived (leader's monotonic clock)
    acked_seq: int = -1
    live: bool = True
    held: frozenset[str] = frozenset()
    settling: frozenset[str] = frozenset()
    clock_offset: float | None = None  # node's wall clock minus the leader's, seconds
    since: float = 0.0  # when this epoch began
    boot: str | None = None  # the node process's incarnation: a restart changes it
    reported: LeaseId | None = None  # the lease the node says it holds (confirms the acks)

    def confirmed(self, term: int) -> bool:
        """The node has this leader's current lease: the acks reach it."""
        return self.reported == (term, self.epoch)

    def age(self, now: float) -> float:
        return now - self.seen


@dataclass
class LeaseTable:
    """The leader's leases, one per node, for one term. Owned by the planner thread."""

    term: int
    started: float  # when this node began leading (monotonic)
    nodes: dict[int, NodeLease] = field(default_factory=dict)
    lapses: int = 0
    # Until the leader has reconciled, a node's first lease continues the one it reports:
    # what it holds is adopted. After, the leader has re-sent what it did not see held, so a
    # node heard of only then must drop what it holds.
    adopting: bool = True
    # Node id -> the newest lease an earlier leader took back from it (committed before it
    # re-sent that node's batches): never continued, since what the node holds under it went
    # to others. None while this leader has not read it from the store: no lease is
    # continued then.
    revoked: dict[int, LeaseId] | None = field(default_factory=dict)
    # The leader's own node: it runs in the leader's process, so it is alive while the leader
    # is. Its heartbeats arrive late only when that process is starved (an overloaded node),
    # and a lapse would re-send its batches to the very node that still holds them: they
    # would be delivered twice. So it never lapses by silence, and counts live throughout.
    own: int | None = None
    _restarted: list[int] = field(default_factory=list)

    def observe(self, heartbeats: Mapping[int, Mapping[str, Any]]) -> None:
        """Take the latest heartbeat of each node (`seen` is its arrival, monotonic)."""
        for node_id, beat in heartbeats.items():
            seq = beat.get("seq")
            if not isinstance(seq, int):
                continue  # a load report of an older version: no lease protocol
            lease = self.nodes.get(node_id)
            if lease is None:
                lease = self.nodes[node_id] = NodeLease(
                    node_id, epoch=1, continues=self._adopted(node_id, beat),
                    since=float(beat["seen"]))
            elif seq == lease.seq and float(beat["seen"]) == lease.seen:
                continue
            if float(beat["seen"]) < lease.seen:
                continue
            boot = beat.get("boot")
            if lease.seq < 0:  # first heard of now (placed on before, as the leader's own)
                lease.continues = self._adopted(node_id, beat)
                lease.live = True
                lease.since = float(beat["seen"])
            elif boot != lease.boot:
                # Restarted within its lease: what it held died with it. Taken back like a
                # lapse, and a new epoch for the new process.
                self._restarted.append(node_id)
                self._renew(lease, float(beat["seen"]))
            elif not lease.live:  # it lapsed and came back: a new epoch, nothing carried over
                self._renew(lease, float(beat["seen"]))
            if beat.get("stopping") and lease.live:
                # Its last heartbeat: it delivers nothing more, take its batches back now.
                lease.live = False
                self._restarted.append(node_id)
            lease.boot = boot
            lease.reported = lease_id(beat.get("lease"))
            lease.seq = seq
            lease.seen = float(beat["seen"])
            lease.held = frozenset(map(str, beat.get("held_batches") or ()))
            lease.settling = frozenset(map(str, beat.get("settling") or ()))
            offset = beat.get("clock_offset")
            lease.clock_offset = float(offset) if isinstance(offset, (int, float)) else None

    def _adopted(self, node_id: int, beat: Mapping[str, Any]) -> LeaseId | None:
        """The lease this node's first lease continues: the one it reports, while adopting,
        unless a leader took it back."""
        reported = lease_id(beat.get("lease"))
        if not self.adopting or reported is None or self.revoked is None:
            return None
        taken_back = self.revoked.get(node_id)
        return None if taken_back is not None and reported <= taken_back else reported

    def taken_back(self, node_id: int) -> LeaseId | None:
        """The lease of `node_id` whose batches are being taken back (it lapsed or its node
        restarted): its current epoch while lapsed, the one before once it was renewed."""
        lease = self.nodes.get(node_id)
        if lease is None:
            return None
        epoch = lease.epoch if not lease.live else lease.epoch - 1
        return (self.term, epoch) if epoch >= 1 else None

    @staticmethod
    def _renew(lease: NodeLease, seen: float) -> None:
        lease.epoch += 1
        lease.continues = None
        lease.live = True
        lease.since = seen
        lease.acked_seq = -1

    def expire(self, now: float) -> list[int]:
        """Nodes whose lease lapsed or who restarted since the last call (their batches must
        be re-sent). A node lapses when its heartbeats stop, or when they keep coming but do
        not confirm its current lease within a lease period (the acks do not reach it)."""
        lapsed, self._restarted = self._restarted, []
        for lease in self.nodes.values():
            if lease.node_id == self.own:
                continue
            silent = now - lease.seen >= LEASE_PERIOD
            deaf = not lease.confirmed(self.term) and now - lease.since >= LEASE_PERIOD
            if lease.live and (silent or deaf):
                lease.live = False
                lapsed.append(lease.node_id)
        self.lapses += len(lapsed)
        return lapsed

    def live(self, now: float) -> set[int]:
        """Nodes holding a live lease: what they hold is theirs."""
        return {n for n, lease in self.nodes.items()
                if lease.live and (n == self.own or now - lease.seen < LEASE_PERIOD)}

    def placeable(self, now: float) -> set[int]:
        """Live nodes that confirmed their current lease: new work can go there."""
        return {n for n in self.live(now) if self.nodes[n].confirmed(self.term)}

    def epoch_of(self, node_id: int) -> int:
        """The epoch a batch placed on `node_id` now is stamped with."""
        lease = self.nodes.get(node_id)
        if lease is None:  # not heard from yet (the leader's own node at start): epoch 1
            lease = self.nodes[node_id] = NodeLease(node_id, epoch=1, continues=None,
                                                    live=False)
        return lease.epoch

    def acks(self, now_wall: float, received_wall: Mapping[int, float]) -> list[LeaseAck]:
        """One ack per live node with a heartbeat not acknowledged yet."""
        out = []
        for lease in self.nodes.values():
            if not lease.live or lease.seq <= lease.acked_seq:
                continue
            lease.acked_seq = lease.seq
            out.append(LeaseAck(node_id=lease.node_id, term=self.term, epoch=lease.epoch,
                                seq=lease.seq, continues=lease.continues,
                                received_wall=received_wall.get(lease.node_id),
                                sent_wall=now_wall))
        return out

    def holder_of(self, batch_ids: Iterable[str], now: float) -> dict[str, int]:
        """Batch id -> the live node that holds it under a lease this leader continues, or is
        settling its results. What a node holds under a lease not continued is revoked on
        that node, so it is not its holder."""
        live = self.live(now)
        wanted = set(batch_ids)
        found: dict[str, int] = {}
        for node_id in sorted(live):
            lease = self.nodes[node_id]
            held = lease.held if lease.continues is not None else frozenset()
            for batch_id in wanted & (held | lease.settling):
                found.setdefault(batch_id, node_id)
        return found

    def settling_on(self, batch_ids: Iterable[str], now: float) -> dict[str, int]:
        """Batch id -> the live node that has all its results and is committing them."""
        live = self.live(now)
        wanted = set(batch_ids)
        found: dict[str, int] = {}
        for node_id in sorted(live):
            for batch_id in wanted & self.nodes[node_id].settling:
                found.setdefault(batch_id, node_id)
        return found

    def still_held(self, sent_to: Mapping[str, int], now: float) -> set[str]:
        """Of the batches (id -> the node it was last sent to), those that node, live, still
        lists as held: late, but on their way."""
        live = self.live(now)
        return {batch_id for batch_id, node_id in sent_to.items()
                if node_id in live and batch_id in self.nodes[node_id].held}

    def heard_since(self, node_ids: Iterable[int], moment: float) -> bool:
        """Every one of `node_ids` sent a heartbeat that arrived after `moment`."""
        return all((lease := self.nodes.get(n)) is not None and lease.seen > moment
                   for n in node_ids)

    def view(self, now: float) -> dict[str, dict[str, Any]]:
        """Per node: lease id, age, liveness and clock offset (for /cluster and /metrics)."""
        return {str(n): {"term": self.term, "epoch": lease.epoch, "live": n in self.live(now),
                         "lease_age": round(lease.age(now), 3),
                         "clock_offset_ms": None if lease.clock_offset is None
                         else round(lease.clock_offset * 1000, 1),
                         "held": len(lease.held)}
                for n, lease in sorted(self.nodes.items())}


# -- a node's side -----------------------------------------------------------------------------


@dataclass
class Holder:
    """A node's own lease, as the acks of the leader establish it."""

    current: LeaseId | None = None
    accepted: list[LeaseId] = field(default_factory=list)  # own chain, oldest first
    valid_until: float = 0.0  # monotonic
    clock_offset: float | None = None  # this node's wall clock minus the leader's, seconds
    _sent: dict[int, tuple[float, float]] = field(default_factory=dict)  # seq -> (mono, wall)

    def sent(self, seq: int, now: float, now_wall: float) -> None:
        self._sent[seq] = (now, now_wall)
        if len(self._sent) > SENT_KEPT:
            del self._sent[min(self._sent)]

    def on_ack(self, ack: LeaseAck, now_wall: float) -> bool:
        """Apply an ack; True when the lease changed (a new id), so holders must be told."""
        lease = ack.lease
        sent = self._sent.get(ack.seq)
        if sent is None:
            return False
        if self.current is not None and lease < self.current:
            return False  # from a leader already succeeded
        sent_mono, sent_wall = sent
        self._measure_offset(sent_wall, ack, now_wall)
        changed = lease != self.current
        if changed:
            if ack.continues in self.accepted:
                self.accepted = [*self.accepted, lease][-ACCEPTED_KEPT:]
            else:
                self.accepted = [lease]  # a broken lease: what was held under others is gone
            self.current = lease
            self.valid_until = 0.0
        self.valid_until = max(self.valid_until, sent_mono + LEASE_PERIOD - NODE_MARGIN)
        return changed

    def _measure_offset(self, sent_wall: float, ack: LeaseAck, now_wall: float) -> None:
        """NTP's estimate from one exchange: the leader's receive and send times between ours."""
        received, replied = ack.received_wall, ack.sent_wall
        if received is not None and replied is not None:
            leader_ahead = ((received - sent_wall) + (replied - now_wall)) / 2
            self.clock_offset = -leader_ahead

    def verdict(self, stamp: LeaseId | None, now: float) -> str:
        return verdict(stamp, self.current, self.accepted, self.valid_until, now)

    def state(self) -> LeaseState:
        """The message executors receive."""
        return LeaseState(current=self.current, accepted=list(self.accepted),
                          valid_until=self.valid_until)


def verdict(stamp: LeaseId | None, current: LeaseId | None, accepted: list[LeaseId],
            valid_until: float, now: float) -> str:
    """May a batch placed under `stamp` be delivered now?

    OWN when its lease is this node's and valid; WAIT when that lease is this node's but not
    valid now (frozen, cut off, leader gone: a new leader may continue it) or is newer than
    any ack yet; REVOKED when the node's lease moved on without it (the leader re-sent it).
    A batch without a stamp comes from a leader without leases and is delivered as before.
    """
    if stamp is None:
        return OWN
    if stamp in accepted:
        return OWN if now < valid_until else WAIT
    if current is None or stamp > current:
        return WAIT
    return REVOKED


def holder_from_state(state: LeaseState) -> tuple[LeaseId | None, list[LeaseId], float]:
    """(current, accepted, valid_until) from `Holder.state()`'s message."""
    return state.current, list(state.accepted), state.valid_until
