"""Node configuration: defaults, then `config.yml`, then `SCHEDULER0_*` environment variables.

`load(environ, path)` is the one entry point. Every key has a working default, so a node starts
with no file at all. Every problem raises `ConfigError` with one line naming the key, the value
and what is accepted; the CLI prints it and exits with code 2.

Port rule (so three nodes on one host need only Host, Port, NodeId, Bootstrap, RaftAddress,
Replicas and DataDir): the Raft port defaults to Port + 1000 and the executor intake port (where
the leader pushes batches to this node) to Port + 2000. Processes of one node talk over ipc
sockets under `<DataDir>/run`, so they need no ports at all.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from scheduler0.errors import ConfigError

ENV_PREFIX = "SCHEDULER0_"
RAFT_PORT_OFFSET = 1000
INTAKE_PORT_OFFSET = 2000
MAX_SIGNING_SECRET_GRACE = 30 * 86400  # seconds; also the most a rotation may ask for
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Where a callback must never go unless the operator says otherwise: link-local (IPv4 and IPv6)
# holds the cloud metadata services (169.254.169.254, fd00:ec2::254 on AWS, 100.100.100.200 on
# Alibaba Cloud), which hand out instance credentials to whoever asks from the host.
DEFAULT_DENIED_NETWORKS = ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128",
                           "100.100.100.200/32")

# Keys of the original Go server that have no meaning here: accepted so an old config file
# still loads, and reported once at start-up as ignored.
IGNORED_LEGACY_KEYS = (
    "RaftTransportMaxPool",
    "RaftTransportTimeout",
    "RaftCommitTimeout",
    "RaftMaxAppendEntries",
    "PeerAuthRequestTimeoutMs",
    "PeerConnectRetryMax",
    "PeerConnectRetryDelaySeconds",
    "ExecutionLogFetchFanIn",
    "ExecutionLogFetchIntervalSeconds",
    "NodeAdvAddress",
)


@dataclass(frozen=True)
class Replica:
    """One member of the cluster, as every node's config lists it."""

    node_id: int
    address: str  # http://host:port of its API
    raft_address: str  # host:port of its Raft endpoint
    intake_address: str  # host:port of its executor intake (ZeroMQ), derived by the port rule


@dataclass(frozen=True)
class Settings:
    """A node's settings. Field names are the snake_case of the YAML keys (see KEYS)."""

    log_level: str = "INFO"  # DEBUG, INFO, WARNING or ERROR
    protocol: str = "http"  # scheme of this node's API address (TLS belongs in a reverse proxy)
    host: str = "127.0.0.1"  # address the API listens on and advertises
    port: int = 9091  # API port
    data_dir: str = "./scheduler0-data"  # SQLite file, Raft journal and ipc sockets live here
    secrets_file: str = ".scheduler0"  # node secrets (SecretKey, AuthUsername, AuthPassword)
    node_id: int = 1  # this node's id, unique in the cluster
    bootstrap: bool = True  # informational: pysyncobj elects without a designated bootstrapper
    raft_address: str = ""  # host:port for Raft; default Host:(Port+1000)
    intake_address: str = ""  # host:port for batches from the leader; default Host:(Port+2000)
    replicas: tuple[Replica, ...] = ()  # every node of the cluster (this one included); empty = one node
    max_memory: int = 2048  # MB for the whole node; new work pauses at 70 %, resumes below 60 %
    max_workers: int = 2  # executor processes
    max_queue: int = 100  # batches one executor holds at most
    job_execution_timeout: float = 10.0  # seconds per callback attempt
    job_execution_retry_delay: float = 1.0  # seconds before the first retry; doubles each retry
    job_execution_retry_max: int = 3  # retries after the first attempt
    http_executor_payload_max_size_mb: float = 1.0  # largest callback body; bigger batches are split
    planner_look_ahead: float = 5.0  # seconds ahead the leader plans due ticks
    misfire_threshold: int = 60  # seconds late before a tick counts as a misfire
    misfire_run_all_cap: int = 100  # most missed ticks one job replays under run_all
    execution_retention_hours: int = 168  # failed and missed executions kept this long (0 = forever)
    succeeded_retention_minutes: int = 60  # succeeded executions kept this long (0 = forever)
    failed_retention_rows: int = 50_000_000  # failed and missed executions kept at most (0 = no cap)
    minute_rollup_retention_days: int = 14  # per-minute counts kept this long (0 = forever)
    hour_rollup_retention_days: int = 400  # per-hour counts kept this long (0 = forever)
    default_timezone: str = "UTC"  # zone for jobs created without one
    signing_secret_grace_seconds: int = 86400  # seconds a rotated signing secret still signs callbacks
    callback_allowed_networks: tuple[str, ...] = ()  # CIDRs callbacks may reach; empty = any not denied
    callback_denied_networks: tuple[str, ...] = DEFAULT_DENIED_NETWORKS  # CIDRs callbacks never reach
    api_connection_limit: int = 1000  # open API connections at most; more wait in the listen backlog
    api_channel_timeout: float = 30.0  # seconds an API connection may stay idle or stall mid-request
    api_use_poll: bool = True  # poll(2) instead of select(2): no 1024-descriptor ceiling
    api_max_body_mb: float = 16.0  # largest API request body; bigger ones get 413 at the header
    write_timeout: float = 10.0  # seconds an API write waits for its command to commit
    raft_election_timeout: float = 0.5  # seconds; pysyncobj raftMinTimeout (max is 2.5x)
    raft_heartbeat_timeout: float = 0.1  # seconds between heartbeats (appendEntriesPeriod)
    raft_leader_fallback_timeout: float = 3.0  # a leader without a majority steps down after this
    # The Raft log lives in memory and in the journal until a snapshot: at 1M executions a
    # minute about 1,100 entries (~130 KB each) a minute, so 3,000 keep it near 400 MB.
    raft_snapshot_threshold: int = 3000  # log entries before a snapshot (copied in the background)
    raft_snapshot_interval: int = 3600  # seconds between snapshots at most
    ignored_keys: tuple[str, ...] = field(default=(), compare=False)

    @property
    def api_address(self) -> str:
        return f"{self.protocol}://{self.host}:{self.port}"

    @property
    def run_dir(self) -> str:
        return os.path.join(self.data_dir, "run")

    @property
    def db_path(self) -> str:
        return os.path.join(self.data_dir, "scheduler0.db")

    @property
    def is_cluster(self) -> bool:
        return len(self.replicas) > 1

    def peers(self) -> tuple[Replica, ...]:
        """The other members of the cluster."""
        return tuple(r for r in self.replicas if r.node_id != self.node_id)

    def ipc(self, name: str) -> str:
        """The ipc endpoint of one intra-node socket."""
        return "ipc://" + os.path.abspath(os.path.join(self.run_dir, f"{name}.sock"))


@dataclass(frozen=True)
class Key:
    """How one YAML key parses and validates."""

    yaml_name: str
    attr: str
    kind: type
    accepted: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()


def _key(yaml_name: str, kind: type, accepted: str, **kw: Any) -> Key:
    return Key(yaml_name, snake_case(yaml_name), kind, accepted, **kw)


def snake_case(camel: str) -> str:
    """`HTTPExecutorPayloadMaxSizeMb` -> `http_executor_payload_max_size_mb`."""
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z]|\d|\b)|[A-Z]?[a-z]+|[A-Z]+|\d+", camel)
    return "_".join(w.lower() for w in words)


KEYS: tuple[Key, ...] = (
    _key("LogLevel", str, "one of DEBUG, INFO, WARNING, ERROR", choices=LOG_LEVELS),
    _key("Protocol", str, "http", choices=("http",)),
    _key("Host", str, "a host name or IP address"),
    _key("Port", int, "an integer port 1-65535", low=1, high=65535 - INTAKE_PORT_OFFSET),
    _key("DataDir", str, "a directory path"),
    _key("SecretsFile", str, "a file path"),
    _key("NodeId", int, "an integer 1-1000000", low=1, high=1_000_000),
    _key("Bootstrap", bool, "true or false"),
    _key("RaftAddress", str, "host:port"),
    _key("IntakeAddress", str, "host:port"),
    _key("Replicas", list, "a list of {Address, RaftAddress, NodeId}"),
    _key("MaxMemory", int, "megabytes, an integer 64-1048576", low=64, high=1_048_576),
    _key("MaxWorkers", int, "an integer 1-64", low=1, high=64),
    _key("MaxQueue", int, "an integer 1-100000", low=1, high=100_000),
    _key("JobExecutionTimeout", float, "seconds, 0.1-3600", low=0.1, high=3600),
    _key("JobExecutionRetryDelay", float, "seconds, 0-3600", low=0, high=3600),
    _key("JobExecutionRetryMax", int, "an integer 0-20", low=0, high=20),
    _key("HTTPExecutorPayloadMaxSizeMb", float, "megabytes, 0.001-100", low=0.001, high=100),
    _key("PlannerLookAhead", float, "seconds, 0.2-30", low=0.2, high=30),
    _key("MisfireThreshold", int, "seconds, 1-86400", low=1, high=86400),
    _key("MisfireRunAllCap", int, "an integer 1-100000", low=1, high=100_000),
    _key("ExecutionRetentionHours", int, "hours, 0 (forever) to 87600", low=0, high=87600),
    _key("SucceededRetentionMinutes", int, "minutes, 0 (forever) to 5256000", low=0,
         high=5_256_000),
    _key("FailedRetentionRows", int, "an integer, 0 (no cap) to 10000000000", low=0,
         high=10_000_000_000),
    _key("MinuteRollupRetentionDays", int, "days, 0 (forever) to 3650", low=0, high=3650),
    _key("HourRollupRetentionDays", int, "days, 0 (forever) to 36500", low=0, high=36500),
    _key("DefaultTimezone", str, "an IANA time zone such as UTC or Europe/London"),
    _key("SigningSecretGraceSeconds", int, "seconds, 0 (none) to 2592000 (30 days)", low=0,
         high=MAX_SIGNING_SECRET_GRACE),
    _key("CallbackAllowedNetworks", list, "a list of CIDRs such as 127.0.0.0/8"),
    _key("CallbackDeniedNetworks", list, "a list of CIDRs such as 169.254.0.0/16 ([] denies none)"),
    _key("ApiConnectionLimit", int, "an integer 10-100000", low=10, high=100_000),
    _key("ApiChannelTimeout", float, "seconds, 1-3600", low=1, high=3600),
    _key("ApiUsePoll", bool, "true or false"),
    _key("ApiMaxBodyMb", float, "megabytes, 0.01-1024", low=0.01, high=1024),
    _key("WriteTimeout", float, "seconds, 0.5-300", low=0.5, high=300),
    _key("RaftElectionTimeout", float, "seconds, 0.2-60", low=0.2, high=60),
    _key("RaftHeartbeatTimeout", float, "seconds, 0.01-10", low=0.01, high=10),
    _key("RaftLeaderFallbackTimeout", float, "seconds, 1-600", low=1, high=600),
    _key("RaftSnapshotThreshold", int, "an integer 1000-10000000", low=1000, high=10_000_000),
    _key("RaftSnapshotInterval", int, "seconds, 60-604800", low=60, high=604_800),
)
KEYS_BY_NAME = {k.yaml_name: k for k in KEYS}


def env_name(yaml_name: str) -> str:
    return ENV_PREFIX + snake_case(yaml_name).upper()


def load(environ: Mapping[str, str] | None = None, path: str | None = None) -> Settings:
    """Settings from defaults, then the file at `path` (if given), then `environ`.

    Raises ConfigError (one line: key, value, what is accepted).
    """
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    ignored: list[str] = []
    if path is not None:
        raw.update(_read_file(path, ignored))
    for key in KEYS:
        text = environ.get(env_name(key.yaml_name))
        if text is not None:
            raw[key.yaml_name] = _from_env_text(key, text)
    values = {KEYS_BY_NAME[name].attr: _coerce(KEYS_BY_NAME[name], v) for name, v in raw.items()}
    settings = dataclasses.replace(Settings(), **values, ignored_keys=tuple(ignored))
    return _derive(settings)


def _read_file(path: str, ignored: list[str]) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except OSError as exc:
        raise ConfigError(f"config file {path!r} cannot be read ({exc.strerror}); "
                          "pass a readable YAML file or omit --config") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"config file {path!r} is not valid YAML{line}; "
                          "fix the syntax (see `scheduler0 config init`)") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"config file {path!r} must be a mapping of Key: value, "
                          f"not a {type(doc).__name__}")
    result: dict[str, Any] = {}
    for name, value in doc.items():
        if name in IGNORED_LEGACY_KEYS:
            ignored.append(str(name))
        elif name in KEYS_BY_NAME:
            result[name] = value
        else:
            raise ConfigError(f"config key {name!r} is unknown; "
                              f"known keys: {', '.join(KEYS_BY_NAME)}")
    return result


def _from_env_text(key: Key, text: str) -> Any:
    if key.kind is not list:
        return text
    try:
        return json.loads(text)
    except ValueError:
        if key.yaml_name in ("CallbackAllowedNetworks", "CallbackDeniedNetworks"):
            return [part.strip() for part in text.split(",") if part.strip()]
        raise ConfigError(f"{env_name(key.yaml_name)}={text!r}: expected JSON for "
                          f"{key.yaml_name} ({key.accepted})") from None


def _bad(key: Key, value: Any) -> ConfigError:
    return ConfigError(f"config key {key.yaml_name}: {value!r} is not accepted; "
                       f"expected {key.accepted}")


def _coerce(key: Key, value: Any) -> Any:
    if key.kind is bool:
        return _coerce_bool(key, value)
    if key.kind in (int, float):
        return _check_range(key, _coerce_number(key, value))
    if key.kind is str:
        return _coerce_str(key, value)
    if key.yaml_name == "Replicas":
        return _coerce_replicas(key, value)
    return _coerce_networks(key, value)


def _coerce_bool(key: Key, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise _bad(key, value)


def _coerce_number(key: Key, value: Any) -> float | int:
    if isinstance(value, bool):
        raise _bad(key, value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _bad(key, value) from None
    if key.kind is int:
        if number != int(number):
            raise _bad(key, value)
        return int(number)
    return number


def _check_range(key: Key, number: float | int) -> float | int:
    if key.low is not None and number < key.low or key.high is not None and number > key.high:
        raise _bad(key, number)
    return number


def _coerce_str(key: Key, value: Any) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise _bad(key, value)
    text = str(value).strip()
    if key.choices:
        upper = "WARNING" if text.upper() == "WARN" else text.upper()
        candidate = upper if key.yaml_name == "LogLevel" else text.lower()
        if candidate not in key.choices:
            raise _bad(key, value)
        return candidate
    if not text:
        raise _bad(key, value)
    if key.yaml_name == "DefaultTimezone":
        _check_timezone(key, text)
    if key.yaml_name in ("RaftAddress", "IntakeAddress"):
        split_host_port(text, key.yaml_name)
    return text


def _check_timezone(key: Key, name: str) -> None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _bad(key, name) from None


def _coerce_networks(key: Key, value: Any) -> tuple[str, ...]:
    import ipaddress

    if not isinstance(value, list):
        raise _bad(key, value)
    nets = []
    for item in value:
        try:
            nets.append(str(ipaddress.ip_network(str(item), strict=False)))
        except ValueError:
            raise ConfigError(f"config key {key.yaml_name}: {item!r} is not a network; "
                              f"expected {key.accepted}") from None
    return tuple(nets)


def _coerce_replicas(key: Key, value: Any) -> tuple[dict[str, Any], ...]:
    """Checked here, turned into Replica objects by _derive once the port rule can apply."""
    if not isinstance(value, list):
        raise _bad(key, value)
    entries = []
    for item in value:
        if not isinstance(item, dict):
            raise _bad(key, item)
        norm = {snake_case(str(k)).replace("node_id", "node_id"): v for k, v in item.items()}
        missing = [k for k in ("address", "raft_address", "node_id") if k not in norm]
        if missing:
            raise ConfigError(f"config key Replicas: entry {item!r} lacks "
                              f"{', '.join(missing)}; expected {key.accepted}")
        entries.append(norm)
    return tuple(entries)


def split_host_port(text: str, key_name: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(f"config key {key_name}: {text!r} is not accepted; "
                          "expected host:port such as 127.0.0.1:10091")
    return host, int(port)


def _port_of_url(url: str) -> tuple[str, int]:
    match = re.fullmatch(r"https?://([^:/]+):(\d+)/?", url.strip())
    if not match:
        raise ConfigError(f"config key Replicas: Address {url!r} is not accepted; "
                          "expected http://host:port")
    return match.group(1), int(match.group(2))


def _derive(s: Settings) -> Settings:
    raft = s.raft_address or f"{s.host}:{s.port + RAFT_PORT_OFFSET}"
    intake = s.intake_address or f"{s.host}:{s.port + INTAKE_PORT_OFFSET}"
    replicas = tuple(_replica(entry) for entry in s.replicas)  # type: ignore[arg-type]
    if replicas and s.node_id not in {r.node_id for r in replicas}:
        raise ConfigError(f"config key NodeId: {s.node_id} is not in Replicas; "
                          "list this node in Replicas or set NodeId to one of its entries")
    if len({r.node_id for r in replicas}) != len(replicas):
        raise ConfigError("config key Replicas: two entries share a NodeId; give each node its own")
    return dataclasses.replace(s, raft_address=raft, intake_address=intake, replicas=replicas)


def _replica(entry: dict[str, Any]) -> Replica:
    host, port = _port_of_url(str(entry["address"]))
    split_host_port(str(entry["raft_address"]), "Replicas.RaftAddress")
    intake = str(entry.get("intake_address") or f"{host}:{port + INTAKE_PORT_OFFSET}")
    try:
        node_id = int(entry["node_id"])
    except (TypeError, ValueError):
        raise ConfigError(f"config key Replicas: NodeId {entry['node_id']!r} is not an integer") from None
    return Replica(node_id, str(entry["address"]).rstrip("/"), str(entry["raft_address"]), intake)


def render_default_yaml() -> str:
    """The commented config.yml that `scheduler0 config init` writes."""
    import inspect

    comments = _field_comments(inspect.getsource(Settings))
    defaults = Settings()
    lines = ["# scheduler0 node configuration. Every key is optional; shown are the defaults.",
             f"# Each key can be overridden by an environment variable {ENV_PREFIX}<UPPER_SNAKE_KEY>,",
             "# e.g. SCHEDULER0_PORT=9092, SCHEDULER0_MAX_MEMORY=4096.",
             "# Port rule: Raft listens on Port+1000 and the executor intake on Port+2000",
             "# unless RaftAddress / IntakeAddress say otherwise.", ""]
    for key in KEYS:
        value = getattr(defaults, key.attr)
        lines.append(f"# {comments.get(key.attr, '')} [{key.accepted}]")
        lines.append(_yaml_line(key, value))
    lines += ["", "# A three-node cluster lists every node (this one included), e.g.:",
              "# Replicas:",
              "#   - {NodeId: 1, Address: 'http://127.0.0.1:9091', RaftAddress: '127.0.0.1:10091'}",
              "#   - {NodeId: 2, Address: 'http://127.0.0.1:9092', RaftAddress: '127.0.0.1:10092'}",
              "#   - {NodeId: 3, Address: 'http://127.0.0.1:9093', RaftAddress: '127.0.0.1:10093'}", ""]
    return "\n".join(lines)


def _yaml_line(key: Key, value: Any) -> str:
    if key.yaml_name == "RaftAddress":
        return "# RaftAddress: 127.0.0.1:10091  (default Host:Port+1000)"
    if key.yaml_name == "IntakeAddress":
        return "# IntakeAddress: 127.0.0.1:11091  (default Host:Port+2000)"
    if isinstance(value, tuple):
        value = list(value)
    return yaml.safe_dump({key.yaml_name: value}, default_flow_style=True).strip().strip("{}")


def _field_comments(source: str) -> dict[str, str]:
    found = {}
    for match in re.finditer(r"^\s+(\w+): [^=]+= [^#\n]+#\s*(.+)$", source, re.M):
        found[match.group(1)] = match.group(2).strip()
    return found


DEFAULT_CONFIG_FILE = "config.yml"


def resolve_config_path(given: str | None) -> str | None:
    """--config, else SCHEDULER0_CONFIG, else ./config.yml when it exists, else none."""
    if given:
        return given
    from_env = os.environ.get("SCHEDULER0_CONFIG")
    if from_env:
        return from_env
    return DEFAULT_CONFIG_FILE if os.path.exists(DEFAULT_CONFIG_FILE) else None
