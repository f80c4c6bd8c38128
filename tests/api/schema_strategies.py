"""Hypothesis strategies built from the API's own OpenAPI document.

`request_for(doc, path, method)` draws one request (path, query string, body bytes) for an
operation: mostly schema-shaped values, often with one field broken, sometimes plain garbage
(wrong types, missing fields, huge strings, bad ids, malformed JSON). Callback URLs are always
loopback: the node under test only lets callbacks reach 127.0.0.0/8, and a generated host
name must never send a DNS query.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

from hypothesis import strategies as st

from scheduler0.vocabulary import BULK_ACTIONS

LOOPBACK_URLS = st.builds(lambda port, path: f"http://127.0.0.1:{port}/{path}",
                          st.integers(1, 65535), st.text("abc/-_", max_size=8))
SPECS = st.sampled_from(["*/5 * * * *", "0 0 * * *", "@every 90s", "@daily", "0 30 9 * * MON-FRI",
                         "61 * * * *", "* * *", "0 0 30 2 *", "@every 0s", "@never", "",
                         "H/15 * * * *", "H H(9-17) * * 1-5", "@every 1m H", "H(9-3) * * * *",
                         "0 0 H(28-31) 2 *", "@at 2030-01-01T00:00:00Z", "@at now",
                         "@at 2001-01-01T00:00:00Z", "@at 2030-01-01T00:00:00"])
ZONES = st.sampled_from(["UTC", "Europe/Berlin", "america/new_york", "Nowhere/Land", "", "../etc"])
INSTANTS = st.one_of(
    st.sampled_from(["2030-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "2031-02-30T00:00:00Z",
                     "1969-12-31T23:59:59Z", "9999-12-31T23:59:59Z", "now"]),
    st.integers(-10, 2**40).map(str))
HUGE = st.sampled_from(["x" * 70_000, "é" * 40_000, "9" * 5000])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-(2**70), 2**70),
                    st.floats(allow_nan=False), st.text(max_size=40), HUGE)
GARBAGE = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=8)
# Field names with a strategy that gives valid values often (the schema alone rarely would).
# Job names and labels, valid and not; "labels" is both a body field (an object) and a query
# parameter (a selector), so each gets the other's values too.
NAMES = st.one_of(st.sampled_from(["nightly", "job-1", "a.b_c", "1abc", "-x", "é", "x" * 129, ""]),
                  st.from_regex(r"[A-Za-z][A-Za-z0-9._-]{0,12}", fullmatch=True),
                  st.text(max_size=30))
LABEL_KEYS = st.sampled_from(["team", "env", "tier", "example.com/team", "Bad Key", "-x", "",
                              "a" * 64, "UPPER.example.com/x", "/x"])
LABEL_VALUES = st.one_of(st.sampled_from(["billing", "prod", "", "a b", "x" * 64, "-v"]),
                         GARBAGE)
SELECTORS = st.one_of(
    st.sampled_from(["team=billing", "env!=dev", "tier in (a,b)", "tier notin (a,b)", "team",
                     "!team", "team==billing,env!=dev", "team=", "in (a)", "tier in a", "=x",
                     "team=billing,", "a b", "tier in (", "!=x", "x" * 5000]),
    st.text(alphabet="abc=!,() ", max_size=20))
LABELS = st.one_of(st.dictionaries(LABEL_KEYS, LABEL_VALUES, max_size=4), SELECTORS)
# A job's extra request headers (good ones, the server's own, bad characters) and success codes.
HEADERS = st.one_of(st.none(), st.dictionaries(
    st.sampled_from(["Authorization", "X-Tenant", "x-tenant", "X-Scheduler0-Signature", "Host",
                     "Bad Name", "", "X-A\r\nB"]),
    st.sampled_from(["Bearer t", "", "a\r\nb", "é", "x" * 1100, "\t v"]), max_size=3))
STATUSES = st.one_of(st.none(), st.lists(st.one_of(st.integers(90, 610), st.sampled_from(
    [200, 404, True, "200", 200.0])), max_size=4))
FIELD_HINTS: dict[str, Any] = {
    "headers": HEADERS, "success_codes": STATUSES,
    "spec": SPECS, "timezone": ZONES, "callback_url": LOOPBACK_URLS, "from": INSTANTS,
    "to": INSTANTS,
    "since": INSTANTS, "until": INSTANTS, "start_date": INSTANTS, "end_date": INSTANTS,
    "run_at": INSTANTS, "name": NAMES, "labels": LABELS,
    # POST /jobs/bulk: every action, near misses, and ids that exist (or not).
    "action": st.sampled_from([*BULK_ACTIONS, "RUN", "stop", ""]),
    "ids": st.one_of(st.lists(st.integers(1, 8), min_size=1, max_size=5, unique=True),
                     st.lists(st.integers(1, 8), min_size=2, max_size=4), GARBAGE),
}
ID_TEXT = st.one_of(st.integers(1, 6).map(str), st.integers(-5, 10**25).map(str),
                    st.text(max_size=12), st.sampled_from(["0", "1.5", "1e3", "%00", "٣"]),
                    NAMES)
# Execution ids: a tick's and a run-now's (of jobs that exist, or not), and near misses.
EXECUTION_IDS = st.one_of(
    st.builds(lambda job, tick: f"{job}-{tick}", st.integers(1, 8),
              st.integers(0, 2**34)),
    st.builds(lambda job, tick, run: f"{job}-{tick}-m{run}", st.integers(1, 8),
              st.integers(0, 2**34), st.integers(0, 20)),
    st.sampled_from(["1-", "-1", "1-2-3", "1-2-m", "01-2", "1-99999999999999999999-m1"]),
    ID_TEXT)
PATH_HINTS = {"execution_id": EXECUTION_IDS}


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        section, name = schema["$ref"].split("/")[-2:]
        schema = doc["components"][section][name]
    return schema


def from_schema(doc: dict[str, Any], schema: dict[str, Any], name: str = "",
                depth: int = 0) -> st.SearchStrategy[Any]:
    """Values shaped like `schema` (its enums, bounds, required fields)."""
    schema = resolve(doc, schema)
    if name in FIELD_HINTS:
        return FIELD_HINTS[name]
    if "oneOf" in schema:
        return st.one_of(*(from_schema(doc, s, name, depth + 1) for s in schema["oneOf"]))
    if "allOf" in schema:
        # The schema's own properties and those of its parts; of a part that asks for one of
        # several spellings (oneOf required), the first.
        merged: dict[str, Any] = {"type": "object",
                                  "properties": dict(schema.get("properties", {})),
                                  "required": list(schema.get("required", []))}
        for part in schema["allOf"]:
            part = resolve(doc, part)
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
            for option in part.get("oneOf", [])[:1]:
                merged["required"] += option.get("required", [])
        return from_schema(doc, merged, name, depth + 1)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kinds = schema.get("type", "string")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return st.one_of(*(_of_type(doc, schema, kind, depth) for kind in kinds))


def _of_type(doc: dict[str, Any], schema: dict[str, Any], kind: str,
             depth: int) -> st.SearchStrategy[Any]:
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        low, high = schema.get("minimum", -(2**31)), schema.get("maximum", 2**31)
        return st.one_of(st.integers(low, min(high, low + 5)), st.integers(low, high))
    if kind == "string":
        if schema.get("format") == "uri":
            return LOOPBACK_URLS
        return st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 30), 30))
    if kind == "array":
        items = from_schema(doc, schema.get("items", {}), depth=depth + 1)
        return st.lists(items, min_size=schema.get("minItems", 0),
                        max_size=min(schema.get("maxItems", 3), 3))
    if kind == "object":
        props = schema.get("properties", {})
        required = [p for p in schema.get("required", []) if p in props]
        optional = {p: from_schema(doc, s, p, depth + 1) for p, s in props.items()
                    if p not in required}
        return st.fixed_dictionaries({p: from_schema(doc, props[p], p, depth + 1)
                                      for p in required}, optional=optional)
    return GARBAGE


@st.composite
def broken(draw: Any, valid: st.SearchStrategy[Any]) -> Any:
    """A schema-shaped value with one thing wrong: a field dropped, retyped or added."""
    value = draw(valid)
    target = value[0] if isinstance(value, list) and value else value
    if isinstance(target, dict) and target:
        key = draw(st.sampled_from(sorted(target)))
        how = draw(st.sampled_from(["drop", "garbage", "extra"]))
        if how == "drop":
            del target[key]
        elif how == "garbage":
            target[key] = draw(GARBAGE)
        else:
            target[draw(st.text(min_size=1, max_size=15))] = draw(GARBAGE)
    return value


def body_strategy(doc: dict[str, Any], operation: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """Request body bytes: JSON from the schema, broken schema JSON, garbage, non-JSON."""
    body = operation.get("requestBody")
    raw = st.one_of(st.just(b""), st.binary(max_size=40),
                    st.sampled_from([b"{", b"[" * 5000, b'{"a":1}{', b"\xff\xfe", b"nul\x00l"]))
    garbage = GARBAGE.map(lambda v: json.dumps(v).encode())
    if body is None:
        return st.one_of(st.just(b""), garbage, raw)
    schema = body["content"]["application/json"]["schema"]
    valid = from_schema(doc, schema)
    shaped = st.one_of(valid, broken(valid)).map(lambda v: json.dumps(v).encode())
    return st.one_of(shaped, shaped, garbage, raw)


def query_strategy(doc: dict[str, Any], params: list[dict[str, Any]]) -> st.SearchStrategy[dict]:
    query = {}
    for param in params:
        if param["in"] != "query":
            continue
        valid = from_schema(doc, param["schema"], param["name"]).map(_query_text)
        query[param["name"]] = st.one_of(valid, st.text(max_size=30), HUGE)
    return st.fixed_dictionaries({}, optional=query)


def _query_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@st.composite
def request_for(draw: Any, doc: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    item = doc["paths"][path]
    operation = item[method]
    params = [*item.get("parameters", []), *operation.get("parameters", [])]
    url = path
    for name in re.findall(r"\{(\w+)\}", path):
        url = url.replace("{" + name + "}", urllib.parse.quote(
            draw(PATH_HINTS.get(name, ID_TEXT)), safe=""))
    headers = {}
    for param in params:
        if param["in"] == "header" and draw(st.booleans()):
            headers[param["name"]] = draw(st.text(
                st.characters(min_codepoint=33, max_codepoint=126), min_size=0, max_size=250))
    return {"url": url, "query": draw(query_strategy(doc, params)), "headers": headers,
            "body": draw(body_strategy(doc, operation))}
