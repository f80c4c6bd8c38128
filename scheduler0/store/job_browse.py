"""The jobs screen's list (Reader.browse_jobs): every filter of Reader.list_jobs and the
console's own (a name substring, a status, a last result, a callback host), in four sorts,
keyset-paged in each.

One index drives the walk, chosen from the filters (`_walk`):
- the failing jobs (job_last_failing) for failing=true or last_state=failed|missed;
- else, in id order, the label index for a selector with a positive requirement;
- else the host index (jobs_host, over the generated column jobs.callback_host);
- else the jobs by id (jobs_project for a project, jobs_paused for paused ones);
- for sort=name|-name always the name index (jobs_name): only named jobs are in a name sort.

Every other filter is checked on the rows the walk finds, and on at most SCAN_LIMIT of them:
a first query finds the SCAN_LIMIT-th row of the walk from the cursor (a walk of the index
alone) and the page stays within it. When the page is not full within it, the answer says
`scan_limited` and its next_after is that row, so the next request carries on from there:
every request reads at most SCAN_LIMIT rows of the walk, however rare the matches. A name
substring (`contains`) is such a check: an FTS5 trigram index would find rare matches at once
but costs about three entries per character of every name, and names are short and few
per screen, so the bounded scan is used. Its total counts the matches within the rows it
scanned, from the cursor (exact only for a first page whose scan reached the end).

A bulk operation's filter (api/bulk.py) is read by the same plan (`matching_ids`): every
match, by id, or none at all when the walk is longer than SCAN_LIMIT rows that would be
checked one by one.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scheduler0.errors import ValidationError
from scheduler0.labels import Requirement, prefix_bounds
from scheduler0.store import counters, history, job_labels, rows

SCAN_LIMIT = 20_000  # rows of the walk one request checks at most (measured: ~25 ms)
TOTAL_CAP = 10_000  # as reads.TOTAL_CAP
SORTS = ("id", "-id", "name", "-name")
STATUSES = ("active", "paused", "completed")
LAST_STATES = ("succeeded", "failed", "missed")
_NAME_TOKEN = "n."  # a name sort's cursor: "n." + base64url of [name, project_id]
# schedules.no_tick_left in SQL: no fire time left, or the next one past the job's end.
_COMPLETED = "(s.next_fire_at IS NULL OR (j.end_date IS NOT NULL AND s.next_fire_at > j.end_date))"
_SCHEDULES = " JOIN schedules s ON s.id = j.schedule_id"
_LAST = " LEFT JOIN job_last l ON l.job_id = j.id"


@dataclass(frozen=True)
class Browse:
    """The filters (AND-ed; None: any), the sort and the cursor of one page."""

    project_id: int | None = None
    paused: bool | None = None
    failing: bool | None = None
    labels: tuple[Requirement, ...] = ()
    name_prefix: str | None = None
    contains: str | None = None
    status: str | None = None
    last_state: str | None = None
    host: str | None = None
    sort: str = "id"
    after: str | None = None


Key = tuple[Any, ...]


@dataclass(frozen=True)
class Found:
    """A page: its rows, the total (exact or a lower bound), the next cursor, and whether the
    scan stopped at SCAN_LIMIT rows (then the next cursor is where it stopped)."""

    rows: list[dict[str, Any]]
    total: int
    exact: bool
    next_after: str | None = None
    scan_limited: bool = False


def parse_after(sort: str, raw: str | None) -> Key | None:
    """The key a cursor of `sort` holds; ValidationError naming `after` when it is not one."""
    if raw is None or raw == "":
        return None
    if sort in ("id", "-id"):
        if raw.isascii() and raw.isdigit() and len(raw) <= 19:
            return (int(raw),)
        raise ValidationError(f"after: {raw[:40]!r} is not a job id; with sort={sort} pass the "
                              "next_after of the previous page", code="invalid_after")
    try:
        if not raw.startswith(_NAME_TOKEN):
            raise ValueError
        body = raw[len(_NAME_TOKEN):]
        text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        name, project_id = json.loads(text)
        if not isinstance(name, str) or not isinstance(project_id, int):
            raise ValueError
    except (ValueError, binascii.Error, TypeError):
        raise ValidationError(f"after: {raw[:40]!r} is not a cursor of sort={sort}; pass the "
                              "next_after of the previous page of the same sort",
                              code="invalid_after") from None
    return (name, project_id)


def token(sort: str, key: Key) -> str:
    """The next_after of a page of `sort` ending at `key`."""
    if sort in ("id", "-id"):
        return str(key[0])
    text = json.dumps([key[0], key[1]], separators=(",", ":")).encode()
    return _NAME_TOKEN + base64.urlsafe_b64encode(text).decode().rstrip("=")


@dataclass
class _Terms:
    sql: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, term: str, *params: Any) -> None:
        self.sql.append(term)
        self.params.extend(params)

    def where(self, *more: _Terms) -> tuple[str, list[Any]]:
        terms = [*self.sql, *(t for m in more for t in m.sql)]
        params = [*self.params, *(p for m in more for p in m.params)]
        return (" WHERE " + " AND ".join(terms)) if terms else "", params


@dataclass
class Plan:
    """How one page is read: the rows' SELECT, the walk's FROM (for the boundary and the
    total), the key columns and ORDER BY of the walk, the terms the walk's index serves
    (`driven`) and those checked row by row (`checked`), and the cursor."""

    browse: Browse
    select: str
    source: str
    keys: tuple[str, ...]
    order: str
    descending: bool
    driven: _Terms
    checked: _Terms
    cursor: Key | None
    lead: Requirement | None = None

    def cursor_terms(self, cursor: Key | None, op: str | None = None) -> _Terms:
        """The walk from `cursor` on (exclusive; `op` overrides the comparison)."""
        terms = _Terms()
        if self.lead is not None:
            lead_sql, lead_params = job_labels.driver_terms(
                self.lead, None if cursor is None else cursor[0])
            terms.sql += lead_sql
            terms.params += lead_params
        if cursor is not None:
            op = op or ("<" if self.descending else ">")
            terms.add(self.key_term(op), *cursor)
        return terms

    def key_term(self, op: str) -> str:
        """The walk's key compared with a key given as parameters."""
        if len(self.keys) == 1:
            return f"{self.keys[0]} {op} ?"
        return f"({', '.join(self.keys)}) {op} ({', '.join('?' * len(self.keys))})"


def _walk(browse: Browse) -> tuple[str, Requirement | None]:
    """The walk's kind (name, failing, labels, host, jobs) and the label requirement driving
    it (kind labels only)."""
    if browse.sort in ("name", "-name"):
        return "name", None
    if browse.failing or browse.last_state in ("failed", "missed"):
        return "failing", None
    lead = None if browse.sort.startswith("-") else job_labels.driver(browse.labels)
    if lead is not None:
        return "labels", lead
    return ("host" if browse.host is not None else "jobs"), None


def _job_terms(browse: Browse, scope: tuple[int, ...] | None, kind: str,
               driven: _Terms, checked: _Terms) -> None:
    """The terms on the job rows themselves."""
    by_index = driven if kind == "jobs" else checked  # what jobs_project, jobs_paused serve
    if browse.project_id is not None:
        by_index.add("j.project_id = ?", browse.project_id)
    if scope is not None:
        by_index.add(f"j.project_id IN ({', '.join('?' * len(scope)) or 'NULL'})", *scope)
    # Literals, not parameters: SQLite then uses jobs_paused.
    if browse.paused or browse.status == "paused":
        by_index.add("j.paused = 1")
    if browse.paused is False:
        checked.add("j.paused = 0")
    if browse.status in ("active", "completed"):
        checked.add("j.paused = 0")
        checked.add(_COMPLETED if browse.status == "completed" else f"NOT {_COMPLETED}")
    if browse.name_prefix:
        (driven if kind == "name" else checked).add("j.name >= ? AND j.name < ?",
                                                    *prefix_bounds(browse.name_prefix))
    if browse.contains:
        checked.add("instr(lower(j.name), ?) > 0", browse.contains.lower())
    if browse.host is not None:
        (driven if kind == "host" else checked).add("j.callback_host = ?", browse.host)


def _result_terms(browse: Browse, kind: str, lead: Requirement | None,
                  driven: _Terms, checked: _Terms) -> None:
    """The terms on the last result and the labels."""
    if kind == "failing":
        driven.add("l.state > 0")  # what the partial index job_last_failing holds
    elif browse.failing:
        checked.add("l.state > 0")
    if browse.failing is False:
        checked.add("(l.state IS NULL OR l.state = 0)")
    if browse.last_state is not None:
        (driven if kind == "failing" else checked).add(
            "l.state = ?", history.STATE_CODES[browse.last_state])
    label_sql, label_params = job_labels.row_terms([r for r in browse.labels if r is not lead])
    checked.sql += label_sql
    checked.params += label_params


FAILING_SOURCE = "FROM job_last l CROSS JOIN jobs j ON j.id = l.job_id"


def _reading(kind: str, lead: Requirement | None, direction: str
             ) -> tuple[str, str, tuple[str, ...], str]:
    """(SELECT, FROM, key columns, ORDER BY) of a walk."""
    if kind == "name":
        return (rows.NAMED_JOB_SELECT, "FROM jobs j INDEXED BY jobs_name" + _LAST,
                ("j.name", "j.project_id"), f"j.name{direction}, j.project_id{direction}")
    if kind == "failing":
        return (rows.FAILING_JOB_SELECT, FAILING_SOURCE, ("l.job_id",), f"l.job_id{direction}")
    if kind == "labels":
        assert lead is not None
        return (rows.LABELLED_JOB_SELECT,
                "FROM job_labels x CROSS JOIN jobs j ON j.id BETWEEN x.first_id AND x.last_id"
                + _LAST, ("j.id",), "x.first_id, j.id" if job_labels.ordered(lead) else "j.id")
    if kind == "host":
        return (rows.JOB_SELECT.replace("FROM jobs j ", "FROM jobs j INDEXED BY jobs_host ", 1),
                "FROM jobs j INDEXED BY jobs_host" + _LAST, ("j.id",), f"j.id{direction}")
    return rows.JOB_SELECT, "FROM jobs j" + _LAST, ("j.id",), f"j.id{direction}"


def plan(browse: Browse, scope: tuple[int, ...] | None) -> Plan:
    """The walk (see the module's docstring) and the terms of `browse`."""
    kind, lead = _walk(browse)
    driven, checked = _Terms(), _Terms()
    _job_terms(browse, scope, kind, driven, checked)
    _result_terms(browse, kind, lead, driven, checked)
    if kind == "name":
        driven.add("j.name IS NOT NULL")  # what the partial name index holds
    descending = browse.sort.startswith("-")
    select, source, keys, order = _reading(kind, lead, " DESC" if descending else "")
    if browse.status in ("active", "completed"):
        source += _SCHEDULES
    return Plan(browse, select, source, keys, order, descending, driven, checked,
                parse_after(browse.sort, browse.after), lead)


def page(conn: sqlite3.Connection, plan: Plan, limit: int, offset: int,
         convert: Callable[[Any], dict[str, Any]]) -> Found:
    """One page of `plan`, read in the caller's transaction."""
    from_cursor = plan.cursor_terms(plan.cursor)
    window = _Terms()
    boundary: Key | None = None
    if plan.checked.sql:
        boundary = _boundary(conn, plan, from_cursor)
        if boundary is not None:
            window.add(plan.key_term(">=" if plan.descending else "<="), *boundary)
    where, params = plan.driven.where(plan.checked, from_cursor, window)
    found = conn.execute(f"{plan.select}{where} ORDER BY {plan.order} LIMIT ? OFFSET ?",
                         (*params, limit + 1, max(0, offset))).fetchall()
    shown = [convert(row) for row in found[:limit]]
    total, exact = _total(conn, plan, from_cursor, window, boundary)
    if len(found) > limit and shown:
        last = shown[-1]
        key = (last["name"], last["project_id"]) if len(plan.keys) == 2 else (last["id"],)
        return Found(shown, total, exact, token(plan.browse.sort, key))
    if boundary is not None:
        return Found(shown, total, False, token(plan.browse.sort, boundary), scan_limited=True)
    return Found(shown, total, exact)


def matching_ids(conn: sqlite3.Connection, plan: Plan, cap: int
                 ) -> list[tuple[int, int]] | None:
    """(id, project_id) of every job `plan` matches, at most `cap` + 1 of them (one more tells
    the caller there are too many), by id, read in the caller's transaction; None when the
    walk holds more than SCAN_LIMIT rows and rows are checked one by one, where page() would
    stop (scan_limited) before it had checked them all. A bulk selection must be all of the
    matches, so it is refused rather than cut short; without row checks the walk is the
    matches, which `cap` bounds."""
    from_cursor = plan.cursor_terms(plan.cursor)
    if plan.checked.sql:
        boundary = _boundary(conn, plan, from_cursor)
        if boundary is not None and _walk_goes_past(conn, plan, boundary):
            return None
    where, params = plan.driven.where(plan.checked, from_cursor)
    found = conn.execute(f"SELECT j.id, j.project_id {plan.source}{where} "
                         f"ORDER BY {plan.order} LIMIT ?", (*params, cap + 1)).fetchall()
    return sorted((int(job_id), int(project_id)) for job_id, project_id in found)


def _walk_goes_past(conn: sqlite3.Connection, plan: Plan, key: Key) -> bool:
    """Whether the walk (its index alone) has a row after `key`."""
    where, params = plan.driven.where(plan.cursor_terms(key))
    return conn.execute(f"SELECT 1 {plan.source}{where} LIMIT 1", params).fetchone() is not None


def _boundary(conn: sqlite3.Connection, plan: Plan, from_cursor: _Terms) -> Key | None:
    """The key of the SCAN_LIMIT-th row of the walk from the cursor (its index alone), or
    None when the walk has fewer rows left."""
    where, params = plan.driven.where(from_cursor)
    row = conn.execute(f"SELECT {', '.join(plan.keys)} {plan.source}{where} "
                       f"ORDER BY {plan.order} LIMIT 1 OFFSET {SCAN_LIMIT - 1}",
                       params).fetchone()
    return None if row is None else tuple(row)


def _total(conn: sqlite3.Connection, plan: Plan, from_cursor: _Terms, window: _Terms,
           boundary: Key | None) -> tuple[int, bool]:
    """(count, exact): every match when nothing is checked row by row (capped at TOTAL_CAP,
    or the counter with no filter at all); else the matches from the cursor within the rows
    scanned."""
    if not plan.checked.sql:
        counted = plan.cursor_terms(None)
        if not plan.driven.sql and not counted.sql:
            return counters.read(conn)[counters.JOBS], True
        where, params = plan.driven.where(counted)
        return _capped(conn, f"SELECT 1 {_counted_source(plan, where)}{where}", params)
    where, params = plan.driven.where(plan.checked, from_cursor, window)
    count, exact = _capped(conn, f"SELECT 1 {plan.source}{where}", params)
    return count, exact and boundary is None and plan.cursor is None


def _counted_source(plan: Plan, where: str) -> str:
    """What a total walks. The failing jobs are counted in job_last alone when no term needs
    the job's row: a job's delete removes its job_last row with it, so the join to jobs only
    added a lookup per row (18 ms of a 10,000-row count at 1M jobs, 0.6 ms without)."""
    if plan.source == FAILING_SOURCE and "j." not in where:
        return "FROM job_last l"
    return plan.source


def _capped(conn: sqlite3.Connection, select_one: str, params: Sequence[Any]
            ) -> tuple[int, bool]:
    (found,) = conn.execute(f"SELECT count(*) FROM ({select_one} LIMIT {TOTAL_CAP + 1})",
                            params).fetchone()
    return (TOTAL_CAP, False) if found > TOTAL_CAP else (int(found), True)


def add_lateness(conn: sqlite3.Connection, jobs: list[dict[str, Any]]) -> None:
    """Set each job's `last_late_ms`: how late its last result's tick started (None when it
    did not start, or its last result was a run-now): one primary-key read per job."""
    for job in jobs:
        job["last_late_ms"] = None
        state, tick = job.get("last_state"), job.get("last_execution_at")
        if state is None or tick is None:
            continue
        table = history.OK_TABLE if state == "succeeded" else history.BAD_TABLE
        row = conn.execute(f"SELECT late_ms FROM {table} WHERE project_id = ? AND "
                           "scheduled_at = ? AND job_id = ?",
                           (job["project_id"], tick, job["id"])).fetchone()
        if row is not None:
            job["last_late_ms"] = row[0]
