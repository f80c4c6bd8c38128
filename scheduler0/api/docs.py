"""The /docs page: the OpenAPI document rendered as one self-contained HTML page.

Generated on the server from the dict in openapi.py: no CDN, no JavaScript, inline CSS only,
so it works on an air-gapped node.
"""

from __future__ import annotations

import html
import re
from typing import Any

METHODS = ("get", "post", "put", "delete")
CSS = """
body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
code,pre{font:13px ui-monospace,monospace;background:#f4f4f4;padding:1px 4px;border-radius:3px}
h2{border-bottom:1px solid #ddd;margin-top:2em}
.op{border:1px solid #ddd;border-radius:6px;margin:1em 0;padding:.5em 1em}
.m{display:inline-block;min-width:4.5em;font-weight:bold;text-transform:uppercase}
.get{color:#0a6}.post{color:#06c}.put{color:#a60}.delete{color:#c22}
table{border-collapse:collapse;width:100%;margin:.5em 0}
td,th{border-bottom:1px solid #eee;text-align:left;padding:3px 6px;vertical-align:top}
th{background:#fafafa}.muted{color:#777}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _inline(text: str) -> str:
    """The description's markdown subset: `code` and **bold**."""
    out = _e(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{_inline(' '.join(block.split()))}</p>"
                   for block in text.strip().split("\n\n") if block.strip())


def _anchor(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f'<a href="#schema-{_anchor(name)}">{_e(name)}</a>'
    if "allOf" in schema:
        return " and ".join(_type(s) for s in schema["allOf"])
    if "oneOf" in schema:
        return " or ".join(_type(s) for s in schema["oneOf"])
    if "const" in schema:
        return f"<code>{_e(schema['const'])}</code>".lower()
    kind = schema.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    text = " | ".join(_e(k) for k in kinds)
    if "array" in kinds and "items" in schema:
        text = f"array of {_type(schema['items'])}"
    if schema.get("format"):
        text += f" ({_e(schema['format'])})"
    return text


def _constraints(schema: dict[str, Any]) -> str:
    parts = []
    if "enum" in schema:
        parts.append("one of " + ", ".join(f"<code>{_e(x)}</code>" for x in schema["enum"]
                                           if x is not None))
    for key, label in (("minimum", "min"), ("maximum", "max"), ("minLength", "min length"),
                       ("maxLength", "max length"), ("x-maxBytes", "max bytes of UTF-8"),
                       ("minItems", "min items"),
                       ("maxItems", "max items"), ("default", "default")):
        if key in schema:
            parts.append(f"{label} <code>{_e(schema[key])}</code>")
    if "examples" in schema:
        parts.append("e.g. " + ", ".join(f"<code>{_e(x)}</code>" for x in schema["examples"]))
    return "; ".join(parts)


def _describe(schema: dict[str, Any]) -> str:
    text = _inline(schema.get("description", ""))
    extra = _constraints(schema)
    return " ".join(p for p in (text, f'<span class="muted">{extra}</span>' if extra else "") if p)


def _object_table(schema: dict[str, Any]) -> str:
    props = schema.get("properties") or {}
    if not props:
        return ""
    required = set(schema.get("required", ())) | _one_of_required(schema)
    rows = "".join(
        f"<tr><td><code>{_e(name)}</code>{' *' if name in required else ''}</td>"
        f"<td>{_type(prop)}</td><td>{_describe(prop)}</td></tr>"
        for name, prop in props.items())
    return f"<table><tr><th>field (* required)</th><th>type</th><th>notes</th></tr>{rows}</table>"


def _one_of_required(schema: dict[str, Any]) -> set[str]:
    """Fields required in one of several spellings (allOf: oneOf required): the first one."""
    return {name for part in schema.get("allOf", ()) for option in part.get("oneOf", ())[:1]
            for name in option.get("required", ())}


def _parameters(params: list[dict[str, Any]]) -> str:
    if not params:
        return ""
    rows = "".join(
        f"<tr><td><code>{_e(p['name'])}</code>{' *' if p.get('required') else ''}</td>"
        f"<td>{_e(p['in'])}</td><td>{_type(p['schema'])}</td>"
        f"<td>{_inline(p.get('description', ''))} <span class=muted>{_constraints(p['schema'])}"
        f"</span></td></tr>" for p in params)
    return ("<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>notes</th>"
            f"</tr>{rows}</table>")


def _content_type(entry: dict[str, Any]) -> str:
    content = entry.get("content") or {}
    parts = []
    for media, spec in content.items():
        parts.append(f"<code>{_e(media)}</code> {_type(spec.get('schema', {}))}")
    return "; ".join(parts)


def _responses(doc: dict[str, Any], responses: dict[str, Any]) -> str:
    rows = []
    for status, entry in responses.items():
        if "$ref" in entry:
            entry = doc["components"]["responses"][entry["$ref"].rsplit("/", 1)[-1]]
        body = entry.get("content", {}).get("application/json", {}).get("schema", {})
        data = body.get("properties", {}).get("data")
        shape = f"data: {_type(data)}" if data else _content_type(entry)
        rows.append(f"<tr><td>{_e(status)}</td><td>{_inline(entry.get('description', ''))}</td>"
                    f"<td>{shape}</td></tr>")
    return ("<h4>Responses</h4><table><tr><th>status</th><th>meaning</th><th>body</th></tr>"
            + "".join(rows) + "</table>")


def _operation(doc: dict[str, Any], path: str, method: str, op: dict[str, Any],
               shared: list[dict[str, Any]]) -> str:
    auth = "no auth" if op.get("security") == [] else "auth required"
    parts = [f'<div class="op" id="{_anchor(op.get("operationId", path + method))}">',
             f'<div><span class="m {method}">{method}</span> <code>{_e(path)}</code> '
             f'<span class="muted">({auth})</span></div>',
             f"<p>{_inline(op.get('summary', ''))}</p>"]
    if op.get("description"):
        parts.append(_paragraphs(op["description"]))
    parts.append(_parameters([*shared, *op.get("parameters", [])]))
    body = op.get("requestBody")
    if body:
        need = "required" if body.get("required") else "optional"
        parts.append(f"<h4>Request body ({need})</h4><p>{_content_type(body)}</p>")
    parts.append(_responses(doc, op.get("responses", {})))
    parts.append("</div>")
    return "".join(parts)


def render(doc: dict[str, Any]) -> str:
    """The whole page for an OpenAPI document."""
    info = doc["info"]
    servers = ", ".join(f"<code>{_e(s['url'])}</code>" for s in doc.get("servers", []))
    toc, ops = [], []
    for path, item in doc["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method in item:
                op = item[method]
                anchor = _anchor(op.get("operationId", path + method))
                toc.append(f'<li><a href="#{anchor}"><span class="m {method}">{method}</span>'
                           f"</a> <code>{_e(path)}</code> {_inline(op.get('summary', ''))}</li>")
                ops.append(_operation(doc, path, method, op, shared))
    schemas = "".join(
        f'<h3 id="schema-{_anchor(name)}">{_e(name)}</h3>'
        f"{_paragraphs(schema.get('description', ''))}"
        f"{_object_table(schema) or '<p>' + _type(schema) + '</p>'}"
        + "".join(_object_table(part) for part in schema.get("allOf", []))
        for name, schema in doc["components"]["schemas"].items())
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{_e(info['title'])} API {_e(info['version'])}</title>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><style>{CSS}</style>"
        f"</head><body><h1>{_e(info['title'])} API <small class=muted>{_e(info['version'])}"
        f"</small></h1><p>Base paths: {servers}. Machine-readable: "
        "<a href=openapi.json>openapi.json</a> (OpenAPI 3.1).</p>"
        f"{_paragraphs(info.get('description', ''))}"
        f"<h2>Routes</h2><ul>{''.join(toc)}</ul>{''.join(ops)}"
        f"<h2>Schemas</h2>{schemas}</body></html>")
