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
    # dense ranks are 0 … (distinct − 1): all distinct when the largest is n − 1
    if n == 0 or int(rank.max()) + 1 == n:
        return rank, rank.copy()
    f = rounded(flow)
    moving = np.flatnonzero(f != 0)
    a, b, fm = line_from[moving], line_to[moving], f[moving]
    owner = np.concatenate([a, b])  # each line seen from both ends
    other = np.concatenate([b, a])
    sign_f = np.concatenate([fm, -fm])
    f_rank = _dense(sign_f[:, None])  # the flows' order, once
    by_owner = np.argsort(owner, kind="stable")
    degree = np.bincount(owner, minlength=n)
    first = np.cumsum(degree) - degree
    for _ in range(n):
        # Only nodes in a class of several can be split; a node alone in its class keeps
        # its place among the classes. The refined rank is the dense rank of (rank, the
        # node's sorted (flow, neighbour rank) pairs): class by class in rank order, the
        # distinct pair lists of its nodes.
        n_cls = int(rank.max()) + 1
        size = np.bincount(rank, minlength=n_cls)
        split = np.flatnonzero(size[rank] > 1)
        if split.shape[0] == 0:
            break
        cnt = degree[split]
        ends = by_owner[
            np.repeat(first[split] - np.cumsum(cnt) + cnt, cnt) + np.arange(int(cnt.sum()))
        ]
        row = np.repeat(np.arange(split.shape[0]), cnt)
        # a pair's code orders pairs as (flow, neighbour rank); codes are ≥ 0
        code = f_rank[ends] * n_cls + rank[other[ends]]
        by = np.argsort(row * (int(code.max(initial=0)) + 1) + code, kind="stable")
        slot = np.arange(row.shape[0]) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        table = np.full((split.shape[0], int(cnt.max(initial=0)) + 1), -1, dtype=np.int64)
        table[:, 0] = rank[split]
        table[row, 1 + slot] = code[by]
        sub = _dense_int(table)
        cls = rank[split]
        lo = np.full(n_cls, np.iinfo(np.int64).max, dtype=np.int64)
        hi = np.zeros(n_cls, dtype=np.int64)
        np.minimum.at(lo, cls, sub)
        np.maximum.at(hi, cls, sub)
        width = np.ones(n_cls, dtype=np.int64)  # distinct keys per class
        width[cls] = hi[cls] - lo[cls] + 1
        start = np.cumsum(width) - width
        refined = start[rank]
        refined[split] += sub - lo[cls]
        if refined.max() == rank.max():
            break
        rank = refined
    order = np.lexsort((np.arange(n), rank))
    out = np.empty(n, dtype=np.int64)
    out[order] = np.arange(n)
    return out, rank
