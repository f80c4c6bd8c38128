"""The host of a job's callback URL, as SQL (the `jobs.callback_host` column, indexed) and as
Python (what a listed job shows), computed the same way by both.

The host is read from the URL as written: the text between `://` and the first `/`, `?` or
`#`, without userinfo (up to an `@`) or port (from a `:`), an IPv6 literal without its
brackets, ASCII letters lowered (SQLite's lower() lowers ASCII only, so Python does the same).
The executor's own parser (yarl) also IDNA-encodes a Unicode host; this does not, so a
Unicode host is matched as written.

AUTHORITY_SQL and HOST_SQL are frozen: migration 7 created the columns from them, and a file
keeps what its migration wrote. A change needs a new migration (and HOST_SQL's Python twin
below must change with it).
"""

from __future__ import annotations

import string

# Generated columns may read other generated columns: the authority, then the host of it.
_REST = "substr(lower(callback_url), instr(callback_url, '://') + 3)"
AUTHORITY_SQL = (f"substr({_REST}, 1, min(instr({_REST} || '/', '/'), "
                 f"instr({_REST} || '?', '?'), instr({_REST} || '#', '#')) - 1)")
_HOST_PORT = "substr(callback_authority, instr(callback_authority, '@') + 1)"
HOST_SQL = (f"CASE WHEN substr({_HOST_PORT}, 1, 1) = '[' "
            f"THEN substr({_HOST_PORT}, 2, instr({_HOST_PORT}, ']') - 2) "
            f"ELSE substr({_HOST_PORT}, 1, instr({_HOST_PORT} || ':', ':') - 1) END")

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _instr(text: str, part: str) -> int:
    """SQLite's instr(): the 1-based position of `part` in `text`, 0 when absent."""
    return text.find(part) + 1


def _substr(text: str, start: int, length: int | None = None) -> str:
    """SQLite's substr() for the arguments HOST_SQL gives it (start >= 0, length >= -1)."""
    begin = max(start - 1, 0)
    if length is None:
        return text[begin:]
    end = start - 1 + length
    return text[begin:max(end, begin)] if end > 0 else ""


def callback_host(url: str) -> str:
    """HOST_SQL of `url`, in Python."""
    rest = _substr(url.translate(_ASCII_LOWER), _instr(url, "://") + 3)
    end = min(_instr(rest + "/", "/"), _instr(rest + "?", "?"), _instr(rest + "#", "#"))
    authority = _substr(rest, 1, end - 1)
    host_port = _substr(authority, _instr(authority, "@") + 1)
    if _substr(host_port, 1, 1) == "[":
        return _substr(host_port, 2, _instr(host_port, "]") - 2)
    return _substr(host_port, 1, _instr(host_port + ":", ":") - 1)


def wanted_host(raw: str) -> str:
    """A `host=` filter value as the column holds hosts: ASCII letters lowered, an IPv6
    literal without brackets."""
    host = raw.strip().translate(_ASCII_LOWER)
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host
