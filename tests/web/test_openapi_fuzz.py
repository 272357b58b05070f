"""A bounded property-based fuzz of the published OpenAPI document (issue 15): requests drawn
from each operation's own schemas (and some that ignore them: wrong types, huge or odd
numbers, NUL bytes, deep nesting), sent as each role (member, coordinator, distributor,
anonymous), on SQLite and on PostgreSQL. No answer may be a server error, and every answer
must be a status the document lists for the operation, with a body its schema accepts.

The budget is `MAX_EXAMPLES` requests per backend (2,000 in the suite, which keeps the whole
suite within its four minutes; `KLASTER_FUZZ_REQUESTS=20000` for a longer run), and at most
`BUDGET_S` seconds. It prints the figures: requests, 5xx, undocumented statuses, bodies that
break the schema."""

from __future__ import annotations

import copy
import json
import os
import time
from collections import Counter
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient

from tests.support.world import World, token_for

pytestmark = pytest.mark.anyio

MAX_EXAMPLES = int(os.environ.get("KLASTER_FUZZ_REQUESTS", "2000"))
BUDGET_S = 60.0 * max(1, MAX_EXAMPLES // 2000)
ROLES = ("alice", "coord", "dso", None)  # member, coordinator, distributor, anonymous
METHODS = ("get", "post", "put", "patch", "delete")

# Values that broke parsers before: they go into any field, whatever its schema says.
NASTY = st.sampled_from(
    [
        "\x00", "a\x00b", "1e999999999", "1e-999999999", "-0", "NaN", "Infinity", "\u0661\u0662",
        "\uff10.5", "0001-01-01", "9999-12-31T23:45:00Z", "=1+1", "x" * 5000, 2**31, 2**63,
        2**70, -(2**31) - 1, 1e308, -1, 0, True, None, [], {}, {"a": {"b": 1}}, "",
    ]
)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | NASTY,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def inline(node: Any, components: dict[str, Any]) -> Any:
    """The schema with every `$ref` replaced by what it points to (none is recursive)."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            return inline(components[name], components)
        return {k: inline(v, components) for k, v in node.items() if k != "examples"}
    if isinstance(node, list):
        return [inline(v, components) for v in node]
    return node


def operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    components = doc.get("components", {}).get("schemas", {})
    found = []
    for path, item in doc["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = [inline(p, components) for p in op.get("parameters", [])]
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            responses = {
                status: inline(spec.get("content", {}).get("application/json", {}).get("schema"),
                               components)
                for status, spec in op["responses"].items()
            }  # fmt: skip
            found.append(
                {
                    "method": method,
                    "path": path,
                    "params": params,
                    "body": inline(body["schema"], components) if body else None,
                    "responses": responses,
                }
            )
    return found


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values the (inlined) schema accepts: the JSON Schema subset Litestar writes for the
    API (hypothesis-jsonschema 0.23 does not run on this Hypothesis)."""
    if "oneOf" in schema or "anyOf" in schema:
        return st.one_of([from_schema(s) for s in schema.get("oneOf", schema.get("anyOf"))])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}) for k in kind])
    if kind == "object" or "properties" in schema:
        props = {k: from_schema(v) for k, v in schema.get("properties", {}).items()}
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: v for k, v in props.items() if k in required},
            optional={k: v for k, v in props.items() if k not in required},
        )
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {})), max_size=4)
    if kind == "integer":
        return st.one_of(st.integers(min_value=-3, max_value=40), st.integers())
    if kind == "number":
        return st.one_of(st.integers(-100, 100), st.floats(allow_nan=False, allow_infinity=False))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "string":
        if schema.get("format") == "date":
            return st.dates().map(str)
        if schema.get("format") == "date-time":
            return st.datetimes().map(lambda d: d.isoformat() + "Z")
        numeric = st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str)
        return st.one_of(st.text(max_size=30), numeric, st.sampled_from(
            ["buy", "sell", "1", "0.5", "2026-06-15", "2026-06", "GPZ", "S1", "station",
             "household", "member", "fixed", "forecast"]))  # fmt: skip
    return JSON


def _value(schema: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    conforming = from_schema(schema or {}) if schema else JSON
    return st.one_of(conforming, conforming, NASTY, JSON)


def _request(op: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    path_values = {
        # an empty segment would be another URL (another operation), not a value of this one
        p["name"]: st.one_of(st.integers(min_value=-5, max_value=50), st.integers(), NASTY)
        .filter(lambda v: _query_text(v) not in ("", "[]", "{}"))
        for p in op["params"] if p["in"] == "path"
    }  # fmt: skip
    query_values = {p["name"]: _value(p.get("schema")) for p in op["params"] if p["in"] == "query"}
    return st.fixed_dictionaries(
        {
            "path": st.fixed_dictionaries(path_values),
            "query": st.fixed_dictionaries({}, optional=query_values),
            "body": _value(op["body"]) if op["body"] is not None else st.none(),
        }
    )


def _query_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _url(op: dict[str, Any], path_values: dict[str, Any]) -> str:
    url = op["path"]
    for name, value in path_values.items():
        url = url.replace("{" + name + "}", quote(_query_text(value), safe=""))
    return url


async def test_openapi_fuzz(world: World, client: TestClient[Litestar]) -> None:
    doc = client.get("/schema/openapi.json").json()
    ops = operations(doc)
    assert len(ops) >= 30
    headers = {role: token_for(client, role) if role else {} for role in ROLES}
    figures: Counter[str] = Counter()
    problems: list[str] = []
    started = time.monotonic()

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=["generate"],
    )
    @given(st.data())
    def fuzz(data: st.DataObject) -> None:
        op = data.draw(st.sampled_from(ops))
        role = data.draw(st.sampled_from(ROLES))
        req = data.draw(_request(op))
        if time.monotonic() - started > BUDGET_S:
            return  # (after drawing: every example draws the same way)
        query = {k: _query_text(v) for k, v in req["query"].items()}
        kwargs: dict[str, Any] = {"params": query, "headers": headers[role]}
        if op["body"] is not None:
            kwargs["content"] = json.dumps(req["body"])
            kwargs["headers"] = {**headers[role], "Content-Type": "application/json"}
        url = _url(op, req["path"])
        r = client.request(op["method"].upper(), url, **kwargs)
        figures["requests"] += 1
        figures[f"{r.status_code // 100}xx"] += 1
        label = f"{op['method'].upper()} {op['path']} as {role or 'anonymous'} → {r.status_code}"
        if r.status_code >= 500:
            figures["server errors"] += 1
            problems.append(f"{label}: {r.text[:200]} ({url} {kwargs})")
            return
        documented = op["responses"]
        if str(r.status_code) not in documented:
            figures["undocumented status"] += 1
            problems.append(f"{label}: status not documented ({url} {kwargs})")
            return
        schema = documented[str(r.status_code)]
        if schema and r.headers.get("content-type", "").startswith("application/json"):
            try:
                jsonschema.validate(r.json(), copy.deepcopy(schema))
            except jsonschema.ValidationError as error:
                figures["schema violations"] += 1
                problems.append(f"{label}: body breaks the schema: {error.message[:200]}")

    fuzz()
    figures["seconds"] = round(time.monotonic() - started)
    print(f"\nOpenAPI fuzz on {world.db.backend}: {dict(figures)}")
    assert not problems, "\n".join(problems[:20])
    assert figures["requests"] >= 200
