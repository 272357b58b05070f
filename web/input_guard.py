"""The request-level check of raw input, before any handler or parser sees it: what no field
of the product may hold is refused once here, naming the field, in the reader's language
(the error handlers of `web.errors` render it), and nothing is stored.

- a NUL character in the path, a query parameter, a JSON body or a form (PostgreSQL refuses
  it in text, and no field needs it);
- a JSON body nested deeper than `MAX_DEPTH` or with a number no field can hold (an id beyond
  the database's integer, a non-finite number such as `1e999999999`);
- a query parameter or a path id beyond the database's integer (ids are PostgreSQL
  `integer`, SQLite's overflow at 64 bits).

- a field the endpoint does not take in an API JSON object (`{"status": "filled"}` beside
  an order was silently dropped: the client believed it had set something); the fields an
  endpoint takes are those of its body dataclass.

- a query parameter the API endpoint does not take (`?lmit=5` was silently ignored: the
  client believed it had set a limit); the parameters an endpoint takes are its handler's
  query parameters.

Multipart uploads and CSV bodies are left to their parsers (`market.metering.textfile`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any
from urllib.parse import parse_qsl

from litestar.enums import ScopeType
from litestar.exceptions import ClientException
from litestar.params import QueryParameter
from litestar.types import ASGIApp, Receive, Scope, Send

from market.core.errors import NotFound, ValidationFailed
from market.core.money import MAX_ID

#: Deepest JSON nesting any endpoint takes (an order batch is 3 levels).
MAX_DEPTH = 32
#: Largest JSON or form body read for the check (Litestar's own limit is larger; no JSON
#: or form of the product comes near this).
MAX_CHECKED_BODY = 2 * 1024 * 1024
#: Largest integer of a field that is not an id: SQLite's (and PostgreSQL's bigint) 64 bits.
MAX_INT64 = 2**63 - 1

_CHECKED_TYPES = ("application/json", "application/x-www-form-urlencoded")


def _nul(field: str) -> ValidationFailed:
    return ValidationFailed(
        field, "the field %(field)s must not contain a NUL character", field=field
    )


def _int_out_of_range(field: str, value: int) -> ValidationFailed | None:
    limit = MAX_ID if field == "id" or field.endswith("_id") else MAX_INT64
    if -limit - 1 <= value <= limit:
        return None
    # the field in the text too: a page shows the message alone (`?page=1e30` on a list)
    return ValidationFailed(
        field,
        "%(field)s must be between %(low)s and %(high)s",
        field=field,
        low=-limit - 1,
        high=limit,
    )


def check_json(value: Any, field: str = "body", depth: int = 0) -> None:
    """Raise for the first value no field may hold (see the module's docstring)."""
    if depth > MAX_DEPTH:
        raise ValidationFailed(field, "nested deeper than %(depth)s levels", depth=MAX_DEPTH)
    if isinstance(value, str):
        if "\x00" in value:
            raise _nul(field)
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        error = _int_out_of_range(field, value)
        if error:
            raise error
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationFailed(field, "must be a number (got %(value)s)", value=str(value))
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                raise _nul("body")
            check_json(item, key, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json(item, field, depth + 1)


def _check_pairs(pairs: list[tuple[str, str]], *, ids_only: bool = False) -> None:
    for key, value in pairs:
        if "\x00" in key or "\x00" in value:
            raise _nul(key.replace("\x00", ""))
        if ids_only and not (key == "id" or key.endswith("_id")):
            continue
        text = value.strip()
        if text.lstrip("+-").isdecimal() and text.lstrip("+-").isascii() and len(text) < 60:
            error = _int_out_of_range(key, int(text))
            if error:
                raise error


def check_path(scope: Scope) -> None:
    if "\x00" in scope.get("path", "") or b"%00" in scope.get("raw_path", b"").split(b"?")[0]:
        raise NotFound("path", "Nothing here: the page or record does not exist.")
    for value in (scope.get("path_params") or {}).values():
        if isinstance(value, int) and not -MAX_ID - 1 <= value <= MAX_ID:
            raise NotFound("path", "Nothing here: the page or record does not exist.")


_FIELDS: dict[int, frozenset[str] | None] = {}


def body_fields(scope: Scope) -> frozenset[str] | None:
    """The fields the API endpoint's JSON body takes (its `data` dataclass); None when it
    takes any (a dict) or is not an API endpoint."""
    handler = scope.get("route_handler")
    if handler is None or not str(scope.get("path", "")).startswith("/api/"):
        return None
    key = id(handler)
    if key not in _FIELDS:
        fields = None
        parameter = handler.parsed_fn_signature.parameters.get("data")
        annotation = getattr(parameter, "annotation", None)
        if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
            fields = frozenset(f.name for f in dataclasses.fields(annotation))
        _FIELDS[key] = fields
    return _FIELDS[key]


_QUERIES: dict[int, frozenset[str] | None] = {}
#: What Litestar hands a handler by name, never from the query string.
_RESERVED = frozenset({"request", "data", "state", "scope", "headers", "cookies", "query", "body"})


def query_names(scope: Scope) -> frozenset[str] | None:
    """The query parameters the API endpoint takes; None when it is not an API endpoint."""
    handler = scope.get("route_handler")
    if handler is None or not str(scope.get("path", "")).startswith("/api/"):
        return None
    key = id(handler)
    if key not in _QUERIES:
        dependencies = handler.resolve_dependencies()
        path = set((scope.get("path_params") or {}).keys())
        names = set()
        for name, parameter in handler.parsed_fn_signature.parameters.items():
            kwarg = parameter.kwarg_definition
            if name in dependencies or name in path or name in _RESERVED:
                continue
            if kwarg is not None and not isinstance(kwarg, QueryParameter):
                if getattr(kwarg, "header", None) or getattr(kwarg, "cookie", None):
                    continue
                if type(kwarg).__name__ in ("PathParameter", "BodyKwarg", "HeaderParameter"):
                    continue
            names.add(getattr(kwarg, "name", None) or getattr(kwarg, "query", None) or name)
        _QUERIES[key] = frozenset(names)
    return _QUERIES[key]


def check_query_names(pairs: list[tuple[str, str]], names: frozenset[str] | None) -> None:
    if names is None:
        return
    for key, _value in pairs:
        if key not in names:
            raise ValidationFailed(
                key,
                "unknown query parameter; expected one of %(choices)s",
                choices=", ".join(sorted(names)) or "–",
            )


def check_fields(data: Any, fields: frozenset[str] | None) -> None:
    if fields is None or not isinstance(data, dict):
        return
    for key in data:
        if key not in fields:
            raise ValidationFailed(
                str(key),
                "unknown field; expected one of %(choices)s",
                choices=", ".join(sorted(fields)),
            )


def check_body(content_type: str, body: bytes, fields: frozenset[str] | None = None) -> None:
    if not body:
        return
    if content_type.startswith("application/json"):
        try:
            data = json.loads(body)
        except RecursionError:
            raise ValidationFailed(
                "body", "nested deeper than %(depth)s levels", depth=MAX_DEPTH
            ) from None
        except ValueError:
            return  # not JSON: Litestar answers 400
        check_json(data)
        check_fields(data, fields)
    else:
        text = body.decode("utf-8", errors="replace")
        _check_pairs(parse_qsl(text, keep_blank_values=True), ids_only=True)


def input_guard(app: ASGIApp) -> ASGIApp:
    """The ASGI middleware (see the module's docstring)."""

    async def guard(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        check_path(scope)
        query = scope.get("query_string", b"").decode("utf-8", errors="replace")
        pairs = parse_qsl(query, keep_blank_values=True)
        _check_pairs(pairs)
        check_query_names(pairs, query_names(scope))
        headers = dict(scope.get("headers", []))
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        if not content_type.startswith(_CHECKED_TYPES):
            await app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await app(scope, _replay([message]), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_CHECKED_BODY:
                raise ClientException("Request body too large", status_code=413)
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        check_body(content_type, body, body_fields(scope))
        replayed: list[Any] = [{"type": "http.request", "body": body, "more_body": False}]
        await app(scope, _replay(replayed, receive), send)

    return guard


def _replay(messages: list[Any], then: Receive | None = None) -> Receive:
    async def receive() -> Any:
        if messages:
            return messages.pop(0)
        if then is None:
            return {"type": "http.disconnect"}
        return await then()

    return receive
