"""A small clearing's plain-Python paths — the trades cut by `matching.small_trades`, the
unique optimum by `matching.small_primal` — give the same bits as the numpy paths they stand
for (issue 14): every array of the result, the trades' order included, on random problems
(ties, congestion, grid connections, meshed DC, quantities over many magnitudes)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from clearing_strategies import meshed_zero_capacity, problems
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import (
    ClearingProblem,
    ClearingResult,
    GridConnection,
    Interval,
    Line,
    Network,
    Node,
    Order,
    Side,
    clear,
)
from matching import clearing as clearing_module

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FIELDS = (
    "accepted_kwh",
    "price",
    "flow_kwh",
    "import_kwh",
    "export_kwh",
)
TRADE_FIELDS = (
    "seller",
    "buyer",
    "seller_node",
    "buyer_node",
    "quantity_kwh",
    "seller_price",
    "buyer_price",
)


def _numpy_path(problem: ClearingProblem) -> ClearingResult:
    limits = {name: getattr(clearing_module, name) for name in ("MAX_ITEMS", "MAX_SIZE")}
    for name in limits:
        setattr(clearing_module, name, -1)  # every clearing takes numpy's paths
    try:
        return clear(problem)
    finally:
        for name, limit in limits.items():
            setattr(clearing_module, name, limit)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_same(problem: ClearingProblem) -> None:
    small, full = clear(problem), _numpy_path(problem)
    assert small.status == full.status and small.reason == full.reason
    for name in FIELDS:
        assert _same_bits(getattr(small, name), getattr(full, name)), name
    for name in TRADE_FIELDS:
        assert _same_bits(getattr(small.trades, name), getattr(full.trades, name)), name
    assert small.welfare == full.welfare and small.congestion_rent == full.congestion_rent


@SETTINGS
@given(problems(max_nodes=8, max_orders=30))
def test_small_paths_same_bits(problem: ClearingProblem) -> None:
    assert_same(problem)


@pytest.mark.parametrize("seed", range(12))
def test_small_paths_same_bits_meshed(seed: int) -> None:
    assert_same(meshed_zero_capacity(5 + seed, seed))


QUANTITIES = st.one_of(
    st.sampled_from([1.0, 2.0, 0.5, 1e-6, 1e6]),
    st.floats(1e-6, 1e6, allow_nan=False).map(lambda v: round(v, 9) or 1e-6),
)


@st.composite
def radial_problems(draw: st.DrawFn) -> ClearingProblem:
    """A feeder tree like the demo cluster's: a grid connection at the root, odd line
    limits, orders of any magnitude, often tied."""
    n = draw(st.integers(2, 12))
    lines = tuple(
        Line(f"L{i}", f"N{draw(st.integers(0, i - 1))}", f"N{i}", draw(QUANTITIES))
        for i in range(1, n)
    )
    grid = (GridConnection("N0", 0.9, 0.2, draw(QUANTITIES), draw(QUANTITIES)),)
    prices = st.sampled_from([0.3, 0.5, 0.7, 0.95, 0.1])
    orders = [
        Order(
            f"o{k}",
            f"N{draw(st.integers(0, n - 1))}",
            draw(st.sampled_from([Side.BUY, Side.SELL])),
            draw(QUANTITIES),
            draw(prices),
        )
        for k in range(draw(st.integers(0, 40)))
    ]
    return ClearingProblem.build(
        Interval(datetime(2026, 3, 1, 10, 0, tzinfo=UTC), 15),
        Network(tuple(Node(f"N{i}") for i in range(n)), lines, grid),
        orders,
    )


@SETTINGS
@given(radial_problems())
def test_small_paths_same_bits_radial(problem: ClearingProblem) -> None:
    assert_same(problem)
