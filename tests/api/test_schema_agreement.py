"""The OpenAPI document and the code agree, field by field.

Requests: for every property of every request body the document describes, probes are built
from the schema itself: a value at each limit (maxLength, x-maxBytes, maximum, minimum, every
enum member, every type the schema allows for it), one just past it (a character or byte too
many, one more or less, another JSON type, a value outside the enum), the body without each
required field, with both spellings of a field, with an unknown field, and an array of one
too many jobs. A JSON Schema validator (the 2020-12 dialect of OpenAPI 3.1) judges each probe by
the document, the node judges it by the code:

    refused by the schema       -> refused by the API: 400 (or 413) with the field's code
    built valid, schema accepts -> accepted by the API (it passes validation)

Strings at a limit are written with two- or three-byte characters wherever the field allows
them, so a limit counted in characters by one side and in bytes by the other cannot pass.

Responses: every response schema lists exactly the keys its endpoint answers (no key missing
from the document, no documented key that is never answered).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from jsonschema import Draft202012Validator, validators  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError as SchemaError  # type: ignore[import-untyped]

from scheduler0 import messages
from scheduler0.api import create_app, openapi
from scheduler0.testing import wait_for
from scheduler0.vocabulary import execution_id
from tests.api.helpers import LOOPBACK_URL, NODE_AUTH, Api, basic_auth, commit, data, job_body, unique

DOC = openapi.document()
SCHEMAS = DOC["components"]["schemas"]
# One value of each JSON type: a property must refuse every one its schema refuses.
TYPE_SAMPLES: tuple[Any, ...] = (None, True, 7, 1.5, "x", [], {})
LIMIT_WORDS = ("too long", "too large", "out of range", "at most")
_counter = itertools.count()


def _max_bytes(validator: Any, limit: int, instance: Any, schema: Any) -> Iterator[SchemaError]:
    if isinstance(instance, str) and len(instance.encode("utf-8")) > limit:
        yield SchemaError(f"{len(instance.encode('utf-8'))} bytes is more than {limit}")


# x-maxBytes is the document's own keyword: no JSON Schema keyword counts bytes.
Validator = validators.extend(Draft202012Validator, {"x-maxBytes": _max_bytes})


def inline(schema: Any) -> Any:
    """`schema` with every $ref replaced by what it names (request schemas do not recurse)."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return inline(SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]])
        return {key: inline(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [inline(item) for item in schema]
    return schema


def schema_accepts(schema: dict[str, Any], value: Any) -> bool:
    return bool(Validator(schema).is_valid(value))


def types_of(prop: dict[str, Any]) -> list[str]:
    kinds = prop.get("type", [])
    return kinds if isinstance(kinds, list) else [kinds]


# -- request probes ---------------------------------------------------------------------------


@dataclass
class Probe:
    body: Any
    what: str
    codes: tuple[str, ...]  # the error codes a refusal may carry
    # True: built valid, the schema must accept it and the API too. None: the API must judge
    # it as the schema does, either way. False: only the schema's refusal is checked (the
    # code may refuse what the schema allows, for its meaning: "x" is not a cron spec).
    valid: bool | None = False
    semantic: str = ""  # valid as far as the limits go, but refused for this reason
    prop: str = ""  # the property it probes


@dataclass
class Target:
    """How to send one operation's body: a valid base body and the URL, made per probe."""

    base: Callable[[], dict[str, Any]]
    url: Callable[[], str]
    headers: dict[str, str] | None = None  # instead of the credential's
    accepts: bool = True  # False: only refusals are probed (accepting changes the cluster)
    # property -> n characters that are valid apart from their number
    fill: dict[str, Callable[[int], str]] = field(default_factory=dict)
    # (property, limit keyword) -> why the value at that limit is refused anyway
    semantic: dict[tuple[str, str], str] = field(default_factory=dict)


def wide(n: int) -> str:
    """n characters, two bytes each in UTF-8."""
    return "é" * n


def padded(head: str, pad: str = "é") -> Callable[[int], str]:
    """`head` padded to n characters (cut short when n is smaller: then it is invalid anyway)."""
    return lambda n: (head + pad * max(0, n - len(head)))[:n]


def unique_padded(n: int) -> str:
    return padded(f"p{next(_counter)}-{unique('n')}-")(n)


def spellings(schema: dict[str, Any]) -> dict[str, str]:
    """Each spelling of a field given in two (a `not`/`oneOf` pair of required) -> the other."""
    twins: dict[str, str] = {}
    for part in schema.get("allOf", ()):
        groups = [option["required"] for option in part.get("oneOf", ())]
        if "not" in part:
            groups = [part["not"]["required"]]
        names = [name for group in groups for name in group]
        if len(names) == 2:
            twins[names[0]], twins[names[1]] = names[1], names[0]
    return twins


def canonical(schema: dict[str, Any], name: str) -> str:
    """The snake_case spelling: the one the API's error codes use."""
    twin = spellings(schema).get(name)
    if twin is not None and schema["properties"][name].get("deprecated"):
        return twin
    return name


def property_values(prop: dict[str, Any], fill: Callable[[int], str]
                    ) -> Iterator[tuple[Any, str, bool]]:
    """(value, limit keyword, built valid) for one property's schema."""
    for sample in TYPE_SAMPLES:
        yield sample, "type", False
    kinds = types_of(prop)
    yield from _kind_values(prop, kinds)
    yield from _length_values(prop, fill)
    yield from _bound_values(prop, kinds)
    if not kinds and prop.get("readOnly"):
        yield {"any": ["value"]}, "readOnly", True  # ignored on input, whatever it is


def _kind_values(prop: dict[str, Any], kinds: Any) -> Iterator[tuple[Any, str, bool]]:
    if "null" in kinds:
        yield None, "null", True
    if "boolean" in kinds:
        yield True, "boolean", True
        yield False, "boolean", True
    for member in prop.get("enum", ()):
        yield member, "enum", True
    if "enum" in prop:
        yield "not-a-listed-value", "enum", False


def _length_values(prop: dict[str, Any], fill: Callable[[int], str]
                   ) -> Iterator[tuple[Any, str, bool]]:
    if "maxLength" in prop:
        yield fill(prop["maxLength"]), "maxLength", True
        yield fill(prop["maxLength"] + 1), "maxLength", False
    if prop.get("minLength", 0) > 0:
        yield fill(prop["minLength"] - 1), "minLength", False
    if "pattern" in prop:
        yield " ", "pattern", False
    if "x-maxBytes" in prop:
        limit = prop["x-maxBytes"]
        yield "é" * (limit // 2) + "x" * (limit % 2), "x-maxBytes", True
        yield "é" * (limit // 2) + "x" * (limit % 2 + 1), "x-maxBytes", False
        yield "é" * (limit // 2 + 1), "x-maxBytes", False  # fewer characters than the limit


def _bound_values(prop: dict[str, Any], kinds: Any) -> Iterator[tuple[Any, str, bool]]:
    if "maximum" in prop:
        yield prop["maximum"], "maximum", True
        yield prop["maximum"] + 1, "maximum", False
        if "number" in kinds:
            yield prop["maximum"] + 0.5, "maximum", False
    if "minimum" in prop:
        yield prop["minimum"], "minimum", True
        yield prop["minimum"] - 1, "minimum", False
        if "number" in kinds:
            yield prop["minimum"] - 0.5, "minimum", False


def object_probes(schema: dict[str, Any], target: Target) -> Iterator[Probe]:
    twins = spellings(schema)
    yield Probe(target.base(), "the base body", (), valid=True)
    for name, prop in schema["properties"].items():
        code = f"invalid_{canonical(schema, name)}"
        fill = target.fill.get(canonical(schema, name), wide)
        for value, limit, valid in property_values(prop, fill):
            body = {k: v for k, v in target.base().items() if k not in (name, twins.get(name))}
            body[name] = value
            shown = repr(value) if len(repr(value)) < 40 else f"{len(value)} characters"
            yield Probe(body, f"{name} = {shown} ({limit})", (code,), valid=valid,
                        semantic=target.semantic.get((canonical(schema, name), limit), ""),
                        prop=name)
    base = target.base()
    required = [*schema.get("required", ()), *(option["required"][0]
                                                for part in schema.get("allOf", ())
                                                for option in part.get("oneOf", ())[:1])]
    for name in required:
        without = {k: v for k, v in base.items() if k not in (name, twins.get(name))}
        yield Probe(without, f"without {name}", (f"invalid_{name}",), valid=None)
    for name, twin in twins.items():
        if name in base and not schema["properties"][name].get("deprecated"):
            yield Probe({**base, twin: base[name]}, f"{name} and {twin}", (f"invalid_{name}",),
                        valid=None)
    yield Probe({**base, "zz_not_a_field": 1}, "an unknown field", ("unknown_field",),
                valid=None)
    yield Probe({}, "no field at all", ("invalid_body", *(f"invalid_{name}" for name in required)),
                valid=None)


def array_probes(schema: dict[str, Any], target: Target) -> Iterator[Probe]:
    low, high = schema.get("minItems", 0), schema["maxItems"]
    yield Probe([target.base() for _ in range(high)], f"{high} items (maxItems)", (), valid=True)
    yield Probe([target.base() for _ in range(high + 1)], f"{high + 1} items (maxItems)",
                ("payload_too_large",))
    if low > 0:
        yield Probe([target.base() for _ in range(low - 1)], f"{low - 1} items (minItems)",
                    ("invalid_body",))


def body_probes(schema: dict[str, Any], target: Target) -> Iterator[tuple[dict[str, Any], Probe]]:
    """(the schema the probe is about, the probe) for a request body."""
    for option in schema.get("oneOf", [schema]):
        if option.get("type") == "array":
            for probe in array_probes(option, target):
                yield option, probe
        else:
            for probe in object_probes(option, target):
                yield option, probe


def passed_validation(response: Any) -> bool:
    """The request got past validation: answered, or refused only because a row it names
    does not exist (an id at the top of its range)."""
    body = response.get_json()
    if response.status_code < 300:
        return True
    return response.status_code == 404 and "does not exist" in body["error"]["message"]


@pytest.fixture(scope="module")
def targets(api: Api) -> dict[tuple[str, str], Target]:
    project = api.project()
    spare = data(api.post("/api/v1/credentials"), 201)
    renamed = api.project()

    def fresh_job() -> str:
        return f"/api/v1/jobs/{api.job(project['id'])['id']}"

    instant = padded("2090-01-02T15:04:05.", "0")  # RFC 3339 takes any number of digits
    project_fill = {"name": unique_padded, "notification_url": padded(LOOPBACK_URL)}
    job_fill = {"spec": padded("*/5 * * * *", "\u3000"),  # ideographic spaces: stripped
                "callback_url": padded(LOOPBACK_URL),
                "start_date": lambda n: instant(n - 1) + "Z",
                "end_date": lambda n: instant(n - 1) + "Z",
                "run_at": lambda n: instant(n - 1) + "Z",
                # ASCII only (a name's charset), and each probe's its own (names are unique)
                "name": lambda n: padded(f"n{next(_counter)}-{unique('n')}-", "a")(n)}
    job_semantic = {
        ("timezone", "maxLength"): "no IANA zone name is 100 characters long",
        ("end_date", "minimum"): "an end date in 1970 is in the past: the job would never run",
        ("run_at", "minimum"): "a one-off in 1970 is in the past: it would never run",
    }
    return {
        ("/jobs", "post"): Target(lambda: job_body(project["id"]), lambda: "/api/v1/jobs",
                                  fill=job_fill, semantic=job_semantic),
        ("/jobs/{job_id}", "put"): Target(
            lambda: {"data": "base"}, fresh_job, fill=job_fill,
            semantic={**job_semantic,
                      ("project_id", "maximum"): "project_id may only be sent back unchanged",
                      ("project_id", "minimum"): "project_id may only be sent back unchanged",
                      # GET among the methods: the base body's data cannot go without a body.
                      ("method", "enum"): "a GET sends no body, and the base body has data"}),
        ("/projects", "post"): Target(lambda: {"name": unique("agree")},
                                      lambda: "/api/v1/projects", fill=project_fill),
        # Rotating in every probe: grace_seconds is accepted only with a rotation.
        ("/projects/{project_id}", "put"): Target(
            lambda: {"description": "base", "rotate_signing_secret": True},
            lambda: f"/api/v1/projects/{renamed['id']}", fill=project_fill),
        ("/projects/{project_id}", "patch"): Target(
            lambda: {"description": "base", "rotate_signing_secret": True},
            lambda: f"/api/v1/projects/{renamed['id']}", fill=project_fill),
        ("/credentials", "post"): Target(dict, lambda: "/api/v1/credentials"),
        ("/credentials/{credential_id}", "put"): Target(
            lambda: {"archived": True}, lambda: f"/api/v1/credentials/{spare['id']}"),
        ("/cluster/members", "post"): Target(
            lambda: {"raft_address": "127.0.0.1:1"}, lambda: "/api/v1/cluster/members",
            headers=basic_auth(*NODE_AUTH), accepts=False),
        # A job of its own for every probe, which an accepted probe runs (here nothing
        # delivers it): run, as data belongs to it alone.
        ("/jobs/bulk", "post"): Target(
            lambda: {"action": "run", "ids": [api.job(project["id"])["id"]]},
            lambda: "/api/v1/jobs/bulk",
            semantic={("action", "enum"): "set_labels needs labels too, which the base body "
                                          "of the other actions may not have"}),
        ("/pause", "post"): Target(lambda: {"reason": "base"}, lambda: "/api/v1/pause"),
        # An accepted probe runs the job (here nothing delivers it).
        ("/jobs/{job_id}/run", "post"): Target(lambda: {"data": "base"},
                                               lambda: f"{fresh_job()}/run"),
        ("/jobs/{job_id}/backfill", "post"): Target(
            lambda: {"from": "2020-01-02T15:00:00Z", "to": "2020-01-02T16:00:00Z"},
            lambda: f"{fresh_job()}/backfill",
            fill={"from": lambda n: padded("2020-01-02T15:04:05.", "0")(n - 1) + "Z",
                  "to": lambda n: padded("2020-01-02T15:54:05.", "0")(n - 1) + "Z"},
            semantic={("from", "minimum"): "a range from 1970 holds more ticks than one "
                                           "backfill fires",
                      ("from", "maximum"): "a range starting after its end",
                      ("to", "minimum"): "a range ending before its start",
                      ("to", "maximum"): "a range ending in the future"}),
        ("/resume", "post"): Target(dict, lambda: "/api/v1/resume"),
    }


def request_operations() -> list[tuple[str, str]]:
    return [(path, method) for path, item in DOC["paths"].items() for method, op in item.items()
            if method != "parameters" and "requestBody" in op]


@pytest.mark.parametrize(("path", "method"), request_operations())
def test_every_request_property_agrees_at_its_limits(api: Api, targets: dict[Any, Target],
                                                     path: str, method: str) -> None:
    assert (path, method) in targets, f"no probes for {method.upper()} {path}: add a Target"
    target = targets[(path, method)]
    body_schema = inline(DOC["paths"][path][method]["requestBody"]["content"]
                         ["application/json"]["schema"])
    checked = 0
    probed: set[str] = set()
    documented = {name for option in body_schema.get("oneOf", [body_schema])
                  for name in option.get("properties", {})}
    for schema, probe in body_probes(body_schema, target):
        by_schema = schema_accepts(schema, probe.body)
        if probe.valid:
            assert by_schema, f"{probe.what}: built valid, but the schema refuses it"
        if by_schema and (probe.valid is False or not target.accepts):
            continue  # the schema allows it; the code may still refuse it for its meaning
        if target.headers is None:
            response = api.request(method.upper(), target.url(), json=probe.body)
        else:
            response = api.client.open(target.url(), method=method.upper(), json=probe.body,
                                       headers=target.headers)
        answer = response.get_json()
        checked += 1
        probed.add(probe.prop)
        if by_schema and probe.semantic:
            message = answer["error"]["message"] if not passed_validation(response) else ""
            assert not any(word in message for word in LIMIT_WORDS), (
                f"{method.upper()} {path} {probe.what}: at the schema's limit, refused for "
                f"the limit: {message}")
            continue
        if by_schema:
            assert passed_validation(response), (
                f"{method.upper()} {path} {probe.what}: the schema accepts it, the API "
                f"refuses it: {answer}")
            continue
        assert response.status_code in (400, 413), (
            f"{method.upper()} {path} {probe.what}: the schema refuses it, the API answers "
            f"{response.status_code}: {str(answer)[:300]}")
        assert answer["error"]["code"] in probe.codes, (probe.what, answer["error"])
    assert checked > 0 and documented <= probed, f"never sent a probe of {documented - probed}"


def test_job_defaults_are_what_the_schema_says(api: Api) -> None:
    project = api.project()
    job = api.job(project["id"])
    for name, prop in SCHEMAS["JobInput"]["properties"].items():
        if "default" in prop and not prop.get("deprecated"):
            assert job[name] == prop["default"], name


# -- responses --------------------------------------------------------------------------------


class KeyLedger:
    """Checks answers against response schemas; remembers which keys each named schema showed."""

    def __init__(self) -> None:
        self.seen: dict[str, set[str]] = {}

    def check(self, value: Any, schema: dict[str, Any], where: str) -> None:
        name = None
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = SCHEMAS[name]
        if "oneOf" in schema:
            failures = []
            for option in schema["oneOf"]:
                before = copy.deepcopy(self.seen)
                try:
                    self.check(value, option, where)
                    return
                except AssertionError as exc:
                    self.seen = before
                    failures.append(str(exc))
            raise AssertionError(f"{where}: matches no option: {failures}")
        props, required = members(schema)
        if isinstance(value, list) and "items" in schema:
            for i, element in enumerate(value):
                self.check(element, schema["items"], f"{where}[{i}]")
            return
        if not props:
            return
        assert isinstance(value, dict), f"{where}: expected an object, got {value!r:.60}"
        assert set(value) <= set(props), f"{where}: undocumented keys {set(value) - set(props)}"
        assert required <= set(value), f"{where}: required, not answered: {required - set(value)}"
        if name is not None:
            self.seen.setdefault(name, set()).update(value)
        for key, element in value.items():
            self.check(element, props[key], f"{where}.{key}")


def members(schema: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """(properties, required) of an object schema, its allOf parts merged."""
    props, required = dict(schema.get("properties", {})), set(schema.get("required", ()))
    for part in schema.get("allOf", ()):
        part = SCHEMAS[part["$ref"].rsplit("/", 1)[-1]] if "$ref" in part else part
        props.update(part.get("properties", {}))
        required |= set(part.get("required", ()))
    return props, required


def answered(ledger: KeyLedger, response: Any, path: str, method: str) -> Any:
    status = str(response.status_code)
    schema = DOC["paths"][path][method]["responses"][status]["content"]["application/json"]
    value = data(response, response.status_code)
    ledger.check(value, schema["schema"]["properties"]["data"], f"{method.upper()} {path}")
    return value


class MembershipNoted:
    """The node's services, except that membership changes are only noted: the routes' answers
    are what is under test, and a real change would break the single node's quorum."""

    def __init__(self, node: Any) -> None:
        self._node = node
        self.settings = node.settings
        self.changes: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._node, name)

    def membership(self, action: str, raft_address: str) -> dict[str, Any]:
        self.changes.append((action, raft_address))
        return {"ok": True, "data": None}


def test_response_schemas_list_exactly_the_keys_answered(api: Api, node: Any) -> None:
    ledger = KeyLedger()
    credential = answered(ledger, api.post("/api/v1/credentials"), "/credentials", "post")
    ident = credential["id"]
    answered(ledger, api.get("/api/v1/credentials"), "/credentials", "get")
    answered(ledger, api.get(f"/api/v1/credentials/{ident}"), "/credentials/{credential_id}",
             "get")
    answered(ledger, api.put(f"/api/v1/credentials/{ident}", json={"archived": True}),
             "/credentials/{credential_id}", "put")
    answered(ledger, api.delete(f"/api/v1/credentials/{ident}"), "/credentials/{credential_id}",
             "delete")

    project = answered(ledger, api.post("/api/v1/projects", json={"name": unique("keys")}),
                       "/projects", "post")
    project_path = f"/api/v1/projects/{project['id']}"
    answered(ledger, api.get("/api/v1/projects"), "/projects", "get")
    answered(ledger, api.get(project_path), "/projects/{project_id}", "get")
    answered(ledger, api.put(project_path, json={"rotate_signing_secret": True}),
             "/projects/{project_id}", "put")
    answered(ledger, api.request("PATCH", project_path, json={"rate_limit": {"concurrency": 2}}),
             "/projects/{project_id}", "patch")

    job = answered(ledger, api.post("/api/v1/jobs", json=job_body(project["id"])), "/jobs",
                   "post")
    answered(ledger, api.post("/api/v1/jobs", json=[job_body(project["id"])] * 2), "/jobs",
             "post")
    answered(ledger, api.post("/api/v1/jobs", query_string={"dry_run": "true"},
                              json=job_body(project["id"])), "/jobs", "post")
    answered(ledger, api.post("/api/v1/jobs", query_string={"dry_run": "true"},
                              json=[job_body(project["id"], spec="H/15 * * * *")] * 2),
             "/jobs", "post")
    job_path = f"/api/v1/jobs/{job['id']}"
    answered(ledger, api.get("/api/v1/jobs", query_string={"project_id": project["id"]}),
             "/jobs", "get")
    answered(ledger, api.get(job_path), "/jobs/{job_id}", "get")
    answered(ledger, api.put(job_path, json={"paused": True}), "/jobs/{job_id}", "put")
    tick, batch_id = 1_900_000_000, unique("keys-batch")
    commit(node, messages.Plan(batches=[messages.PlanBatch(
        batch_id=batch_id, node_id=1, scheduled_at=tick,
        rows=[messages.PlanRow(job["id"], project["id"])])]))
    assert commit(node, messages.Result(rows=[messages.ResultRow(
        execution_id(job["id"], tick), "succeeded", 1, 200, None, 1, tick * 1000,
        tick * 1000 + 5, batch_id)])) == {"settled": 1}
    answered(ledger, api.get(f"{job_path}/executions"), "/jobs/{job_id}/executions", "get")
    # A failure after that success, in a project with a notification_url: one notification.
    answered(ledger, api.put(project_path, json={"notification_url": LOOPBACK_URL}),
             "/projects/{project_id}", "put")
    commit(node, messages.Plan(batches=[messages.PlanBatch(
        batch_id=f"{batch_id}-2", node_id=1, scheduled_at=tick + 60,
        rows=[messages.PlanRow(job["id"], project["id"])])]))
    commit(node, messages.Result(rows=[messages.ResultRow(
        execution_id(job["id"], tick + 60), "failed", 4, 500, "HTTP 500", 1, None, None,
        f"{batch_id}-2")]))
    notified = answered(ledger, api.get(f"{project_path}/notifications"),
                        "/projects/{project_id}/notifications", "get")
    assert [n["type"] for n in notified["notifications"]] == ["job.failed"]
    answered(ledger, api.get("/api/v1/executions"), "/executions", "get")
    answered(ledger, api.get("/api/v1/executions", query_string={"node": 1}), "/executions",
             "get")
    answered(ledger, api.get("/api/v1/executions", query_string={"include": "job"}),
             "/executions", "get")
    answered(ledger, api.get("/api/v1/jobs", query_string={"sort": "-id", "contains": "x"}),
             "/jobs", "get")
    answered(ledger, api.get("/api/v1/rollups", query_string={"project_id": project["id"]}),
             "/rollups", "get")
    ran = answered(ledger, api.post(f"{job_path}/run", json={"data": "keys"}),
                   "/jobs/{job_id}/run", "post")
    answered(ledger, api.get(f"/api/v1/executions/{ran['execution_id']}"),
             "/executions/{execution_id}", "get")
    answered(ledger, api.post(f"/api/v1/executions/{execution_id(job['id'], tick)}/redeliver"),
             "/executions/{execution_id}/redeliver", "post")
    backfill = {"from": "2020-01-01T00:00:00Z", "to": "2020-01-01T01:00:00Z"}
    answered(ledger, api.post(f"{job_path}/backfill", json=backfill,
                              query_string={"dry_run": "true"}), "/jobs/{job_id}/backfill",
             "post")
    answered(ledger, api.post(f"{job_path}/backfill", json=backfill), "/jobs/{job_id}/backfill",
             "post")
    started = answered(ledger, api.post("/api/v1/jobs/bulk", json={
        "action": "pause", "ids": [job["id"]]}), "/jobs/bulk", "post")
    operation_path = f"/api/v1/operations/{started['operation_id']}"
    wait_for(lambda: data(api.get(operation_path))["state"] == "succeeded",
             message="the bulk pause to finish")
    answered(ledger, api.get(operation_path), "/operations/{operation_id}", "get")
    answered(ledger, api.get("/api/v1/operations"), "/operations", "get")
    bulk_run = answered(ledger, api.post("/api/v1/jobs/bulk", json={
        "action": "run", "ids": [job["id"]], "data": "keys"}), "/jobs/bulk", "post")
    run_path = f"/api/v1/operations/{bulk_run['operation_id']}"
    wait_for(lambda: data(api.get(run_path))["state"] == "succeeded",
             message="the bulk run to finish")
    fired = answered(ledger, api.get(f"{run_path}/executions"),
                     "/operations/{operation_id}/executions", "get")
    assert [e["trigger"] for e in fired["executions"]] == ["manual"]
    answered(ledger, api.post("/api/v1/pause", json={"reason": "keys"}), "/pause", "post")
    answered(ledger, api.post("/api/v1/resume"), "/resume", "post")
    answered(ledger, api.delete(job_path), "/jobs/{job_id}", "delete")
    answered(ledger, api.delete(project_path, query_string={"cascade": "true"}),
             "/projects/{project_id}", "delete")

    answered(ledger, api.get("/api/v1/schedules/preview", query_string={"spec": "@hourly"}),
             "/schedules/preview", "get")
    answered(ledger, api.get("/api/v1/schedules/preview",
                             query_string={"spec": "H * * * *", "job_id": 7}),
             "/schedules/preview", "get")
    answered(ledger, api.get("/api/v1/summary"), "/summary", "get")
    answered(ledger, api.get("/api/v1/load", query_string={"minutes": 2}), "/load", "get")
    answered(ledger, api.get("/api/v1/cluster"), "/cluster", "get")
    missing = api.get("/api/v1/jobs/999999999")
    envelope = DOC["components"]["responses"]["NotFound"]["content"]["application/json"]
    ledger.check(missing.get_json(), envelope["schema"], "GET /jobs/{job_id} (404)")
    answered(ledger, api.client.get("/api/v1/healthcheck"), "/healthcheck", "get")
    answered(ledger, api.get("/api/v1/healthcheck"), "/healthcheck", "get")

    services = MembershipNoted(node)
    client = create_app(node.settings, services, node_auth=NODE_AUTH).test_client()
    node_auth = basic_auth(*NODE_AUTH)
    answered(ledger, client.post("/api/v1/cluster/members", json={"raft_address": "h:1"},
                                  headers=node_auth), "/cluster/members", "post")
    answered(ledger, client.delete("/api/v1/cluster/members/h:1", headers=node_auth),
             "/cluster/members/{raft_address}", "delete")
    assert services.changes == [("add", "h:1"), ("remove", "h:1")]

    # Every documented key of every schema answered above was answered at least once, except
    # what only a coordinator process reports (tests/integration/test_api_hostile.py checks a
    # real node's detail against HealthDetail).
    coordinator_only = {"executors", "nodes", "planner", "results_committed", "intake",
                        "lease", "leases", "threads", "unhealthy"}
    for name, seen in ledger.seen.items():
        documented = set(members(SCHEMAS[name])[0])
        if name == "HealthDetail":
            documented -= coordinator_only
        assert seen == documented, f"{name}: documented, never answered: {documented - seen}"
    assert {"Job", "JobDryRun", "Project", "NewCredential", "Credential", "Execution", "Health",
            "HealthDetail", "Cluster", "Preview", "Deleted", "ProjectDeleted", "MemberAdded",
            "MemberRemoved", "Operation", "OperationStarted", "OperationPage",
            "Pause", "Backfill", "JobListed", "Summary", "Load"} <= set(ledger.seen)


def test_every_tag_an_operation_uses_is_declared() -> None:
    declared = [tag["name"] for tag in DOC["tags"]]
    used = {tag for item in DOC["paths"].values() for method, op in item.items()
            if method != "parameters" for tag in op.get("tags", ())}
    assert used == set(declared) and len(declared) == len(used)
