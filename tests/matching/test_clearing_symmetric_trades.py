"""Trade pairing treats indistinguishable nodes alike (issue 11, item 6): energy from
several origins passing a node towards two nodes that nothing tells apart is shared between
them in proportion, never given to the one listed first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from matching import ClearingProblem, Interval, Line, Network, Node, Order, Side, clear


def fan_out(ends: tuple[str, str]) -> ClearingProblem:
    """A (sells 10 at 0.1) → U (sells 10 at 0.2) → V1, V2 (each buys 10 at 1.0): U passes
    A's energy and its own on to two mirror-image buyers."""
    v1, v2 = ends
    network = Network(
        (Node("A"), Node("U"), Node(v1), Node(v2)),
        (
            Line("AU", "A", "U", 400.0),
            Line(f"U{v1}", "U", v1, 400.0),
            Line(f"U{v2}", "U", v2, 400.0),
        ),
    )
    orders = [
        Order("a", "A", Side.SELL, 10.0, 0.1),
        Order("u", "U", Side.SELL, 10.0, 0.2),
        Order(f"b{v1}", v1, Side.BUY, 10.0, 1.0),
        Order(f"b{v2}", v2, Side.BUY, 10.0, 1.0),
    ]
    return ClearingProblem.build(Interval(datetime(2026, 6, 15, tzinfo=UTC), 15), network, orders)


@pytest.mark.parametrize("ends", [("V1", "V2"), ("V2", "V1")])
def test_mirror_buyers_get_equal_shares_of_each_origin(ends: tuple[str, str]) -> None:
    problem = fan_out(ends)
    r = clear(problem)
    assert r.ok, r.reason
    ids = problem.orders.ids
    got = {
        (ids[s], ids[b]): q
        for s, b, q in zip(
            r.trades.seller.tolist(),
            r.trades.buyer.tolist(),
            r.trades.quantity_kwh.tolist(),
            strict=True,
        )
    }
    assert got == pytest.approx(
        {("a", "bV1"): 5.0, ("a", "bV2"): 5.0, ("u", "bV1"): 5.0, ("u", "bV2"): 5.0}, abs=1e-12
    )
