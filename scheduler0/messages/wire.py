"""The ZeroMQ messages between processes and nodes: one msgpack map per frame.

Every message carries "v" (WIRE_VERSION) and is tagged by "type" ("op" for requests on the
commands socket). `encode` writes any of them; each socket reads through its `Channel`, which
knows the few types that socket carries, checks every field's type while decoding, and refuses
(logs and drops, never raises) a message of another version or shape. The maps are the ones
nodes of the previous release send and read, field for field, so a cluster can be upgraded one
node at a time.

    channel   socket(s)                        messages
    BATCHES   executor PULL                    Batch
    INTAKE    coordinator PULL (tcp, intake)   Batch, Heartbeat, LeaseAck
    RESULTS   coordinator SUB                  Results, ExecutorLoad
    LEASES    executor SUB                     LeaseState
    CONTROL   every child's SUB                Memory, Stop
    REQUESTS  coordinator ROUTER               Submit, Membership, StatusRequest
    REPLIES   the API's REQ                    Reply
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar, Union

import msgspec

log = logging.getLogger(__name__)

WIRE_VERSION = 1

LeaseId = tuple[int, int]  # (term, epoch); [term, epoch] on the wire


class Versioned(msgspec.Struct, frozen=True, kw_only=True):
    v: int = WIRE_VERSION


class Message(Versioned, frozen=True, kw_only=True, tag_field="type"):
    """A message tagged by "type"."""


class Request(Versioned, frozen=True, kw_only=True, tag_field="op"):
    """A request on the commands socket, tagged by "op"."""


# -- batches: the leader -> a node's intake -> its executors -------------------------------------


class Execution(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One execution of a batch: what the callback's element is built from. `delivery` is
    the index of its job's delivery settings in the batch's `deliveries`; None (not sent at
    all) for a job that has none, so such executions cost no byte more than before."""

    execution_id: str
    id: int
    project_id: int
    scheduled_at: int
    spec: str
    timezone: str
    data: str | None
    callback_url: str
    delivery: int | None = None


class Delivery(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A job's own delivery settings (vocabulary.JOB_DELIVERY_FIELDS); each None (or empty)
    means the delivering node's: POST, no extra headers, JobExecutionTimeout,
    JobExecutionRetryMax, JobExecutionRetryDelay, any 2xx. Frozen and made of tuples, so it
    is hashable: jobs with equal settings share one entry of a batch, and one request."""

    method: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # (name, value), in the order the job gave them
    timeout: float | None = None
    retries: int | None = None
    retry_delay: float | None = None
    success_codes: tuple[int, ...] | None = None


class Unreadable(msgspec.Struct, frozen=True, kw_only=True):
    """An execution of a batch that could not be read, reported failed with `reason`."""

    execution_id: str
    reason: str


class Job(Protocol):
    """What a batch needs of each job (scheduler0.schedule.planning.PlannedJob)."""

    @property
    def id(self) -> int: ...
    @property
    def project_id(self) -> int: ...
    @property
    def spec(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def data(self) -> str: ...
    @property
    def callback_url(self) -> str: ...
    @property
    def delivery(self) -> Delivery | None: ...


class PreviousSecret(msgspec.Struct, frozen=True, kw_only=True):
    """A project's signing secret before its last rotation: callbacks sent before `expires_at`
    (epoch s, by the sending executor's clock) carry its signature too."""

    secret: str
    expires_at: int


class RateLimit(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A project's limit on its receivers: executions in flight at once (`concurrency`) and
    started per second (`per_second`); None is no limit of that kind. A project's journal
    entries and the batches of a limited project carry it in this shape."""

    concurrency: int | None = None
    per_second: float | None = None


class Batch(Message, frozen=True, kw_only=True, tag="batch"):
    """Executions of one tick for one node, delivered no earlier than `fire_at` (epoch s).

    `term` is the sending leader's (a node drops a batch of an older term), `lease` the lease
    it was placed under (scheduler0.leases), `deadline` when its results are overdue (epoch s).
    `unreadable` lists executions a decoder could not read (reported failed, not delivered).
    `previous_secrets` holds the projects whose secret was rotated within its grace period (a
    node of the previous release ignores it and sends the current signature alone).
    `deliveries` holds the distinct delivery settings of its jobs that have their own, each
    once (executions name theirs by index), so the node that delivers looks nothing up; a node
    of the previous release ignores them and delivers with its own settings.
    `rate_limit` is set on the batches of a rate-limited project (every execution of such a
    batch is of that one project): the node that takes it lets it go to its executors only
    within the limit (scheduler0.rationing); a node of the previous release ignores it.
    """

    batch_id: str
    fire_at: int
    deadline: int
    executions: list[Execution]
    signing_secrets: dict[str, str] = {}  # project id (as text) -> its signing secret
    term: int | None = None
    lease: LeaseId | None = None
    unreadable: list[Unreadable] = []
    previous_secrets: dict[str, PreviousSecret] = {}  # project id (as text) -> its previous
    deliveries: list[Delivery] = []
    rate_limit: RateLimit | None = None

    @classmethod
    def of(cls, batch_id: str, fire_at: int, jobs: Sequence[Job], secrets: Mapping[int, str],
           deadline: float, term: int | None = None, lease: LeaseId | None = None,
           previous: Mapping[int, PreviousSecret] | None = None,
           rate_limit: RateLimit | None = None) -> Batch:
        """The batch of `jobs` firing at `fire_at`, with their projects' signing secrets (and
        the previous ones still in their grace period) and their delivery settings."""
        from scheduler0.vocabulary import execution_id

        index: dict[Delivery, int] = {}
        for job in jobs:
            if job.delivery is not None:
                index.setdefault(job.delivery, len(index))
        if not index:  # the usual batch: no job has settings of its own
            executions = [Execution(execution_id=execution_id(job.id, fire_at), id=job.id,
                                    project_id=job.project_id, scheduled_at=fire_at,
                                    spec=job.spec, timezone=job.timezone, data=job.data,
                                    callback_url=job.callback_url) for job in jobs]
        else:
            executions = [Execution(execution_id=execution_id(job.id, fire_at), id=job.id,
                                    project_id=job.project_id, scheduled_at=fire_at,
                                    spec=job.spec, timezone=job.timezone, data=job.data,
                                    callback_url=job.callback_url,
                                    delivery=None if job.delivery is None
                                    else index[job.delivery]) for job in jobs]
        projects = {job.project_id for job in jobs}
        previous = previous or {}
        return cls(batch_id=batch_id, fire_at=fire_at, deadline=int(deadline),
                   executions=executions, term=term, lease=lease,
                   signing_secrets={str(p): secrets[p] for p in projects if p in secrets},
                   previous_secrets={str(p): previous[p] for p in projects if p in previous},
                   deliveries=list(index), rate_limit=rate_limit)


# -- results and load: executors -> their coordinator --------------------------------------------


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """One execution's delivery outcome, as an executor reports it."""

    execution_id: str
    state: str  # succeeded | failed
    attempts: int = 0
    http_status: int | None = None
    error: str | None = None
    started_at_ms: int | None = None
    finished_at_ms: int | None = None


class Results(Message, frozen=True, kw_only=True, tag="results"):
    """Outcomes of one batch; `final` marks its last results message (every execution reported)."""

    node_id: int
    executor: int
    batch_id: str
    results: list[Outcome]
    final: bool = False


class ExecutorLoad(Message, frozen=True, kw_only=True, tag="load"):
    """An executor's load, about every second; `metrics` is its Metrics.snapshot(), and
    `batches` the ids of the batches it holds (its node stops listing a batch a lost executor
    took with it, and only then may the leader send it elsewhere)."""

    node_id: int
    executor: int
    held: int = 0
    batches: list[str] = []
    pid: int = 0
    pressure: bool = False
    stopping: bool = False
    metrics: dict[str, Any] = {}


# -- leases: heartbeats to every node, the leader's acks, a node's lease to its executors ---------


class Heartbeat(Message, frozen=True, kw_only=True, tag="load_report"):
    """A node's heartbeat, about four times a second to every node (scheduler0.leases): its
    addresses, load, lease and the batches it holds or is settling. `stopping` is its last.
    Older nodes send a report without the lease fields (`seq` None: no lease protocol)."""

    node_id: int
    address: str | None = None
    raft_address: str | None = None
    intake_address: str | None = None
    held: int = 0
    executors: int = 0
    memory_pressure: bool = False
    seq: int | None = None
    boot: str | None = None  # the node process's incarnation
    wall: float | None = None  # its wall clock when sent
    lease: LeaseId | None = None
    held_batches: list[str] = []
    settling: list[str] = []
    clock_offset: float | None = None
    stopping: bool = False


class LeaseAck(Message, frozen=True, kw_only=True, tag="lease"):
    """The leader's answer to heartbeat `seq` of `node_id`: its lease (term, epoch), which
    earlier lease that one continues, and the leader's wall clock at receipt and reply."""

    node_id: int
    term: int
    epoch: int
    seq: int
    continues: LeaseId | None = None
    received_wall: float | None = None
    sent_wall: float | None = None

    @property
    def lease(self) -> LeaseId:
        return self.term, self.epoch


class LeaseState(Message, frozen=True, kw_only=True, tag="lease"):
    """A node's lease as its executors hold it (`valid_until` on the host's monotonic clock)."""

    current: LeaseId | None = None
    accepted: list[LeaseId] = []
    valid_until: float = 0.0


# -- control: the supervisor -> every child --------------------------------------------------------


class Memory(Message, frozen=True, kw_only=True, tag="memory"):
    pressure: bool
    rss: int | None = None


class Stop(Message, frozen=True, kw_only=True, tag="stop"):
    pass


# -- the commands socket: the API <-> its coordinator ----------------------------------------------


class Submit(Request, frozen=True, kw_only=True, tag="submit"):
    """Replicate `command` (a scheduler0.messages.commands journal dict)."""

    command: dict[str, Any]
    timeout: float | None = None


class Membership(Request, frozen=True, kw_only=True, tag="membership"):
    action: str  # add | remove
    raft_address: str


class StatusRequest(Request, frozen=True, kw_only=True, tag="status"):
    pass


class ReplyError(msgspec.Struct, frozen=True, kw_only=True):
    status: int
    code: str
    message: str


class Reply(Versioned, frozen=True, kw_only=True):
    """The coordinator's answer: `result` (a command's apply result) or `status`, or `error`."""

    ok: bool
    result: dict[str, Any] | None = None
    status: dict[str, Any] | None = None
    error: ReplyError | None = None

    @classmethod
    def refused(cls, status: int, code: str, message: str) -> Reply:
        return cls(ok=False, error=ReplyError(status=status, code=code, message=message))


# -- one encode, and the channels that decode ------------------------------------------------------


_ENCODER = msgspec.msgpack.Encoder()


def encode(message: Versioned) -> bytes:
    return _ENCODER.encode(message)


M = TypeVar("M", bound=Versioned)


class Channel(Generic[M]):
    """The messages one kind of socket receives, and their decoder."""

    def __init__(self, name: str, *types: type[M]):
        self.name = name
        self.types = types
        kinds: Any = Union[types] if len(types) > 1 else types[0]  # noqa: UP007 (built at run time)
        self._decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(kinds)

    def decode(self, data: bytes) -> M | None:
        """The message in `data`, or None (logged with the reason) when it cannot be read."""
        message = self.read(data)
        if isinstance(message, str):
            log.warning("%s: dropped a message: %s", self.name, message)
            return None
        return message

    def decode_map(self, wire: Mapping[str, Any]) -> M | None:
        """`decode` of a message given as its wire map (tools and test doubles)."""
        return self.decode(_ENCODER.encode(wire))

    def read(self, data: bytes) -> M | str:
        """The message, or why it is refused. Never raises: whatever a peer sends, the thread
        reading the socket goes on."""
        try:
            message: M = self._decoder.decode(data)
        except _UNREADABLE as exc:
            try:
                return self._salvage(data, exc)
            except Exception as failed:  # a bug in salvaging must not stop the reader either
                return f"unreadable ({exc}; {failed!r})"
        if message.v != WIRE_VERSION:
            return _unsupported(message.v)
        return message

    def _salvage(self, data: bytes, exc: Exception) -> M | str:
        try:
            raw = msgspec.msgpack.decode(data)
        except _UNREADABLE as problem:
            return f"not msgpack ({problem})"
        if not isinstance(raw, dict):
            return f"not a map but {type(raw).__name__}"
        if raw.get("v", WIRE_VERSION) != WIRE_VERSION:
            return _unsupported(raw.get("v"))
        kind = raw.get("op", raw.get("type"))
        if Batch in self.types and kind == "batch":
            return _salvage_batch(raw, exc)  # type: ignore[return-value]  # M includes Batch
        return f"malformed {kind!r} message: {exc}"


# msgspec's own errors, and invalid UTF-8 in a string (UnicodeDecodeError, a ValueError).
_UNREADABLE = (msgspec.MsgspecError, ValueError)


def _unsupported(version: Any) -> str:
    return (f"message version {version!r} is not supported (this node reads version "
            f"{WIRE_VERSION}); upgrade the node")


def _salvage_batch(raw: dict[str, Any], exc: Exception) -> Batch | str:
    """A batch with some executions unreadable: the others are still delivered, the unreadable
    ones reported failed with why (so their ticks are recorded, not re-sent)."""
    executions = raw.get("executions")
    if not isinstance(executions, list):
        return f"malformed batch: {exc}"
    good, bad = [], []
    for item in executions:
        try:
            good.append(msgspec.convert(item, Execution))
        except _UNREADABLE as problem:
            ident = item.get("execution_id") if isinstance(item, Mapping) else None
            reason = malformed(item) or f"malformed execution: {problem}"
            log.error("batch %s: %s", raw.get("batch_id"), reason)
            if isinstance(ident, str):  # without an id it cannot even be reported
                bad.append(Unreadable(execution_id=ident, reason=reason))
    try:
        batch = msgspec.convert({**raw, "executions": []}, Batch)
    except _UNREADABLE as problem:
        return f"malformed batch: {problem}"
    return msgspec.structs.replace(batch, executions=good, unreadable=[*batch.unreadable, *bad])


_REQUIRED = ("id", "execution_id", "scheduled_at", "project_id", "spec", "timezone", "data",
             "callback_url")  # every field of Execution, in the callback element's order
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "execution_id": (str,), "callback_url": (str,), "project_id": (int,), "scheduled_at": (int,)}


def malformed(execution: Any) -> str | None:
    """Why a raw execution map cannot be delivered, in words (None: no plain reason found)."""
    if not isinstance(execution, Mapping):
        return "malformed execution: not a map"
    missing = [name for name in _REQUIRED if name not in execution]
    if missing:
        return f"malformed execution: missing {', '.join(missing)}"
    wrong = [name for name, types in _FIELD_TYPES.items()
             if not isinstance(execution[name], types) or isinstance(execution[name], bool)]
    if wrong:
        return f"malformed execution: bad type for {', '.join(wrong)}"
    return None


BATCHES: Channel[Batch] = Channel("batches", Batch)
INTAKE: Channel[Batch | Heartbeat | LeaseAck] = Channel("intake", Batch, Heartbeat, LeaseAck)
RESULTS: Channel[Results | ExecutorLoad] = Channel("results", Results, ExecutorLoad)
LEASES: Channel[LeaseState] = Channel("leases", LeaseState)
CONTROL: Channel[Memory | Stop] = Channel("control", Memory, Stop)
REQUESTS: Channel[Submit | Membership | StatusRequest] = Channel(
    "commands", Submit, Membership, StatusRequest)
REPLIES: Channel[Reply] = Channel("replies", Reply)


def as_map(message: Versioned) -> dict[str, Any]:
    """The map a message is on the wire ("v", its tag, and its fields; lease ids as lists), for
    tables that keep the latest message of each node as it came, and for test doubles."""
    wire: dict[str, Any] = msgspec.msgpack.decode(encode(message))
    return wire
