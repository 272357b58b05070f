"""Bilateral trades that follow the network's flows.

1. **Items.** A node's supply items are its accepted sell orders and its grid import, its
   demand items its accepted buy orders and grid export. Identical items (same node, side,
   limit price, quantity and acceptance — orders that only differ by id) form one *class*
   that trades as one and shares every trade equally, so no id spelling or listing order
   decides who trades with whom. On a node's *tape* the classes lie smallest first (by
   each order's accepted energy, then limit price; grid items after the orders), so a
   1e-6 kWh order is never lost next to a 1e12 kWh one.
2. **Local match.** Within each node, local supply serves local demand:
   m[n] = min(supply[n], demand[n]).
3. **Transfers.** The remaining net positions travel over the lines: the line flows are
   decomposed into node-to-node transfers along flow-directed paths (packets pushed in
   topological order). Nodes are ranked by what they are (price, net position, supply,
   demand, then their flows to ranked neighbours), never by name or position; ties between
   indistinguishable nodes fall back to input order.
4. **Tape.** Each local match and each transfer is a *segment* of its source's supply tape
   and its destination's demand tape (shortest first, then by counterpart; segments to
   counterparts that cannot be told apart share their stretch of the tape proportionally).
   Cutting every segment at the class boundaries on both sides gives the trades.
   Coordinates are local to a node and offsets local to a segment, so precision follows
   each node's own sizes.

Trades add up to every order's accepted energy (to float precision) and, summed per line
along their paths, reproduce the line flows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from matching.network import Topology
from matching.problem import BoolArray, FloatArray, IntArray
from matching.result import Trades
from matching.transfers import DUST_KWH, decompose_flows, node_ranks


@dataclass(frozen=True, slots=True, eq=False)
class Items:
    """One side's trade items: `owner` is an order index or GRID; `price` the limit price
    (or the grid's price on this side), `size` the order's quantity (or the grid limit) and
    `other` the grid's other price (0 for orders): together they identify identical items."""

    owner: IntArray
    #: the owner's place in the canonical order of orders (items must come in this order):
    #: it orders the members of a class, so the list of trades does not follow the input
    listing: IntArray
    node: IntArray
    qty: FloatArray
    is_grid: BoolArray
    price: FloatArray
    size: FloatArray
    other: FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class _Classes:
    node: IntArray  # per class, classes sorted by (node, tape order)
    total: FloatArray
    end: FloatArray  # node-local end coordinate on the tape
    members_start: IntArray  # members of class c: member_item[members_start[c]:...+count]
    count: IntArray
    member_item: IntArray
    last: IntArray  # per node: its last class (−1 if none)


def _classes(items: Items, n_nodes: int) -> _Classes:
    k = items.owner.shape[0]
    if k == 0:
        e_i = np.zeros(0, dtype=np.int64)
        e_f = np.zeros(0)
        return _Classes(e_i, e_f, e_f, e_i, e_i, e_i, np.full(n_nodes, -1, dtype=np.int64))
    # One sort gives both the tape order within each node (smallest accepted energy first,
    # then limit price, grid last) and identical items next to each other; `listing` only
    # orders the members of a class.
    node_kind = items.node * 2 + items.is_grid
    # Orders at one node with the same price belong to one step, so their accepted energy
    # determines their quantity: (node, grid?, accepted, price) tells orders apart. Grid
    # items also need their limit and other price (only when a node has two of them). The
    # items arrive in canonical order (`listing`), and the sort is stable.
    # accepted energy compared to the result's 9 decimals, so float dust never orders two
    # classes (within one step equal rounded energy means equal energy)
    # The items arrive in canonical order (node, price, id), and the sorts are stable, so
    # sorting by (node, grid?, accepted energy) leaves equal energies in price order.
    rounded = np.round(items.qty, 9)
    keys: list[npt.NDArray[np.generic]] = [rounded, node_kind]
    same_kind = [items.price, rounded, node_kind, items.qty]
    if int(items.is_grid.sum()) > 1:
        keys = [items.other, items.size, items.price, *keys]
        same_kind += [items.size, items.other]
    by_key = np.lexsort(tuple(keys))
    new = np.zeros(k, dtype=np.bool_)
    new[0] = True
    for col in same_kind:
        s = col[by_key]
        new[1:] |= s[1:] != s[:-1]
    starts = np.flatnonzero(new)
    count = np.diff(np.append(starts, k))
    first = by_key[starts]
    node = items.node[first]
    total = items.qty[first] * count
    # node-local ends (no global coordinate: precision follows each node's own sizes)
    end = _cumsum_by_group(node, total)
    last = np.full(n_nodes, -1, dtype=np.int64)
    last[node] = np.arange(node.shape[0])  # classes are sorted by node: the last one wins
    return _Classes(node, total, end, starts, count, by_key, last)


def _cumsum_by_group(group: IntArray, values: FloatArray) -> FloatArray:
    """Running sum of `values` restarting at each change of (sorted) `group`; each group is
    summed on its own (a row of a padded table), never as a difference of a global sum."""
    k = values.shape[0]
    if k == 0:
        return values.copy()
    if k <= _PLAIN:
        return _cumsum_by_group_plain(group, values)
    return _cumsum_by_group_table(group, values)


def _cumsum_by_group_table(group: IntArray, values: FloatArray) -> FloatArray:
    k = values.shape[0]
    begin = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
    size = np.diff(np.append(begin, k))
    out = np.empty_like(values)
    small = size <= 64  # padded into one table; the few larger groups one at a time
    for a, b in zip(begin[~small].tolist(), (begin + size)[~small].tolist(), strict=True):
        out[a:b] = np.cumsum(values[a:b])
    if small.any():
        b_s, n_s = begin[small], size[small]
        row = np.repeat(np.arange(b_s.shape[0]), n_s)
        col = np.arange(int(n_s.sum())) - np.repeat(np.cumsum(n_s) - n_s, n_s)
        pos = np.repeat(b_s, n_s) + col
        table = np.zeros((b_s.shape[0], int(n_s.max())))
        table[row, col] = values[pos]
        out[pos] = np.cumsum(table, axis=1)[row, col]
    return out


#: Up to this many values `_cumsum_by_group` runs in plain Python: the same additions in the
#: same order (a running sum per group from its first value, as `np.cumsum` does), without
#: the ~15 array operations of the padded table, which cost more than the sums on a small
#: clearing's few dozen classes.
_PLAIN = 256


def _cumsum_by_group_plain(group: IntArray, values: FloatArray) -> FloatArray:
    out: list[float] = []
    prev = None
    run = 0.0
    for g, v in zip(group.tolist(), values.tolist(), strict=True):
        run = v if g != prev else run + v
        prev = g
        out.append(run)
    return np.array(out, dtype=np.float64)


def _place(
    c: _Classes, seg_node: IntArray, seg_from: FloatArray, seg_len: FloatArray
) -> tuple[IntArray, FloatArray, IntArray, IntArray]:
    """Where the class boundaries fall in the segments of one side's tapes.

    Returns (segment of each cut, offset of the cut in its segment, class ending at the cut,
    first class of each segment). Classes are sorted by (node, end); each segment finds its
    classes by binary search on (node, coordinate) pairs, so coordinates stay node-local:
    nothing is added across nodes."""
    n_s, n_c = seg_node.shape[0], c.node.shape[0]
    i0 = _search_pairs(c.node, c.end, seg_node, seg_from, right=True)  # first ending after
    i1 = _search_pairs(c.node, c.end, seg_node, seg_from + seg_len, right=False)  # before stop
    same = (i0 < n_c) & (c.node[np.minimum(i0, max(n_c - 1, 0))] == seg_node)
    first = np.where(same, i0, -1).astype(np.int64)
    count = np.maximum(i1 - i0, 0)
    seg = np.repeat(np.arange(n_s), count)
    cls = np.repeat(i0, count) + (
        np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    )
    off = c.end[cls] - seg_from[seg]
    inside = (off > 0) & (off < seg_len[seg])
    return seg[inside], off[inside], cls[inside], first


def _search_pairs(
    node: IntArray, at: FloatArray, q_node: IntArray, q_at: FloatArray, *, right: bool
) -> IntArray:
    """`np.searchsorted` of the queries (q_node, q_at) among the (node, at) pairs (sorted by
    node, then at), compared as pairs: with `right` the number of pairs ≤ each query, else
    the number < it. One sort of both lists by (node, at), the pairs before the queries
    on a tie when `right` (after them otherwise); the count of pairs passed is the index."""
    n_c = node.shape[0]
    is_pair = np.concatenate([np.ones(n_c, dtype=np.int64), np.zeros(q_node.shape[0], np.int64)])
    tie = 1 - is_pair if right else is_pair
    by = np.lexsort((tie, np.concatenate([at, q_at]), np.concatenate([node, q_node])))
    passed = np.cumsum(is_pair[by])
    out: IntArray = np.empty(q_node.shape[0], dtype=np.int64)
    q = by >= n_c
    out[by[q] - n_c] = passed[q]
    return out


def _layout(
    node: IntArray, counterpart_class: IntArray, rounded: FloatArray, length: FloatArray
) -> FloatArray:
    """Start of each (merged) segment on its node's tape: shortest first (so a tiny transfer
    is never placed after a huge one, where floats could not resolve it; lengths to the
    result's 9 decimals, so float dust never orders two), then by the class of the
    counterpart (a node's own local match counts as itself)."""
    if length.shape[0] == 0:
        return length.copy()
    order = np.lexsort((counterpart_class, rounded, node))
    start = np.empty_like(length)
    start[order] = _cumsum_by_group(node[order], length[order]) - length[order]
    return start


def _views(
    c: _Classes,
    node: IntArray,
    counterpart_class: IntArray,
    length: FloatArray,
) -> tuple[IntArray, FloatArray, IntArray]:
    """Where the classes of one side fall in each segment: (segment of each cut, its offset
    in the segment, first class of each segment).

    Segments of one node to counterparts that cannot be told apart, of equal length, are
    laid out as one: each then takes its proportional share of every piece of that stretch
    of the tape, so no input order decides which of two symmetric nodes gets which order."""
    if length.shape[0] == 0:
        e_i = np.zeros(0, dtype=np.int64)
        return e_i, np.zeros(0), e_i
    rounded = np.round(length, 9)
    by = np.lexsort((counterpart_class, rounded, node))
    change = np.zeros(by.shape[0], dtype=np.bool_)
    change[0] = True
    for col in (node, rounded, counterpart_class):
        sorted_col = col[by]
        change[1:] |= sorted_col[1:] != sorted_col[:-1]
    group = np.empty(by.shape[0], dtype=np.int64)
    group[by] = np.cumsum(change) - 1
    n_g = int(group.max()) + 1
    g_len = np.bincount(group, weights=length, minlength=n_g).astype(np.float64)
    g_node = np.zeros(n_g, dtype=np.int64)
    g_node[group] = node
    g_class = np.zeros(n_g, dtype=np.int64)
    g_class[group] = counterpart_class
    g_rounded = np.zeros(n_g)
    g_rounded[group] = rounded
    g_from = _layout(g_node, g_class, g_rounded, g_len)
    cut_g, cut_off, _, g_first = _place(c, g_node, g_from, g_len)
    # every member of a group sees the group's cuts scaled to its own length
    members = np.argsort(group, kind="stable")
    count = np.bincount(group, minlength=n_g)
    m_start = np.cumsum(count) - count
    per_cut = count[cut_g]
    cut_idx = np.repeat(np.arange(cut_g.shape[0]), per_cut)
    k = np.arange(cut_idx.shape[0]) - np.repeat(np.cumsum(per_cut) - per_cut, per_cut)
    seg = members[m_start[cut_g[cut_idx]] + k]
    g = cut_g[cut_idx]
    off = cut_off[cut_idx] * (length[seg] / g_len[g])
    return seg, off, g_first[group]


def build_trades(
    topo: Topology,
    price: FloatArray,
    supply_items: Items,
    demand_items: Items,
    flow: FloatArray,
    ranks: tuple[IntArray, IntArray] | None = None,
) -> Trades:
    """Trades from the supply and demand items (see the module docstring). `ranks` (rank,
    class) replaces the computed ranking (the several-interval core passes the same ranking,
    computed vectorised by `matching.multi.ranks`)."""
    return build_trades_placed(topo, price, supply_items, demand_items, flow, ranks)[0]


@dataclass(frozen=True, slots=True, eq=False)
class Placement:
    """Where each trade lies: its segment (a node's local match, or a transfer from
    `src` to `dst`) and its place along the segment (`piece`, increasing along it)."""

    transfer: BoolArray
    src: IntArray
    dst: IntArray
    piece: IntArray


def build_trades_placed(
    topo: Topology,
    price: FloatArray,
    supply_items: Items,
    demand_items: Items,
    flow: FloatArray,
    ranks: tuple[IntArray, IntArray] | None = None,
) -> tuple[Trades, Placement]:
    """`build_trades`, and where each trade lies (`Placement`)."""
    n = topo.n_nodes
    supply = np.bincount(supply_items.node, weights=supply_items.qty, minlength=n).astype(float)
    demand = np.bincount(demand_items.node, weights=demand_items.qty, minlength=n).astype(float)
    local = np.minimum(supply, demand)
    surplus = supply - demand
    rank, klass = node_ranks(topo, price, supply, demand, flow) if ranks is None else ranks
    src, dst, amt = decompose_flows(n, topo.line_from, topo.line_to, flow, surplus, rank, klass)
    loc = np.flatnonzero(local > 0)
    seg_s_node = np.concatenate([loc, src])
    seg_d_node = np.concatenate([loc, dst])
    seg_len = np.concatenate([local[loc], amt])
    sc, dc = _classes(supply_items, n), _classes(demand_items, n)
    if seg_len.shape[0] == 0 or sc.node.shape[0] == 0 or dc.node.shape[0] == 0:
        e_i = np.zeros(0, dtype=np.int64)
        return _empty(), Placement(np.zeros(0, dtype=np.bool_), e_i, e_i, e_i)
    s_seg, s_off, s_first = _views(sc, seg_s_node, klass[seg_d_node], seg_len)
    d_seg, d_off, d_first = _views(dc, seg_d_node, klass[seg_s_node], seg_len)
    n_seg = seg_len.shape[0]
    # boundaries of every segment: its start, the cuts of both sides, its end
    b_seg = np.concatenate([np.arange(n_seg), s_seg, d_seg, np.arange(n_seg)])
    b_off = np.concatenate([np.zeros(n_seg), s_off, d_off, seg_len])
    zeros, ones = np.zeros(n_seg, dtype=np.int64), np.ones(s_seg.shape[0], dtype=np.int64)
    b_s = np.concatenate([zeros, ones, np.zeros(d_seg.shape[0], dtype=np.int64), zeros])
    b_d = np.concatenate(
        [zeros, np.zeros(s_seg.shape[0], dtype=np.int64), np.ones_like(d_seg), zeros]
    )
    order = np.lexsort((b_off, b_seg))
    b_seg, b_off, b_s, b_d = b_seg[order], b_off[order], b_s[order], b_d[order]
    # classes in use after each boundary: first class of the segment + cuts passed so far
    s_passed = np.cumsum(b_s)
    d_passed = np.cumsum(b_d)
    seg_begin = np.flatnonzero(np.concatenate([[True], b_seg[1:] != b_seg[:-1]]))
    base_s = np.repeat(
        s_passed[seg_begin] - b_s[seg_begin], np.diff(np.append(seg_begin, b_seg.shape[0]))
    )
    base_d = np.repeat(
        d_passed[seg_begin] - b_d[seg_begin], np.diff(np.append(seg_begin, b_seg.shape[0]))
    )
    same = b_seg[1:] == b_seg[:-1]
    length = (b_off[1:] - b_off[:-1])[same]
    seg = b_seg[:-1][same]
    s_cls = s_first[seg] + (s_passed[:-1] - base_s[:-1])[same]
    d_cls = d_first[seg] + (d_passed[:-1] - base_d[:-1])[same]
    # float dust can make a node's segments a hair longer than its items: the overhang
    # stays with the node's last class
    s_cls = np.minimum(s_cls, sc.last[seg_s_node[seg]])
    d_cls = np.minimum(d_cls, dc.last[seg_d_node[seg]])
    keep = (length > DUST_KWH) & (s_first[seg] >= 0) & (d_first[seg] >= 0)
    length, s_cls, d_cls, seg = length[keep], s_cls[keep], d_cls[keep], seg[keep]
    # neighbouring pieces of one pair (a cut only the overhang needed) are one trade
    if length.shape[0]:
        cont = np.concatenate(
            [[False], (seg[1:] == seg[:-1]) & (s_cls[1:] == s_cls[:-1]) & (d_cls[1:] == d_cls[:-1])]
        )
        group = np.cumsum(~cont) - 1
        head = np.flatnonzero(~cont)
        length = np.bincount(group, weights=length).astype(np.float64)
        s_cls, d_cls, seg = s_cls[head], d_cls[head], seg[head]
    # classes trade as one; each pair of members gets an equal share
    ks, kd = sc.count[s_cls], dc.count[d_cls]
    reps = ks * kd
    piece = np.repeat(np.arange(length.shape[0]), reps)
    within = np.arange(piece.shape[0]) - np.repeat(np.cumsum(reps) - reps, reps)
    s_member = sc.member_item[sc.members_start[s_cls[piece]] + within // kd[piece]]
    d_member = dc.member_item[dc.members_start[d_cls[piece]] + within % kd[piece]]
    qty = length[piece] / reps[piece]
    sn = supply_items.node[s_member]
    dn = demand_items.node[d_member]
    trades = Trades(
        seller=supply_items.owner[s_member],
        buyer=demand_items.owner[d_member],
        seller_node=sn,
        buyer_node=dn,
        quantity_kwh=qty,
        seller_price=price[sn],
        buyer_price=price[dn],
    )
    seg_t = seg[piece]
    placed = Placement(seg_t >= loc.shape[0], seg_s_node[seg_t], seg_d_node[seg_t], piece)
    return trades, placed


def _empty() -> Trades:
    i = np.zeros(0, dtype=np.int64)
    f = np.zeros(0, dtype=np.float64)
    return Trades(i, i, i, i, f, f, f)


__all__ = ["Items", "Placement", "build_trades", "build_trades_placed"]
