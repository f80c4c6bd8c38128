"""Every message of scheduler0, typed, with one encode and one decode each.

    commands.py  Raft commands: the journal's dicts (Command), their bodies (CredentialCreate ...
                 Plan, Result, Prune) with named rows (PlanRow, Advance, ResultRow), and the
                 apply results (ok, refused, and the dedup table's pack_result)
    wire.py      ZeroMQ messages (Batch, Results, ExecutorLoad, Heartbeat, LeaseAck, LeaseState,
                 Memory, Stop, Submit, Membership, StatusRequest, Reply): `encode`, and one
                 Channel per kind of socket that decodes what that socket carries
    fields.py    the field checks command bodies are decoded with

Pure data: no I/O, no clock (a command's time is stamped by `make` from scheduler0.clock).
The representation is msgspec Structs: a batch encodes and decodes in well under half the time
msgpack took with dicts, and every field's type is checked while decoding.
"""

from scheduler0.messages.commands import (
    BODIES,
    COMMAND_VERSION,
    CREDENTIAL_CREATE,
    CREDENTIAL_DELETE,
    CREDENTIAL_UPDATE,
    JOB_CREATE,
    JOB_DELETE,
    JOB_UPDATE,
    PLAN,
    PROJECT_CREATE,
    PROJECT_DELETE,
    PROJECT_UPDATE,
    PRUNE,
    RESULT,
    TYPES,
    Advance,
    Body,
    Command,
    CredentialCreate,
    CredentialDelete,
    CredentialUpdate,
    JobCreate,
    JobDelete,
    JobUpdate,
    Plan,
    PlanBatch,
    PlanMissed,
    PlanRow,
    ProjectCreate,
    ProjectDelete,
    ProjectUpdate,
    Prune,
    Result,
    ResultRow,
    column_rows,
    command,
    fold_column,
    make,
    map_column,
    ok,
    pack_result,
    refused,
    unfold_column,
    unpack_result,
)
from scheduler0.messages.wire import (
    BATCHES,
    CONTROL,
    INTAKE,
    LEASES,
    REPLIES,
    REQUESTS,
    RESULTS,
    WIRE_VERSION,
    Batch,
    Channel,
    Execution,
    ExecutorLoad,
    Heartbeat,
    LeaseAck,
    LeaseId,
    LeaseState,
    Membership,
    Memory,
    Message,
    Outcome,
    Reply,
    ReplyError,
    Request,
    Results,
    StatusRequest,
    Stop,
    Submit,
    Unreadable,
    Versioned,
    as_map,
    encode,
)

__all__ = [
    "BATCHES", "BODIES", "COMMAND_VERSION", "CONTROL", "CREDENTIAL_CREATE", "CREDENTIAL_DELETE",
    "CREDENTIAL_UPDATE", "INTAKE", "JOB_CREATE", "JOB_DELETE", "JOB_UPDATE", "LEASES", "PLAN",
    "PROJECT_CREATE", "PROJECT_DELETE", "PROJECT_UPDATE", "PRUNE", "REPLIES", "REQUESTS",
    "RESULT", "RESULTS", "TYPES", "WIRE_VERSION", "Advance", "Batch", "Body", "Channel",
    "Command", "CredentialCreate", "CredentialDelete", "CredentialUpdate", "Execution",
    "ExecutorLoad", "Heartbeat", "JobCreate", "JobDelete", "JobUpdate", "LeaseAck", "LeaseId",
    "LeaseState", "Memory", "Membership", "Message", "Outcome", "Plan", "PlanBatch",
    "PlanMissed", "PlanRow", "ProjectCreate", "ProjectDelete", "ProjectUpdate", "Prune",
    "Reply", "ReplyError", "Request", "Result", "ResultRow", "Results", "StatusRequest", "Stop",
    "Submit", "Unreadable", "Versioned", "as_map", "column_rows", "command", "encode",
    "fold_column", "make", "map_column", "ok", "pack_result", "refused", "unfold_column",
    "unpack_result",
]
