"""The side-by-side peer: APScheduler 3 doing scheduler0's headline workload on this machine.

    .venv/bin/python bench/peer_apscheduler.py [--jobs 50000] [--interval 60] [--seconds 190]
        [--workers 20] [--misfire-grace 59] [--client urllib3|requests] [--receiver-url URL]
        [--json PATH]

What it runs: one BackgroundScheduler, configured as APScheduler's user guide shows for a
scheduler with many jobs: a ThreadPoolExecutor (--workers threads, 20 in the guide's example),
job_defaults coalesce=False, max_instances=1 and misfire_grace_time=--misfire-grace (59 s by
default: the nearest below the interval to scheduler0's MisfireThreshold of 60 s), the default
MemoryJobStore. N interval jobs, every --interval seconds, all anchored at the same instant
(the hard case: every job is due in the same second, as for N jobs `@every 1m` created together
or a cron spec shared by all); --spread S spreads the anchors over S seconds instead.
Each run POSTs one execution to the receiver, as a one-element JSON array with scheduler0's
element shape: {id, execution_id = f"{job id}-{scheduled epoch}", scheduled_at (RFC 3339 UTC),
project_id, spec, timezone, data, callback_url}, through one pooled HTTP client shared by the
threads (urllib3.PoolManager, maxsize = workers; or requests.Session + HTTPAdapter).
--sign adds scheduler0's X-Scheduler0-Signature (HMAC-SHA256) so the per-POST work matches.

APScheduler does not hand the job its scheduled time; the job derives it from its anchor:
anchor + floor((now - anchor) / interval) * interval. That is exact while the misfire grace is
under the interval: a run that starts later than the grace is not run but reported missed.

Unless --receiver-url is given it starts bench/receiver.py on 127.0.0.1 (its own process) and
stops it by pid at the end. It runs for --seconds from the start (then stops the scheduler,
waits at most --drain seconds for queued runs, and cancels the rest), and prints and writes
(--json) the figures: deliveries per tick, missed runs (EVENT_JOB_MISSED), runs skipped by
max_instances, errors, lateness p50/p90/p99/max (receiver arrival - scheduled_at), CPU seconds
and peak RSS of this (the APScheduler) process. The receiver's full stats go to --stats-json.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import math
import os
import resource
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = "peer-signing-secret"


def rfc3339(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class Poster:
    """The job function's state: one pooled HTTP client shared by the worker threads."""

    def __init__(self, url: str, client: str, pool_size: int, sign: bool, interval: int) -> None:
        self.url = url
        self.sign = sign
        self.interval = interval
        self.client = client
        if client == "requests":
            import requests
            from requests.adapters import HTTPAdapter

            self.session = requests.Session()
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, pool_block=True,
                                  max_retries=0)
            self.session.mount("http://", adapter)
        else:
            import urllib3

            self.pool = urllib3.PoolManager(maxsize=pool_size, block=True, retries=False,
                                            timeout=urllib3.Timeout(connect=5, read=30))

    def run(self, job_id: int, anchor: int) -> None:
        """One execution of job `job_id`: POST it to the receiver (raises on a non-200)."""
        now = time.time()
        scheduled = anchor + int((now - anchor) // self.interval) * self.interval
        element = {"id": job_id, "execution_id": f"{job_id}-{scheduled}",
                   "scheduled_at": rfc3339(scheduled), "project_id": 1, "spec": "@every 1m",
                   "timezone": "America/New_York", "data": json.dumps({"jobNumber": job_id}),
                   "callback_url": self.url}
        body = json.dumps([element], separators=(",", ":")).encode()
        headers: dict[str, str] = {"Content-Type": "application/json",
                                   "Idempotency-Key": f"{job_id}-{scheduled}"}
        if self.sign:
            stamp = str(int(now))
            mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
            headers["X-Scheduler0-Timestamp"] = stamp
            headers["X-Scheduler0-Signature"] = "sha256=" + mac.hexdigest()
        if self.client == "requests":
            status = self.session.post(self.url, data=body, headers=headers, timeout=30).status_code
        else:
            status = self.pool.request("POST", self.url, body=body, headers=headers).status
        if status != 200:
            raise RuntimeError(f"receiver answered {status}")


def start_receiver() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "receiver.py"), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.isdigit():
        proc.kill()
        raise SystemExit(f"bench/receiver.py did not start (said {line!r})")
    return proc, f"http://127.0.0.1:{line}/callback"


def stop_process(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def get_json(url: str, timeout: float = 120) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return json.loads(reply.read())


def base_of(callback_url: str) -> str:
    scheme, _, rest = callback_url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


class RssWatch(threading.Thread):
    """Samples this process's RSS every `period` seconds; `peak` is the largest seen (bytes)."""

    def __init__(self, period: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.period = period
        self.peak = 0
        self.stop = threading.Event()
        self.process = psutil.Process()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self.stop.wait(self.period)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--interval", type=int, default=60, help="seconds between runs of a job")
    parser.add_argument("--seconds", type=float, default=190,
                        help="run time from the start, bounded (default 190: three ticks)")
    parser.add_argument("--first-tick", type=float, default=10,
                        help="seconds from the start to the first tick (default 10)")
    parser.add_argument("--spread", type=int, default=0,
                        help="spread the anchors over this many seconds (default 0: all at once)")
    parser.add_argument("--workers", type=int, default=20, help="ThreadPoolExecutor threads")
    parser.add_argument("--misfire-grace", type=int, default=None,
                        help="misfire_grace_time in seconds (default: interval - 1)")
    parser.add_argument("--client", choices=("urllib3", "requests"), default="urllib3")
    parser.add_argument("--sign", action="store_true", help="sign each POST like scheduler0")
    parser.add_argument("--drain", type=float, default=15,
                        help="seconds to let queued runs finish after the stop (default 15)")
    parser.add_argument("--receiver-url", help="use this receiver (bench/receiver.py) instead "
                                               "of starting one")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--stats-json", help="write the receiver's full stats here (for plot.py)")
    args = parser.parse_args()
    grace = args.misfire_grace if args.misfire_grace is not None else args.interval - 1
    if grace >= args.interval:
        parser.error("--misfire-grace must be under --interval (see the module docstring)")
    if args.seconds > 3600:
        parser.error("--seconds is bounded to 3600")

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    # APScheduler logs a WARNING per missed run and per max_instances skip; they are counted
    # through its events instead, so keep 50,000 lines a minute off the terminal.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)

    receiver = None
    if args.receiver_url:
        url = args.receiver_url
    else:
        receiver, url = start_receiver()
    base = base_of(url)
    try:
        get_json(base + "/stats/reset", timeout=10)
        return run(args, url, base, grace)
    finally:
        if receiver is not None:
            stop_process(receiver)


def run(args: argparse.Namespace, url: str, base: str, grace: int) -> int:
    from apscheduler.events import (
        EVENT_JOB_ERROR,
        EVENT_JOB_EXECUTED,
        EVENT_JOB_MAX_INSTANCES,
        EVENT_JOB_MISSED,
        JobEvent,
    )
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    me = psutil.Process()
    rss = RssWatch()
    rss.start()
    started = time.time()
    cpu0 = me.cpu_times()
    anchor = math.ceil(started + args.first_tick)

    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(args.workers)},
        job_defaults={"coalesce": False, "max_instances": 1, "misfire_grace_time": grace},
        timezone="UTC")
    lock = threading.Lock()
    events: dict[str, Counter[int]] = {"missed": Counter(), "skipped": Counter(),
                                       "errors": Counter(), "executed": Counter()}
    names = {EVENT_JOB_MISSED: "missed", EVENT_JOB_ERROR: "errors",
             EVENT_JOB_EXECUTED: "executed"}
    first_error: list[str] = []

    def listener(event: JobEvent) -> None:
        if event.code == EVENT_JOB_MAX_INSTANCES:
            ticks = [int(t.timestamp()) for t in event.scheduled_run_times]
            with lock:
                events["skipped"].update(ticks)
            return
        tick = int(event.scheduled_run_time.timestamp())
        with lock:
            events[names[event.code]][tick] += 1
            if event.code == EVENT_JOB_ERROR and not first_error:
                first_error.append(repr(event.exception))

    scheduler.add_listener(listener, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES |
                           EVENT_JOB_ERROR | EVENT_JOB_EXECUTED)
    poster = Poster(url, args.client, args.workers, args.sign, args.interval)
    for i in range(args.jobs):
        job_anchor = anchor + (i % args.spread if args.spread else 0)
        trigger = IntervalTrigger(seconds=args.interval,
                                  start_date=datetime.fromtimestamp(job_anchor, UTC))
        scheduler.add_job(poster.run, trigger, args=(i + 1, job_anchor), id=str(i + 1))
    scheduler.start()
    setup = time.time() - started
    print(f"APScheduler {__import__('apscheduler').__version__}: {args.jobs} jobs every "
          f"{args.interval}s, {args.workers} threads, misfire_grace_time {grace}s, client "
          f"{args.client}; set up in {setup:.1f}s; first tick in {anchor - time.time():.1f}s",
          file=sys.stderr, flush=True)
    if time.time() > anchor:
        print("warning: the set-up took longer than --first-tick; the first tick is partial",
              file=sys.stderr)

    deadline = started + args.seconds
    while time.time() < deadline:
        time.sleep(min(1.0, max(0.0, deadline - time.time())))
    stopped = time.time()
    scheduler.pause()  # no new submissions; runs already queued in the pool may still finish
    pool = scheduler._lookup_executor("default")._pool  # concurrent.futures.ThreadPoolExecutor
    drain_end = time.time() + args.drain
    while pool._work_queue.qsize() and time.time() < drain_end:
        time.sleep(0.2)
    cancelled = pool._work_queue.qsize()
    pool.shutdown(wait=True, cancel_futures=True)  # waits for the runs in progress only
    scheduler.shutdown(wait=False)
    cpu1 = me.cpu_times()
    rss.stop.set()
    rss.join()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    peak_rss = max(rss.peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)

    time.sleep(0.5)  # the last responses reach the receiver's records
    stats = get_json(base + "/stats?samples=2000")
    if args.stats_json:
        with open(args.stats_json, "w") as out:
            json.dump(stats, out)
    due_ticks = [t for t in range(anchor, int(stopped) + 1, args.interval)]
    per_tick = []
    for tick in due_ticks:
        row = stats["ticks"].get(str(tick), {})
        per_tick.append({
            "tick": tick, "at": rfc3339(tick), "expected": args.jobs,
            "delivered": stats["deliveries_per_tick"].get(str(tick), 0),
            "missed": events["missed"][tick], "skipped_max_instances": events["skipped"][tick],
            "errors": events["errors"][tick],
            "lateness_p50": row.get("p50"), "lateness_p99": row.get("p99"),
            "lateness_max": row.get("max")})
    result = {
        "peer": "apscheduler", "apscheduler": __import__("apscheduler").__version__,
        "python": sys.version.split()[0], "jobs": args.jobs, "interval": args.interval,
        "workers": args.workers, "misfire_grace_time": grace, "client": args.client,
        "signed": args.sign, "spread": args.spread, "seconds": args.seconds,
        "setup_seconds": round(setup, 3), "anchor": anchor, "ticks": per_tick,
        "delivered": stats["executions"], "duplicates": stats["duplicates"],
        "missed": sum(events["missed"].values()),
        "skipped_max_instances": sum(events["skipped"].values()),
        "errors": sum(events["errors"].values()), "first_error": first_error[0] if first_error else None,
        "cancelled_at_stop": cancelled,
        "lateness": stats["lateness"], "hits_histogram": stats["hits_histogram"],
        "cpu_seconds": round(cpu, 2), "cpu_percent_of_one_core": round(100 * cpu / (stopped - started), 1),
        "peak_rss_mb": round(peak_rss / 2**20, 1), "cpu_count": os.cpu_count(),
        "receiver_posts": stats["posts"],
    }
    print_table(result)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=1)
    return 0


def print_table(r: dict[str, Any]) -> None:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:.0f} ms"

    print(f"\nAPScheduler {r['apscheduler']} peer: {r['jobs']} jobs every {r['interval']} s, "
          f"{r['workers']} threads, {r['client']}{', signed' if r['signed'] else ''}")
    print(f"{'tick (UTC)':22} {'expected':>9} {'delivered':>9} {'missed':>7} {'skipped':>8} "
          f"{'errors':>7} {'late p50':>9} {'late p99':>9} {'late max':>9}")
    for t in r["ticks"]:
        print(f"{t['at']:22} {t['expected']:9} {t['delivered']:9} {t['missed']:7} "
              f"{t['skipped_max_instances']:8} {t['errors']:7} {ms(t['lateness_p50']):>9} "
              f"{ms(t['lateness_p99']):>9} {ms(t['lateness_max']):>9}")
    lat = r["lateness"]
    print(f"total: delivered {r['delivered']}, duplicates {r['duplicates']}, missed {r['missed']}, "
          f"skipped (max_instances) {r['skipped_max_instances']}, errors {r['errors']}, "
          f"cancelled at stop {r['cancelled_at_stop']}")
    print(f"lateness p50 {ms(lat['p50'])}, p90 {ms(lat['p90'])}, p99 {ms(lat['p99'])}, "
          f"max {ms(lat['max'])}")
    print(f"APScheduler process: CPU {r['cpu_seconds']} s ({r['cpu_percent_of_one_core']} % of "
          f"one core), peak RSS {r['peak_rss_mb']} MB; set-up {r['setup_seconds']} s")
    if r["first_error"]:
        print(f"first error: {r['first_error']}")


if __name__ == "__main__":
    sys.exit(main())
