"""POST /jobs/bulk: the request checked, and its selection resolved to job ids.

    {"action": "pause" | "resume" | "delete", "ids": [1, 2, 3]}
    {"action": ..., "filter": {"project_id": 1, "paused": false, "labels": "team=web"}}
    {"action": ..., "filter": {"name": "nightly-", "contains": "db", "status": "active",
                               "last_state": "failed", "host": "api.example.com"}}
    {"action": "set_labels", "labels": {"team": "web", "old": null}, "ids" or "filter": ...}
    {"action": "run", "data": "optional", "ids" or "filter": ...}

set_labels merges: each label given is set, one given as null removed, the job's other labels
stay. run fires each job once now, as POST /jobs/{id}/run does (a paused job too: it was
asked for), delivering `data` instead of each job's own when given; it selects at most
MAX_RUN_SELECTED jobs, as each run-now is a batch of its own for the leader to send.

A filter takes GET /jobs's filters, with their names, meanings and checks: project_id, paused
and labels, and the jobs screen's name (a prefix), contains, status, last_state and host. Those
last are read as GET /jobs reads them (Reader.select_browsed_jobs, store/job_browse.py), and
like it check at most job_browse.SCAN_LIMIT rows of the index that drives the walk one by
one; where finding every match would take more, a bulk filter is refused (413, code
scan_limited) rather than acting on only the matches it had looked at.

A filter is resolved once, when the request arrives, in one read transaction: the operation
works on that snapshot, so a job created (or changed to match) while it runs is not touched.
Ids are checked the same way: each must be a job of the caller's projects. Errors name the
field and the fix, as api/validation.py words them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scheduler0 import labels
from scheduler0.api.validation import (
    MAX_SELECTOR_LENGTH,
    boolean,
    expect_object,
    identifier,
    invalid,
    job_data,
    known_fields,
    query_choice,
    query_contains,
    query_host,
    query_name_prefix,
)
from scheduler0.errors import ApiError, NotFoundError, PayloadTooLargeError, ValidationError
from scheduler0.store import job_browse
from scheduler0.store.operations import Selection, label_changes_problem
from scheduler0.store.reads import Reader
from scheduler0.vocabulary import BULK_ACTIONS, BulkAction

MAX_IDS = 10_000  # ids one request may name (as many jobs as one create may make)
MAX_SELECTED = 1_000_000  # jobs one operation may select
# Jobs one run may select: each run-now is a batch of its own, and the leader sends a few
# hundred of those a round, so a larger run would keep it busy (and the store full) for long.
MAX_RUN_SELECTED = MAX_IDS
# The filters of the jobs screen (GET /jobs) besides those: read by Reader.select_browsed_jobs.
BROWSE_FIELDS = ("name", "contains", "status", "last_state", "host")
FILTER_FIELDS = ("project_id", "paused", "labels", *BROWSE_FIELDS)
RUN = BulkAction.RUN.value


@dataclass(frozen=True)
class BulkRequest:
    """A checked request: `selection` is what the operation shows ({"ids": [...]} or
    {"filter": {...}}), `ids` or `filter` what it selects by."""

    action: str
    selection: dict[str, Any]
    ids: list[int] | None = None
    filter: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] | None = None
    data: str | None = None


def parse(body: Any) -> BulkRequest:
    fields = known_fields(expect_object(body), ("action", "ids", "filter", "labels", "data"))
    action = _action(fields.get("action"))
    if "ids" in fields and "filter" in fields:
        raise invalid("ids", "send ids or filter, not both")
    changes = _label_changes(action, fields)
    data = _run_data(action, fields)
    if "ids" in fields:
        ids = _ids(fields["ids"])
        return BulkRequest(action, {"ids": ids}, ids=ids, labels=changes, data=data)
    if "filter" not in fields:
        raise invalid("ids", 'required: name the jobs by ids (a list of job ids) or by filter '
                      '(e.g. {"project_id": 1, "paused": false})')
    chosen = _filter(fields["filter"])
    return BulkRequest(action, {"filter": chosen}, filter=chosen, labels=changes, data=data)


def _run_data(action: str, fields: Mapping[str, Any]) -> str | None:
    """run's data, delivered by every run-now instead of its job's (None: each job's own)."""
    if action != RUN:
        if "data" in fields:
            raise invalid("data", f"applies only to the action run, not {action}")
        return None
    return None if fields.get("data") is None else job_data(fields["data"], "data")


def _label_changes(action: str, fields: Mapping[str, Any]) -> dict[str, Any] | None:
    """set_labels's labels (keys to values, null removing one); None for another action."""
    if action != BulkAction.SET_LABELS.value:
        if "labels" in fields:
            raise invalid("labels", f"applies only to the action set_labels, not {action}")
        return None
    if "labels" not in fields:
        raise invalid("labels", 'required with set_labels: an object of label keys to values, '
                      'null removing a label, e.g. {"team": "billing", "legacy": null}')
    problem = label_changes_problem(fields["labels"])
    if problem is not None:
        raise invalid("labels", problem)
    return dict(fields["labels"])


def _action(value: Any) -> str:
    supported = ", ".join(BULK_ACTIONS)
    if value is None:
        raise invalid("action", f"required; use one of {supported}")
    if not isinstance(value, str):
        raise invalid("action", f"expected a string, got {labels.json_kind(value)}; use one of "
                      f"{supported}")
    if value not in BULK_ACTIONS:
        raise invalid("action", f"{value[:40]!r} is not an action; use one of {supported}")
    return value


def _ids(value: Any) -> list[int]:
    if not isinstance(value, list):
        raise invalid("ids", "expected a list of job ids such as [1, 2, 3]")
    if not value:
        raise invalid("ids", "must not be empty: list at least one job id")
    if len(value) > MAX_IDS:
        raise PayloadTooLargeError(f"ids: {len(value)} job ids in one request; send at most "
                                   f"{MAX_IDS}, or select the jobs with a filter")
    seen: set[int] = set()
    for index, item in enumerate(value):
        try:
            job_id = identifier(item, f"ids[{index}]")
        except ValidationError as exc:
            raise ValidationError(exc.message, code="invalid_ids") from None
        if job_id in seen:
            raise invalid(f"ids[{index}]", f"job {job_id} is listed twice; list each job once",
                          "ids")
        seen.add(job_id)
    return list(value)


def _filter(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid("filter", 'expected an object such as {"project_id": 1, "paused": '
                      'false}')
    try:
        given = known_fields(value, FILTER_FIELDS, prefix="filter.")
    except ValidationError as exc:
        raise ValidationError(exc.message, code="invalid_filter") from None
    if not given:
        raise invalid("filter", "empty: name at least one of " + ", ".join(FILTER_FIELDS)
                      + ' (every running job, for instance: {"paused": false})')
    chosen: dict[str, Any] = {}
    for name, check in _FILTER_CHECKS.items():
        if name in given:
            try:
                chosen[name] = check(given[name], f"filter.{name}")
            except ValidationError as exc:
                raise ValidationError(exc.message, code="invalid_filter") from None
    return chosen


def _labels_filter(value: Any, path: str) -> str:
    """A label selector (scheduler0.labels' grammar), kept as the text it was given."""
    if not isinstance(value, str):
        raise invalid(path, 'expected a label selector string such as "team=billing,env!=dev"',
                      "filter")
    if len(value) > MAX_SELECTOR_LENGTH:
        raise invalid(path, f"{len(value)} characters is too long; at most "
                      f"{MAX_SELECTOR_LENGTH}", "filter")
    try:
        requirements = labels.parse_selector(value)
    except labels.LabelError as exc:
        raise invalid(path, f"{exc}; {labels.GRAMMAR}", "filter") from None
    if not requirements:
        raise invalid(path, 'empty: give at least one requirement, e.g. "team=billing"',
                      "filter")
    return value


def _as_query(read: Callable[[Mapping[str, str]], Any], example: str
              ) -> Callable[[Any, str], Any]:
    """A filter field checked as GET /jobs checks its query parameter of the same name (`read`,
    one of validation's query readers): the same rules and words, the field named
    `filter.<name>`; `example` shows a good value."""
    def check(value: Any, path: str) -> Any:
        name = path.removeprefix("filter.")
        if not isinstance(value, str):
            raise invalid(path, f"expected a string, got {labels.json_kind(value)}, e.g. "
                          f"{example}", "filter")
        if value.strip() == "":
            raise invalid(path, f"empty: leave it out, or give one, e.g. {example}", "filter")
        try:
            return read({name: value})
        except ValidationError as exc:
            raise ValidationError(f"filter.{exc.message}", code="invalid_filter") from None
    return check


def _choice(choices: tuple[str, ...]) -> Callable[[Mapping[str, str]], str | None]:
    """validation's check of a query parameter of `choices`, as a query reader."""
    return lambda args: query_choice(args, next(iter(args)), choices)


_FILTER_CHECKS: Mapping[str, Callable[[Any, str], Any]] = {
    "project_id": identifier, "paused": boolean, "labels": _labels_filter,
    "name": _as_query(query_name_prefix, '"nightly-"'),
    "contains": _as_query(query_contains, '"backup"'),
    "status": _as_query(_choice(job_browse.STATUSES), '"active"'),
    "last_state": _as_query(_choice(job_browse.LAST_STATES), '"failed"'),
    "host": _as_query(query_host, '"api.example.com"')}


def select(request: BulkRequest, reader: Reader) -> Selection:
    """The jobs the request names, read at once; 403 for a job or project outside the
    caller's, 404 for ids that are no jobs, 413 for a filter that selects too many."""
    most = MAX_RUN_SELECTED if request.action == RUN else MAX_SELECTED
    if request.ids is not None:  # MAX_IDS bounds them, a run's too
        owners = reader.job_owners(request.ids)
        missing = [i for i in request.ids if i not in owners]
        if missing:
            raise NotFoundError(f"ids: {_listed(missing)}; remove "
                                f"{'it' if len(missing) == 1 else 'them'} from ids (or select "
                                "the jobs with a filter)")
        found = Selection(projects=set(owners.values()))
        found.ids.extend(sorted(request.ids))
        return found
    chosen = request.filter
    project_id = chosen.get("project_id")
    if project_id is not None and reader.get_project(project_id) is None:
        raise NotFoundError(f"filter.project_id: project {project_id} does not exist; use the "
                            "id of an existing project")
    selector = labels.parse_selector(chosen["labels"]) if "labels" in chosen else ()
    if any(name in chosen for name in BROWSE_FIELDS):
        found = _browsed(chosen, selector, reader, most)
    else:
        found = reader.select_jobs(project_id=project_id, paused=chosen.get("paused"),
                                   labels=selector, cap=most)
    if len(found.ids) > most:
        raise PayloadTooLargeError(f"filter: selects more than {most} jobs, the most "
                                   f"{'a run' if most == MAX_RUN_SELECTED else 'one operation'} "
                                   "may take; narrow it (" + ", ".join(FILTER_FIELDS) + ")")
    return found


def _browsed(chosen: Mapping[str, Any], selector: tuple[labels.Requirement, ...],
             reader: Reader, most: int) -> Selection:
    """The jobs a filter with the jobs screen's fields selects, read as GET /jobs reads them;
    413 when more than the scan limit of jobs would be checked row by row to find every match
    (GET /jobs stops there too, but only once its page is not full: it may show a full first
    page where this refuses): acting on the matches found so far would leave the others
    untouched while the request said all."""
    wanted = job_browse.Browse(
        project_id=chosen.get("project_id"), paused=chosen.get("paused"), labels=selector,
        name_prefix=chosen.get("name"), contains=chosen.get("contains"),
        status=chosen.get("status"), last_state=chosen.get("last_state"),
        host=chosen.get("host"))
    found = reader.select_browsed_jobs(wanted, most)
    if found is None:
        raise ApiError(f"filter: more than {job_browse.SCAN_LIMIT} jobs would have to be "
                       "checked one by one, the most one request checks (one index serves the "
                       "selection, and each other field is checked job by job); use one field "
                       "an index serves alone or with fewer others (project_id, labels "
                       "key=value, host, name as a prefix, last_state failed or missed), or "
                       "select by ids", status=413, code="scan_limited")
    return found


def _listed(ids: list[int]) -> str:
    """`job 7 does not exist`, `jobs 7, 8 and 3 more do not exist`."""
    if len(ids) == 1:
        return f"job {ids[0]} does not exist"
    more = f" and {len(ids) - 10} more" if len(ids) > 10 else ""
    return f"jobs {', '.join(map(str, ids[:10]))}{more} do not exist"


def concerned_projects(request: BulkRequest, found: Selection,
                       scope: tuple[int, ...] | None) -> list[int] | None:
    """The projects an operation concerns, which decide who may read it: those of the jobs
    it selected and of its filter; when it selected none, the caller's (None: every one)."""
    projects = set(found.projects)
    if request.filter.get("project_id") is not None:
        projects.add(request.filter["project_id"])
    if projects:
        return sorted(projects)
    return None if scope is None else sorted(scope)
