"""The command handlers by command type (scheduler0.messages.commands): one small function each.

Each handler decodes its body with the body type of scheduler0.messages first (a malformed body
is refused with 400 inside the transaction, like any other refusal)."""

from __future__ import annotations

from scheduler0 import messages
from scheduler0.store.handlers import (
    cluster,
    credentials,
    jobs,
    leases,
    manual,
    notifications,
    operations,
    pipeline,
    projects,
    retention,
)
from scheduler0.store.tx import Handler

HANDLERS: dict[str, Handler] = {
    messages.CREDENTIAL_CREATE: credentials.create,
    messages.CREDENTIAL_UPDATE: credentials.update,
    messages.CREDENTIAL_DELETE: credentials.delete,
    messages.PROJECT_CREATE: projects.create,
    messages.PROJECT_UPDATE: projects.update,
    messages.PROJECT_DELETE: projects.delete,
    messages.JOB_CREATE: jobs.create,
    messages.JOB_UPDATE: jobs.update,
    messages.JOB_DELETE: jobs.delete,
    messages.PLAN: pipeline.plan,
    messages.RESULT: pipeline.result,
    messages.PRUNE: retention.prune,
    messages.LEASE_REVOKE: leases.revoke,
    messages.OPERATION_CREATE: operations.create,
    messages.OPERATION_STEP: operations.step,
    messages.OPERATION_FINISH: operations.finish,
    messages.CLUSTER_PAUSE: cluster.pause,
    messages.CLUSTER_RESUME: cluster.resume,
    messages.NOTIFICATION_SETTLE: notifications.settle,
    messages.JOB_RUN: manual.run,
    messages.EXECUTION_REDELIVER: manual.redeliver,
    messages.JOB_BACKFILL: manual.backfill,
}
