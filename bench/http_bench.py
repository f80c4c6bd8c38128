"""Callback delivery throughput of scheduler0.delivery.client.Deliverer against a loopback receiver.

    .venv/bin/python bench/http_bench.py [--runs 3] [--executions 50000] [--urls 3000]

The receiver is aiohttp.web in its own process, answering 200 at once after reading the body.
(a) N executions to ONE URL, chunked by HTTPExecutorPayloadMaxSizeMb (default 1 MB):
    executions/s, POSTs/s, executions per chunk, and how much of the time is building the JSON
    bodies (plan_chunks: grouping, RFC 3339, json.dumps per element).
(b) M executions, each with its own URL path (one POST each): POSTs/s and per-POST latency
    p50/p99 (from each result's started_at_ms/finished_at_ms, so 1 ms resolution).
Figures are medians over --runs; sender CPU is this process's CPU time per execution / POST.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing
import os
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from scheduler0 import config, messages  # noqa: E402
from scheduler0.delivery.client import Deliverer  # noqa: E402
from scheduler0.delivery.core import plan_chunks  # noqa: E402


def receiver_main(port_pipe: Any, stop_event: Any) -> None:
    from aiohttp import web

    posts = 0

    async def handle(request: web.Request) -> web.Response:
        nonlocal posts
        await request.read()
        posts += 1
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_post("/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        port_pipe.send(port)
        while not stop_event.is_set():
            await asyncio.sleep(0.1)
        port_pipe.send((posts, time.process_time()))
        await runner.cleanup()

    asyncio.run(main())


def make_executions(count: int, url_of: Any, scheduled_at: int,
                    projects: int = 1) -> list[messages.Execution]:
    return [messages.Execution(
        execution_id=f"{scheduled_at}-{n:08d}-0123456789abcdef", id=n,
        project_id=1 + n % projects, scheduled_at=scheduled_at, spec="*/5 * * * *",
        timezone="Europe/Berlin", data='{"tenant": "acme", "task": "report"}' + "x" * 60,
        callback_url=url_of(n)) for n in range(count)]


def batch(executions: list[messages.Execution]) -> messages.Batch:
    return messages.Batch(batch_id="bench", fire_at=0, deadline=0, executions=executions,
                          signing_secrets={"1": "s1" * 16, "2": "s2" * 16, "3": "s3" * 16})


async def one_run(settings: config.Settings,
                  executions: list[messages.Execution]) -> dict[str, Any]:
    async with Deliverer(settings) as deliverer:
        # warm the pool so connection set-up is not in the figure
        await deliverer.deliver(batch(executions[:64]))
        cpu0, t0 = time.process_time(), time.perf_counter()
        results = await deliverer.deliver(batch(executions))
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    failed = [r for r in results if r.state != "succeeded"]
    if failed:
        raise SystemExit(f"{len(failed)} executions failed, e.g. {failed[0]}")
    # in (b) every execution is its own POST, so its timings are that POST's
    per_post = sorted((r.finished_at_ms or 0) - (r.started_at_ms or 0) for r in results)
    return {"elapsed": elapsed, "cpu": cpu, "per_post": per_post}


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--executions", type=int, default=50_000)
    parser.add_argument("--urls", type=int, default=3000)
    parser.add_argument("--payload-mb", type=float, nargs="+", default=[1.0, 0.1],
                        help="payload limits to run (a) with")
    args = parser.parse_args()

    ctx = multiprocessing.get_context("spawn")
    parent_end, child_end = ctx.Pipe()
    stop = ctx.Event()
    server = ctx.Process(target=receiver_main, args=(child_end, stop), daemon=True)
    server.start()
    try:
        port = parent_end.recv()
        base = f"http://127.0.0.1:{port}"
        settings = config.Settings(job_execution_timeout=60.0, job_execution_retry_max=0,
                                   node_id=1)
        scheduled = int(time.time())
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, receiver aiohttp.web "
              f"in its own process on 127.0.0.1:{port}; median of {args.runs} runs\n")

        # (a) one URL, chunked
        one_url = make_executions(args.executions, lambda n: f"{base}/hook", scheduled)
        for payload_mb in args.payload_mb:
            limited = dataclasses.replace(settings, http_executor_payload_max_size_mb=payload_mb)
            plan_times = []
            for _ in range(3):
                t0 = time.perf_counter()
                chunks = plan_chunks(one_url, int(payload_mb * 1024 * 1024))
                plan_times.append(time.perf_counter() - t0)
            plan_s = statistics.median(plan_times)
            per_chunk = statistics.median(len(c.execution_ids) for c in chunks)
            body_kb = statistics.median(len(c.body) for c in chunks) / 1024
            runs = [asyncio.run(one_run(limited, one_url)) for _ in range(args.runs)]
            elapsed = statistics.median(r["elapsed"] for r in runs)
            cpu = statistics.median(r["cpu"] for r in runs)
            print(f"(a) {args.executions:,} executions to one URL, payload limit "
                  f"{payload_mb} MB")
            print(f"    chunks: {len(chunks)} of ~{per_chunk:.0f} executions (~{body_kb:.0f} KB)")
            print(f"    executions/s: {args.executions / elapsed:,.0f}   POSTs/s: "
                  f"{len(chunks) / elapsed:,.1f}   wall {elapsed * 1000:.0f} ms per batch")
            print(f"    sender CPU: {cpu / args.executions * 1e6:.2f} µs/execution; building "
                  f"bodies (plan_chunks, stdlib json): {plan_s / args.executions * 1e6:.2f} "
                  f"µs/execution = {plan_s / elapsed * 100:.0f}% of the wall time")
            print("    runs (executions/s): " + " / ".join(
                f"{args.executions / r['elapsed']:,.0f}" for r in runs))

        # (b) one URL per execution
        own_urls = make_executions(args.urls, lambda n: f"{base}/jobs/{n}", scheduled)
        runs = [asyncio.run(one_run(settings, own_urls)) for _ in range(args.runs)]
        elapsed = statistics.median(r["elapsed"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        p50 = statistics.median(pct(r["per_post"], 0.50) for r in runs)
        p99 = statistics.median(pct(r["per_post"], 0.99) for r in runs)
        print(f"\n(b) {args.urls:,} executions, each to its own URL path (one POST each)")
        print(f"    POSTs/s: {args.urls / elapsed:,.0f}   wall {elapsed * 1000:.0f} ms per batch   "
              f"sender CPU {cpu / args.urls * 1e6:.0f} µs/POST")
        print(f"    per-POST latency: p50 {p50:.0f} ms, p99 {p99:.0f} ms "
              f"(64 in flight per host, 1 ms resolution)")
        print("    runs (POSTs/s): " + " / ".join(f"{args.urls / r['elapsed']:,.0f}" for r in runs))
    finally:
        stop.set()
        if parent_end.poll(5):
            parent_end.recv()
        server.join(5)
        if server.is_alive():
            server.kill()


if __name__ == "__main__":
    main()
