"""The label index (table job_labels) and label selectors as SQL.

A job keeps its labels as canonical JSON text in `jobs.labels` (scheduler0.labels), which is
what reads answer and what the triggers read; `job_labels` holds, for each label (key, value),
the ranges [first_id, last_id] of the ids of exactly the jobs that have it (schema.py, _V4).

job.create writes the ranges of a batch here: one per label when its jobs share a label set
(the jobs of a batch have consecutive ids), extending the range of a batch just before it with
those labels; the schema's triggers keep them exact for every other change.

A selector (labels.Requirement, all of which a job must meet) becomes SQL two ways:
- `driver_terms`: the conditions on the ranges `x` of one positive requirement, for a list
  that walks the index instead of the jobs (store/reads.py): the ranges of `key=value` are
  disjoint, so read in first_id order they give its jobs in id order, and a keyset page
  starts at the range that holds the cursor; `in` and a bare key read the ranges of those
  values and sort their jobs by id;
- `row_terms`: conditions on the job row `j` for the others (its labels text, already read).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from scheduler0 import labels
from scheduler0.labels import Requirement

_INSERT_RANGES = ("INSERT INTO job_labels (key, value, first_id, last_id) "
                  "SELECT json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'), "
                  "json_extract(r.value, '$[2]'), json_extract(r.value, '$[3]') "
                  "FROM json_each(?) r")
# The range of a label that ends just before `first_id`, extended to `last_id`.
_EXTEND = ("UPDATE job_labels SET last_id = ? WHERE key = ? AND value = ? AND last_id = ? "
           "AND first_id = (SELECT max(first_id) FROM job_labels "
           "WHERE key = ? AND value = ? AND first_id < ?)")

Range = tuple[str, str, int, int]  # key, value, first_id, last_id


def index_created(conn: sqlite3.Connection, first_id: int, count: int, column: Any) -> None:
    """Index the labels of the `count` jobs just inserted from id `first_id` on; `column` is
    their labels column (one text or None every job shares, or each job's)."""
    if column is None or count == 0:
        return
    if isinstance(column, list):
        ranges = _runs(column, first_id)
    else:
        last_id = first_id + count - 1
        ranges = [(key, value, first_id, last_id)
                  for key, value in labels.from_text(column).items()]
    new = [found for found in ranges if found[2] != first_id or not _extended(conn, found)]
    if new:
        conn.execute(_INSERT_RANGES, (json.dumps(new, separators=(",", ":")),))


def _extended(conn: sqlite3.Connection, found: Range) -> bool:
    """Whether a range of that label ended just before `found`, and now ends where it does."""
    key, value, first_id, last_id = found
    cursor = conn.execute(_EXTEND, (last_id, key, value, first_id - 1, key, value, first_id))
    return cursor.rowcount == 1


def _runs(column: Sequence[str | None], first_id: int) -> list[Range]:
    """The ranges of the labels of jobs `first_id` on, whose label texts are `column`: each
    label's runs of consecutive jobs that have it."""
    parsed: dict[str, tuple[tuple[str, str], ...]] = {}
    open_runs: dict[tuple[str, str], list[int]] = {}
    ranges: list[Range] = []
    for job_id, text in enumerate(column, first_id):
        if text is None:
            continue
        pairs = parsed.get(text)
        if pairs is None:
            pairs = parsed[text] = tuple(labels.from_text(text).items())
        for pair in pairs:
            run = open_runs.get(pair)
            if run is not None and run[1] == job_id - 1:
                run[1] = job_id
                continue
            if run is not None:
                ranges.append((*pair, run[0], run[1]))
            open_runs[pair] = [job_id, job_id]
    ranges += [(*pair, run[0], run[1]) for pair, run in open_runs.items()]
    return ranges


def driver(requirements: Sequence[Requirement]) -> Requirement | None:
    """The requirement a list walks the index for: the first `=` (its jobs come in id order),
    else the first `in`, else the first bare key; None when every one is negative."""
    for op in (labels.EQUALS, labels.IN, labels.EXISTS):
        for requirement in requirements:
            if requirement.op == op:
                return requirement
    return None


def ordered(requirement: Requirement) -> bool:
    """Whether the jobs of `requirement`'s ranges come in id order (one label's ranges)."""
    return requirement.op == labels.EQUALS


def driver_terms(requirement: Requirement, after: int | None = None
                 ) -> tuple[list[str], list[Any]]:
    """The conditions on ranges `x` (joined to the jobs `j` they hold) that find the jobs
    meeting `requirement`, from the cursor `after` on."""
    terms: list[str] = ["x.key = ?"]
    params: list[Any] = [requirement.key]
    if requirement.op != labels.EXISTS:
        terms.append(f"x.value IN ({', '.join('?' * len(requirement.values))})")
        params += requirement.values
    if after is not None:
        terms.append("x.last_id > ?")
        params.append(after)
        if ordered(requirement):  # start at the range that holds the cursor: a seek
            terms.append("x.first_id >= coalesce((SELECT max(first_id) FROM job_labels "
                         "WHERE key = ? AND value = ? AND first_id <= ?), 0)")
            params += [requirement.key, requirement.values[0], after]
    return terms, params


def count_ranges(conn: sqlite3.Connection, requirement: Requirement, cap: int) -> int:
    """The jobs meeting `requirement` (a driver), counted from its ranges, up to `cap` + 1 or
    more: each range holds one job at least, so `cap` + 1 ranges are enough."""
    terms, params = driver_terms(requirement, None)
    (found,) = conn.execute(
        f"SELECT coalesce(sum(n), 0) FROM (SELECT last_id - first_id + 1 AS n "
        f"FROM job_labels x WHERE {' AND '.join(terms)} LIMIT {cap + 1})", params).fetchone()
    return int(found)


def row_terms(requirements: Sequence[Requirement], alias: str = "j"
              ) -> tuple[list[str], list[Any]]:
    """Conditions on the job rows `alias` (of jobs) that keep those meeting every requirement.
    A job without the key has no value (NULL), so it passes `!=`, `notin` and `!key` only."""
    terms: list[str] = []
    params: list[Any] = []
    for requirement in requirements:
        value = f"json_extract({alias}.labels, ?)"
        marks = ", ".join("?" * len(requirement.values))
        term = {labels.EQUALS: f"{value} = ?", labels.NOT_EQUALS: f"{value} IS NOT ?",
                labels.IN: f"{value} IN ({marks})",
                labels.NOT_IN: f"coalesce({value} NOT IN ({marks}), 1)",
                labels.EXISTS: f"{value} IS NOT NULL",
                labels.NOT_EXISTS: f"{value} IS NULL"}[requirement.op]
        terms.append(term)
        params += [_path(requirement.key), *requirement.values]
    return terms, params


def _path(key: str) -> str:
    """The JSON path of a label key: quoted, since keys hold '.' and '/' (and never '"')."""
    return "$." + json.dumps(key)
