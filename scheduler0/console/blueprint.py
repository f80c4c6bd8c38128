"""The console's Flask blueprint, apart from the package so the pages can import it."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint

HERE = Path(__file__).resolve().parent

console = Blueprint("console", "scheduler0.console", url_prefix="/ui",
                    template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"),
                    static_url_path="/static")
