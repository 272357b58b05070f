"""The JSON form of problems and results (plain dicts; reading files is the caller's job).

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

import hashlib
import json
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np

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
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise ProblemError(path, "must be a non-empty string or an integer")
    return str(value)


def _num(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProblemError(path, f"must be a number (got {json.dumps(value)})")
    out = float(value)
    if not math.isfinite(out):
        raise ProblemError(path, "must be a finite number")
    return out


def _field(d: Json, key: str, path: str) -> Any:
    if key not in d:
        raise ProblemError(f"{path}.{key}", "is missing")
    return d[key]


def problem_from_dict(data: Any) -> ClearingProblem:
    """Parse and validate; raises `ProblemError` naming the first bad field."""
    root = _obj(data, "problem")
    iv = _obj(_field(root, "interval", "problem"), "interval")
    start_raw = _field(iv, "start", "interval")
    if not isinstance(start_raw, str):
        raise ProblemError("interval.start", "must be an ISO 8601 timestamp string")
    try:
        start = datetime.fromisoformat(start_raw)
    except ValueError:
        raise ProblemError(
            "interval.start", f"{start_raw!r} is not an ISO 8601 timestamp"
        ) from None
    if start.tzinfo is None:  # read as UTC (the start is only echoed; it does not clear)
        start = start.replace(tzinfo=UTC)
    minutes = iv.get("minutes", 15)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0:
        raise ProblemError("interval.minutes", "must be a positive whole number (15 or 60)")
    net = _obj(_field(root, "network", "problem"), "network")
    nodes = tuple(
        Node(_id(_obj(n, f"network.nodes[{k}]").get("id"), f"network.nodes[{k}].id"))
        for k, n in enumerate(_list(_field(net, "nodes", "network"), "network.nodes"))
    )
    lines = []
    for k, raw in enumerate(_list(net.get("lines"), "network.lines")):
        p = f"network.lines[{k}]"
        ln = _obj(raw, p)
        react = ln.get("reactance")
        lines.append(
            Line(
                id=_id(ln.get("id"), f"{p}.id"),
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
        conns.append(
            GridConnection(
                node=_id(_field(g, "node", p), f"{p}.node"),
                import_price=_num(_field(g, "import_price", p), f"{p}.import_price"),
                export_price=_num(_field(g, "export_price", p), f"{p}.export_price"),
                import_limit_kw=_num(_field(g, "import_limit_kw", p), f"{p}.import_limit_kw"),
                export_limit_kw=_num(_field(g, "export_limit_kw", p), f"{p}.export_limit_kw"),
            )
        )
    network = Network(nodes, tuple(lines), tuple(conns))
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
    except (KeyError, TypeError):
        return _orders_checked(raw, network)
    numeric = {int, float}
    if (
        not set(map(type, ids)) <= {str}
        or "" in ids
        or not set(map(type, qty_raw)) <= numeric
        or not set(map(type, price_raw)) <= numeric
        or not set(sides) <= {"buy", "sell"}
    ):
        return _orders_checked(raw, network)
    n = len(ids)
    return OrderBook(
        tuple(ids),
        np.fromiter(nodes, dtype=np.int64, count=n),
        np.fromiter(map("buy".__eq__, sides), dtype=np.bool_, count=n),
        np.fromiter(qty_raw, dtype=np.float64, count=n),
        np.fromiter(price_raw, dtype=np.float64, count=n),
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
        if not isinstance(o, dict):
            raise ProblemError(f"orders[{k}]", "must be a JSON object")
        try:
            oid, nid, side, q, p = o["id"], o["node"], o["side"], o["quantity_kwh"], o["price"]
        except KeyError as exc:
            raise ProblemError(f"orders[{k}].{exc.args[0]}", "is missing") from None
        ids[k] = oid if type(oid) is str and oid else _id(oid, f"orders[{k}].id")
        key = nid if type(nid) is str else _id(nid, f"orders[{k}].node")
        try:
            node[k] = index[key]
        except KeyError:
            raise ProblemError(
                f"orders[{k}].node", f"unknown node {nid!r}; use one of the network's nodes"
            ) from None
        if side == "buy":
            is_buy[k] = True
        elif side == "sell":
            is_buy[k] = False
        else:
            raise ProblemError(f"orders[{k}].side", f"must be 'buy' or 'sell' (got {side!r})")
        tq, tp = type(q), type(p)
        qty[k] = q if tq is float or tq is int else _num(q, f"orders[{k}].quantity_kwh")
        price[k] = p if tp is float or tp is int else _num(p, f"orders[{k}].price")
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
