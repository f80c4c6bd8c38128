"""Plot the receiver's stats (bench/receiver.py /stats JSON): lateness over time and deliveries
per tick, one PNG with two panels.

    .venv/bin/python bench/plot.py STATS.json [MORE.json ...] [--label NAME ...] [-o out.png]
        [--title TEXT] [--log | --linear] [--bucket SECONDS]

Several files are drawn on the same axes (e.g. scheduler0 and the APScheduler peer), each with
its time axis starting at its own first tick:
    top     lateness (arrival - scheduled_at) of the receiver's downsampled samples, one dot per
            (POST, tick) group, and the p50 (circle) and p99 (triangle) of each tick, drawn at the tick
    bottom  executions delivered per tick (grouped into --bucket seconds of scheduled time)
The y axis of the top panel is logarithmic when the lateness spans more than two decades
(override with --log / --linear).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]


def load(path: str) -> dict[str, Any]:
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict) or "samples" not in data or not isinstance(data.get("ticks"),
                                                                              dict):
        raise SystemExit(f"{path}: not the receiver's stats (bench/receiver.py GET /stats, or "
                         "peer_apscheduler.py --stats-json)")
    return data


def plot(stats: list[dict[str, Any]], labels: list[str], out: str, title: str | None,
         log: bool | None, bucket: int) -> None:
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(13, 7.5), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
    lows: list[float] = []
    highs: list[float] = []
    width = max(1.0, bucket) * 0.8 / max(1, len(stats))
    for n, (data, label) in enumerate(zip(stats, labels, strict=True)):
        color = COLORS[n % len(COLORS)]
        ticks = {int(t): v for t, v in data["ticks"].items()}
        if not ticks:
            print(f"{label}: no deliveries recorded", file=sys.stderr)
            continue
        origin = min(ticks)
        samples = data["samples"]
        xs = [s[1] - origin for s in samples]
        ys = [max(s[2], 1e-4) for s in samples]
        top.scatter(xs, ys, s=6, alpha=0.35, color=color, linewidths=0,
                    label=f"{label}: samples (arrival)")
        order = sorted(ticks)
        top.plot([t - origin for t in order], [max(ticks[t]["p50"], 1e-4) for t in order],
                 marker="o", markersize=6, linestyle="none", color=color,
                 label=f"{label}: p50 per tick (at its tick)")
        top.plot([t - origin for t in order], [max(ticks[t]["p99"], 1e-4) for t in order],
                 marker="^", markersize=6, linestyle="none", markeredgecolor="black", color=color,
                 label=f"{label}: p99 per tick")
        lows.extend(y for y in ys if y > 0)
        highs.extend(ticks[t]["max"] for t in order)

        buckets: dict[int, int] = {}
        for t in order:
            key = (t - origin) // bucket * bucket
            buckets[key] = buckets.get(key, 0) + ticks[t]["count"]
        offset = (n - (len(stats) - 1) / 2) * width
        bottom.bar([k + offset for k in buckets], list(buckets.values()), width=width,
                   color=color, alpha=0.8, label=label)
        lat = data.get("lateness", {})
        print(f"{label}: {data.get('executions')} executions over {len(ticks)} ticks, lateness "
              f"p50 {lat.get('p50')} s, p99 {lat.get('p99')} s, max {lat.get('max')} s, "
              f"duplicates {data.get('duplicates')}")

    if log is None:
        log = bool(lows and highs) and max(highs) / max(min(lows), 1e-4) > 100
    if log:
        top.set_yscale("log")
    top.set_ylabel("lateness, s (arrival - scheduled_at)")
    top.grid(True, which="both", alpha=0.3)
    top.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    top.set_title(title or "Callback lateness and deliveries per tick")
    bottom.set_ylabel("executions delivered" + (f" per {bucket} s" if bucket > 1 else " per tick"))
    bottom.set_xlabel("seconds since the first tick")
    bottom.grid(True, axis="y", alpha=0.3)
    if len(stats) > 1:
        bottom.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stats", nargs="+", help="receiver stats JSON files")
    parser.add_argument("--label", action="append", default=[],
                        help="a name per file, in order (default: the file name)")
    parser.add_argument("-o", "--output", default="lateness.png")
    parser.add_argument("--title")
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--log", dest="log", action="store_true", default=None)
    scale.add_argument("--linear", dest="log", action="store_false")
    parser.add_argument("--bucket", type=int, default=1,
                        help="seconds of scheduled time per bar in the bottom panel (default 1)")
    args = parser.parse_args()
    labels = args.label + [os.path.splitext(os.path.basename(p))[0]
                           for p in args.stats[len(args.label):]]
    plot([load(p) for p in args.stats], labels[:len(args.stats)], args.output, args.title,
         args.log, max(1, args.bucket))


if __name__ == "__main__":
    main()
