"""The observability pack in contrib/: the alert rules pass promtool, the dashboard is
importable JSON with a query on every panel, and every metric the two query is exposed by a
real node that has delivered a tick to a real receiver (loopback only; stopped by pid)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from scheduler0.testing import wait_for
from tests.integration.nodeproc import NodeProcess
from tests.integration.receiver import Receiver

CONTRIB = Path(__file__).resolve().parents[2] / "contrib"
DASHBOARD = CONTRIB / "grafana" / "scheduler0.json"
PROMETHEUS = CONTRIB / "prometheus"
RULES = PROMETHEUS / "scheduler0-alerts.yml"
METRIC_NAME = re.compile(r"\bscheduler0_[a-z0-9_]+")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (Debian: apt-get install -y "
                             "--no-install-recommends prometheus)")


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that shows data: rows only group them (and may nest collapsed ones)."""
    for panel in dashboard["panels"]:
        if panel.get("type") == "row":
            yield from panel.get("panels") or []
        else:
            yield panel


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in panels(dashboard) for target in panel["targets"]]


def rule_expressions() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def queried_names(expressions: list[str]) -> set[str]:
    return {name for expr in expressions for name in METRIC_NAME.findall(expr)}


def exposed(metrics_text: str) -> tuple[set[str], set[str]]:
    """(every sample name in the exposition, the names of its histogram families)."""
    samples = {line.split("{")[0].split(" ")[0] for line in metrics_text.splitlines()
               if line and not line.startswith("#")}
    histograms = {line.split()[2] for line in metrics_text.splitlines()
                  if line.startswith("# TYPE ") and line.split()[3] == "histogram"}
    return samples, histograms


def missing_names(wanted: set[str], metrics_text: str) -> list[str]:
    samples, histograms = exposed(metrics_text)

    def found(name: str) -> bool:
        family = next((name[: -len(s)] for s in HISTOGRAM_SUFFIXES if name.endswith(s)), None)
        return name in samples or (family is not None and family in histograms)

    return sorted(name for name in wanted if not found(name))


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=PROMETHEUS, capture_output=True, text=True,
                          timeout=60, check=False)


@needs_promtool
def test_promtool_accepts_the_rules_and_the_example_config() -> None:
    for args in (("check", "rules", RULES.name), ("check", "config", "prometheus.yml")):
        done = promtool(*args)
        assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_each_alert_fires_on_its_case() -> None:
    done = promtool("test", "rules", "scheduler0-alerts.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_test_case() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    alerts = {rule["alert"] for group in groups for rule in group["rules"]}
    cases = yaml.safe_load((PROMETHEUS / "scheduler0-alerts.test.yml").read_text())["tests"]
    tested = {check["alertname"] for case in cases for check in case["alert_rule_test"]}
    assert alerts == tested


def test_dashboard_is_importable_and_every_panel_queries() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert [entry["name"] for entry in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    shown = list(panels(dashboard))
    assert shown
    for panel in shown:
        assert panel["targets"], f"panel {panel['title']!r} has no target"
        assert all(t["expr"].strip() for t in panel["targets"]), panel["title"]
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


def test_the_helpers_read_histograms_and_missing_names() -> None:
    text = ("# TYPE scheduler0_x_seconds histogram\nscheduler0_x_seconds_bucket{le=\"1\"} 1\n"
            "scheduler0_x_seconds_count 1\nscheduler0_up{node=\"1\"} 1\n")
    wanted = {"scheduler0_x_seconds_bucket", "scheduler0_x_seconds_sum", "scheduler0_up",
              "scheduler0_absent_total"}
    assert missing_names(wanted, text) == ["scheduler0_absent_total"]
    assert queried_names(['rate(scheduler0_a_total{x="y"}[5m]) / scheduler0_b']) == {
        "scheduler0_a_total", "scheduler0_b"}


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NodeProcess]:
    started = NodeProcess(tmp_path)
    try:
        yield started.start()
    finally:
        started.kill_all()


def test_a_live_node_exposes_every_metric_the_pack_queries(node: NodeProcess) -> None:
    wanted = queried_names(dashboard_expressions() + rule_expressions())
    assert len(wanted) >= 10, wanted  # the pattern found the queries' names
    node.wait_leader()
    with Receiver() as rx:
        project = node.api("POST", "/projects", {"name": "observed"})
        node.api("POST", "/jobs", [{"project_id": project["id"], "spec": "@every 1s",
                                    "callback_url": rx.url("/hook")}])
        rx.wait_for_requests(1, timeout=20)
        # The executors report their counters about every second; the leader's view of the
        # node's lease comes with its heartbeats: wait until everything queried is there.
        last: dict[str, str] = {}

        def complete() -> bool:
            last["text"] = node.raw("/metrics")
            delivered = re.search(r"^scheduler0_callbacks_delivered_total (\d+)$",
                                  last["text"], re.M)
            return bool(delivered and int(delivered.group(1)) >= 1
                        and not missing_names(wanted, last["text"]))

        try:
            wait_for(complete, timeout=20, interval=0.2, message="every queried metric")
        except AssertionError:
            pytest.fail(f"missing from /metrics: {missing_names(wanted, last['text'])}\n"
                        f"{last['text'][-3000:]}")
