"""Hypothesis strategies for small several-interval problems (issue 12) as JSON-shaped dicts:
radial or meshed DC networks, 1–8 intervals, per-interval grid prices, line fees, storage,
blocks with exclusive groups. Ties are likely for simple orders (few prices); block prices
have three decimals so that two block selections rarely tie exactly."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.support.multi_problems import intervals

PRICES = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
QUANTITIES = [0.5, 1.0, 2.0, 3.0, 5.0]
CAPACITIES_KW = [0.0, 2.0, 4.0, 8.0, 20.0]


@st.composite
def multi_problems(
    draw: st.DrawFn,
    max_intervals: int = 8,
    max_nodes: int = 4,
    max_orders: int = 10,
    max_storage: int = 2,
    max_blocks: int = 3,
    meshed: bool | None = None,
) -> dict[str, Any]:
    n_t = draw(st.integers(1, max_intervals))
    minutes = draw(st.sampled_from([15, 60]))
    n = draw(st.integers(1, max_nodes))
    dc = draw(st.booleans()) if meshed is None else meshed
    lines: list[dict[str, Any]] = []
    for i in range(1, n):
        parent = draw(st.integers(0, i - 1))
        a, b = (f"N{parent}", f"N{i}") if draw(st.booleans()) else (f"N{i}", f"N{parent}")
        ln: dict[str, Any] = {
            "id": f"L{i}",
            "from": a,
            "to": b,
            "capacity_kw": draw(st.sampled_from(CAPACITIES_KW)),
        }
        fee = draw(st.sampled_from([0.0, 0.0, 0.05, 0.1]))
        if fee:
            ln["fee_per_kwh"] = fee
        if dc:
            ln["reactance"] = draw(st.sampled_from([0.5, 1.0, 2.0]))
        lines.append(ln)
    if dc and n >= 3:
        for k in range(draw(st.integers(0, 2))):
            a_i = draw(st.integers(0, n - 1))
            b_i = draw(st.integers(0, n - 1).filter(lambda x, a_i=a_i: x != a_i))
            lines.append(
                {
                    "id": f"C{k}",
                    "from": f"N{a_i}",
                    "to": f"N{b_i}",
                    "capacity_kw": draw(st.sampled_from(CAPACITIES_KW)),
                    "reactance": draw(st.sampled_from([0.5, 1.0, 2.0])),
                }
            )
    conns = []
    if draw(st.booleans()):
        per_t = draw(st.booleans())
        if per_t:
            imp: Any = [draw(st.sampled_from([0.4, 0.6, 0.89, 1.0])) for _ in range(n_t)]
            exp: Any = [min(p, draw(st.sampled_from([0.1, 0.3, 0.5]))) for p in imp]
        else:
            imp = draw(st.sampled_from([0.6, 0.89, 1.0]))
            exp = draw(st.sampled_from([0.1, 0.3, 0.5]))
        conns.append(
            {
                "node": f"N{draw(st.integers(0, n - 1))}",
                "import_price": imp,
                "export_price": exp,
                "import_limit_kw": draw(st.sampled_from([0.0, 4.0, 8.0, 40.0])),
                "export_limit_kw": draw(st.sampled_from([0.0, 4.0, 8.0, 40.0])),
            }
        )
    orders = [
        {
            "id": f"o{k}",
            "node": f"N{draw(st.integers(0, n - 1))}",
            "side": draw(st.sampled_from(["buy", "sell"])),
            "quantity_kwh": draw(st.sampled_from(QUANTITIES)),
            "price": draw(st.sampled_from(PRICES)),
            "interval": draw(st.integers(0, n_t - 1)),
        }
        for k in range(draw(st.integers(0, max_orders)))
    ]
    storage = []
    for s in range(draw(st.integers(0, max_storage))):
        energy = draw(st.sampled_from([2.0, 5.0, 10.0]))
        soc0 = draw(st.sampled_from([0.0, 0.5, 1.0])) * energy
        unit: dict[str, Any] = {
            "id": f"S{s}",
            "node": f"N{draw(st.integers(0, n - 1))}",
            "energy_kwh": energy,
            "soc_initial_kwh": soc0,
            "charge_kw": draw(st.sampled_from([1.0, 4.0, 8.0])),
            "discharge_kw": draw(st.sampled_from([1.0, 4.0, 8.0])),
            "efficiency_charge": draw(st.sampled_from([0.8, 0.9, 1.0])),
            "efficiency_discharge": draw(st.sampled_from([0.8, 0.9, 1.0])),
        }
        if draw(st.booleans()):
            unit["soc_final_min_kwh"] = draw(st.sampled_from([0.0, 0.5])) * soc0
        cost = draw(st.sampled_from([0.0, 0.0, 0.02]))
        if cost:
            unit["cost_per_kwh"] = cost
        storage.append(unit)
    blocks = []
    for b in range(draw(st.integers(0, max_blocks))):
        first = draw(st.integers(0, n_t - 1))
        length = draw(st.integers(1, min(3, n_t - first)))
        buy = draw(st.booleans())
        blk: dict[str, Any] = {
            "id": f"B{b}",
            "node": f"N{draw(st.integers(0, n - 1))}",
            "side": "buy" if buy else "sell",
            "price": draw(st.integers(150, 1050)) / 1000,
            "first_interval": first,
            "quantities_kwh": [draw(st.sampled_from(QUANTITIES)) for _ in range(length)],
        }
        r = draw(st.sampled_from([None, 0.5, 1.0]))
        if r is not None:
            blk["min_acceptance_ratio"] = r
        group = draw(st.sampled_from([None, None, "G1", "G2"]))
        if group is not None:
            blk["group"] = group
        blocks.append(blk)
    doc: dict[str, Any] = {
        "intervals": intervals(n_t, minutes),
        "network": {"nodes": [{"id": f"N{i}"} for i in range(n)], "lines": lines},
        "orders": orders,
    }
    if conns:
        doc["network"]["grid_connections"] = conns
    if storage:
        doc["storage"] = storage
    if blocks:
        doc["blocks"] = blocks
    return doc
