"""A rate-limited project on one real node: 20 ticks due in the same second, a receiver that
holds every request 0.2 s, and a limit of 2 at once and 5 a second. The receiver never sees
more than the limit, every tick is delivered and recorded exactly once (late, never dropped),
and the node's /metrics shows the wait. The CLI sets and changes the limit.

Every assertion bounds what the node let through; a slower machine only spreads the arrivals
more. Every wait has a deadline."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from typing import Any

from scheduler0.schedule import format_rfc3339_utc, parse_instant
from scheduler0.testing import wait_for
from tests.integration.receiver import Receiver

LIMITED_JOBS, FREE_JOBS = 20, 5
HOLD = 0.2  # seconds the receiver holds every request
CONCURRENCY, PER_SECOND = 2, 5
BURST = 1  # rationing.burst(5): a tenth of a second's worth, at least one


def cli(node: Any, *args: str) -> Any:
    done = subprocess.run([sys.executable, "-m", "scheduler0.cli", *args], cwd=node.workdir,
                          env=node.env, capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def metric(text: str, name: str, project_id: int) -> float | None:
    found = re.search(rf'^{name}{{project_id="{project_id}"}} (\S+)$', text, re.MULTILINE)
    return None if found is None else float(found.group(1))


def most_at_once(arrivals: list[float], hold: float) -> int:
    """The most requests the receiver was holding at one moment: each is held from its
    arrival for `hold` s at least (a little less is counted, so rounding cannot add one)."""
    held = hold - 0.01
    return max(sum(1 for other in arrivals if other <= at < other + held) for at in arrivals)


def most_in_a_second(arrivals: list[float]) -> int:
    return max(sum(1 for other in arrivals if at <= other < at + 1.0) for at in arrivals)


def test_a_limited_project_gets_its_ticks_within_its_limit_late_and_exactly_once(node_factory):
    node = node_factory().start()
    node.wait_leader()
    with Receiver() as rx:
        rx.respond([], delay=HOLD)
        limited = cli(node, "create", "project", "--name", "limited", "--concurrency",
                      str(CONCURRENCY), "--per-second", str(PER_SECOND))
        assert limited["rate_limit"] == {"concurrency": CONCURRENCY, "per_second": 5.0}
        free = node.api("POST", "/projects", {"name": "free"})
        tick = parse_instant(node.api("GET", f"/projects/{free['id']}")["created_at"][:19] + "Z",
                             "created_at") + 4
        jobs = [{"project_id": limited["id"], "spec": f"@at {format_rfc3339_utc(tick)}",
                 "callback_url": rx.url(f"/limited/{n}")} for n in range(LIMITED_JOBS)]
        jobs += [{"project_id": free["id"], "spec": f"@at {format_rfc3339_utc(tick)}",
                  "callback_url": rx.url(f"/free/{n}")} for n in range(FREE_JOBS)]
        created = node.api("POST", "/jobs", jobs)
        limited_ids = {j["id"] for j in created if j["project_id"] == limited["id"]}

        waiting_seen: list[float] = []

        def all_delivered() -> bool:
            value = metric(node.raw("/metrics"), "scheduler0_rate_limited_waiting",
                           limited["id"])
            if value is not None:
                waiting_seen.append(value)
            return len(rx.requests) >= LIMITED_JOBS + FREE_JOBS

        wait_for(all_delivered, timeout=60, interval=0.05,
                 message=f"{LIMITED_JOBS + FREE_JOBS} requests")
        requests = rx.requests
        by_project = {"limited": [r for r in requests if r.path.startswith("/limited/")],
                      "free": [r for r in requests if r.path.startswith("/free/")]}
        arrivals = sorted(r.arrived_at for r in by_project["limited"])
        assert most_at_once(arrivals, HOLD) <= CONCURRENCY
        assert most_in_a_second(arrivals) <= PER_SECOND + BURST
        assert min(arrivals) >= tick  # never before its tick

        # Exactly once each, in the receiver and in the history, each tick at its own time.
        delivered = Counter(e["execution_id"] for r in requests for e in r.json)
        assert len(delivered) == LIMITED_JOBS + FREE_JOBS and max(delivered.values()) == 1
        assert {e["id"] for r in by_project["limited"] for e in r.json} == limited_ids
        history = wait_for(lambda: (rows := node.executions(project_id=limited["id"]))
                           and all(e["state"] == "succeeded" for e in rows)
                           and len(rows) == LIMITED_JOBS and rows, timeout=30,
                           message="the limited ticks recorded succeeded")
        assert {parse_instant(e["scheduled_at"], "scheduled_at") for e in history} == {tick}
        assert len(node.executions(project_id=free["id"], state="succeeded")) == FREE_JOBS

        # The wait showed while it lasted, and its total after.
        assert max(waiting_seen, default=0) > 0, waiting_seen
        text = node.raw("/metrics")
        assert (metric(text, "scheduler0_rate_limit_wait_seconds_total", limited["id"])
                or 0) > 0
        assert metric(text, "scheduler0_rate_limited_waiting", limited["id"]) == 0
        assert metric(text, "scheduler0_rate_limited_waiting", free["id"]) is None
        shown = node.health()["intake"]["rate_limited"][str(limited["id"])]
        assert shown["waiting"] == 0 and shown["wait_seconds"] > 0

    # The CLI changes one kind of limit and keeps the other, then removes the limit.
    changed = cli(node, "update", "project", str(limited["id"]), "--per-second", "0.5")
    assert changed["rate_limit"] == {"concurrency": CONCURRENCY, "per_second": 0.5}
    removed = cli(node, "update", "project", str(limited["id"]), "--no-rate-limit")
    assert removed["rate_limit"] is None
