"""Random several-interval problems of many shapes, as plain JSON-shaped dicts.

Written from the issue text alone (not from the core's own generators): radial and meshed
networks, DC (every line with a reactance) or transport, lines with and without fees and
with limits from 0 to "unlimited", 1-100 intervals, per-interval grid prices and limits,
storage over its whole parameter range, blocks with ratios and exclusive groups, simple
orders with ties, negative prices and nodes without a grid connection.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

Json = dict[str, Any]

# a few prices on purpose, so orders tie across nodes and with the grid
PRICES = [-0.2, 0.0, 0.1, 0.25, 0.3, 0.45, 0.5, 0.6, 0.75, 0.8, 0.9, 1.1]
UNLIMITED_KW = 1e6


@dataclass(frozen=True)
class Shape:
    """What one random problem is made of (ranges drawn from per problem)."""

    name: str
    nodes: tuple[int, int]
    intervals: tuple[int, ...]
    orders: tuple[int, int]
    meshed: bool = False
    dc: bool = False
    fees: float = 0.0  # share of lines with a fee
    storage: tuple[int, int] = (0, 0)
    blocks: tuple[int, int] = (0, 0)
    grids: tuple[int, int] = (1, 1)
    minutes: tuple[int, ...] = (15, 60)


SHAPES = {
    s.name: s
    for s in [
        Shape("radial", (1, 8), (1, 2, 3, 5, 8), (4, 60)),
        Shape("radial-fees", (2, 8), (1, 2, 4, 8), (4, 60), fees=0.6),
        Shape("radial-storage", (1, 6), (2, 4, 8, 24), (4, 80), fees=0.4, storage=(1, 3)),
        Shape("meshed-dc", (3, 7), (1, 2, 4, 8), (4, 60), meshed=True, dc=True, fees=0.0),
        Shape("meshed-dc-fees", (3, 7), (1, 2, 4), (4, 60), meshed=True, dc=True, fees=0.5),
        Shape(
            "meshed-dc-storage",
            (3, 6),
            (2, 4, 8),
            (4, 40),
            meshed=True,
            dc=True,
            fees=0.3,
            storage=(1, 2),
        ),
        Shape("meshed-transport", (3, 7), (1, 2, 4, 8), (4, 60), meshed=True, fees=0.3),
        Shape("blocks", (1, 5), (1, 2, 4, 6), (4, 40), fees=0.3, blocks=(1, 6)),
        Shape(
            "blocks-storage", (1, 5), (2, 4, 8), (4, 40), fees=0.3, storage=(1, 2), blocks=(1, 5)
        ),
        Shape(
            "blocks-meshed",
            (3, 5),
            (1, 2, 4),
            (4, 30),
            meshed=True,
            dc=True,
            fees=0.3,
            blocks=(1, 4),
        ),
        Shape(
            "large-radial",
            (10, 40),
            (24, 48, 92, 96, 100),
            (200, 800),
            fees=0.3,
            storage=(0, 4),
            minutes=(15,),
        ),
        Shape(
            "large-meshed",
            (8, 20),
            (24, 92, 100),
            (200, 500),
            meshed=True,
            dc=True,
            fees=0.3,
            storage=(0, 3),
            minutes=(15,),
        ),
        Shape(
            "large-blocks",
            (5, 20),
            (24, 96, 100),
            (200, 600),
            fees=0.3,
            storage=(0, 3),
            blocks=(5, 25),
            minutes=(15,),
        ),
        Shape("no-grid", (1, 6), (1, 3, 6), (4, 40), fees=0.3, storage=(0, 2), grids=(0, 0)),
    ]
}


def _lines(rng: random.Random, n: int, shape: Shape) -> list[Json]:
    pairs = [(rng.randrange(k), k) for k in range(1, n)]
    if shape.meshed and n >= 3:
        have = {frozenset(p) for p in pairs}
        for _ in range(rng.randint(1, max(1, n // 2))):
            a, b = rng.sample(range(n), 2)
            if frozenset((a, b)) not in have or rng.random() < 0.2:  # parallel lines too
                pairs.append((a, b))
                have.add(frozenset((a, b)))
    lines = []
    for k, (a, b) in enumerate(pairs):
        if rng.random() < 0.5:
            a, b = b, a
        cap = rng.choice([0.0, 1.0, 4.0, 10.0, 40.0, 200.0, UNLIMITED_KW])
        line: Json = {"id": f"L{k}", "from": f"N{a}", "to": f"N{b}", "capacity_kw": cap}
        if shape.dc:
            line["reactance"] = rng.choice([0.1, 0.5, 1.0, 2.0])
        if rng.random() < shape.fees:
            line["fee_per_kwh"] = rng.choice([0.01, 0.05, 0.1, 0.3])
        lines.append(line)
    return lines


def _per_interval(rng: random.Random, t: int, values: list[float]) -> Any:
    if rng.random() < 0.5:
        return rng.choice(values)
    return [rng.choice(values) for _ in range(t)]


def _storage(rng: random.Random, k: int, node: str, t: int, h: float) -> Json:
    energy = rng.choice([1e-3, 0.5, 2.0, 10.0, 100.0])
    charge = rng.choice([0.0, 1.0, 4.0, 50.0])
    discharge = rng.choice([0.0, 1.0, 4.0, 50.0])
    eta_c = rng.choice([1.0, 1.0, 0.95, 0.8, 0.5])
    eta_d = rng.choice([1.0, 1.0, 0.9, 0.7])
    initial = rng.choice([0.0, 0.5, 1.0]) * energy
    unit: Json = {
        "id": f"S{k}",
        "node": node,
        "energy_kwh": energy,
        "soc_initial_kwh": initial,
        "charge_kw": charge,
        "discharge_kw": discharge,
        "efficiency_charge": eta_c,
        "efficiency_discharge": eta_d,
    }
    reach = min(energy, initial + eta_c * charge * h * t)
    choice = rng.random()
    if choice < 0.3:
        unit["soc_final_min_kwh"] = rng.uniform(0.0, initial)  # below initial
    elif choice < 0.6 and reach > initial:
        unit["soc_final_min_kwh"] = initial + rng.uniform(0.0, 1.0) * (reach - initial) * 0.999
    if rng.random() < 0.4:
        unit["cost_per_kwh"] = rng.choice([0.0, 0.01, 0.05, 0.2])
    return unit


def _blocks(rng: random.Random, count: int, nodes: list[str], t: int) -> list[Json]:
    blocks = []
    groups = [f"G{g}" for g in range(max(1, count // 3))]
    for k in range(count):
        first = rng.randrange(t)
        length = rng.randint(1, t - first)
        if rng.random() < 0.3:  # runs to the last interval
            length = t - first
        qs = [rng.choice([0.0, 0.5, 1.0, 3.0, 10.0]) for _ in range(length)]
        if not any(qs):
            qs[0] = 2.0
        block: Json = {
            "id": f"B{k}",
            "node": rng.choice(nodes),
            "side": rng.choice(["buy", "sell"]),
            "price": rng.choice(PRICES),
            "first_interval": first,
            "quantities_kwh": qs,
        }
        if rng.random() < 0.6:
            block["min_acceptance_ratio"] = rng.choice([0.1, 0.5, 0.8, 1.0])
        if rng.random() < 0.5:
            block["group"] = rng.choice(groups)
        blocks.append(block)
    return blocks


def random_problem(seed: int, shape: Shape) -> Json:
    rng = random.Random(f"{shape.name}:{seed}")
    n = rng.randint(*shape.nodes)
    t = rng.choice(shape.intervals)
    minutes = rng.choice(shape.minutes)
    h = minutes / 60
    start = datetime(2026, 3, 29, 0, 0, tzinfo=UTC) + timedelta(minutes=15 * rng.randrange(96))
    intervals = [
        {"start": (start + timedelta(minutes=minutes * k)).isoformat(), "minutes": minutes}
        for k in range(t)
    ]
    nodes = [f"N{k}" for k in range(n)]
    grids = []
    for _ in range(rng.randint(*shape.grids)):
        imp = _per_interval(rng, t, [0.5, 0.6, 0.75, 0.89, 1.0])
        exp = _per_interval(rng, t, [-0.05, 0.0, 0.1, 0.2, 0.45])
        grids.append(
            {
                "node": rng.choice(nodes[: max(1, n // 2)]),  # leave nodes without a grid
                "import_price": imp,
                "export_price": exp,
                "import_limit_kw": _per_interval(rng, t, [0.0, 5.0, 40.0, 400.0]),
                "export_limit_kw": _per_interval(rng, t, [0.0, 5.0, 40.0, 400.0]),
            }
        )
    orders = []
    for k in range(rng.randint(*shape.orders)):
        quantity = rng.choice([1e-3, 0.5, 1.0, 2.0, 2.0, 5.0, 10.0, 37.5])
        orders.append(
            {
                "id": f"o{k}",
                "node": rng.choice(nodes),
                "side": rng.choice(["buy", "sell"]),
                "quantity_kwh": quantity,
                "price": rng.choice(PRICES),
                "interval": rng.randrange(t),
            }
        )
    problem: Json = {
        "intervals": intervals,
        "network": {"nodes": [{"id": x} for x in nodes], "lines": _lines(rng, n, shape)},
        "orders": orders,
    }
    if grids:
        problem["network"]["grid_connections"] = grids
    n_storage = rng.randint(*shape.storage)
    if n_storage:
        problem["storage"] = [_storage(rng, k, rng.choice(nodes), t, h) for k in range(n_storage)]
    n_blocks = rng.randint(*shape.blocks)
    if n_blocks:
        problem["blocks"] = _blocks(rng, n_blocks, nodes, t)
    return problem
