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
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import click

from scheduler0 import __version__, config, secrets_file
from scheduler0.errors import ConfigError
from scheduler0.vocabulary import (
    BULK_ACTIONS,
    CREDENTIAL_ROLES,
    NOTIFICATION_FORMATS,
    OPERATION_STATES,
    RATE_CONCURRENCY_RANGE,
    RATE_PER_SECOND_RANGE,
)


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


@main.command("health")
@config_option
@click.option("--timeout", type=float, default=5.0, show_default=True,
              help="Seconds to wait for the node's answer.")
def health(config_path: str | None, timeout: float) -> None:
    """Exit 0 when this node answers healthy, 1 otherwise (a container's HEALTHCHECK).

    Asks the unauthenticated health check, so it needs no secrets: it works in an image
    whose secrets come from the environment of the node's own process only.
    """
    url = node_base_url(load_settings(config_path)) + "/healthcheck"
    try:
        with node_opener().open(url, timeout=timeout) as response:
            answer = json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        answer = _json_or_none(exc.read())
    except (urllib.error.URLError, OSError) as exc:
        raise click.ClickException(f"cannot reach the node at {url} "
                                   f"({getattr(exc, 'reason', exc)})") from None
    status = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(status, dict) or not status.get("healthy"):
        raise click.ClickException(f"not healthy: {json.dumps(status)}")
    click.echo(f"healthy: node {status.get('node_id')}, leader {status.get('leader_id')}")


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


def node_base_url(settings: config.Settings) -> str:
    """This node's API root; a node listening on every address is asked on loopback."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"{settings.protocol}://{host}:{settings.port}/api/v1"


class NodeClient:
    """HTTP calls to this node's API with the node secrets (Basic auth)."""

    def __init__(self, settings: config.Settings):
        self.base = node_base_url(settings)
        found = _read_secrets(settings.secrets_file)
        token = base64.b64encode(f"{found.auth_username}:{found.auth_password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None,
             query: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Any:
        url = self.base + path
        given = {k: v for k, v in (query or {}).items() if v is not None}
        if given:
            url += "?" + urllib.parse.urlencode(given)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method,
                                         headers={**self.headers, **(headers or {})})
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


notification_url_option = click.option(
    "--notification-url", default=None, metavar="URL",
    help="Where failure notifications go: a signed POST when a job starts failing or "
         "missing, and when it recovers (checked as callback URLs are).")
notification_format_option = click.option(
    "--notification-format", type=click.Choice(NOTIFICATION_FORMATS), default=None,
    help="json (default): a JSON object per event; slack: a Slack incoming-webhook message.")
concurrency_option = click.option(
    "--concurrency", type=click.IntRange(*RATE_CONCURRENCY_RANGE), default=None, metavar="N",
    help="Rate limit: at most N of the project's executions in flight at once, across the "
         "cluster; ticks above it wait (recorded late, never dropped).")
per_second_option = click.option(
    "--per-second", type=click.FloatRange(*RATE_PER_SECOND_RANGE), default=None, metavar="R",
    help="Rate limit: at most R of the project's executions started a second (a fraction "
         "allowed, e.g. 0.5); ticks above it wait.")


def _rate_limit(concurrency: int | None, per_second: float | None) -> dict[str, Any]:
    """The rate_limit the options give (empty when neither was given)."""
    given = {"concurrency": concurrency, "per_second": per_second}
    return {key: value for key, value in given.items() if value is not None}


@create_group.command("project")
@config_option
@click.option("--name", required=True, help="A name no other project has.")
@click.option("--description", default=None, help="Free text about the project.")
@notification_url_option
@notification_format_option
@concurrency_option
@per_second_option
def create_project(config_path: str | None, name: str, description: str | None,
                   notification_url: str | None, notification_format: str | None,
                   concurrency: int | None, per_second: float | None) -> None:
    """Create a project; prints it as JSON, with its signing_secret (shown only now)."""
    given = {"name": name, "description": description, "notification_url": notification_url,
             "notification_format": notification_format,
             "rate_limit": _rate_limit(concurrency, per_second) or None}
    body = {key: value for key, value in given.items() if value is not None}
    _print_json(NodeClient(load_settings(config_path)).call("POST", "/projects", body))


DELIVERY_SETTINGS = ("method", "headers", "timeout", "retries", "retry_delay", "success_codes")


_DELIVERY_OPTIONS = (
    click.option("--method", type=click.Choice(["POST", "PUT", "GET"]), default=None,
                 help="How each callback is sent (default: POST; GET sends no body)."),
    click.option("--header", "header_lines", multiple=True, metavar='"NAME: VALUE"',
                 help="An extra request header; repeat for several (never one the server "
                      "sets, such as X-Scheduler0-*)."),
    click.option("--timeout", type=float, default=None,
                 help="Seconds per attempt (default: the node's JobExecutionTimeout)."),
    click.option("--retries", type=int, default=None,
                 help="Retries after the first attempt (default: the node's "
                      "JobExecutionRetryMax)."),
    click.option("--retry-delay", type=float, default=None,
                 help="Seconds before the first retry, doubling (default: the node's "
                      "JobExecutionRetryDelay)."),
    click.option("--success-code", "success_codes", type=int, multiple=True, metavar="STATUS",
                 help="An HTTP status that counts as success; repeat for several (default: "
                      "any 2xx)."),
)


def delivery_options(command: Any) -> Any:
    """A job's own delivery settings as options (each left out: the node's setting)."""
    for option in reversed(_DELIVERY_OPTIONS):
        command = option(command)
    return command


def delivery_body(method: str | None, header_lines: tuple[str, ...], timeout: float | None,
                  retries: int | None, retry_delay: float | None,
                  success_codes: tuple[int, ...], node_default: tuple[str, ...] = ()
                  ) -> dict[str, Any]:
    """The delivery settings given as options, as a job body's fields (the node checks them);
    each of `node_default` as null: back to the node's setting."""
    given: dict[str, Any] = {
        "method": method, "headers": parse_header_options(header_lines) or None,
        "timeout": timeout, "retries": retries, "retry_delay": retry_delay,
        "success_codes": list(success_codes) or None}
    body = {name: value for name, value in given.items() if value is not None}
    for name in node_default:
        if name in body:
            raise click.UsageError(f"--node-default {name}: the same command sets it; give one "
                                   "of the two")
        body[name] = None
    return body


def parse_header_options(lines: tuple[str, ...]) -> dict[str, str]:
    """--header "NAME: VALUE" options as headers (the node checks names and values)."""
    found: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise click.UsageError(f"--header {line!r}: write it as \"NAME: VALUE\", e.g. "
                                   '--header "Authorization: Bearer ..."')
        found[name.strip()] = value.strip()
    return found


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
@click.option("--name", default=None,
              help="A name unique in the project, usable instead of the id (a letter first).")
@click.option("--description", default=None, help="Free text about the job.")
@click.option("--label", "label_pairs", multiple=True, metavar="KEY=VALUE",
              help="A label; repeat for several (e.g. --label team=billing --label env=prod).")
@delivery_options
@click.option("--dry-run", is_flag=True,
              help="Only check it: print the job as it would be, with its next fire times, "
                   "and create nothing.")
def create_job(config_path: str | None, project_id: int, spec: str | None,
               run_at: str | None, callback_url: str, timezone: str | None, data: str | None,
               start_date: str | None, end_date: str | None, misfire_policy: str | None,
               paused: bool, name: str | None, description: str | None,
               label_pairs: tuple[str, ...], dry_run: bool, **delivery: Any) -> None:
    """Create a job (one of --spec and --run-at); prints the job as JSON."""
    if (spec is None) == (run_at is None):
        raise click.UsageError("give one of --spec (a repeating job) and --run-at (a job that "
                               "runs once)")
    given = {"project_id": project_id, "spec": spec, "run_at": run_at,
             "callback_url": callback_url, "timezone": timezone, "data": data,
             "start_date": start_date, "end_date": end_date, "misfire_policy": misfire_policy,
             "paused": paused or None, "name": name, "description": description,
             "labels": parse_label_options(label_pairs) or None}
    body = {name: value for name, value in given.items() if value is not None}
    body.update(delivery_body(**delivery))
    query = {"dry_run": "true"} if dry_run else None
    _print_json(NodeClient(load_settings(config_path)).call("POST", "/jobs", body, query))


def parse_label_options(pairs: tuple[str, ...]) -> dict[str, str]:
    """--label KEY=VALUE options as labels (the node checks the keys and values)."""
    found: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise click.UsageError(f"--label {pair!r}: write it as KEY=VALUE, e.g. "
                                   "--label team=billing")
        if key in found:
            raise click.UsageError(f"--label {key}: given twice; give each key once")
        found[key] = value
    return found


@main.group("update")
def update_group() -> None:
    """Change things on the running node."""


@update_group.command("job")
@click.argument("job")
@config_option
@click.option("--project-id", type=int, default=None,
              help="The project whose job JOB names (when JOB is a name several projects use).")
@click.option("--name", default=None, help="A new name, unique in the project.")
@click.option("--clear-name", is_flag=True, help="Remove the job's name.")
@click.option("--description", default=None, help="A new description.")
@click.option("--label", "label_pairs", multiple=True, metavar="KEY=VALUE",
              help="The job's labels from now on (replacing all it has); repeat for several.")
@click.option("--clear-labels", is_flag=True, help="Remove every label of the job.")
@delivery_options
@click.option("--node-default", "node_default", multiple=True,
              type=click.Choice(DELIVERY_SETTINGS), metavar="SETTING",
              help="Let this delivery setting (" + ", ".join(DELIVERY_SETTINGS) + ") follow the "
                   "node's again; repeat for several.")
def update_job(job: str, config_path: str | None, project_id: int | None, name: str | None,
               clear_name: bool, description: str | None, label_pairs: tuple[str, ...],
               clear_labels: bool, **delivery: Any) -> None:
    """Change the name, description, labels or delivery settings of JOB (its id or its name);
    prints the job. --header replaces every extra header the job has."""
    if name is not None and clear_name:
        raise click.UsageError("give --name or --clear-name, not both")
    if label_pairs and clear_labels:
        raise click.UsageError("give --label or --clear-labels, not both")
    body: dict[str, Any] = {}
    if name is not None or clear_name:
        body["name"] = name
    if description is not None:
        body["description"] = description
    if label_pairs or clear_labels:
        body["labels"] = parse_label_options(label_pairs)
    body.update(delivery_body(**delivery))
    if not body:
        raise click.UsageError("nothing to change: give --name, --clear-name, --description, "
                               "--label, --clear-labels, or a delivery setting (--method, "
                               "--header, --timeout, --retries, --retry-delay, --success-code, "
                               "--node-default)")
    query = None if project_id is None else {"project_id": project_id}
    _print_json(NodeClient(load_settings(config_path)).call(
        "PUT", f"/jobs/{urllib.parse.quote(job, safe='')}", body, query))


@update_group.command("project")
@click.argument("project_id", type=int)
@config_option
@click.option("--name", default=None, help="A new name, unique among projects.")
@click.option("--description", default=None, help="A new description.")
@notification_url_option
@click.option("--no-notifications", is_flag=True,
              help="Remove the notification URL (notifications not sent yet are given up).")
@notification_format_option
@concurrency_option
@per_second_option
@click.option("--no-rate-limit", is_flag=True, help="Remove the rate limit: unlimited again.")
def update_project(project_id: int, config_path: str | None, name: str | None,
                   description: str | None, notification_url: str | None,
                   no_notifications: bool, notification_format: str | None,
                   concurrency: int | None, per_second: float | None,
                   no_rate_limit: bool) -> None:
    """Change PROJECT_ID's name, description, failure notifications or rate limit; prints the
    project. --concurrency or --per-second alone changes that kind of limit and keeps the
    other."""
    if notification_url is not None and no_notifications:
        raise click.UsageError("give --notification-url or --no-notifications, not both")
    limit = _rate_limit(concurrency, per_second)
    if limit and no_rate_limit:
        raise click.UsageError("give --concurrency/--per-second or --no-rate-limit, not both")
    given = {"name": name, "description": description, "notification_url": notification_url,
             "notification_format": notification_format}
    body: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
    if no_notifications:
        body["notification_url"] = None
    if no_rate_limit:
        body["rate_limit"] = None
    if not body and not limit:
        raise click.UsageError("nothing to change: give --name, --description, "
                               "--notification-url, --no-notifications, "
                               "--notification-format, --concurrency, --per-second or "
                               "--no-rate-limit")
    client = NodeClient(load_settings(config_path))
    if limit:
        # The API replaces a limit whole: the kind not given is read back, so it stays.
        current = client.call("GET", f"/projects/{project_id}").get("rate_limit") or {}
        body["rate_limit"] = {**current, **limit}
    _print_json(client.call("PUT", f"/projects/{project_id}", body))


@main.command("list")
@click.argument("kind", type=click.Choice(["credentials", "projects", "jobs"]))
@config_option
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--offset", type=int, default=0, show_default=True)
@click.option("--project-id", type=int, default=None, help="Only jobs of this project.")
@click.option("--labels", "selector", default=None, metavar="SELECTOR",
              help="Only jobs whose labels meet it, e.g. 'team=billing,env!=dev' or "
                   "'tier in (a,b)'.")
@click.option("--name", "name_prefix", default=None, metavar="PREFIX",
              help="Only jobs whose names start with PREFIX.")
def list_things(kind: str, config_path: str | None, limit: int, offset: int,
                project_id: int | None, selector: str | None, name_prefix: str | None) -> None:
    """List credentials, projects or jobs of the running node as JSON."""
    query: dict[str, Any] = {"limit": limit, "offset": offset}
    if kind != "jobs" and (selector or name_prefix):
        raise click.UsageError("--labels and --name filter jobs only")
    if kind == "jobs":
        query.update(project_id=project_id, labels=selector or None, name=name_prefix or None)
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


@cluster_group.command("pause")
@config_option
@click.option("--reason", default=None, help="Why, shown with the pause (at most 200 characters).")
def cluster_pause(config_path: str | None, reason: str | None) -> None:
    """Stop all planning in the cluster: no tick is planned until `cluster resume`.

    Deliveries already dispatched finish; on resume the ticks that fell in the pause follow
    each job's misfire policy, as after an outage.
    """
    body = {} if reason is None else {"reason": reason}
    _print_json(NodeClient(load_settings(config_path)).call("POST", "/pause", body))


@cluster_group.command("resume")
@config_option
def cluster_resume(config_path: str | None) -> None:
    """Plan again after `cluster pause`."""
    _print_json(NodeClient(load_settings(config_path)).call("POST", "/resume", {}))


@main.group("job")
def job_group() -> None:
    """Run a job now, backfill its past ticks, or work on many jobs at once."""


@job_group.command("bulk")
@click.argument("action", type=click.Choice(BULK_ACTIONS))
@config_option
@click.option("--id", "ids", type=int, multiple=True, metavar="ID",
              help="A job to change; repeat for several. Or select them with the filters.")
@click.option("--project-id", type=int, default=None, help="Filter: this project's jobs.")
@click.option("--paused/--active", "paused", default=None,
              help="Filter: only paused (or only active) jobs.")
@click.option("--labels", "selector", default=None, metavar="SELECTOR",
              help='Filter: a label selector, e.g. "team=billing,env!=dev".')
@click.option("--label", "label_pairs", multiple=True, metavar="KEY=VALUE",
              help="set_labels: a label to set; repeat for several.")
@click.option("--remove-label", "removed", multiple=True, metavar="KEY",
              help="set_labels: a label to remove; repeat for several.")
@click.option("--data", default=None,
              help="run: send this instead of each job's data (jobs delivered with GET are "
                   "then skipped).")
@click.option("--wait", is_flag=True, help="Wait until the operation finishes; print it then.")
@click.option("--timeout", type=float, default=600.0, show_default=True,
              help="With --wait: seconds to wait at most.")
def job_bulk(action: str, config_path: str | None, ids: tuple[int, ...],
             project_id: int | None, paused: bool | None, selector: str | None,
             label_pairs: tuple[str, ...], removed: tuple[str, ...], data: str | None,
             wait: bool, timeout: float) -> None:
    """Pause, resume, delete, relabel or run (once, now; paused jobs too) many jobs (ACTION),
    chosen by --id or by the filters; prints the operation as JSON (GET /operations/{id}
    follows its progress; a run's executions: `scheduler0 operation executions ID`)."""
    given = {"project_id": project_id, "paused": paused, "labels": selector}
    chosen = {name: value for name, value in given.items() if value is not None}
    if bool(ids) == bool(chosen):
        raise click.UsageError("name the jobs with --id (repeat it) or with filters "
                               "(--project-id, --paused/--active, --labels), not both")
    body: dict[str, Any] = {"action": action}
    body.update({"ids": list(ids)} if ids else {"filter": chosen})
    changes: dict[str, Any] = {**parse_label_options(label_pairs), **dict.fromkeys(removed)}
    if changes:
        body["labels"] = changes
    if data is not None:
        body["data"] = data
    client = NodeClient(load_settings(config_path))
    operation = client.call("POST", "/jobs/bulk", body)
    if wait:
        operation = _wait_for_operation(client, int(operation["id"]), timeout)
    _print_json(operation)


def _wait_for_operation(client: NodeClient, operation_id: int, timeout: float) -> Any:
    """The operation once it no longer runs; a ClickException after `timeout` seconds."""
    from scheduler0 import clock

    deadline = clock.monotonic() + timeout
    while True:
        operation = client.call("GET", f"/operations/{operation_id}")
        if operation["state"] != "running":
            return operation
        if clock.monotonic() > deadline:
            raise click.ClickException(f"operation {operation_id} still runs after {timeout:g} "
                                       f"s ({operation['done']} of {operation['total']} done); "
                                       f"follow it with `scheduler0 operation get {operation_id}`")
        time.sleep(0.5)


@main.group("operation")
def operation_group() -> None:
    """Follow bulk operations (`job bulk`)."""


@operation_group.command("get")
@click.argument("operation_id", type=int)
@config_option
def operation_get(operation_id: int, config_path: str | None) -> None:
    """Print one operation and its progress as JSON."""
    _print_json(NodeClient(load_settings(config_path)).call("GET", f"/operations/{operation_id}"))


@operation_group.command("executions")
@click.argument("operation_id", type=int)
@config_option
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--after", default=None, metavar="EXECUTION_ID",
              help="Start after this execution (the previous page's next_after).")
def operation_executions(operation_id: int, config_path: str | None, limit: int,
                         after: str | None) -> None:
    """Print the run-nows a bulk run fired, in the order it fired them, as JSON."""
    _print_json(NodeClient(load_settings(config_path)).call(
        "GET", f"/operations/{operation_id}/executions", query={"limit": limit, "after": after}))


@operation_group.command("list")
@config_option
@click.option("--state", type=click.Choice(OPERATION_STATES), default=None)
@click.option("--limit", type=int, default=50, show_default=True)
def operation_list(config_path: str | None, state: str | None, limit: int) -> None:
    """List operations, newest first, as JSON."""
    _print_json(NodeClient(load_settings(config_path)).call(
        "GET", "/operations", query={"state": state, "limit": limit}))


# -- manual runs, redelivery and backfill ---------------------------------------------------


def _job_path(job: str, action: str) -> str:
    return f"/jobs/{urllib.parse.quote(job, safe='')}/{action}"


def _idempotency(key: str | None) -> dict[str, str]:
    return {} if key is None else {"Idempotency-Key": key}


idempotency_option = click.option(
    "--idempotency-key", default=None, metavar="KEY",
    help="Send this Idempotency-Key: a retry with the same key answers the first result and "
         "fires nothing more.")


@job_group.command("run")
@click.argument("job")
@config_option
@click.option("--project-id", type=int, default=None,
              help="The project whose job JOB names (when JOB is a name several projects use).")
@click.option("--data", default=None, help="Send this instead of the job's data, this once.")
@idempotency_option
def job_run(job: str, config_path: str | None, project_id: int | None, data: str | None,
            idempotency_key: str | None) -> None:
    """Run JOB (its id or its name) once, now, paused or not; prints the execution (its
    execution_id, state scheduled) as JSON. The schedule is not changed."""
    body = {} if data is None else {"data": data}
    query = None if project_id is None else {"project_id": project_id}
    _print_json(NodeClient(load_settings(config_path)).call(
        "POST", _job_path(job, "run"), body, query, headers=_idempotency(idempotency_key)))


@job_group.command("backfill")
@click.argument("job")
@config_option
@click.option("--from", "start", required=True, help="RFC 3339: the range's first instant.")
@click.option("--to", "end", required=True, help="RFC 3339: its last (not in the future).")
@click.option("--project-id", type=int, default=None,
              help="The project whose job JOB names (when JOB is a name several projects use).")
@click.option("--dry-run", is_flag=True,
              help="Only print how many ticks it would fire, and the first ones.")
@idempotency_option
def job_backfill(job: str, config_path: str | None, start: str, end: str,
                 project_id: int | None, dry_run: bool, idempotency_key: str | None) -> None:
    """Fire every tick of JOB's schedule from --from to --to that never ran (at most 1,000);
    prints the count, what it skipped and the first ticks as JSON."""
    query: dict[str, Any] = {"project_id": project_id}
    if dry_run:
        query["dry_run"] = "true"
    _print_json(NodeClient(load_settings(config_path)).call(
        "POST", _job_path(job, "backfill"), {"from": start, "to": end}, query,
        headers=_idempotency(idempotency_key)))


@main.group("execution")
def execution_group() -> None:
    """Read one execution, or send a finished one again."""


@execution_group.command("get")
@click.argument("execution_id")
@config_option
def execution_get(execution_id: str, config_path: str | None) -> None:
    """Print EXECUTION_ID as it is now (scheduled while a delivery of it is in flight)."""
    _print_json(NodeClient(load_settings(config_path)).call(
        "GET", f"/executions/{urllib.parse.quote(execution_id, safe='')}"))


@execution_group.command("redeliver")
@click.argument("execution_id")
@config_option
@idempotency_option
def execution_redeliver(execution_id: str, config_path: str | None,
                        idempotency_key: str | None) -> None:
    """Send the finished EXECUTION_ID again, with the same id; prints it, scheduled again."""
    _print_json(NodeClient(load_settings(config_path)).call(
        "POST", f"/executions/{urllib.parse.quote(execution_id, safe='')}/redeliver", {},
        headers=_idempotency(idempotency_key)))


if __name__ == "__main__":
    main()


@click.command("scheduler0-supervisor", context_settings={"help_option_names": ["-h", "--help"]})
@config_option
def supervisor_main(config_path: str | None) -> None:
    """Run a scheduler0 node in the foreground (the console script for the systemd unit)."""
    run_node(config_path)
