"""`matching.transfers.decompose_flows` (level by level in numpy, or node by node for small
flow graphs) gives exactly the transfers of the loop it replaced (`transfers_reference`),
bit for bit:
on forests (every radial network, each interval of the several-interval core), meshed
flow graphs where one origin reaches a node by two paths, graphs with circulations, nodes
that share a class, float dust in the balances and lines of dust."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from transfers_reference import decompose_flows as reference

from matching import transfers
from matching.transfers import _levels, decompose_flows


def _case(seed: int, shape: str) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    if shape == "forest":
        parent = [-1] + [int(rng.integers(0, v)) if rng.random() < 0.9 else -1 for v in range(1, n)]
        pairs = [(v, p) for v, p in enumerate(parent) if p >= 0]
    else:
        m = int(rng.integers(0, 3 * n))
        pairs = [(int(rng.integers(0, n)), int(rng.integers(0, n))) for _ in range(m)]
        pairs = [(x, y) for x, y in pairs if x != y]
    lf = np.array([p[0] for p in pairs], dtype=np.int64)
    lt = np.array([p[1] for p in pairs], dtype=np.int64)
    if shape == "dag":  # flows from lower to higher index only: no circulation
        lo, hi = np.minimum(lf, lt), np.maximum(lf, lt)
        lf, lt = lo, hi
    k = lf.shape[0]
    scale = rng.choice([1e-6, 1.0, 1e3, 1e6])
    flow = np.round(rng.uniform(-1, 1, k) * scale, int(rng.integers(3, 10)))
    if shape == "dag":
        flow = np.abs(flow)
    flow[rng.random(k) < 0.15] = 0.0
    if k and rng.random() < 0.2:
        flow[int(rng.integers(0, k))] = 3e-13  # a line of float dust
    surplus = np.zeros(n)
    np.add.at(surplus, lf, flow)
    np.subtract.at(surplus, lt, flow)
    # a node trading on the spot besides its net position; float dust in the balance
    if rng.random() < 0.5:
        surplus = surplus + rng.choice([0.0, 1e-16, -1e-16, 5e-13], n)
    if rng.random() < 0.2:
        surplus[int(rng.integers(0, n))] += float(rng.choice([1e-3, -1e-3]))
    rank = rng.permutation(n).astype(np.int64)
    if rng.random() < 0.5:  # classes of nodes the ranking cannot tell apart
        by_rank = np.argsort(rank)
        cut = np.concatenate([[True], rng.random(n - 1) < 0.6])
        klass = np.empty(n, dtype=np.int64)
        klass[by_rank] = np.cumsum(cut) - 1
    else:
        klass = rank.copy()
    return n, lf, lt, flow, surplus, rank, klass


@pytest.mark.parametrize("way", ["numpy", "loop"])
@pytest.mark.parametrize("shape", ["forest", "dag", "any"])
def test_decompose_flows_is_the_loop_bit_for_bit(
    shape: str, way: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways (level by level in numpy, `_push`; node by node, `_loop`; the choice is by
    size) give the old loop's transfers."""
    monkeypatch.setattr(transfers, "VECTOR_LINES", 0 if way == "numpy" else 10**9)
    vectorised = 0
    for seed in range(400):
        args = _case(seed, shape)
        want = reference(*args)
        got = decompose_flows(*args)
        for w, g in zip(want, got, strict=True):
            assert g.dtype == w.dtype
            assert g.shape == w.shape, (seed, want, got)
            assert np.array_equal(g.view(np.int64), w.view(np.int64)), (seed, want, got)
        vectorised += int(got[0].shape[0] > 0)
    assert vectorised > 100  # the cases do trade


def test_levels_put_every_node_after_its_inflow() -> None:
    a = np.array([0, 0, 1, 3], dtype=np.int64)
    b = np.array([1, 2, 2, 2], dtype=np.int64)
    parts = _levels(5, a, b)
    assert parts is not None
    level = {int(v): i for i, p in enumerate(parts) for v in p}
    assert sorted(level) == [0, 1, 2, 3, 4]
    assert level[0] < level[1] < level[2] and level[3] < level[2]
    assert _levels(2, np.array([0, 1]), np.array([1, 0])) is None  # a circulation


def test_pair_search_is_searchsorted_on_pairs() -> None:
    """`matching.trades._search_pairs` gives `np.searchsorted` on (node, at) records, both
    sides, with ties, −0.0 and queries outside every node."""
    from matching.trades import _search_pairs

    rng = np.random.default_rng(0)
    pair = np.dtype([("node", np.int64), ("at", np.float64)])
    for _ in range(300):
        n_c, n_s = int(rng.integers(0, 60)), int(rng.integers(0, 60))
        node = rng.integers(0, 6, n_c)
        at = rng.choice([0.0, -0.0, 1.0, 2.5, 3.0, 1e-9], n_c)
        o = np.lexsort((at, node))
        node, at = node[o], at[o]
        q_node = rng.integers(-1, 7, n_s)
        q_at = rng.choice([0.0, -0.0, 1.0, 2.5, 3.0, 1e-9, 0.5], n_s)
        ends = np.empty(n_c, pair)
        ends["node"], ends["at"] = node, at
        query = np.empty(n_s, pair)
        query["node"], query["at"] = q_node, q_at
        for right in (True, False):
            want = np.searchsorted(ends, query, side="right" if right else "left")
            assert np.array_equal(_search_pairs(node, at, q_node, q_at, right=right), want)
