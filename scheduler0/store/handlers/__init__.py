"""The command handlers by command type (scheduler0.commands): one small function each."""

from __future__ import annotations

from scheduler0 import commands
from scheduler0.store.handlers import credentials, executions, jobs, pipeline, projects
from scheduler0.store.tx import Handler

HANDLERS: dict[str, Handler] = {
    commands.CREDENTIAL_CREATE: credentials.create,
    commands.CREDENTIAL_UPDATE: credentials.update,
    commands.CREDENTIAL_DELETE: credentials.delete,
    commands.PROJECT_CREATE: projects.create,
    commands.PROJECT_UPDATE: projects.update,
    commands.PROJECT_DELETE: projects.delete,
    commands.JOB_CREATE: jobs.create,
    commands.JOB_UPDATE: jobs.update,
    commands.JOB_DELETE: jobs.delete,
    commands.PLAN: pipeline.plan,
    commands.RESULT: pipeline.result,
    commands.PRUNE: executions.prune,
}
