"""`matching.trades.build_trades_placed` for a small clearing, in plain Python.

A simulated interval of the demo cluster (75 points on 17 nodes: ~60 items, ~20 segments)
spent ~0.7 ms building its trades, nearly all of it the fixed cost of ~150 numpy calls on
arrays of a few dozen values (issue 14). Up to `MAX_ITEMS` items on each side the same tape
is cut here with lists: the same steps, the same float operations in the same order (sums
run in the order `np.bincount` and `np.cumsum` run them, sorts are stable on the same keys,
`np.round` is called as such), so the trades and their placement are the same bits
(checked against the numpy path in `tests/matching/test_small_trades.py`).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from matching.network import Topology
from matching.problem import FloatArray
from matching.result import Trades
from matching.trades import Placement, _cumsum_by_group_plain
from matching.transfers import (
    DUST_KWH,
    VECTOR_LINES,
    _dense_rank,
    _node,
    decompose_flows,
)

#: Largest side (items) cut here; larger clearings take `matching.trades`' numpy path.
MAX_ITEMS = 256


@dataclass(slots=True)
class SideItems:
    """One side's items as lists (`matching.trades.Items` without `listing`: the items come
    in canonical order)."""

    owner: list[int]
    node: list[int]
    qty: list[float]
    is_grid: list[bool]
    price: list[float]
    size: list[float]
    other: list[float]


@dataclass(slots=True)
class _Classes:
    node: list[int]
    end: list[float]
    members_start: list[int]
    count: list[int]
    member_item: list[int]
    last: list[int]


def _rounded(values: list[float]) -> list[float]:
    """`np.round(values, 9)`, element for element (the numpy call itself: the same bits)."""
    out: list[float] = np.round(np.array(values, dtype=np.float64), 9).tolist()
    return out


def _classes(items: SideItems, n_nodes: int) -> _Classes:
    """`matching.trades._classes`: identical items as classes on their node's tape."""
    k = len(items.owner)
    if k == 0:
        return _Classes([], [], [], [], [], [-1] * n_nodes)
    qty, price = items.qty, items.price
    rounded = _rounded(qty)
    kind = [n * 2 + g for n, g in zip(items.node, items.is_grid, strict=True)]
    multi_grid = sum(items.is_grid) > 1
    if multi_grid:
        size, other = items.size, items.other
        by_key = sorted(range(k), key=lambda i: (kind[i], rounded[i], price[i], size[i], other[i]))

        def same(i: int, j: int) -> bool:
            return (price[i], rounded[i], kind[i], qty[i], size[i], other[i]) == (
                price[j],
                rounded[j],
                kind[j],
                qty[j],
                size[j],
                other[j],
            )
    else:
        by_key = sorted(range(k), key=lambda i: (kind[i], rounded[i]))

        def same(i: int, j: int) -> bool:
            return (price[i], rounded[i], kind[i], qty[i]) == (
                price[j],
                rounded[j],
                kind[j],
                qty[j],
            )

    starts = [0]
    for p in range(1, k):
        if not same(by_key[p], by_key[p - 1]):
            starts.append(p)
    count = [b - a for a, b in zip(starts, [*starts[1:], k], strict=True)]
    first = [by_key[s] for s in starts]
    node = [items.node[i] for i in first]
    total = [qty[i] * c for i, c in zip(first, count, strict=True)]
    end: list[float] = _cumsum_by_group_plain(np.array(node), np.array(total)).tolist()
    last = [-1] * n_nodes
    for c, nd in enumerate(node):
        last[nd] = c
    return _Classes(node, end, starts, count, by_key, last)


def _place(
    c: _Classes, seg_node: list[int], seg_from: list[float], seg_len: list[float]
) -> tuple[list[int], list[float], list[int]]:
    """`matching.trades._place`: (segment of each cut, its offset, first class of each
    segment). The classes' (node, end) pairs are sorted, so a count of pairs ≤ (or <) a
    query is a bisection."""
    pairs = list(zip(c.node, c.end, strict=True))
    n_c = len(pairs)
    cut_seg: list[int] = []
    cut_off: list[float] = []
    first: list[int] = []
    for s, (sn, sf, sl) in enumerate(zip(seg_node, seg_from, seg_len, strict=True)):
        i0 = bisect_right(pairs, (sn, sf))
        i1 = bisect_left(pairs, (sn, sf + sl))
        first.append(i0 if i0 < n_c and c.node[i0] == sn else -1)
        for cls in range(i0, i1):
            off = c.end[cls] - sf
            if off > 0 and off < sl:
                cut_seg.append(s)
                cut_off.append(off)
    return cut_seg, cut_off, first


def _views(
    c: _Classes, node: list[int], counterpart: list[int], length: list[float]
) -> tuple[list[int], list[float], list[int]]:
    """`matching.trades._views`: segments to indistinguishable counterparts of equal length
    laid out as one, each member seeing the group's cuts scaled to its own length."""
    m = len(length)
    if m == 0:
        return [], [], []
    rounded = _rounded(length)
    by = sorted(range(m), key=lambda i: (node[i], rounded[i], counterpart[i]))
    group = [0] * m
    g = -1
    prev: tuple[int, float, int] | None = None
    for i in by:
        key = (node[i], rounded[i], counterpart[i])
        if key != prev:
            g += 1
            prev = key
        group[i] = g
    n_g = g + 1
    g_len = [0.0] * n_g
    g_node = [0] * n_g
    g_class = [0] * n_g
    g_rounded = [0.0] * n_g
    members: list[list[int]] = [[] for _ in range(n_g)]
    for i in range(m):
        gi = group[i]
        g_len[gi] += length[i]
        g_node[gi] = node[i]
        g_class[gi] = counterpart[i]
        g_rounded[gi] = rounded[i]
        members[gi].append(i)
    # `_layout`: each node's groups shortest first, then by counterpart
    order = sorted(range(n_g), key=lambda i: (g_node[i], g_rounded[i], g_class[i]))
    run = _cumsum_by_group_plain(
        np.array([g_node[i] for i in order]), np.array([g_len[i] for i in order])
    ).tolist()
    g_from = [0.0] * n_g
    for r, i in zip(run, order, strict=True):
        g_from[i] = r - g_len[i]
    cut_g, cut_off, g_first = _place(c, g_node, g_from, g_len)
    seg: list[int] = []
    off: list[float] = []
    for gi, o in zip(cut_g, cut_off, strict=True):
        for i in members[gi]:
            seg.append(i)
            off.append(o * (length[i] / g_len[gi]))
    return seg, off, [g_first[group[i]] for i in range(m)]


def _sums(node: list[int], qty: list[float], n: int) -> list[float]:
    """`np.bincount(node, weights=qty, minlength=n)`: the same additions in the same order."""
    out = [0.0] * n
    for nd, q in zip(node, qty, strict=True):
        out[nd] += q
    return out


def _node_ranks(
    topo: Topology, price: FloatArray, supply: list[float], demand: list[float], flow: FloatArray
) -> tuple[list[int], list[int]]:
    """`matching.transfers.node_ranks` on lists: (rank, class) per node."""
    n = topo.n_nodes
    # to the result's 9 decimals (`np.round(v, 9) + 0.0`, one call for all five vectors)
    surplus = [s - d for s, d in zip(supply, demand, strict=True)]
    r: list[float] = (
        np.round(np.concatenate([price, surplus, supply, demand, flow]), 9) + 0.0
    ).tolist()
    keys: list[tuple[object, ...]] = list(
        zip(r[:n], r[n : 2 * n], r[2 * n : 3 * n], r[3 * n : 4 * n], strict=True)
    )
    rank = _dense_rank(keys)
    if len(set(rank)) == n:
        return rank, list(rank)
    f_round = r[4 * n :]
    lf, lt = topo.line_from.tolist(), topo.line_to.tolist()
    ends = [(lf[j], lt[j], f) for j, f in enumerate(f_round) if f != 0]
    for _ in range(n):
        nbrs: list[list[tuple[float, int]]] = [[] for _ in range(n)]
        for a, b, f in ends:
            nbrs[a].append((f, rank[b]))
            nbrs[b].append((-f, rank[a]))
        refined = _dense_rank([(rank[u], tuple(sorted(nbrs[u]))) for u in range(n)])
        if max(refined, default=-1) == max(rank, default=-1):
            break
        rank = refined
    out = [0] * n
    for i, u in enumerate(sorted(range(n), key=lambda u: (rank[u], u))):
        out[u] = i
    return out, rank


def _levels(n: int, a: list[int], b: list[int]) -> list[int] | None:
    """`matching.transfers._levels`, its levels one after another (edges sorted by `a`)."""
    indeg = [0] * n
    out: list[list[int]] = [[] for _ in range(n)]
    for x, y in zip(a, b, strict=True):
        indeg[y] += 1
        out[x].append(y)
    ready = [u for u in range(n) if indeg[u] == 0]
    order: list[int] = []
    while ready:
        order += ready
        nxt = [y for x in ready for y in out[x]]
        if not nxt:
            break
        for y in nxt:
            indeg[y] -= 1
        ready = sorted({y for y in nxt if indeg[y] == 0})
    return order if len(order) == n else None


def _decompose(
    topo: Topology, flow: FloatArray, surplus: list[float], rank: list[int], klass: list[int]
) -> tuple[list[int], list[int], list[float]] | None:
    """`matching.transfers.decompose_flows` (its node-by-node `_loop`) on lists; None where
    the flow graph has a cycle (the numpy path cancels it) or is large enough for `_push`."""
    n = topo.n_nodes
    lf, lt, fl = topo.line_from.tolist(), topo.line_to.tolist(), flow.tolist()
    through = [abs(v) for v in surplus]
    for u, f in zip(lf, fl, strict=True):
        through[u] += abs(f)
    for u, f in zip(lt, fl, strict=True):
        through[u] += abs(f)
    tiny_at = [DUST_KWH + 4e-16 * t for t in through]
    arcs = [(x, y, f) if f > 0 else (y, x, f) for x, y, f in zip(lf, lt, fl, strict=True) if f != 0]
    arcs.sort(key=lambda e: (e[0], rank[e[1]]))
    # lines merged per ordered pair of nodes (`np.bincount`: summed in that order)
    a: list[int] = []
    b: list[int] = []
    amount: list[float] = []
    for x, y, f in arcs:
        if a and a[-1] == x and b[-1] == y:
            amount[-1] += abs(f)
        else:
            a.append(x)
            b.append(y)
            amount.append(0.0 + abs(f))
    order = _levels(n, a, b) if len(a) < VECTOR_LINES else None
    if order is None:
        return None
    out: list[list[list[float]]] = [[] for _ in range(n)]
    for x, y, f in zip(a, b, amount, strict=True):
        out[x].append([y, f])
    inbound: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
    transfers: dict[int, list[float]] = defaultdict(list)
    for u in order:
        own = surplus[u]
        arrived = inbound.pop(u, [])
        if own > 0:
            arrived.append((klass[u], u, own))
        if arrived:
            _node(u, own, arrived, out[u], tiny_at[u], klass, rank, inbound, transfers, n)
    # pieces of one (origin, destination) summed exactly; the pairs sorted
    src: list[int] = []
    dst: list[int] = []
    amt: list[float] = []
    m = max(n, 1)
    for k in sorted(transfers):
        v = transfers[k]
        src.append(k // m)
        dst.append(k % m)
        amt.append(v[0] if len(v) == 1 else math.fsum(v))
    return src, dst, amt


def build_trades_small(
    topo: Topology, price: FloatArray, supply_items: SideItems, demand_items: SideItems,
    flow: FloatArray,
) -> tuple[Trades, Placement]:  # fmt: skip
    """`matching.trades.build_trades_placed` (without `ranks`) on list items."""
    n = topo.n_nodes
    supply = _sums(supply_items.node, supply_items.qty, n)
    demand = _sums(demand_items.node, demand_items.qty, n)
    local = [min(s, d) for s, d in zip(supply, demand, strict=True)]
    rank, klass = _node_ranks(topo, price, supply, demand, flow)
    surplus = [s - d for s, d in zip(supply, demand, strict=True)]
    pieces_ = _decompose(topo, flow, surplus, rank, klass)
    if pieces_ is None:
        src_a, dst_a, amt_a = decompose_flows(
            n, topo.line_from, topo.line_to, flow, np.array(surplus), np.array(rank),
            np.array(klass),
        )  # fmt: skip
        pieces_ = src_a.tolist(), dst_a.tolist(), amt_a.tolist()
    src, dst, amt = pieces_
    loc = [u for u in range(n) if local[u] > 0]
    seg_s = loc + src
    seg_d = loc + dst
    seg_len = [local[u] for u in loc] + amt
    sc, dc = _classes(supply_items, n), _classes(demand_items, n)
    if not seg_len or not sc.node or not dc.node:
        return _trades([], [], [], [], [], price), _placement([], [], [], [])
    s_seg, s_off, s_first = _views(sc, seg_s, [klass[v] for v in seg_d], seg_len)
    d_seg, d_off, d_first = _views(dc, seg_d, [klass[v] for v in seg_s], seg_len)
    n_seg = len(seg_len)
    # boundaries of every segment: (segment, offset, supply cut?, demand cut?), stably
    # sorted by (segment, offset): its start, the cuts of both sides, its end
    bounds = [(s, 0.0, 0, 0) for s in range(n_seg)]
    bounds += [(s, o, 1, 0) for s, o in zip(s_seg, s_off, strict=True)]
    bounds += [(s, o, 0, 1) for s, o in zip(d_seg, d_off, strict=True)]
    bounds += [(s, seg_len[s], 0, 0) for s in range(n_seg)]
    bounds.sort(key=lambda b: (b[0], b[1]))
    p_len: list[float] = []  # per piece its kWh and its (segment, supply, demand class)
    p_key: list[tuple[int, int, int]] = []
    s_passed = d_passed = 0
    for i in range(len(bounds) - 1):
        seg, at, bs, bd = bounds[i]
        if i == 0 or bounds[i - 1][0] != seg:
            s_passed = d_passed = 0
        s_passed += bs
        d_passed += bd
        nxt = bounds[i + 1]
        if nxt[0] != seg:
            continue
        length = nxt[1] - at
        sf, df = s_first[seg], d_first[seg]
        if not (length > DUST_KWH and sf >= 0 and df >= 0):
            continue
        # float dust can make a node's segments a hair longer than its items: the overhang
        # stays with the node's last class
        s_cls = min(sf + s_passed, sc.last[seg_s[seg]])
        d_cls = min(df + d_passed, dc.last[seg_d[seg]])
        # neighbouring pieces of one pair (a cut only the overhang needed) are one trade
        key = (seg, s_cls, d_cls)
        if p_key and p_key[-1] == key:
            p_len[-1] += length
        else:
            p_len.append(0.0 + length)
            p_key.append(key)
    # classes trade as one; each pair of members gets an equal share
    s_m: list[int] = []
    d_m: list[int] = []
    qty: list[float] = []
    p_seg: list[int] = []
    p_piece: list[int] = []
    for p, (length, (seg, s_cls, d_cls)) in enumerate(zip(p_len, p_key, strict=True)):
        ks, kd = sc.count[s_cls], dc.count[d_cls]
        reps = ks * kd
        q = length / reps
        s0, d0 = sc.members_start[s_cls], dc.members_start[d_cls]
        for w in range(reps):
            s_m.append(sc.member_item[s0 + w // kd])
            d_m.append(dc.member_item[d0 + w % kd])
            qty.append(q)
            p_seg.append(seg)
            p_piece.append(p)
    trades = _trades(
        [supply_items.owner[i] for i in s_m],
        [demand_items.owner[i] for i in d_m],
        [supply_items.node[i] for i in s_m],
        [demand_items.node[i] for i in d_m],
        qty,
        price,
    )
    placed = _placement(
        [s >= len(loc) for s in p_seg], [seg_s[s] for s in p_seg], [seg_d[s] for s in p_seg],
        p_piece,
    )  # fmt: skip
    return trades, placed


def _trades(
    seller: list[int],
    buyer: list[int],
    sn: list[int],
    dn: list[int],
    qty: list[float],
    price: FloatArray,
) -> Trades:
    sn_a = np.array(sn, dtype=np.int64)
    dn_a = np.array(dn, dtype=np.int64)
    return Trades(
        seller=np.array(seller, dtype=np.int64),
        buyer=np.array(buyer, dtype=np.int64),
        seller_node=sn_a,
        buyer_node=dn_a,
        quantity_kwh=np.array(qty, dtype=np.float64),
        seller_price=price[sn_a],
        buyer_price=price[dn_a],
    )


def _placement(transfer: list[bool], src: list[int], dst: list[int], piece: list[int]) -> Placement:
    return Placement(
        np.array(transfer, dtype=np.bool_),
        np.array(src, dtype=np.int64),
        np.array(dst, dtype=np.int64),
        np.array(piece, dtype=np.int64),
    )


__all__ = ["MAX_ITEMS", "SideItems", "build_trades_small"]
