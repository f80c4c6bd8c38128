"""A fast loopback callback receiver for the benchmarks, run as its own process.

    .venv/bin/python bench/receiver.py [--port 0] [--stats-file PATH] [--host 127.0.0.1]

The first line on stdout is the port it listens on (then it prints nothing else there).
--host is loopback, or a private address such as a test bridge's that only local network
namespaces reach.

    POST <any path>     a callback body: a JSON array of executions (an object is taken as one);
                        answered 200 at once, after reading and recording the body
    GET  /stats         the summary below as JSON; ?from=EPOCH&to=EPOCH keeps only executions
                        scheduled in [from, to]; ?samples=N caps the lateness samples (2000)
    GET  /ticks         one row per (job, tick) scheduled in ?from=EPOCH&to=EPOCH: deliveries,
                        distinct execution ids and first arrival, as columns of machine numbers
                        (decode_ticks / fetch_ticks below read them)
    POST /stats/reset   forget everything recorded (also GET)
    GET  /health        "ok"

On SIGTERM or SIGINT it writes the summary to --stats-file (when given) and exits 0.

What is recorded, compactly (arrays of machine integers, no object per execution):
    per execution   hash(execution_id), job id (`id`), scheduled_at as epoch seconds
    per POST        arrival time (time.time() when the body was read) and its first execution
    per POST x tick (scheduled_at, arrival, count): lateness is per POST, since every execution
                    of one body arrives at the same instant
The summary:
    executions, posts, unique_executions, duplicates (executions whose execution_id was seen
    before), jobs (distinct job ids), hits_histogram {hits per job: jobs}, min_hits, max_hits,
    lateness {p50, p90, p99, max, mean} in seconds (arrival - scheduled_at),
    ticks {scheduled_at: {count, p50, p99, max}}, deliveries_per_tick {scheduled_at: count},
    samples [[scheduled_at, arrival, lateness, count], ...] downsampled for plotting,
    first_arrival, last_arrival, parser ("orjson" or "json").
hits count unique executions (duplicates are reported apart). Execution ids are kept as their
64-bit hash: two distinct ids colliding is negligible (about 1 in 10^7 at a million ids).
Job ids must be integers (scheduler0's are); anything else is recorded as its hash.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import ipaddress
import json
import os
import signal
import sys
import time
from array import array
from collections import Counter
from operator import itemgetter
from typing import Any

try:
    import orjson

    loads: Any = orjson.loads
    PARSER = "orjson"

    def dumps(obj: Any) -> bytes:
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)
except ImportError:  # pragma: no cover - depends on what is installed
    loads = json.loads
    PARSER = "json"

    def dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

from aiohttp import web

# /ticks: the columns, in the order they are sent, each n machine numbers of the given type.
TICK_COLUMNS = (("job", "q"), ("tick", "q"), ("count", "q"), ("ids", "q"), ("first", "d"))

_execution_id = itemgetter("execution_id")
_job_id = itemgetter("id")
_scheduled_at = itemgetter("scheduled_at")
DEFAULT_SAMPLES = 2000


class EpochCache(dict[Any, int]):
    """RFC 3339 text (or a number) -> epoch seconds, parsed once per distinct value."""

    def __missing__(self, key: Any) -> int:
        value = parse_instant(key)
        self[key] = value
        return value


def parse_instant(value: Any) -> int:
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value)
    if len(text) == 20 and text.endswith("Z"):  # the scheduler0 form, 2026-11-27T13:00:00Z
        return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))
    from datetime import datetime

    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


class Recorder:
    def __init__(self) -> None:
        self.epochs = EpochCache()
        self.reset()

    def reset(self) -> None:
        self.exec_hashes = array("q")
        self.job_ids = array("q")
        self.scheduled = array("q")
        self.post_arrival = array("d")
        self.post_start = array("q")
        self.group_scheduled = array("q")
        self.group_arrival = array("d")
        self.group_count = array("q")
        self.bad_posts = 0

    def record(self, body: bytes, arrival: float) -> int:
        """Record one callback body; returns how many executions it carried."""
        elements = loads(body)
        if isinstance(elements, dict):
            elements = [elements]
        start = len(self.exec_hashes)
        try:
            hashes = array("q", map(hash, map(_execution_id, elements)))
            try:
                jobs = array("q", map(_job_id, elements))
            except (TypeError, OverflowError):
                jobs = array("q", map(hash, map(_job_id, elements)))
            scheduled = array("q", map(self.epochs.__getitem__, map(_scheduled_at, elements)))
        except (KeyError, TypeError, ValueError):
            self.bad_posts += 1
            return 0
        self.exec_hashes.extend(hashes)
        self.job_ids.extend(jobs)
        self.scheduled.extend(scheduled)
        self.post_arrival.append(arrival)
        self.post_start.append(start)
        for tick, count in Counter(scheduled).items():
            self.group_scheduled.append(tick)
            self.group_arrival.append(arrival)
            self.group_count.append(count)
        return len(hashes)

    # -- the summary ------------------------------------------------------------------------

    def summary(self, since: int | None = None, until: int | None = None,
                max_samples: int = DEFAULT_SAMPLES) -> dict[str, Any]:
        lo = -(2**63) if since is None else since
        hi = 2**63 - 1 if until is None else until
        everything = since is None and until is None
        if everything:
            hashes, jobs = self.exec_hashes, self.job_ids
        else:
            keep = [i for i, t in enumerate(self.scheduled) if lo <= t <= hi]
            hashes = array("q", (self.exec_hashes[i] for i in keep))
            jobs = array("q", (self.job_ids[i] for i in keep))
        unique = set(hashes)
        duplicates = len(hashes) - len(unique)
        if duplicates:
            per_execution = dict(zip(hashes, jobs, strict=True))  # one job per unique execution id
            hits = Counter(per_execution.values())
        else:
            hits = Counter(jobs)
        histogram = Counter(hits.values())

        groups = sorted(
            (arrival - tick, tick, arrival, count)
            for tick, arrival, count in zip(self.group_scheduled, self.group_arrival,
                                            self.group_count, strict=True)
            if lo <= tick <= hi)
        total = sum(g[3] for g in groups)
        per_tick: dict[int, list[tuple[float, int]]] = {}
        for lateness, tick, _arrival, count in groups:
            per_tick.setdefault(tick, []).append((lateness, count))
        ticks = {}
        for tick in sorted(per_tick):
            rows = per_tick[tick]  # already sorted by lateness
            n = sum(c for _, c in rows)
            ticks[tick] = {"count": n, "p50": weighted_quantile(rows, n, 0.50),
                           "p99": weighted_quantile(rows, n, 0.99), "max": round(rows[-1][0], 6)}
        by_arrival = sorted(groups, key=itemgetter(2))
        step = max(1, -(-len(by_arrival) // max(1, max_samples)))
        samples = [[g[1], round(g[2], 6), round(g[0], 6), g[3]] for g in by_arrival[::step]]
        rows = [(g[0], g[3]) for g in groups]
        return {
            "parser": PARSER,
            "filter": {"from": since, "to": until},
            "executions": len(hashes),
            "posts": len(self.post_arrival),
            "bad_posts": self.bad_posts,
            "unique_executions": len(unique),
            "duplicates": duplicates,
            "jobs": len(hits),
            "hits_histogram": dict(sorted(histogram.items())),
            "min_hits": min(hits.values()) if hits else 0,
            "max_hits": max(hits.values()) if hits else 0,
            "lateness": {
                "p50": weighted_quantile(rows, total, 0.50),
                "p90": weighted_quantile(rows, total, 0.90),
                "p99": weighted_quantile(rows, total, 0.99),
                "max": round(rows[-1][0], 6) if rows else None,
                "mean": (sum(lat * c for lat, c in rows) / total) if total else None,
            },
            "deliveries_per_tick": {t: v["count"] for t, v in ticks.items()},
            "ticks": ticks,
            "samples": samples,
            "first_arrival": min(self.post_arrival) if self.post_arrival else None,
            "last_arrival": max(self.post_arrival) if self.post_arrival else None,
        }

    def tick_table(self, since: int | None = None, until: int | None = None) -> dict[str, array]:
        """Per (job, tick) scheduled in [since, until]: deliveries, distinct execution ids and the
        first arrival. Rows are in order of first arrival."""
        lo = -(2**63) if since is None else since
        hi = 2**63 - 1 if until is None else until
        table = {name: array(kind) for name, kind in TICK_COLUMNS}
        job, tick, count, first = table["job"], table["tick"], table["count"], table["first"]
        first_hash = array("q")
        row_of: dict[tuple[int, int], int] = {}
        split: dict[int, set[int]] = {}  # row -> every execution id hash seen, when not one
        ends = [*self.post_start[1:], len(self.exec_hashes)]
        for start, end, arrival in zip(self.post_start, ends, self.post_arrival, strict=True):
            for i in range(start, end):
                at = self.scheduled[i]
                if not lo <= at <= hi:
                    continue
                key = (self.job_ids[i], at)
                row = row_of.get(key)
                if row is None:
                    row_of[key] = len(job)
                    job.append(key[0])
                    tick.append(at)
                    count.append(1)
                    first.append(arrival)
                    first_hash.append(self.exec_hashes[i])
                    continue
                count[row] += 1
                first[row] = min(first[row], arrival)
                if self.exec_hashes[i] != first_hash[row]:
                    split.setdefault(row, {first_hash[row]}).add(self.exec_hashes[i])
        table["ids"] = array("q", [1]) * len(job)
        for row, hashes in split.items():
            table["ids"][row] = len(hashes)
        return table


def encode_ticks(table: dict[str, array]) -> bytes:
    """The row count (8 bytes), then each column of TICK_COLUMNS in turn."""
    rows = len(table["job"])
    return array("q", [rows]).tobytes() + b"".join(table[name].tobytes()
                                                   for name, _ in TICK_COLUMNS)


def decode_ticks(body: bytes) -> dict[str, array]:
    rows = array("q", body[:8])[0]
    table, offset = {}, 8
    for name, kind in TICK_COLUMNS:
        column = array(kind)
        size = rows * column.itemsize
        column.frombytes(body[offset:offset + size])
        table[name] = column
        offset += size
    return table


def fetch_ticks(base_url: str, since: int | None = None, until: int | None = None,
                timeout: float = 300) -> dict[str, array]:
    """GET /ticks of a receiver at base_url (same machine: native byte order)."""
    import urllib.request

    query = "&".join(f"{k}={v}" for k, v in (("from", since), ("to", until)) if v is not None)
    with urllib.request.urlopen(f"{base_url}/ticks?{query}", timeout=timeout) as response:
        return decode_ticks(response.read())


def weighted_quantile(rows: list[tuple[float, int]], total: int, q: float) -> float | None:
    """The q-quantile of values given as (value, weight) sorted by value (nearest rank)."""
    if total <= 0:
        return None
    rank = max(1, -(-int(q * total * 1_000_000) // 1_000_000))  # ceil(q * total), float-safe
    seen = 0
    for value, count in rows:
        seen += count
        if seen >= rank:
            return round(value, 6)
    return round(rows[-1][0], 6)


def build_app(recorder: Recorder) -> web.Application:
    async def callback(request: web.Request) -> web.Response:
        body = await request.read()
        arrival = time.time()
        try:
            recorder.record(body, arrival)
        except ValueError:  # not JSON
            recorder.bad_posts += 1
        return web.Response(text="ok")

    async def stats(request: web.Request) -> web.Response:
        def arg(name: str) -> int | None:
            value = request.query.get(name)
            return int(float(value)) if value not in (None, "") else None

        summary = recorder.summary(arg("from"), arg("to"),
                                   arg("samples") or DEFAULT_SAMPLES)
        return web.Response(body=dumps(summary), content_type="application/json")

    async def ticks(request: web.Request) -> web.Response:
        def arg(name: str) -> int | None:
            value = request.query.get(name)
            return int(float(value)) if value not in (None, "") else None

        body = encode_ticks(recorder.tick_table(arg("from"), arg("to")))
        return web.Response(body=body, content_type="application/octet-stream")

    async def reset(request: web.Request) -> web.Response:
        recorder.reset()
        return web.json_response({"reset": True})

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(client_max_size=512 * 1024 * 1024)
    app.router.add_get("/stats", stats)
    app.router.add_get("/ticks", ticks)
    app.router.add_route("*", "/stats/reset", reset)
    app.router.add_get("/health", health)
    app.router.add_post("/{tail:.*}", callback)
    return app


async def serve(host: str, port: int, stats_file: str | None) -> None:
    recorder = Recorder()
    runner = web.AppRunner(build_app(recorder), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=4096)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    print(sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    if stats_file:
        tmp = stats_file + ".tmp"
        with open(tmp, "wb") as out:
            out.write(dumps(recorder.summary()))
        os.replace(tmp, stats_file)
        print(f"stats written to {stats_file}", file=sys.stderr, flush=True)


def local_only(host: str) -> bool:
    """Loopback, or a private address (a bridge to local network namespaces): the receiver
    answers anyone who reaches it, so it must not listen where the outside world can."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or (address.is_private and not address.is_unspecified)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1",
                        help="loopback or a private address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port (default)")
    parser.add_argument("--stats-file", help="write the summary here on SIGTERM/SIGINT")
    args = parser.parse_args()
    if not local_only(args.host):
        parser.error("the benchmark receiver listens on loopback or a private address only")
    try:
        import uvloop  # noqa: F401  # optional

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(args.host, args.port, args.stats_file))


if __name__ == "__main__":
    main()
