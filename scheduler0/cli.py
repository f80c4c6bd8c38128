"""The `scheduler0` command line (click).

Commands that talk to a running node authenticate with the node secrets (HTTP Basic auth, the
same AuthUsername/AuthPassword every node shares) and print JSON on stdout; messages for people
go to stderr, so `scheduler0 create credential | jq` works.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import click

from scheduler0 import __version__, config, secrets_file
from scheduler0.errors import ConfigError
from scheduler0.vocabulary import CREDENTIAL_ROLES


def load_settings(config_path: str | None) -> config.Settings:
    try:
        return config.load(os.environ, config.resolve_config_path(config_path))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


config_option = click.option("--config", "config_path", metavar="PATH",
                             help="config.yml to use (default: ./config.yml if present).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scheduler0")
def main() -> None:
    """scheduler0: a distributed cron-job server."""


# -- config ----------------------------------------------------------------------------------


@main.group("config")
def config_group() -> None:
    """Write or inspect the node configuration."""


@config_group.command("init")
@click.option("--path", default=config.DEFAULT_CONFIG_FILE, show_default=True, help="Where to write it.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def config_init(path: str, force: bool) -> None:
    """Write a commented config.yml with every key and its default."""
    if os.path.exists(path) and not force:
        raise click.ClickException(f"{path} exists; pass --force to overwrite it")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(config.render_default_yaml())
    click.echo(f"wrote {path}", err=True)


# -- node secrets ------------------------------------------------------------------------------


@main.group("credential")
def credential_group() -> None:
    """Create or show the node secrets file (.scheduler0)."""


MIN_PASSWORD_LENGTH = 12
PASSWORD_ENV = "SCHEDULER0_AUTH_PASSWORD"


class UsageProblem(click.ClickException):
    """A one-line error that exits 2, as a usage error does, without click's usage banner."""

    exit_code = 2


def _refuse_password_flag(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        raise UsageProblem(f"--auth-password is no longer accepted: a password on the command "
                           f"line shows in `ps` and the shell history; set {PASSWORD_ENV} or "
                           "answer the prompt in a terminal (or pass --generate)")


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UsageProblem(f"the auth password must have at least {MIN_PASSWORD_LENGTH} "
                           f"characters (this one has {len(password)})")
    return password


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


@credential_group.command("init")
@config_option
@click.option("--secret-key", help="Cluster secret: derives the Raft and ZeroMQ keys.")
@click.option("--auth-username", help="User name for CLI and node-to-node calls.")
@click.option("--auth-password", hidden=True, expose_value=False, callback=_refuse_password_flag)
@click.option("--generate", is_flag=True, help="Generate every value not given.")
@click.option("--force", is_flag=True, help="Replace an existing secrets file without asking.")
def credential_init(config_path: str | None, secret_key: str | None, auth_username: str | None,
                    generate: bool, force: bool) -> None:
    """Create the node secrets file (mode 0600). Prompts when run in a terminal.

    The auth password (at least 12 characters) comes from SCHEDULER0_AUTH_PASSWORD, else from
    a hidden prompt asked twice, else --generate makes one; it is never taken as an option.
    """
    path = load_settings(config_path).secrets_file
    interactive = _stdin_is_terminal() and not generate
    if os.path.exists(path) and not force:
        if not interactive:
            raise click.ClickException(f"{path} exists; pass --force to replace it")
        click.confirm(f"{path} exists; re-create it?", abort=True)
    fresh = secrets_file.generate()
    from_env = os.environ.get(PASSWORD_ENV)
    values = {"secret_key": secret_key, "auth_username": auth_username,
              "auth_password": _check_password(from_env) if from_env else None}
    for attr, value in list(values.items()):
        if value:
            continue
        if interactive:
            values[attr] = _prompt(attr)
        elif generate:
            values[attr] = getattr(fresh, attr)
        elif attr == "auth_password":
            raise click.ClickException(f"set {PASSWORD_ENV} (at least {MIN_PASSWORD_LENGTH} "
                                       "characters) when not in a terminal (or pass --generate)")
        else:
            raise click.ClickException(f"--{attr.replace('_', '-')} is required when not in a "
                                       "terminal (or pass --generate)")
    try:
        secrets_file.write(path, secrets_file.NodeSecrets(**values))  # type: ignore[arg-type]
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {path} (mode 0600)", err=True)


def _prompt(attr: str) -> str:
    label = attr.replace("_", " ").title()
    if attr == "auth_username":
        return str(click.prompt(label, default="admin"))
    if attr == "auth_password":
        return _check_password(click.prompt(
            f"{label} (at least {MIN_PASSWORD_LENGTH} characters)", hide_input=True,
            confirmation_prompt=True))
    return str(click.prompt(label, hide_input=True))


@credential_group.command("show")
@config_option
@click.option("--reveal", is_flag=True, help="Print the password instead of masking it.")
def credential_show(config_path: str | None, reveal: bool) -> None:
    """Print the node secrets."""
    path = load_settings(config_path).secrets_file
    found = _read_secrets(path)
    shown = found.to_file_dict()
    if not reveal:
        shown["AuthPassword"] = "********"
        shown["SecretKey"] = shown["SecretKey"][:4] + "********"
    click.echo(json.dumps(shown, indent=2))


def _read_secrets(path: str) -> secrets_file.NodeSecrets:
    try:
        found = secrets_file.read(path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if found is None:
        raise click.ClickException(f"no secrets in {path}; run `scheduler0 credential init`")
    return found


# -- running a node --------------------------------------------------------------------------


@main.command("start")
@config_option
def start(config_path: str | None) -> None:
    """Run this node in the foreground (the supervisor and its processes)."""
    run_node(config_path)


def run_node(config_path: str | None) -> None:
    """The supervisor in this process until the node stops; exits with its status."""
    from scheduler0 import supervisor  # imported late: `scheduler0 next` needs no ZeroMQ

    sys.exit(supervisor.start(config.resolve_config_path(config_path)))


@main.command("reset")
@config_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset(config_path: str | None, yes: bool) -> None:
    """Remove this node's data (SQLite file, Raft journal and snapshots)."""
    settings = load_settings(config_path)
    data_dir = os.path.abspath(settings.data_dir)
    if not os.path.exists(data_dir):
        click.echo(f"nothing to remove: {data_dir} does not exist", err=True)
        return
    if not yes:
        click.confirm(f"remove every file in {data_dir}? The node must be stopped", abort=True)
    shutil.rmtree(data_dir)
    click.echo(f"removed {data_dir}", err=True)


@main.command("version")
def version() -> None:
    """Print the version."""
    click.echo(f"scheduler0 {__version__}")


# -- calls to a running node -------------------------------------------------------------------


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None  # urllib then raises the 3xx as an HTTPError


def node_opener() -> urllib.request.OpenerDirector:
    """The urllib opener for every call to a node: no proxy and no redirects.

    Both would hand the node's Basic auth to someone else: urllib sends requests through any
    http_proxy/all_proxy in the environment, and repeats the Authorization header to wherever
    a redirect points. The node's API never redirects the CLI's requests.
    """
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _RefuseRedirects())


class NodeClient:
    """HTTP calls to this node's API with the node secrets (Basic auth)."""

    def __init__(self, settings: config.Settings):
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        self.base = f"{settings.protocol}://{host}:{settings.port}/api/v1"
        found = _read_secrets(settings.secrets_file)
        token = base64.b64encode(f"{found.auth_username}:{found.auth_password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None,
             query: dict[str, Any] | None = None) -> Any:
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers=self.headers)
        try:
            with node_opener().open(request, timeout=30) as response:
                payload = json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            payload = _json_or_none(exc.read())
            message = (payload or {}).get("error", {}).get("message") if payload else None
            raise click.ClickException(f"{method} {path} failed ({exc.code}): "
                                       f"{message or exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise click.ClickException(f"cannot reach the node at {self.base} ({reason}); "
                                       "is `scheduler0 start` running?") from None
        return payload.get("data") if isinstance(payload, dict) else payload


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False))


@main.group("create")
def create_group() -> None:
    """Create things on the running node."""


@create_group.command("credential")
@config_option
@click.option("--role", type=click.Choice(CREDENTIAL_ROLES), default=None,
              help="read (GET only), write (also jobs) or admin (also projects, credentials "
                   "and the cluster). Default: admin.")
@click.option("--project", "projects", type=int, multiple=True, metavar="ID",
              help="Limit the credential to this project; repeat for several. Default: every "
                   "project.")
def create_credential(config_path: str | None, role: str | None,
                      projects: tuple[int, ...]) -> None:
    """Create an API key and secret; prints one JSON object (id, api_key, api_secret, role,
    projects). Without --role and --project it may do everything, on every project."""
    body: dict[str, Any] = {}
    if role is not None:
        body["role"] = role
    if projects:
        body["projects"] = list(projects)
    data = NodeClient(load_settings(config_path)).call("POST", "/credentials", body)
    click.echo(json.dumps(data))


@create_group.command("job")
@config_option
@click.option("--project-id", type=int, required=True, help="The job's project.")
@click.option("--spec", default=None,
              help='Cron spec, e.g. "*/5 * * * *", "H/15 * * * *" (H: a per-job value from the '
                   'job id), "@every 1m H" or "@at 2030-01-02T15:04:05Z".')
@click.option("--run-at", default=None,
              help='Instead of --spec: run once, at this RFC 3339 instant, or "now".')
@click.option("--callback-url", required=True, help="The URL each tick POSTs to.")
@click.option("--timezone", default=None, help="IANA zone (default: the node's).")
@click.option("--data", default=None, help="Text echoed in every callback.")
@click.option("--start-date", default=None, help="RFC 3339: no tick before it.")
@click.option("--end-date", default=None, help="RFC 3339: no tick after it.")
@click.option("--misfire-policy", type=click.Choice(["run_once", "run_all", "skip"]),
              default=None)
@click.option("--paused", is_flag=True, help="Create it paused.")
@click.option("--dry-run", is_flag=True,
              help="Only check it: print the job as it would be, with its next fire times, "
                   "and create nothing.")
def create_job(config_path: str | None, project_id: int, spec: str | None,
               run_at: str | None, callback_url: str, timezone: str | None, data: str | None,
               start_date: str | None, end_date: str | None, misfire_policy: str | None,
               paused: bool, dry_run: bool) -> None:
    """Create a job (one of --spec and --run-at); prints the job as JSON."""
    if (spec is None) == (run_at is None):
        raise click.UsageError("give one of --spec (a repeating job) and --run-at (a job that "
                               "runs once)")
    given = {"project_id": project_id, "spec": spec, "run_at": run_at,
             "callback_url": callback_url, "timezone": timezone, "data": data,
             "start_date": start_date, "end_date": end_date, "misfire_policy": misfire_policy,
             "paused": paused or None}
    body = {name: value for name, value in given.items() if value is not None}
    query = {"dry_run": "true"} if dry_run else None
    _print_json(NodeClient(load_settings(config_path)).call("POST", "/jobs", body, query))


@main.command("list")
@click.argument("kind", type=click.Choice(["credentials", "projects", "jobs"]))
@config_option
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--offset", type=int, default=0, show_default=True)
@click.option("--project-id", type=int, default=None, help="Only jobs of this project.")
def list_things(kind: str, config_path: str | None, limit: int, offset: int,
                project_id: int | None) -> None:
    """List credentials, projects or jobs of the running node as JSON."""
    query = {"limit": limit, "offset": offset}
    if kind == "jobs" and project_id is not None:
        query["project_id"] = project_id
    _print_json(NodeClient(load_settings(config_path)).call("GET", f"/{kind}", query=query))


@main.group("schedule")
def schedule_group() -> None:
    """Work with cron specs offline."""


@schedule_group.command("preview")
@click.argument("spec")
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone.")
@click.option("--from", "start", default=None, help="RFC 3339 instant (default: now).")
@click.option("--count", type=int, default=10, show_default=True)
@click.option("--job-id", type=int, default=None,
              help="Resolve the spec's H (and @at now) as for the job with this id.")
def schedule_preview(spec: str, timezone: str, start: str | None, count: int,
                     job_id: int | None) -> None:
    """Show the next fire times of SPEC in UTC and in the zone."""
    from scheduler0 import clock, schedule
    from scheduler0.errors import ScheduleError

    try:
        since = schedule.parse_instant(start, "--from") if start else int(clock.now())
        if job_id is None and schedule.has_hash(spec):
            raise ScheduleError("spec: H is a value derived from a job's id; pass --job-id to "
                                "resolve it for that job")
        resolved = schedule.resolve_job_spec(spec, job_id or 0, since)
        if job_id is not None:
            click.echo(f"resolved spec: {resolved.spec}")
        rows = schedule.preview(resolved.spec, timezone, since, count,
                                anchor=since + resolved.anchor_shift)
    except ScheduleError as exc:
        raise click.ClickException(str(exc)) from None
    for row in rows:
        click.echo(f"{row['utc']}  {row['local']}")


@main.group("cluster")
def cluster_group() -> None:
    """Inspect and change cluster membership."""


@cluster_group.command("status")
@config_option
def cluster_status(config_path: str | None) -> None:
    """Nodes, leader and replication lag, as this node sees them."""
    _print_json(NodeClient(load_settings(config_path)).call("GET", "/cluster"))


@cluster_group.command("add")
@click.argument("raft_address")
@config_option
def cluster_add(raft_address: str, config_path: str | None) -> None:
    """Add the node listening for Raft on RAFT_ADDRESS (host:port).

    Start the new node first, with every current member (itself included) in its Replicas.
    """
    _print_json(NodeClient(load_settings(config_path)).call(
        "POST", "/cluster/members", {"raft_address": raft_address}))


@cluster_group.command("remove")
@click.argument("raft_address")
@config_option
def cluster_remove(raft_address: str, config_path: str | None) -> None:
    """Remove the node whose Raft address is RAFT_ADDRESS (host:port)."""
    _print_json(NodeClient(load_settings(config_path)).call(
        "DELETE", f"/cluster/members/{urllib.parse.quote(raft_address, safe='')}"))


if __name__ == "__main__":
    main()


@click.command("scheduler0-supervisor", context_settings={"help_option_names": ["-h", "--help"]})
@config_option
def supervisor_main(config_path: str | None) -> None:
    """Run a scheduler0 node in the foreground (the console script for the systemd unit)."""
    run_node(config_path)
