"""Typed access to command bodies, the checks their decoders share.

The API validates input before proposing, so for commands these checks are a second line: a
command that is malformed anyway (a bug, an old proposer) is refused with 400 naming the field,
instead of failing deep inside SQL. `where` prefixes the field name, e.g. "jobs[3]." in a batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scheduler0.errors import ValidationError

_MISSING = object()


def mapping(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(f"{name} must be an object, got {_kind(value)}")
    return value


def req_int(body: Mapping[str, Any], key: str, where: str = "") -> int:
    value = body.get(key, _MISSING)
    if value is _MISSING:
        raise ValidationError(f"{where}{key} is required")
    return _int(value, where + key)


def opt_int(body: Mapping[str, Any], key: str, where: str = "") -> int | None:
    value = body.get(key)
    return None if value is None else _int(value, where + key)


def req_str(body: Mapping[str, Any], key: str, where: str = "") -> str:
    value = body.get(key, _MISSING)
    if value is _MISSING:
        raise ValidationError(f"{where}{key} is required")
    return _str(value, where + key)


def opt_str(body: Mapping[str, Any], key: str, default: str | None, where: str = "") -> str | None:
    value = body.get(key)
    return default if value is None else _str(value, where + key)


def opt_bool(body: Mapping[str, Any], key: str, default: bool, where: str = "") -> bool:
    value = body.get(key)
    if value is None:
        return default
    return as_bool(value, where + key)


def opt_int_list(body: Mapping[str, Any], key: str, where: str = "") -> list[int] | None:
    """A list of integers, or None when the key is absent or null."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValidationError(f"{where}{key} must be a list of integers, got {_kind(value)}")
    return [_int(item, f"{where}{key}[{i}]") for i, item in enumerate(value)]


def as_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{name} must be true or false, got {_kind(value)}")
    return value


def as_int_or_none(value: Any, name: str) -> int | None:
    return None if value is None else _int(value, name)


def as_str(value: Any, name: str) -> str:
    return _str(value, name)


_INT64 = range(-(2**63), 2**63)  # what an SQLite INTEGER holds


def _int(value: Any, name: str) -> int:
    # bool is an int subclass in Python; `true` is not a valid id or time.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be an integer, got {_kind(value)}")
    if value not in _INT64:
        raise ValidationError(f"{name} is out of range: {value}")
    return value


def _str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
