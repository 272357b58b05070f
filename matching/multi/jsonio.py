"""The several-interval result's JSON form (lists in input order; ids echoed as given)::

    {"status", "reason", "flow_model", "welfare", "congestion_rent", "fees", "timings",
     "orders":   [{"id", "accepted_kwh"}],
     "blocks":   [{"id", "accepted_ratio", "surplus", "paradoxically_rejected",
                 "rejected_reason"}],
     "storage":  [{"id", "charge_kwh": [..], "discharge_kwh": [..], "soc_kwh": [..], "profit"}],
     "intervals": [{"start",
                    "nodes": [{"id", "price", "price_low", "price_high"}],
                    "lines": [{"id", "flow_kwh", "fee"}],
                    "grid_connections": [{"node", "import_kwh", "export_kwh"}],
                    "trades": [{"seller", "seller_kind", "seller_node", "buyer", "buyer_kind",
                                "buyer_node", "quantity_kwh", "seller_price",
                                "buyer_price"}]}]}

`seller_kind`/`buyer_kind` is "order", "storage", "block" or "grid" (the grid's id is null);
storage charging is a buyer, discharging a seller.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from matching.jsonio import DIGITS, _r, _rf
from matching.multi.clearing import PARADOXICAL, REJECTION, MultiResult
from matching.multi.problem import MultiProblem
from matching.result import GRID

Json = dict[str, Any]


def _rows(values: np.ndarray) -> list[list[float | None]]:
    """`_r` of every row of a 2-D array, rounded in one pass (the same numbers)."""
    out = np.round(values.astype(np.float64), DIGITS) + 0.0
    if np.isfinite(out).all():
        rows: list[list[float | None]] = out.tolist()
        return rows
    return [_r(row) for row in values]


def output_seconds(problem: MultiProblem) -> float:
    """A generous estimate of the time `to_dict` + `dumps` take (for a caller's time
    limit): like the one-interval form's, per order and per node, line, connection and
    storage unit in every interval."""
    net = problem.network
    per_interval = (
        len(net.nodes) + len(net.lines) + len(net.grid_connections) + len(problem.storage)
    )
    return 0.05 + 4e-6 * (len(problem.orders) + problem.n_intervals * per_interval)


def to_dict(problem: MultiProblem, result: MultiResult, *, timings: bool = True) -> Json:
    ids = problem.given_ids
    node_ids = ids["nodes"]
    order_ids, storage_ids, block_ids = ids["orders"], ids["storage"], ids["blocks"]
    k_o, n_s = len(order_ids), len(storage_ids)

    # owner → id and kind by list index; GRID (-1) picks the last entry
    party_id = [*order_ids, *storage_ids, *block_ids, None]
    party_kind = ["order"] * k_o + ["storage"] * n_s + ["block"] * len(block_ids) + ["grid"]
    assert GRID == -1

    prices, lows, highs = _rows(result.price), _rows(result.price_low), _rows(result.price_high)
    flows, fees = _rows(result.flow_kwh), _rows(result.line_fee)
    imports, exports = _rows(result.import_kwh.T), _rows(result.export_kwh.T)
    # every interval's trades as Python lists in one pass (rounding is elementwise: the
    # same numbers as `_r` per interval), then cut per interval
    day = result.trades
    cuts = [0, *np.cumsum([len(tr) for tr in day]).tolist()]

    def column(name: str) -> list[Any]:
        values = np.concatenate([getattr(tr, name) for tr in day]) if day else np.zeros(0)
        return _r(values) if name == "quantity_kwh" else values.tolist()  # type: ignore[no-any-return]

    t_seller, t_buyer, t_snode, t_bnode, t_qty = (
        column(name) for name in ("seller", "buyer", "seller_node", "buyer_node", "quantity_kwh")
    )
    intervals = []
    for t, start in enumerate(problem.starts):
        price = prices[t]
        a, z = cuts[t], cuts[t + 1]
        trades = [
            {
                "seller": party_id[s],
                "seller_kind": party_kind[s],
                "seller_node": node_ids[sn],
                "buyer": party_id[b],
                "buyer_kind": party_kind[b],
                "buyer_node": node_ids[bn],
                "quantity_kwh": q,
                "seller_price": price[sn],
                "buyer_price": price[bn],
            }
            for s, b, sn, bn, q in zip(
                t_seller[a:z], t_buyer[a:z], t_snode[a:z], t_bnode[a:z], t_qty[a:z], strict=True
            )
        ]
        intervals.append(
            {
                "start": start.isoformat(),
                "nodes": [
                    {"id": i, "price": p, "price_low": lo, "price_high": hi}
                    for i, p, lo, hi in zip(
                        node_ids,
                        price,
                        lows[t],
                        highs[t],
                        strict=True,
                    )
                ],
                "lines": [
                    {"id": i, "flow_kwh": f, "fee": fee}
                    for i, f, fee in zip(ids["lines"], flows[t], fees[t], strict=True)
                ],
                "grid_connections": [
                    {"node": g, "import_kwh": m, "export_kwh": e}
                    for g, m, e in zip(
                        ids["grid_connections"],
                        imports[t],
                        exports[t],
                        strict=True,
                    )
                ],
                "trades": trades,
            }
        )
    out: Json = {
        "status": result.status.value,
        "reason": result.reason,
        "flow_model": result.flow_model,
        "minutes": problem.minutes,
        "price_unit": "PLN/kWh",
        "energy_unit": "kWh",
        "welfare": _rf(result.welfare),
        "congestion_rent": _rf(result.congestion_rent),
        "fees": _rf(result.fees),
        "orders": [
            {"id": i, "accepted_kwh": a}
            for i, a in zip(order_ids, _r(result.accepted_kwh), strict=True)
        ],
        "blocks": [
            {
                "id": i,
                "accepted_ratio": r,
                "surplus": s,
                "paradoxically_rejected": p == PARADOXICAL,
                "rejected_reason": REJECTION[p],
            }
            for i, r, s, p in zip(
                block_ids,
                _r(result.block_ratio),
                _r(result.block_surplus),
                result.block_reason.tolist(),
                strict=True,
            )
        ],
        "storage": [
            {
                "id": i,
                "charge_kwh": _r(result.charge_kwh[k]),
                "discharge_kwh": _r(result.discharge_kwh[k]),
                "soc_kwh": _r(result.soc_kwh[k]),
                "profit": _rf(float(result.storage_profit[k])),
            }
            for k, i in enumerate(storage_ids)
        ],
        "intervals": intervals,
    }
    if timings:
        out["timings"] = {k: round(v, 3) for k, v in result.timings.items()}
    return out


__all__ = ["np", "output_seconds", "to_dict"]
