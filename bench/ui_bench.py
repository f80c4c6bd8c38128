"""Console page weights and server times at scale: each screen of /ui/ over a big node.

    .venv/bin/python -m bench ui                                   1,000,000 jobs, 100,000,000 rows
    .venv/bin/python -m bench ui --jobs 20000 --rows 200000        a quick look
    .venv/bin/python -m bench ui --keep DIR                        reuse a `bench reads` seed

Seeds a node's SQLite file as `bench reads` does (jobs through the state machine, the history
with bulk SQL from 10M rows; the same --keep folders serve both), starts one node on it (a real
pysyncobj node in this process), signs in to the console with the node's credentials and
fetches every screen `--repeat` times through the Flask app. Per screen: the HTML's bytes, the
bytes of the CSS and JavaScript it links (each fetched once; a browser caches them), and the
server time's median, p95 and slowest. Budgets printed beside the figures, not asserted: the
first page a browser loads (the overview, with its assets) under 100 KB, any list page's HTML
under 150 KB, p95 under 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench import read_bench  # noqa: E402
from scheduler0.testing import LocalServices, node_settings  # noqa: E402

FIRST_PAGE_BUDGET = 100 * 1024
LIST_PAGE_BUDGET = 150 * 1024
P95_BUDGET_MS = 100.0
ASSET = re.compile(r"""<(?:script[^>]*\ssrc|link[^>]*\shref)=["'](/ui/static/[^"']+)["']""")


def percentile(sorted_ms: list[float], share: float) -> float:
    """The nearest-rank percentile of an ascending list."""
    rank = max(0, min(len(sorted_ms) - 1, int(round(share * len(sorted_ms) + 0.5)) - 1))
    return sorted_ms[rank]


def screens(jobs: int, ticks: int, deep_after: str | None) -> dict[str, str]:
    """Each screen's URL, aimed at the seeded jobs and ticks (read_bench's layout)."""
    middle = jobs // 2
    day_start = read_bench.T0 + 60 * max(0, ticks - 1440)
    day_end = read_bench.T0 + 60 * ticks
    found = {
        "overview": "/ui/",
        "jobs, first page": "/ui/jobs",
        "jobs, a page deep in": f"/ui/jobs?after={jobs - 100}",
        "jobs of a project": "/ui/jobs?project_id=2",
        "jobs, name contains": "/ui/jobs?contains=zz",
        "jobs, last result failed": "/ui/jobs?last_state=failed",
        "jobs, a label and paused (none match)": "/ui/jobs?labels=team%3Dweb&status=paused",
        "job detail": f"/ui/jobs/{middle}",
        "job edit form": f"/ui/jobs/{middle}/edit",
        "new job form": "/ui/jobs/new?project_id=1",
        "executions (default: failed and missed, 24 h)": "/ui/executions",
        "executions, failed in the seeded day":
            f"/ui/executions?state=failed&since={day_start}&until={day_end}",
        "executions of a job": f"/ui/executions?job_id={middle}&state=succeeded"
                               f"&since={read_bench.T0}&until={day_end}",
        "upcoming load": "/ui/load",
        "projects": "/ui/projects",
        "credentials": "/ui/credentials",
    }
    if deep_after:
        found["executions, next page"] = (f"/ui/executions?state=succeeded&since="
                                          f"{read_bench.T0}&until={day_end}&after={deep_after}")
    return found


def measure(workdir: Path, jobs: int, ticks: int, repeat: int) -> dict[str, Any]:
    from scheduler0.api import create_app

    settings = node_settings(workdir)
    services = LocalServices(settings).start()
    try:
        client = create_app(settings, services, node_auth=read_bench.NODE_AUTH).test_client()
        signed = client.post("/ui/signin", data={
            "method": "node", "username": read_bench.NODE_AUTH[0],
            "password": read_bench.NODE_AUTH[1], "next": "/ui/"})
        if signed.status_code != 303:
            raise SystemExit(f"sign-in answered {signed.status_code}: "
                             f"{signed.data[:300]!r}")
        deep = _deep_execution_cursor(client, ticks)
        assets: dict[str, int] = {}
        results: dict[str, Any] = {}
        for name, path in screens(jobs, ticks, deep).items():
            results[name] = _screen(client, path, repeat, assets)
        return {"screens": results, "assets": assets}
    finally:
        services.stop()


def _deep_execution_cursor(client: Any, ticks: int) -> str | None:
    """A keyset cursor some pages into the succeeded history, from the REST API."""
    answer = client.get(f"/api/v1/executions?state=succeeded&since={read_bench.T0}"
                        f"&until={read_bench.T0 + 60 * ticks}&limit=500")
    if answer.status_code != 200:
        return None
    return answer.json["data"].get("next_after")


def _screen(client: Any, path: str, repeat: int, assets: dict[str, int]) -> dict[str, Any]:
    def fetch() -> Any:
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code} {response.data[:300]!r}")
        return response

    html = fetch().data
    linked = sorted(set(ASSET.findall(html.decode("utf-8", "replace"))))
    for asset in linked:
        if asset not in assets:
            answer = client.get(asset)
            assets[asset] = len(answer.data) if answer.status_code == 200 else -1
    times = sorted(_timed(fetch) for _ in range(repeat))
    return {"path": path, "html_bytes": len(html),
            "asset_bytes": sum(max(0, assets[a]) for a in linked), "assets": linked,
            "median_ms": round(times[len(times) // 2], 2),
            "p95_ms": round(percentile(times, 0.95), 2), "max_ms": round(times[-1], 2)}


def _timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def report(result: dict[str, Any]) -> None:
    screens_found = result["screens"]
    width = max(map(len, screens_found))
    print(f"{result['jobs']:,} jobs, {result['rows']:,} execution rows")
    print(f"{'screen':<{width}}  {'HTML KB':>8} {'+assets':>8} {'median':>8} {'p95 ms':>8} "
          f"{'max':>8}")
    for name, figures in screens_found.items():
        print(f"{name:<{width}}  {figures['html_bytes'] / 1024:>8.1f} "
              f"{figures['asset_bytes'] / 1024:>8.1f} {figures['median_ms']:>8.2f} "
              f"{figures['p95_ms']:>8.2f} {figures['max_ms']:>8.2f}")
    first = screens_found["overview"]
    first_bytes = first["html_bytes"] + first["asset_bytes"]
    heaviest = max(s["html_bytes"] for s in screens_found.values())
    slowest = max(s["p95_ms"] for s in screens_found.values())
    print(f"first page with its assets {first_bytes / 1024:.1f} KB "
          f"(budget {FIRST_PAGE_BUDGET // 1024} KB); heaviest HTML {heaviest / 1024:.1f} KB "
          f"(budget {LIST_PAGE_BUDGET // 1024} KB); slowest p95 {slowest:.1f} ms "
          f"(budget {P95_BUDGET_MS:.0f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--repeat", type=int, default=41)
    parser.add_argument("--keep", default=None,
                        help="the seeded node folder (a `bench reads --keep` one is reused)")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="s0ui-"))
    settings = node_settings(workdir)
    ticks = max(1, args.rows // args.jobs)
    try:
        if not os.path.exists(settings.db_path):
            os.makedirs(settings.data_dir, exist_ok=True)
            seeded = read_bench.seed(settings.db_path, args.jobs, args.rows,
                                     args.rows >= read_bench.FAST_SEED_FROM_ROWS)
            Path(workdir, "seed.json").write_text(json.dumps(seeded))
        else:
            seeded = read_bench.kept_seed(workdir, args.jobs, args.rows)
        measured = measure(workdir, args.jobs, ticks, args.repeat)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    result = {"jobs": args.jobs, "rows": ticks * args.jobs, "seed": seeded, **measured}
    report(result)
    os.makedirs(args.out, exist_ok=True)
    out = Path(args.out, f"ui-{args.jobs}-{ticks * args.jobs}.json")
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
