"""Job names and labels: what a valid one is, the text a job's labels are stored as, and label
selectors (the Kubernetes grammar) read into requirements.

Pure: no I/O. The API checks bodies and query strings with these rules and words the errors
around the problems they name; the store checks commands with them again (a second line) and
keeps a job's labels as `canonical_text`.

A name starts with a letter, so a path segment that starts with a digit is always a job id and
one that starts with a letter always a name: `/jobs/42` and `/jobs/nightly-report` never mean
the same thing, whatever names exist.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from scheduler0 import vocabulary

MAX_NAME_LENGTH = vocabulary.MAX_JOB_NAME_LENGTH
MAX_LABELS = vocabulary.MAX_JOB_LABELS  # per job
MAX_LABEL_NAME = 63  # the name part of a key, and a value (Kubernetes' limits)
MAX_LABEL_PREFIX = 253  # the DNS subdomain before a key's "/"
MAX_LABEL_KEY = MAX_LABEL_PREFIX + 1 + MAX_LABEL_NAME
MAX_LABEL_VALUE = MAX_LABEL_NAME
MAX_REQUIREMENTS = 32  # per selector
MAX_SELECTOR_VALUES = 64  # per `in (...)` / `notin (...)`

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9._-]*$"
_NAME = re.compile(NAME_PATTERN)
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
_DNS_LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
_LABEL_PREFIX = re.compile(rf"{_DNS_LABEL}(\.{_DNS_LABEL})*")
# The same rules as JSON Schema patterns (for the OpenAPI document).
_BOUNDED_NAME = r"[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?"  # MAX_LABEL_NAME at most
LABEL_VALUE_PATTERN = rf"^({_BOUNDED_NAME})?$"
LABEL_KEY_PATTERN = rf"^({_DNS_LABEL}(\.{_DNS_LABEL})*/)?{_BOUNDED_NAME}$"
# The same, for the common case at once (the limits of a prefix's length aside).
_GOOD_KEY = re.compile(LABEL_KEY_PATTERN[1:-1])
_GOOD_VALUE = re.compile(LABEL_VALUE_PATTERN[1:-1])

NAME_RULE = ("a letter, then letters, digits, '-', '_' or '.', at most "
             f"{MAX_NAME_LENGTH} characters")
KEY_RULE = (f"[prefix/]name: a name of at most {MAX_LABEL_NAME} letters, digits, '-', '_' or "
            "'.' that begins and ends with a letter or digit, and an optional prefix, a DNS "
            f"subdomain of at most {MAX_LABEL_PREFIX} lowercase characters (example.com/team)")
VALUE_RULE = (f"at most {MAX_LABEL_VALUE} letters, digits, '-', '_' or '.' that begin and end "
              'with a letter or digit, or "" (empty)')
GRAMMAR = ("a selector is requirements separated by commas: key=value (or key==value), "
           "key!=value, key in (v1,v2), key notin (v1,v2), key (the job has the key), !key "
           "(it has not); e.g. labels=team=billing,env!=dev")


class LabelError(ValueError):
    """A name, label or selector that breaks the rules; the message says which rule."""


def _quote(text: str, limit: int = 60) -> str:
    shown = json.dumps(text, ensure_ascii=False)
    return shown if len(shown) <= limit else shown[: limit - 4] + '..."'


# -- names -------------------------------------------------------------------------------------


def is_name(text: str) -> bool:
    """Whether `text` can be a job's name (name_problem says why not)."""
    return len(text) <= MAX_NAME_LENGTH and _NAME.fullmatch(text) is not None


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a job's name, or None."""
    if len(name) > MAX_NAME_LENGTH:
        return f"{len(name)} characters is too long; at most {MAX_NAME_LENGTH}"
    if _NAME.fullmatch(name):
        return None
    if name[:1].isascii() and name[:1].isdigit():
        return (f"{_quote(name)} starts with a digit, and a path segment that starts with a "
                f"digit is a job id; start it with a letter, e.g. {_quote('job-' + name)}")
    return f"{_quote(name)} is not a job name; use {NAME_RULE}"


def name_taken(name: str, job_id: int, project_id: int) -> str:
    """The refusal of a name another job of the project has."""
    return (f"{_quote(name)} is already the name of job {job_id} in project {project_id}; "
            "names are unique within a project: choose another name")


def name_repeated(name: str, first: int, project_id: int) -> str:
    """The refusal of a batch that gives one name to two jobs of a project."""
    return (f"{_quote(name)} is also the name of jobs[{first}] in project {project_id}; names "
            "are unique within a project: give each job its own")


def prefix_bounds(prefix: str) -> tuple[str, str]:
    """(low, high): a name starts with `prefix` exactly when low <= name < high (names are
    ASCII below DEL, so DEL after the prefix is above every name that extends it)."""
    return prefix, prefix + "\x7f"


# -- labels ------------------------------------------------------------------------------------


def key_problem(key: str) -> str | None:
    """Why `key` cannot be a label key, or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return f"the key {_quote(key)} has an empty prefix before '/'; use {KEY_RULE}"
    if len(name) > MAX_LABEL_NAME or not _LABEL_NAME.fullmatch(name):
        return f"the key {_quote(key)} is not a label key; use {KEY_RULE}"
    if slash and (len(prefix) > MAX_LABEL_PREFIX or not _LABEL_PREFIX.fullmatch(prefix)):
        return f"the key {_quote(key)} has a prefix that is not a DNS subdomain; use {KEY_RULE}"
    return None


def value_problem(value: str, key: str | None = None) -> str | None:
    """Why `value` (of the label `key`, when known) cannot be a label value, or None."""
    if value == "" or (len(value) <= MAX_LABEL_VALUE and _LABEL_NAME.fullmatch(value)):
        return None
    of = "" if key is None else f" of {_quote(key)}"
    return f"the value {_quote(value)}{of} is not a label value; use {VALUE_RULE}"


def checked(labels: Mapping[Any, Any]) -> dict[str, str]:
    """`labels` (string keys to string values) checked; raises LabelError naming the first
    label that breaks a rule (or the count)."""
    if len(labels) > MAX_LABELS:
        raise LabelError(f"{len(labels)} labels is too many; at most {MAX_LABELS} per job")
    for key, value in labels.items():
        if (type(key) is str and type(value) is str and _GOOD_KEY.fullmatch(key)
                and key.find("/") <= MAX_LABEL_PREFIX and _GOOD_VALUE.fullmatch(value)):
            continue  # the usual label, checked in one go; the rest says what is wrong
        if not isinstance(key, str):
            raise LabelError(f"keys must be strings, got {type(key).__name__}")
        problem = key_problem(key)
        if problem is not None:
            raise LabelError(problem)
        if not isinstance(value, str):
            raise LabelError(f"the value of {_quote(key)} must be a string, got "
                             f'{json_kind(value)}; labels map strings to strings, e.g. '
                             '{"team": "billing"}')
        problem = value_problem(value, key)
        if problem is not None:
            raise LabelError(problem)
    return dict(labels)


def canonical_text(labels: Mapping[str, str]) -> str | None:
    """How a job keeps its (checked) labels: compact JSON with sorted keys, so equal label
    sets are equal texts (a batch then shares one); None for no labels."""
    if not labels:
        return None
    # Checked labels are ASCII without quotes or backslashes: the text is the JSON every
    # encoder writes for them, compact (a job.create of 10,000 jobs with their own labels
    # writes 10,000 of these, in the API and again in the apply).
    return _ENCODE_SORTED(labels).decode("ascii")


def from_text(text: str | bytes | None) -> dict[str, str]:
    """Labels written as JSON text (`canonical_text`'s, or any other spelling): a mapping of
    strings to strings; raises LabelError for anything else."""
    if text is None:
        return {}
    try:
        return _DECODE_LABELS(text)
    except msgspec.DecodeError as exc:  # ValidationError too: not strings to strings
        raise LabelError(f"expected the JSON text of an object of strings to strings ({exc})"
                         ) from None


_ENCODE_SORTED = msgspec.json.Encoder(order="sorted").encode
_DECODE_LABELS = msgspec.json.Decoder(dict[str, str]).decode


def json_kind(value: Any) -> str:
    """What JSON type `value` is, as an error message says it: "a string", "an array", ...
    (the API's checks and these word a wrong type alike)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# -- selectors ---------------------------------------------------------------------------------

EQUALS, NOT_EQUALS, IN, NOT_IN, EXISTS, NOT_EXISTS = "=", "!=", "in", "notin", "exists", "!"


@dataclass(frozen=True)
class Requirement:
    """One requirement of a selector on the label `key`: `op` is EQUALS or NOT_EQUALS (one
    value), IN or NOT_IN (values), EXISTS or NOT_EXISTS (none). A job without the key passes
    NOT_EQUALS, NOT_IN and NOT_EXISTS, as in Kubernetes."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    @property
    def positive(self) -> bool:
        """Only jobs that have the key pass: the label index can list them."""
        return self.op in (EQUALS, IN, EXISTS)


_WORD = re.compile(r"[A-Za-z0-9._/-]+")
_SPACE = re.compile(r"\s*")


class _Reader:
    """A cursor over the selector text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def skip_space(self) -> None:
        self.at = _SPACE.match(self.text, self.at).end()  # type: ignore[union-attr]

    def peek(self, token: str) -> bool:
        self.skip_space()
        return self.text.startswith(token, self.at)

    def take(self, token: str) -> bool:
        if self.peek(token):
            self.at += len(token)
            return True
        return False

    def word(self) -> str | None:
        self.skip_space()
        found = _WORD.match(self.text, self.at)
        if found is None:
            return None
        self.at = found.end()
        return found.group()

    def done(self) -> bool:
        self.skip_space()
        return self.at >= len(self.text)

    def fail(self, what: str) -> LabelError:
        shown = self.text[self.at:self.at + 20] or "the end"
        where = f"at position {self.at} ({_quote(shown)})" if self.at < len(self.text) else (
            "at the end")
        return LabelError(f"{what} {where}")


def parse_selector(text: str) -> tuple[Requirement, ...]:
    """The requirements of a selector (see GRAMMAR), all of which a job must meet; () for an
    empty one. Raises LabelError saying what is wrong and where."""
    cursor = _Reader(text)
    if cursor.done():
        return ()
    requirements: list[Requirement] = []
    while True:
        requirements.append(_requirement(cursor))
        if len(requirements) > MAX_REQUIREMENTS:
            raise LabelError(f"more than {MAX_REQUIREMENTS} requirements; send at most "
                             f"{MAX_REQUIREMENTS}")
        if cursor.done():
            return tuple(requirements)
        if not cursor.take(","):
            raise cursor.fail("expected ',' between requirements")


def _requirement(cursor: _Reader) -> Requirement:
    negated = cursor.take("!")
    key = cursor.word()
    if key is None:
        raise cursor.fail("expected a label key")
    problem = key_problem(key)
    if problem is not None:
        raise LabelError(problem)
    if negated:
        return Requirement(key, NOT_EXISTS)
    for token, op in (("==", EQUALS), ("!=", NOT_EQUALS), ("=", EQUALS)):
        if cursor.take(token):
            return Requirement(key, op, (_value(cursor),))
    before = cursor.at
    word = cursor.word()
    if word in (IN, NOT_IN):
        return Requirement(key, word, _values(cursor))
    cursor.at = before
    if cursor.done() or cursor.peek(","):
        return Requirement(key, EXISTS)
    raise cursor.fail(f"expected =, ==, !=, in, notin, ',' or the end after the key {key!r}")


def _value(cursor: _Reader) -> str:
    """A value after an operator; empty when none follows (`env=` asks for the value "")."""
    value = cursor.word() or ""
    problem = value_problem(value)
    if problem is not None:
        raise LabelError(problem)
    return value


def _values(cursor: _Reader) -> tuple[str, ...]:
    if not cursor.take("("):
        raise cursor.fail("expected '(' after in/notin")
    if cursor.peek(")"):
        raise cursor.fail("expected at least one value in the list")
    values = [_value(cursor)]
    while cursor.take(","):
        values.append(_value(cursor))
    if not cursor.take(")"):
        raise cursor.fail("expected ',' or ')' in the list of values")
    if len(values) > MAX_SELECTOR_VALUES:
        raise LabelError(f"{len(values)} values in one list is too many; at most "
                         f"{MAX_SELECTOR_VALUES}")
    return tuple(dict.fromkeys(values))
