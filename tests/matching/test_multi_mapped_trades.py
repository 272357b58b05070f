"""`matching.multi.clearing._mapped_trades` (the day's trades relabelled in one pass) gives
exactly what mapping every interval's trades on its own gives, empty intervals included."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.multi.clearing import _mapped_trades
from matching.result import GRID, Trades, empty_trades


def _trades(rng: np.random.Generator, k: int, n_owner: int, n_node: int) -> Trades:
    if k == 0:
        return empty_trades()
    owner = rng.integers(GRID, n_owner, size=(2, k))
    node = rng.integers(0, n_node, size=(2, k))
    q = rng.random((3, k))
    return Trades(owner[0], owner[1], node[0], node[1], q[0], q[1], q[2])


def _same(a: tuple[Trades, ...], b: tuple[Trades, ...]) -> bool:
    fields = ("seller", "buyer", "seller_node", "buyer_node", "quantity_kwh", "seller_price",
              "buyer_price")  # fmt: skip
    return len(a) == len(b) and all(
        getattr(x, f).dtype == getattr(y, f).dtype and np.array_equal(getattr(x, f), getattr(y, f))
        for x, y in zip(a, b, strict=True)
        for f in fields
    )


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 6), min_size=1, max_size=8),
    seed=st.integers(0, 2**32 - 1),
    with_nodes=st.booleans(),
)
def test_mapped_trades_equal_interval_by_interval(
    sizes: list[int], seed: int, with_nodes: bool
) -> None:
    rng = np.random.default_rng(seed)
    n_owner, n_node = 7, 5
    trades = tuple(_trades(rng, k, n_owner, n_node) for k in sizes)
    owner_map = rng.permutation(n_owner).astype(np.int64) + 100

    def owners(o: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.where(o >= 0, owner_map[np.maximum(o, 0)], o)
        return out

    node = rng.permutation(n_node).astype(np.int64) if with_nodes else None
    expected = tuple(
        replace(
            tr,
            seller=owners(tr.seller),
            buyer=owners(tr.buyer),
            seller_node=tr.seller_node if node is None else node[tr.seller_node],
            buyer_node=tr.buyer_node if node is None else node[tr.buyer_node],
        )
        for tr in trades
    )
    got = _mapped_trades(trades, owners, node)
    assert _same(got, expected)
    # the grid keeps its owner, and only owners (and nodes when asked) change
    for g, tr in zip(got, trades, strict=True):
        assert np.array_equal(g.seller == GRID, tr.seller == GRID)
        assert g.quantity_kwh is tr.quantity_kwh
