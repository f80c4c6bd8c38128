"""The pure half of callback delivery: what is sent, in which chunks, under which keys.

No sockets, no clock, no threads here (the aiohttp half is scheduler0.delivery.client), so the
coordinator can import it too: the planner's result deadline is built on `delivery_budget`.

The callback contract (the README's Callbacks section):
    POST <callback_url>   Content-Type: application/json
    body                  a JSON array; each element has exactly ELEMENT_FIELDS, with
                          `scheduled_at` as RFC 3339 UTC ("2026-11-27T13:00:00Z")
    Idempotency-Key       chunk_key(execution ids of the chunk); for a one-execution chunk this
    X-Payload-Chunk-Id    is that execution's id, so a re-dispatched tick repeats the same key
    X-Scheduler0-Node     the delivering node's NodeId
    X-Scheduler0-Timestamp  epoch seconds when this attempt was sent
    X-Scheduler0-Signature  sign(project secret, timestamp, body) = "sha256=<hex>"
    X-Scheduler0-Signature-Previous  sign(the secret before the last rotation, timestamp, body),
                            only while that rotation's grace period lasts: a receiver that
                            still holds the old secret verifies this one, then switches

A job's own delivery settings (messages.Delivery) change this per job: its method (PUT sends
the same body; GET sends none: each execution is its own request, X-Scheduler0-Execution-Id
names it and the signature covers the execution id where it would cover the body), its extra
headers (never one the server sets), its timeout, retries, retry delay and success codes.
Executions are grouped into one request only with executions of the same settings.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import json
import threading
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _json_string  # json.dumps's own C escaper
from typing import Any, Generic, TypeVar

from scheduler0.messages import Delivery, Execution, Outcome
from scheduler0.schedule.timefmt import format_rfc3339_utc
from scheduler0.vocabulary import DEFAULT_HTTP_METHOD, is_server_header

ELEMENT_FIELDS = ("id", "execution_id", "scheduled_at", "project_id", "spec", "timezone", "data",
                  "callback_url")
SIGNATURE_PREFIX = "sha256="
SIGNATURE_HEADER = "X-Scheduler0-Signature"
PREVIOUS_SIGNATURE_HEADER = "X-Scheduler0-Signature-Previous"
EXECUTION_ID_HEADER = "X-Scheduler0-Execution-Id"  # on a GET, which has no body to name it
BACKOFF_CAP = 300.0  # seconds; a retry never waits longer than this (unless the first delay does)
LATENESS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_EMPTY_ARRAY = 2  # len(b"[]")


# (callback_url, project_id, the index of the executions' delivery settings in their batch)
Destination = tuple[str, int, int | None]


@dataclass(frozen=True)
class Chunk:
    """One request: the executions it carries, its encoded body and its idempotency key, and
    the delivery settings of its jobs (None: the node's)."""

    url: str
    project_id: int
    execution_ids: tuple[str, ...]
    body: bytes
    key: str
    ticks: tuple[tuple[int, int], ...] = ()  # (scheduled_at, how many executions), for lateness
    delivery: Delivery | None = None
    problem: str | None = None  # why it must not be sent (reported failed instead)

    @property
    def method(self) -> str:
        if self.delivery is None or self.delivery.method is None:
            return DEFAULT_HTTP_METHOD
        return self.delivery.method

    @property
    def signed(self) -> bytes:
        """What the signature covers after the timestamp: the body, or for a GET (which has
        none) the id of its one execution."""
        return self.key.encode() if self.method == "GET" else self.body


def rfc3339(epoch_seconds: int | float) -> str:
    """`1795784400` -> `"2026-11-27T13:00:00Z"` (whole seconds, UTC)."""
    return format_rfc3339_utc(epoch_seconds)


def callback_element(execution: Execution, scheduled_text: str | None = None) -> dict[str, Any]:
    """The JSON object the receiver sees for one execution: exactly ELEMENT_FIELDS."""
    return {
        "id": execution.id,
        "execution_id": execution.execution_id,
        "scheduled_at": scheduled_text or rfc3339(execution.scheduled_at),
        "project_id": execution.project_id,
        "spec": execution.spec,
        "timezone": execution.timezone,
        "data": execution.data,
        "callback_url": execution.callback_url,
    }


def encode_element(element: Mapping[str, Any]) -> str:
    """One element's JSON text; pure ASCII (non-ASCII is escaped), so len() is its byte size."""
    return json.dumps(element, separators=(",", ":"))


_ELEMENT_TEMPLATE = ('{"id":%d,"execution_id":%s,"scheduled_at":"%s","project_id":%d,"spec":%s,'
                     '"timezone":%s,"data":%s,"callback_url":%s}')


def encode_execution(execution: Execution, scheduled_text: str, url_json: str) -> str:
    """encode_element(callback_element(execution)) in a third of the time: the hot path of a
    batch's CPU. Falls back to json.dumps for any value that is not the expected type."""
    ident, project_id, data = execution.id, execution.project_id, execution.data
    # %d would take a bool or float; a job without data is null, not a string
    if type(ident) is not int or type(project_id) is not int or data is None:
        return encode_element(callback_element(execution, scheduled_text))
    try:
        return _ELEMENT_TEMPLATE % (
            ident, _json_string(execution.execution_id), scheduled_text, project_id,
            _json_string(execution.spec), _json_string(execution.timezone),
            _json_string(data), url_json)
    except TypeError:  # a value that is not a string
        return encode_element(callback_element(execution, scheduled_text))


def join_body(parts: Sequence[str]) -> bytes:
    """The JSON array of already-encoded elements (same bytes as json.dumps of the list)."""
    return ("[" + ",".join(parts) + "]").encode()


def group_by_destination(executions: Iterable[Execution]) -> dict[Destination, list[Execution]]:
    """Executions keyed by (callback_url, project_id, delivery settings), in first-seen order.

    The project is part of the key because each project signs with its own secret, the
    settings because one request is sent one way (method, headers, timeout, ...).
    """
    groups: dict[Destination, list[Execution]] = {}
    for execution in executions:
        key = (execution.callback_url, execution.project_id, execution.delivery)
        group = groups.get(key)
        if group is None:
            groups[key] = [execution]
        else:
            group.append(execution)
    return groups


def split_sizes(sizes: Sequence[int], max_bytes: int) -> list[range]:
    """Index ranges of consecutive elements whose JSON array stays within `max_bytes`.

    An element too big to fit any array under the limit goes alone (the receiver decides).
    """
    ranges: list[range] = []
    start, total = 0, _EMPTY_ARRAY
    for index, size in enumerate(sizes):
        extra = size + (1 if index > start else 0)  # the comma before it
        if index > start and total + extra > max_bytes:
            ranges.append(range(start, index))
            start, total, extra = index, _EMPTY_ARRAY, size
        total += extra
    if start < len(sizes):
        ranges.append(range(start, len(sizes)))
    return ranges


def split_chunks(elements: Sequence[Mapping[str, Any]], max_bytes: int) -> list[list[Any]]:
    """`elements` cut into lists whose JSON array body is at most `max_bytes` each."""
    sizes = [len(encode_element(e)) for e in elements]
    return [list(elements[r.start:r.stop]) for r in split_sizes(sizes, max_bytes)]


def chunk_key(execution_ids: Iterable[str]) -> str:
    """A deterministic key for a set of executions: the same chunk of a re-dispatched batch gets
    the same key. One execution: its own id; several: sha256 of the sorted ids, hex[:32]."""
    ids = sorted(execution_ids)
    if len(ids) == 1:
        return ids[0]
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:32]


def plan_chunks(executions: Iterable[Execution], max_bytes: int,
                deliveries: Sequence[Delivery] = ()) -> list[Chunk]:
    """Group by destination, encode every element once, split by size: the requests of a
    batch. `deliveries` are the batch's delivery settings, which executions name by index; a
    GET carries one execution and no body."""
    chunks: list[Chunk] = []
    scheduled_texts: dict[int, str] = {}  # a batch's executions share few ticks
    for (url, project_id, index), group in group_by_destination(executions).items():
        delivery = None
        if index is not None:
            if not 0 <= index < len(deliveries):  # a bug of the sender: say so, send nothing
                ids = tuple(e.execution_id for e in group)
                chunks.append(Chunk(url, project_id, ids, b"", chunk_key(ids), problem=(
                    f"malformed batch: no delivery settings {index} (it has "
                    f"{len(deliveries)})")))
                continue
            delivery = deliveries[index]
            if delivery.method == "GET":
                chunks += [Chunk(url, project_id, (e.execution_id,), b"", e.execution_id,
                                 ((e.scheduled_at, 1),), delivery) for e in group]
                continue
        chunks += _body_chunks(url, project_id, group, max_bytes, scheduled_texts, delivery)
    return chunks


def _body_chunks(url: str, project_id: int, group: list[Execution], max_bytes: int,
                 scheduled_texts: dict[int, str], delivery: Delivery | None) -> list[Chunk]:
    """The chunks of one destination's executions, each body at most `max_bytes`."""
    parts = []
    url_json = _json_string(url)
    for execution in group:
        at = execution.scheduled_at
        text = scheduled_texts.get(at)
        if text is None:
            text = scheduled_texts[at] = rfc3339(at)
        parts.append(encode_execution(execution, text, url_json))
    chunks = []
    for span in split_sizes([len(p) for p in parts], max_bytes):
        ids = tuple(group[i].execution_id for i in span)
        ticks = Counter(group[i].scheduled_at for i in span)
        chunks.append(Chunk(url, project_id, ids, join_body(parts[span.start:span.stop]),
                            chunk_key(ids), tuple(ticks.items()), delivery))
    return chunks


def request_headers(delivery: Delivery | None) -> dict[str, str]:
    """A job's own headers as they are sent: any the server sets are left out (the API
    refuses them; this keeps a batch from an older or faulty sender from forging any)."""
    if delivery is None or not delivery.headers:
        return {}
    return {name: value for name, value in delivery.headers if not is_server_header(name)}


def is_success(status: int, delivery: Delivery | None) -> bool:
    """Whether an answer with `status` is a success: one of the job's success codes, or any
    2xx for a job without."""
    codes = None if delivery is None else delivery.success_codes
    return 200 <= status < 300 if codes is None else status in codes


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Scheduler0-Signature value: "sha256=" + HMAC-SHA256(secret, f"{timestamp}." + body)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def backoff(attempt: int, first_delay: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): first_delay, doubling,
    capped at BACKOFF_CAP (or at first_delay when that is larger)."""
    delay = first_delay * 2 ** max(0, attempt - 1)
    return float(min(delay, max(BACKOFF_CAP, first_delay)))


def delivery_budget(timeout: float, retry_delay: float, retry_max: int) -> float:
    """The longest one chunk can take from its first send to its final outcome, ignoring the
    wait for a free connection: every attempt times out and every backoff is served."""
    return (retry_max + 1) * timeout + sum(backoff(a, retry_delay) for a in range(1, retry_max + 1))


T = TypeVar("T")


class _Lane(Generic[T]):
    __slots__ = ("active", "items", "key", "ready")

    def __init__(self, key: str):
        self.key = key
        self.items: deque[T] = deque()
        self.active = 0  # items taken and not released
        self.ready = False  # in the ring: has items and a free slot


class FairQueue(Generic[T]):
    """Items waiting for a slot, queued per key (a host:port), handed out round robin over the
    keys that have a free slot: at most `total` taken at once, at most `per_key` of one key.

    A key whose items hang keeps its own slots and no others, so the items of every other key
    are still taken. Within a key items go first in, first out. Every operation is O(1).

        queue.put(key, item)
        while (taken := queue.take()) is not None:   # (key, item), its slot now held
            start(*taken)                            # ... and later queue.release(key)
    """

    def __init__(self, total: int, per_key: int):
        self._total = max(1, total)
        self._per_key = max(1, per_key)
        self._lanes: dict[str, _Lane[T]] = {}
        self._ring: deque[_Lane[T]] = deque()  # lanes with items and a free slot
        self.active = 0  # taken and not released, all keys
        self.waiting = 0  # put and not taken, all keys

    def put(self, key: str, item: T, *, first: bool = False) -> None:
        """Queue `item` under `key`; `first` puts it ahead of the key's other items (a retry
        of something already started goes before what has not started yet)."""
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane(key)
        if first:
            lane.items.appendleft(item)
        else:
            lane.items.append(item)
        self.waiting += 1
        self._enlist(lane)

    def take(self) -> tuple[str, T] | None:
        """The next item of the next key with a free slot, holding one slot for it; None when
        nothing may start now (all slots taken, or every key with items is at its limit)."""
        if self.active >= self._total or not self._ring:
            return None
        lane = self._ring.popleft()
        lane.ready = False
        item = lane.items.popleft()
        self.waiting -= 1
        lane.active += 1
        self.active += 1
        self._enlist(lane)  # to the back of the ring: the other keys come first
        return lane.key, item

    def release(self, key: str) -> None:
        """An item of `key` that was taken no longer holds its slot."""
        lane = self._lanes[key]
        lane.active -= 1
        self.active -= 1
        if lane.active == 0 and not lane.items:
            del self._lanes[key]
        else:
            self._enlist(lane)

    def active_of(self, key: str) -> int:
        lane = self._lanes.get(key)
        return lane.active if lane is not None else 0

    def _enlist(self, lane: _Lane[T]) -> None:
        if not lane.ready and lane.items and lane.active < self._per_key:
            lane.ready = True
            self._ring.append(lane)


def outcome(execution_id: str, *, succeeded: bool, attempts: int, http_status: int | None,
            error: str | None, started_at_ms: int, finished_at_ms: int) -> Outcome:
    """One entry of a results message (scheduler0.messages.Results)."""
    return Outcome(execution_id=execution_id, state="succeeded" if succeeded else "failed",
                   attempts=attempts, http_status=http_status, error=error,
                   started_at_ms=started_at_ms, finished_at_ms=finished_at_ms)


class Metrics:
    """Counters of one executor process since it started, thread-safe, cumulative (a new pid
    starts from zero, as Prometheus counters do after a restart).

    delivered / failed   executions settled as succeeded / failed (refused included in failed)
    refused              executions refused without sending (SSRF guard, bad URL)
    posts                HTTP POST attempts sent, retries included
    chunks               chunks settled (one or more POSTs each)
    retries              attempts after the first
    duplicate_batches    batches dropped on arrival because the executor still held that id
    lateness             histogram of first send time minus scheduled_at, per execution
    """

    COUNTERS = ("delivered", "failed", "refused", "posts", "chunks", "retries",
                "duplicate_batches", "lease_waits", "revoked_batches")

    def __init__(self, buckets: Sequence[float] = LATENESS_BUCKETS):
        self._lock = threading.Lock()
        self._buckets = tuple(buckets)
        self._counts = dict.fromkeys(self.COUNTERS, 0)
        self._bucket_counts = [0] * (len(self._buckets) + 1)  # the last one is +Inf
        self._sum = 0.0
        self._observations = 0

    def add(self, **increments: int) -> None:
        with self._lock:
            for name, value in increments.items():
                self._counts[name] += value

    def observe_lateness(self, seconds: float, count: int = 1) -> None:
        """`count` executions were first sent `seconds` after their scheduled time."""
        index = bisect.bisect_left(self._buckets, seconds)
        with self._lock:
            self._bucket_counts[index] += count
            self._sum += seconds * count
            self._observations += count

    def snapshot(self) -> dict[str, Any]:
        """Counters plus a Prometheus-style histogram: cumulative counts per upper bound `le`
        (the +Inf bucket is `count`)."""
        with self._lock:
            cumulative, running = [], 0
            for n in self._bucket_counts[:-1]:
                running += n
                cumulative.append(running)
            return {**self._counts,
                    "lateness": {"le": list(self._buckets), "counts": cumulative,
                                 "sum": round(self._sum, 6), "count": self._observations}}
