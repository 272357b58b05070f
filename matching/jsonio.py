"""The JSON form of problems and results (plain dicts; reading files is the caller's job).

(Over 400 lines on purpose: reading and writing one format, with every field's error message,
belong together; the field list `FIELDS` is the one place that says what a problem may hold.)

Problem::

    {"interval": {"start": "2026-06-15T12:00:00+02:00", "minutes": 15},
     "network": {"nodes": [{"id": "A"}],
                 "lines": [{"id": "AB", "from": "A", "to": "B", "capacity_kw": 8,
                            "reactance": 1.0}],
                 "grid_connections": [{"node": "A", "import_price": 0.89, "export_price": 0.3,
                                       "import_limit_kw": 100, "export_limit_kw": 100}]},
     "orders": [{"id": "s1", "node": "A", "side": "sell", "quantity_kwh": 5, "price": 0.4}]}

Ids may be strings or integers (compared as their decimal string; `result_to_dict(...,
source=data)` repeats them as given). Schemas: docs/schema/.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from matching.problem import (
    ClearingProblem,
    GridConnection,
    Interval,
    Line,
    Network,
    Node,
    OrderBook,
    ProblemError,
    validate,
)
from matching.result import GRID, ClearingResult

Json = dict[str, Any]

#: Decimal places kept in result figures (kWh to the µWh·10⁻³, PLN likewise): float dust
#: from the simplex is removed; every balance still holds far inside 1e-6.
DIGITS = 9

#: The fields each object of a problem may have; anything else is refused (a misspelled
#: optional field such as "reactence" must not silently change the model).
FIELDS = {
    "problem": ("interval", "network", "orders"),
    "interval": ("start", "minutes"),
    "network": ("nodes", "lines", "grid_connections"),
    "node": ("id",),
    "line": ("id", "from", "to", "capacity_kw", "reactance"),
    "grid_connection": (
        "node",
        "import_price",
        "export_price",
        "import_limit_kw",
        "export_limit_kw",
    ),
    "order": ("id", "node", "side", "quantity_kwh", "price"),
}

#: Longest interval accepted (one day), in minutes.
MAX_MINUTES = 1440
#: Integers with more digits than this are kept as text by the parser (Python refuses to
#: convert them) and refused with the field named.
MAX_INT_DIGITS = 4000


class _HugeInteger:
    """An integer literal too long to convert (see MAX_INT_DIGITS)."""

    __slots__ = ("digits",)

    def __init__(self, text: str) -> None:
        self.digits = len(text.lstrip("-"))


class _InexactInteger(Exception):
    """An id came out of the fast parser as a float: re-read the text with exact integers."""


def _parse_int(text: str) -> int | _HugeInteger:
    if len(text) > MAX_INT_DIGITS:
        return _HugeInteger(text)
    return int(text)


def _loads_exact(text: bytes | str) -> Any:
    """The standard library's parser: exact integers of any length, NaN literals (refused
    later with the field named), line and column for malformed text."""
    try:
        return json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise ProblemError(
            "problem", f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise ProblemError(
            "problem", "JSON nested too deeply (a clearing problem is at most 4 levels deep)"
        ) from None
    except ValueError:
        raise ProblemError("problem", "the text is not UTF-8 encoded JSON") from None


def loads(text: bytes | str) -> Any:
    """Parse JSON text (orjson first; the standard library where orjson refuses: NaN,
    integers beyond 64 bits, lone surrogates, deep nesting). Bad text raises `ProblemError`."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _loads_exact(text)


def problem_from_json(text: bytes | str) -> tuple[ClearingProblem, Any]:
    """Parse and validate a problem from JSON text; returns it with the parsed document
    (for `result_to_dict(..., source=...)`). Raises `ProblemError` naming the bad field."""
    data = loads(text)
    try:
        return _problem_from_dict(data), data
    except _InexactInteger:  # orjson reads integers beyond 64 bits as floats
        data = _loads_exact(text)
        return problem_from_dict(data), data


def dumps(document: Json, *, indent: bool = False) -> bytes:
    """The result's JSON text with a final newline (orjson; the standard library only for
    integer ids beyond 64 bits, which orjson cannot write)."""
    option = orjson.OPT_APPEND_NEWLINE | (orjson.OPT_INDENT_2 if indent else 0)
    try:
        return orjson.dumps(document, option=option)
    except TypeError:
        text = json.dumps(
            document,
            ensure_ascii=False,
            allow_nan=False,
            indent=2 if indent else None,
            separators=None if indent else (",", ":"),
        )
        return text.encode() + b"\n"


def output_seconds(problem: ClearingProblem) -> float:
    """A generous estimate of the time `result_to_dict` + `dumps` take for this problem's
    result (measured ~1.8 µs per order on the 2-core machine, trades included), so that a
    caller's time limit can cover writing the result too."""
    net = problem.network
    return 0.05 + 4e-6 * (len(problem.orders) + len(net.nodes) + len(net.lines))


def _describe(value: Any) -> str:
    """A short, one-line description of a JSON value for an error message."""
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a JSON array"
    if isinstance(value, _HugeInteger):
        return f"an integer of {value.digits} digits"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return ascii(text)
    return "null" if value is None else ascii(value)[:40]


def _check_fields(d: Json, kind: str, path: str) -> None:
    check_fields(d, FIELDS[kind], path)


def check_fields(d: Json, allowed: tuple[str, ...] | list[str], path: str) -> None:
    """Refuse a field not in `allowed`, naming it (with the nearest allowed name)."""
    if len(d) <= len(allowed) and all(k in allowed for k in d):
        return
    for key in d:
        if key not in allowed:
            name = key if key.isidentifier() and key.isascii() else ascii(key)
            hint = difflib.get_close_matches(key, allowed, n=1)
            also = f"did you mean {hint[0]!r}?" if hint else f"expected {', '.join(allowed)}"
            raise ProblemError(f"{path}.{name}", f"unknown field ({also})")


def _obj(value: Any, path: str) -> Json:
    if not isinstance(value, dict):
        raise ProblemError(path, "must be a JSON object")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProblemError(path, "must be a JSON array")
    return value


def _id(value: Any, path: str) -> str:
    if isinstance(value, str) and value:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ProblemError(
                path, "is not valid Unicode text (it contains a lone surrogate)"
            ) from None
        return value
    if isinstance(value, float):
        raise _InexactInteger(path)
    if isinstance(value, _HugeInteger):
        raise ProblemError(path, f"an integer id of {value.digits} digits is too long")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProblemError(path, "must be a non-empty string or an integer")
    return str(value)


def _num(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProblemError(path, f"must be a number (got {_describe(value)})")
    try:
        out = float(value)
    except OverflowError:
        out = math.inf
    if not math.isfinite(out):
        raise ProblemError(path, "must be a finite number (at most ±1.7e308)")
    return out


def _field(d: Json, key: str, path: str) -> Any:
    if key not in d:
        raise ProblemError(f"{path}.{key}", "is missing")
    return d[key]


def problem_from_dict(data: Any) -> ClearingProblem:
    """Parse and validate; raises `ProblemError` naming the first bad field."""
    try:
        return _problem_from_dict(data)
    except _InexactInteger as exc:
        raise ProblemError(str(exc), "must be a non-empty string or an integer") from None


def _problem_from_dict(data: Any) -> ClearingProblem:
    root = _obj(data, "problem")
    _check_fields(root, "problem", "problem")
    iv = _obj(_field(root, "interval", "problem"), "interval")
    _check_fields(iv, "interval", "interval")
    start_raw = _field(iv, "start", "interval")
    if not isinstance(start_raw, str):
        raise ProblemError("interval.start", "must be an ISO 8601 timestamp string")
    try:
        start = datetime.fromisoformat(start_raw)
    except ValueError:
        raise ProblemError(
            "interval.start", f"{_describe(start_raw)} is not an ISO 8601 timestamp"
        ) from None
    if start.tzinfo is None:  # read as UTC (the start is only echoed; it does not clear)
        start = start.replace(tzinfo=UTC)
    minutes = iv.get("minutes", 15)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 < minutes <= MAX_MINUTES:
        raise ProblemError(
            "interval.minutes",
            f"must be a positive whole number of minutes, at most {MAX_MINUTES} (15 or 60)",
        )
    net = _obj(_field(root, "network", "problem"), "network")
    _check_fields(net, "network", "network")
    nodes_raw = _list(_field(net, "nodes", "network"), "network.nodes")
    nodes = []
    for k, raw in enumerate(nodes_raw):
        p = f"network.nodes[{k}]"
        n = _obj(raw, p)
        _check_fields(n, "node", p)
        nodes.append(Node(_id(_field(n, "id", p), f"{p}.id")))
    if not nodes:
        raise ProblemError("network.nodes", "at least one node is needed")
    lines = []
    for k, raw in enumerate(_list(net.get("lines"), "network.lines")):
        p = f"network.lines[{k}]"
        ln = _obj(raw, p)
        _check_fields(ln, "line", p)
        react = ln.get("reactance")
        lines.append(
            Line(
                id=_id(_field(ln, "id", p), f"{p}.id"),
                from_node=_id(_field(ln, "from", p), f"{p}.from"),
                to_node=_id(_field(ln, "to", p), f"{p}.to"),
                capacity_kw=_num(_field(ln, "capacity_kw", p), f"{p}.capacity_kw"),
                reactance=None if react is None else _num(react, f"{p}.reactance"),
            )
        )
    conns = []
    for k, raw in enumerate(_list(net.get("grid_connections"), "network.grid_connections")):
        p = f"network.grid_connections[{k}]"
        g = _obj(raw, p)
        _check_fields(g, "grid_connection", p)
        conns.append(
            GridConnection(
                node=_id(_field(g, "node", p), f"{p}.node"),
                import_price=_num(_field(g, "import_price", p), f"{p}.import_price"),
                export_price=_num(_field(g, "export_price", p), f"{p}.export_price"),
                import_limit_kw=_num(_field(g, "import_limit_kw", p), f"{p}.import_limit_kw"),
                export_limit_kw=_num(_field(g, "export_limit_kw", p), f"{p}.export_limit_kw"),
            )
        )
    network = Network(tuple(nodes), tuple(lines), tuple(conns))
    book = _orders(_list(_field(root, "orders", "problem"), "orders"), network)
    problem = ClearingProblem(Interval(start, minutes), network, book)
    validate(problem)
    return problem


def _orders(raw: list[Any], network: Network) -> OrderBook:
    """Columns from the order dicts: a vectorised fast path; on any doubt the field-by-field
    loop finds and names the first bad field."""
    index = network.node_index()
    try:
        ids = [o["id"] for o in raw]
        nodes = list(map(index.__getitem__, [o["node"] for o in raw]))
        sides = [o["side"] for o in raw]
        qty_raw = [o["quantity_kwh"] for o in raw]
        price_raw = [o["price"] for o in raw]
        numeric = {int, float}
        fast = (
            set(map(len, raw)) <= {5}  # the five fields just read, nothing else
            and set(map(type, ids)) <= {str}
            and "" not in ids
            and set(map(type, qty_raw)) <= numeric
            and set(map(type, price_raw)) <= numeric
            and set(map(type, sides)) <= {str}
            and set(sides) <= {"buy", "sell"}
        )
        if fast:
            "\n".join(ids).encode("utf-8")  # no lone surrogates
            qty = np.fromiter(qty_raw, dtype=np.float64, count=len(ids))
            price = np.fromiter(price_raw, dtype=np.float64, count=len(ids))
    except (KeyError, TypeError, UnicodeEncodeError, OverflowError):
        return _orders_checked(raw, network)
    if not fast:
        return _orders_checked(raw, network)
    n = len(ids)
    return OrderBook(
        tuple(ids),
        np.fromiter(nodes, dtype=np.int64, count=n),
        np.fromiter(map("buy".__eq__, sides), dtype=np.bool_, count=n),
        qty,
        price,
    )


def _orders_checked(raw: list[Any], network: Network) -> OrderBook:
    index = network.node_index()
    n = len(raw)
    ids: list[str] = [""] * n
    node = np.empty(n, dtype=np.int64)
    is_buy = np.empty(n, dtype=np.bool_)
    qty = np.empty(n, dtype=np.float64)
    price = np.empty(n, dtype=np.float64)
    for k, o in enumerate(raw):
        p = f"orders[{k}]"
        if not isinstance(o, dict):
            raise ProblemError(p, "must be a JSON object")
        _check_fields(o, "order", p)
        try:
            oid, nid, side, q, pr = o["id"], o["node"], o["side"], o["quantity_kwh"], o["price"]
        except KeyError as exc:
            raise ProblemError(f"{p}.{exc.args[0]}", "is missing") from None
        ids[k] = _id(oid, f"{p}.id")
        key = _id(nid, f"{p}.node")
        try:
            node[k] = index[key]
        except KeyError:
            raise ProblemError(
                f"{p}.node", f"unknown node {_describe(nid)}; use one of the network's nodes"
            ) from None
        if side == "buy":
            is_buy[k] = True
        elif side == "sell":
            is_buy[k] = False
        else:
            raise ProblemError(f"{p}.side", f"must be 'buy' or 'sell' (got {_describe(side)})")
        qty[k] = _num(q, f"{p}.quantity_kwh")
        price[k] = _num(pr, f"{p}.price")
    return OrderBook(tuple(ids), node, is_buy, qty, price)


def problem_to_dict(problem: ClearingProblem) -> Json:
    net = problem.network
    book = problem.orders
    sides = np.where(book.is_buy, "buy", "sell").tolist()
    node_ids = [n.id for n in net.nodes]
    return {
        "interval": {
            "start": problem.interval.start.isoformat(),
            "minutes": problem.interval.minutes,
        },
        "network": {
            "nodes": [{"id": n.id} for n in net.nodes],
            "lines": [
                {"id": ln.id, "from": ln.from_node, "to": ln.to_node, "capacity_kw": ln.capacity_kw}
                | ({} if ln.reactance is None else {"reactance": ln.reactance})
                for ln in net.lines
            ],
            "grid_connections": [
                {
                    "node": g.node,
                    "import_price": g.import_price,
                    "export_price": g.export_price,
                    "import_limit_kw": g.import_limit_kw,
                    "export_limit_kw": g.export_limit_kw,
                }
                for g in net.grid_connections
            ],
        },
        "orders": [
            {"id": i, "node": node_ids[n], "side": s, "quantity_kwh": q, "price": p}
            for i, n, s, q, p in zip(
                book.ids,
                book.node.tolist(),
                sides,
                book.quantity_kwh.tolist(),
                book.price.tolist(),
                strict=True,
            )
        ],
    }


def problem_digest(problem: ClearingProblem) -> str:
    """SHA-256 of the canonical JSON of the problem (orders sorted by id, since their order
    does not change the result; nodes and lines keep theirs, since the price rule uses it)."""
    d = problem_to_dict(problem)
    d["orders"].sort(key=lambda o: o["id"])
    blob = json.dumps(d, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def _r(values: np.ndarray) -> list[float | None]:
    """Round to DIGITS; ±inf/NaN become null (JSON has neither); −0.0 becomes 0.0."""
    out = np.round(values.astype(np.float64), DIGITS) + 0.0
    lst: list[float | None] = out.tolist()
    if not np.isfinite(out).all():
        lst = [v if v is not None and math.isfinite(v) else None for v in lst]
    return lst


def _rf(value: float) -> float:
    return float(round(value, DIGITS)) + 0.0


def _given_ids(source: Any, path: tuple[str, ...], key: str, fallback: list[Any]) -> list[Any]:
    """The ids exactly as the input gave them (an integer stays an integer)."""
    items: Any = source
    for part in path:
        items = items.get(part) if isinstance(items, dict) else None
    if not isinstance(items, list) or len(items) != len(fallback):
        return fallback
    try:
        given = [it[key] for it in items]
    except (KeyError, TypeError):
        given = None
    if given is not None and set(map(type, given)) <= {str}:
        return fallback  # the ids were strings already: nothing to restore
    return [
        it[key] if isinstance(it, dict) and key in it else f
        for it, f in zip(items, fallback, strict=True)
    ]


def result_to_dict(
    problem: ClearingProblem,
    result: ClearingResult,
    *,
    timings: bool = True,
    source: Any = None,
) -> Json:
    """The result's JSON form. With `source` (the parsed input document) ids are echoed
    exactly as given there, so integer ids stay integers."""
    net = problem.network
    book = problem.orders
    node_ids = [n.id for n in net.nodes]
    line_ids = [ln.id for ln in net.lines]
    order_ids: list[Any] = list(book.ids)
    conn_nodes = [g.node for g in net.grid_connections]
    if source is not None:
        given_nodes = _given_ids(source, ("network", "nodes"), "id", node_ids)
        by_str = dict(zip(node_ids, given_nodes, strict=True))
        node_ids = given_nodes
        line_ids = _given_ids(source, ("network", "lines"), "id", line_ids)
        order_ids = _given_ids(source, ("orders",), "id", order_ids)
        conn_nodes = [by_str.get(c, c) for c in conn_nodes]
    price = _r(result.price)
    tr = result.trades

    def party(idx: list[int]) -> list[str | None]:
        return [None if i == GRID else order_ids[i] for i in idx]

    sellers = party(tr.seller.tolist())
    buyers = party(tr.buyer.tolist())
    trades = [
        {
            "seller": s,
            "seller_kind": "grid" if s is None else "order",
            "seller_node": node_ids[sn],
            "buyer": b,
            "buyer_kind": "grid" if b is None else "order",
            "buyer_node": node_ids[bn],
            "quantity_kwh": q,
            "seller_price": price[sn],
            "buyer_price": price[bn],
        }
        for s, b, sn, bn, q in zip(
            sellers,
            buyers,
            tr.seller_node.tolist(),
            tr.buyer_node.tolist(),
            _r(tr.quantity_kwh),
            strict=True,
        )
    ]
    out: Json = {
        "status": result.status.value,
        "reason": result.reason,
        "solver": result.solver,
        "flow_model": result.flow_model.value,
        "interval": {
            "start": problem.interval.start.isoformat(),
            "minutes": problem.interval.minutes,
        },
        "price_unit": "PLN/kWh",
        "energy_unit": "kWh",
        "orders": [
            {"id": i, "accepted_kwh": a}
            for i, a in zip(order_ids, _r(result.accepted_kwh), strict=True)
        ],
        "nodes": [
            {"id": i, "price": p, "price_low": lo, "price_high": hi}
            for i, p, lo, hi in zip(
                node_ids, price, _r(result.price_low), _r(result.price_high), strict=True
            )
        ],
        "lines": [
            {"id": lid, "flow_kwh": f, "limit_kwh": lim, "congested": bool(c)}
            for lid, f, lim, c in zip(
                line_ids,
                _r(result.flow_kwh),
                _r(result.line_limit_kwh),
                result.line_congested.tolist(),
                strict=True,
            )
        ],
        "grid_connections": [
            {"node": g, "import_kwh": m, "export_kwh": e}
            for g, m, e in zip(
                conn_nodes, _r(result.import_kwh), _r(result.export_kwh), strict=True
            )
        ],
        "welfare": _rf(result.welfare),
        "congestion_rent": _rf(result.congestion_rent),
        "trades": trades,
    }
    if timings:
        t = result.timings
        out["timings"] = {
            "build_ms": round(t.build_ms, 3),
            "solve_ms": round(t.solve_ms, 3),
            "prices_ms": round(t.prices_ms, 3),
            "allocation_ms": round(t.allocation_ms, 3),
            "trades_ms": round(t.trades_ms, 3),
            "total_ms": round(t.total_ms, 3),
        }
    return out
