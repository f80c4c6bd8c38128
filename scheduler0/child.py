"""Entry point of every child process: `python -m scheduler0.child ROLE [--index N]`.

The supervisor passes the config path in SCHEDULER0_CONFIG_PATH so children load exactly the
settings it validated (file plus the same inherited environment).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from scheduler0 import config, logs
from scheduler0.errors import ConfigError
from scheduler0.lifecycle import Lifecycle

ROLES = ("coordinator", "api", "executor")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scheduler0.child")
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("--index", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        settings = config.load(os.environ, os.environ.get("SCHEDULER0_CONFIG_PATH") or None)
    except ConfigError as exc:
        print(f"scheduler0: {exc}", file=sys.stderr)
        return 2
    role_name = args.role if args.role != "executor" else f"executor-{args.index}"
    logs.setup(settings.log_level, settings.node_id, role_name)
    lifecycle = Lifecycle(settings)
    lifecycle.install_signal_handlers()
    lifecycle.watch_control()
    try:
        return _run_role(args.role, settings, lifecycle, args.index)
    except Exception:
        logging.getLogger("scheduler0.child").exception("%s crashed", role_name)
        return 1


def _run_role(role: str, settings: config.Settings, lifecycle: Lifecycle, index: int) -> int:
    if role == "coordinator":
        from scheduler0.coordinator import process as coordinator

        return coordinator.run(settings, lifecycle)
    if role == "api":
        from scheduler0.api import process as api

        return api.run(settings, lifecycle)
    from scheduler0.executor import process as executor

    return executor.run(settings, lifecycle, index)


if __name__ == "__main__":
    sys.exit(main())
