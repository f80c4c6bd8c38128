"""The one wire codec between processes: msgpack, with a version on every message."""

from __future__ import annotations

from typing import Any

import msgpack

WIRE_VERSION = 1


def encode(message: dict[str, Any]) -> bytes:
    if "v" not in message:
        message = {"v": WIRE_VERSION, **message}
    return msgpack.packb(message, use_bin_type=True)


def decode(data: bytes) -> dict[str, Any]:
    """Decode one message; raises ValueError for anything that is not a v1 map."""
    try:
        message = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as exc:  # msgpack raises several unrelated types
        raise ValueError(f"undecodable message: {exc}") from None
    if not isinstance(message, dict) or message.get("v") != WIRE_VERSION:
        raise ValueError("message is not a version-1 map")
    return message
