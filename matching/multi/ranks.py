"""Node ranks by what the nodes are, vectorised (`matching.transfers.node_ranks` gives the
same ranks and classes; the several-interval core ranks tens of thousands of node-intervals,
where the one-interval version's Python loops take seconds)."""

from __future__ import annotations

import numpy as np

from matching.problem import FloatArray, IntArray


def _dense(rows: np.ndarray) -> IntArray:
    """Dense rank of the rows of a 2-D float array in lexicographic order."""
    k = rows.shape[0]
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort(rows.T[::-1])  # the first column is the primary key
    s = rows[order]
    step = np.concatenate([[False], (s[1:] != s[:-1]).any(axis=1)])
    out: IntArray = np.empty(k, dtype=np.int64)
    out[order] = np.cumsum(step)
    return out


def _dense_int(table: IntArray) -> IntArray:
    """`_dense` of a 2-D array of integers ≥ -1: the columns are packed, most significant
    first, into as few int64 keys as fit, so the sort compares a few keys instead of every
    column (same ranks, since packing keeps the lexicographic order)."""
    k, width = table.shape
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    base = int(table.max()) + 2  # values + 1 lie in [0, base)
    per = max(1, 62 // base.bit_length())
    keys = []
    for c0 in range(0, width, per):
        key = np.zeros(k, dtype=np.int64)
        for c in range(c0, min(c0 + per, width)):
            key = key * base + (table[:, c] + 1)
        keys.append(key)
    order = np.lexsort(keys[::-1])  # the first key is the primary one
    step = np.zeros(k, dtype=np.bool_)
    for key in keys:
        s = key[order]
        step[1:] |= s[1:] != s[:-1]
    out: IntArray = np.empty(k, dtype=np.int64)
    out[order] = np.cumsum(step)
    return out


def node_ranks(
    n: int,
    line_from: IntArray,
    line_to: IntArray,
    price: FloatArray,
    supply: FloatArray,
    demand: FloatArray,
    flow: FloatArray,
) -> tuple[IntArray, IntArray]:
    """(rank, class) exactly as `matching.transfers.node_ranks`: (price, net position,
    supply, demand) to the result's 9 decimals, refined by the sorted (flow, neighbour rank)
    pairs of the lines that carry something, until stable."""

    def rounded(v: FloatArray) -> FloatArray:
        out: FloatArray = np.round(v, 9) + 0.0
        return out

    rank = _dense(np.column_stack([rounded(price), rounded(supply - demand), rounded(supply),
                                   rounded(demand)]))  # fmt: skip
    if n == 0 or np.unique(rank).shape[0] == n:
        return rank, rank.copy()
    f = rounded(flow)
    moving = np.flatnonzero(f != 0)
    a, b, fm = line_from[moving], line_to[moving], f[moving]
    owner = np.concatenate([a, b])  # each line seen from both ends
    other = np.concatenate([b, a])
    sign_f = np.concatenate([fm, -fm])
    degree = np.bincount(owner, minlength=n)
    width = int(degree.max(initial=0))
    f_rank = _dense(sign_f[:, None])  # the flows' order, once
    for _ in range(n):
        # the pairs (flow, neighbour rank), sorted per node, padded below every real pair
        span = int(rank.max()) + 1
        _, pair = np.unique(f_rank * span + rank[other], return_inverse=True)
        pair = pair.reshape(-1).astype(np.int64)
        by = np.argsort(owner * (int(pair.max(initial=0)) + 1) + pair, kind="stable")
        o_sorted = owner[by]
        start = np.searchsorted(o_sorted, np.arange(n))
        slot = np.arange(o_sorted.shape[0]) - start[o_sorted]
        table = np.full((n, width + 1), -1, dtype=np.int64)
        table[:, 0] = rank
        table[o_sorted, 1 + slot] = pair[by]
        refined = _dense_int(table)
        if refined.max() == rank.max():
            break
        rank = refined
    order = np.lexsort((np.arange(n), rank))
    out = np.empty(n, dtype=np.int64)
    out[order] = np.arange(n)
    return out, rank
