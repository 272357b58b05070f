"""Random several-interval clearing problems (issue 12) as JSON-shaped dicts, deterministic for
a seed: a feeder tree (radial, transport model) or the same tree with chords and reactances
(meshed, DC power flow), per-interval grid prices (a day's shape), line fees, storage units and
block orders in exclusive groups. Used by the matching tests and by `bench day_ahead`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from tests.support.problems import feeder_tree

START = datetime(2026, 6, 15, 0, 0, tzinfo=UTC)


def intervals(n: int, minutes: int = 15, start: datetime = START) -> list[dict[str, Any]]:
    return [
        {"start": (start + timedelta(minutes=minutes * k)).isoformat(), "minutes": minutes}
        for k in range(n)
    ]


def day_shape(n: int, rng: np.random.Generator, low: float, high: float) -> list[float]:
    """A price per interval: cheap at noon (solar) and dear in the evening, with noise."""
    hours = (np.arange(n) + 0.5) * 24.0 / max(n, 1)
    base = (
        0.5
        + 0.35 * np.sin((hours - 14.0) / 24.0 * 2 * np.pi)
        - 0.25 * np.exp(-((hours - 12.5) ** 2) / 6.0)
    )
    noisy = base + rng.normal(0.0, 0.03, n)
    return [float(v) for v in np.round(low + (high - low) * np.clip(noisy, 0.0, 1.0), 4)]


def random_multi_problem(
    n_intervals: int,
    n_orders: int,
    n_nodes: int,
    *,
    seed: int = 0,
    meshed: bool = False,
    n_storage: int = 0,
    n_blocks: int = 0,
    n_groups: int = 0,
    group_size: int = 5,
    block_min_ratio: float | None = 1.0,
    fees: bool = True,
    minutes: int = 15,
) -> dict[str, Any]:
    """`n_orders` simple orders spread over the intervals; `n_blocks` blocks, the first
    `n_groups × group_size` of them in exclusive groups of `group_size` (the same load at
    different times); `block_min_ratio` None draws r per block."""
    rng = np.random.default_rng(seed)
    parent = feeder_tree(n_nodes, rng)
    nodes = [{"id": f"n{i}"} for i in range(n_nodes)]
    lines: list[dict[str, Any]] = []
    for i in range(1, n_nodes):
        ln: dict[str, Any] = {
            "id": f"l{i}",
            "from": f"n{parent[i]}",
            "to": f"n{i}",
            "capacity_kw": float(np.round(rng.uniform(10.0, 120.0), 1)),
        }
        if meshed:
            ln["reactance"] = float(np.round(rng.uniform(0.1, 1.0), 3))
        if fees and rng.random() < 0.3:
            ln["fee_per_kwh"] = float(np.round(rng.uniform(0.005, 0.05), 3))
        lines.append(ln)
    if meshed and n_nodes > 2:
        for k in range(max(1, n_nodes // 10)):
            a = int(rng.integers(1, n_nodes))
            b = int(rng.integers(max(0, a - 40), a))
            if b == parent[a] or a == b:
                continue
            lines.append(
                {
                    "id": f"c{k}",
                    "from": f"n{b}",
                    "to": f"n{a}",
                    "capacity_kw": float(np.round(rng.uniform(10.0, 120.0), 1)),
                    "reactance": float(np.round(rng.uniform(0.1, 1.0), 3)),
                }
            )
    limit = float(20.0 * max(1, n_nodes) ** 0.5)
    imp = day_shape(n_intervals, rng, 0.45, 1.10)
    grid = [
        {
            "node": "n0",
            "import_price": imp,
            "export_price": [round(p * 0.4, 4) for p in imp],
            "import_limit_kw": limit,
            "export_limit_kw": limit,
        }
    ]
    t_of = rng.integers(0, n_intervals, size=n_orders)
    node_of = rng.integers(0, n_nodes, size=n_orders)
    is_buy = rng.random(n_orders) < 0.5
    qty = np.round(rng.uniform(0.1, 10.0, size=n_orders), 3)
    base = np.where(is_buy, rng.uniform(0.30, 1.00, n_orders), rng.uniform(0.20, 0.90, n_orders))
    price = np.round(base, 2)
    orders = [
        {
            "id": f"o{k}",
            "node": f"n{int(node_of[k])}",
            "side": "buy" if is_buy[k] else "sell",
            "quantity_kwh": float(qty[k]),
            "price": float(price[k]),
            "interval": int(t_of[k]),
        }
        for k in range(n_orders)
    ]
    h = minutes / 60.0
    storage = []
    for s in range(n_storage):
        energy = float(np.round(rng.uniform(10.0, 200.0), 1))
        power = float(np.round(energy * rng.uniform(0.25, 1.0), 1))
        soc0 = float(np.round(energy * rng.uniform(0.0, 1.0), 1))
        storage.append(
            {
                "id": f"s{s}",
                "node": f"n{int(rng.integers(0, n_nodes))}",
                "energy_kwh": energy,
                "soc_initial_kwh": soc0,
                "soc_final_min_kwh": float(np.round(soc0 * rng.uniform(0.5, 1.0), 1)),
                "charge_kw": power,
                "discharge_kw": power,
                "efficiency_charge": float(np.round(rng.uniform(0.9, 0.98), 3)),
                "efficiency_discharge": float(np.round(rng.uniform(0.9, 0.98), 3)),
                "cost_per_kwh": float(np.round(rng.uniform(0.0, 0.03), 3)),
            }
        )
    blocks = []
    for b in range(n_blocks):
        length = int(rng.integers(1, min(n_intervals, max(1, int(2 / h))) + 1))
        first = int(rng.integers(0, n_intervals - length + 1))
        buy = bool(rng.random() < 0.6)
        blk: dict[str, Any] = {
            "id": f"b{b}",
            "node": f"n{int(rng.integers(0, n_nodes))}",
            "side": "buy" if buy else "sell",
            "price": float(np.round(rng.uniform(0.55, 1.05) if buy else rng.uniform(0.2, 0.7), 3)),
            "first_interval": first,
            "quantities_kwh": [float(v) for v in np.round(rng.uniform(1.0, 20.0, length), 2)],
            "min_acceptance_ratio": (
                block_min_ratio
                if block_min_ratio is not None
                else float(rng.choice([0.25, 0.5, 1.0]))
            ),
        }
        if b < n_groups * group_size:
            blk["group"] = f"g{b // group_size}"
        blocks.append(blk)
    doc: dict[str, Any] = {
        "intervals": intervals(n_intervals, minutes),
        "network": {"nodes": nodes, "lines": lines, "grid_connections": grid},
        "orders": orders,
    }
    if storage:
        doc["storage"] = storage
    if blocks:
        doc["blocks"] = blocks
    return doc
