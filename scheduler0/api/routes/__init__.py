"""One blueprint per resource; app.py mounts each under /api/v1 and /v1."""

from __future__ import annotations

from flask import Blueprint

from scheduler0.api.routes import (
    cluster,
    console,
    credentials,
    executions,
    health,
    jobs,
    manual,
    meta,
    operations,
    pause,
    projects,
    schedules,
)

BLUEPRINTS: tuple[Blueprint, ...] = (
    credentials.bp, projects.bp, jobs.bp, executions.bp, health.bp, schedules.bp, meta.bp,
    cluster.bp, operations.bp, pause.bp, manual.bp, console.bp,
)
