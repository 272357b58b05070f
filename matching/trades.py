"""Bilateral trades that follow the network's flows.

1. Within each node, local sellers (and the grid import) serve local buyers (and the grid
   export) first: m[n] = min(supply[n], demand[n]).
2. The remaining net positions travel over the lines: the line flows are decomposed into
   node-to-node transfers along flow-directed paths (packets pushed in topological order).
3. Each transfer and each local match is a segment of a "tape"; laying the node's supply
   items (sellers, then grid import) and demand items (buyers, then grid export) along the
   tape and cutting at every item boundary gives the trades. Vectorised: one sort of the
   boundaries, no loop over orders.

Trades add up to every order's accepted energy (to float precision) and, summed per line
along their paths, reproduce the line flows.
"""

from __future__ import annotations

from collections import defaultdict, deque

import numpy as np

from matching.network import Topology
from matching.problem import FloatArray, IntArray
from matching.result import GRID, Trades


def decompose_flows(
    n_nodes: int, lf: IntArray, lt: IntArray, flow: FloatArray, surplus: FloatArray
) -> tuple[IntArray, IntArray, FloatArray]:
    """Node-to-node transfers (src, dst, kWh) that carry each node's surplus along the flows."""
    scale = max(1.0, float(np.abs(flow).max(initial=0.0)), float(np.abs(surplus).max(initial=0.0)))
    tiny = 1e-12 * scale
    out: list[list[list[float]]] = [[] for _ in range(n_nodes)]  # [dst, amount]
    for a, b, f in zip(lf.tolist(), lt.tolist(), flow.tolist(), strict=True):
        if f > tiny:
            out[a].append([b, f])
        elif f < -tiny:
            out[b].append([a, -f])
    order = _topological_order(n_nodes, out)
    if order is None:
        _cancel_cycles(n_nodes, out, tiny)
        order = _topological_order(n_nodes, out)
        assert order is not None
    inbound: list[list[list[float]]] = [[] for _ in range(n_nodes)]  # [origin, amount]
    transfers: dict[tuple[int, int], float] = defaultdict(float)
    surplus_l = surplus.tolist()
    for u in order:
        own = surplus_l[u]
        packets = [[u, own], *inbound[u]] if own > tiny else inbound[u]
        inbound[u] = []
        if not packets:
            continue
        p = 0
        n_packets = len(packets)
        if own < -tiny:  # the node's own deficit takes what arrives first
            need = -own
            while need > tiny and p < n_packets:
                packet = packets[p]
                take = packet[1] if packet[1] < need else need
                transfers[(int(packet[0]), u)] += take
                need -= take
                packet[1] -= take
                if packet[1] <= tiny:
                    p += 1
        for v, need in out[u]:
            target = inbound[int(v)]
            while need > tiny and p < n_packets:
                packet = packets[p]
                take = packet[1] if packet[1] < need else need
                target.append([packet[0], take])
                need -= take
                packet[1] -= take
                if packet[1] <= tiny:
                    p += 1
    keys = sorted(transfers)
    src = np.array([k[0] for k in keys], dtype=np.int64)
    dst = np.array([k[1] for k in keys], dtype=np.int64)
    amt = np.array([transfers[k] for k in keys], dtype=np.float64)
    return src, dst, amt


def _topological_order(n: int, out: list[list[list[float]]]) -> list[int] | None:
    indeg = [0] * n
    for u in range(n):
        for v, _ in out[u]:
            indeg[int(v)] += 1
    queue = deque(u for u in range(n) if indeg[u] == 0)
    order: list[int] = []
    while queue:
        u = queue.popleft()
        order.append(u)
        for v, _ in out[u]:
            indeg[int(v)] -= 1
            if indeg[int(v)] == 0:
                queue.append(int(v))
    return order if len(order) == n else None


def _cancel_cycles(n: int, out: list[list[list[float]]], tiny: float) -> None:
    """Remove circulations (they carry no trade) until the flow graph is acyclic."""
    while True:
        cycle = _find_cycle(n, out)
        if cycle is None:
            return
        amount = min(out[u][i][1] for u, i in cycle)
        for u, i in cycle:
            out[u][i][1] -= amount
        for u in {u for u, _ in cycle}:
            out[u] = [e for e in out[u] if e[1] > tiny]


def _find_cycle(n: int, out: list[list[list[float]]]) -> list[tuple[int, int]] | None:
    color = [0] * n
    for start in range(n):
        if color[start]:
            continue
        stack: list[tuple[int, int]] = [(start, 0)]
        path: list[tuple[int, int]] = []
        color[start] = 1
        while stack:
            u, i = stack[-1]
            if i < len(out[u]):
                stack[-1] = (u, i + 1)
                v = int(out[u][i][0])
                if color[v] == 1:
                    path.append((u, i))
                    # the cycle is the part of the path from v onwards
                    nodes = [p[0] for p in path]
                    return path[nodes.index(v) :]
                if color[v] == 0:
                    color[v] = 1
                    path.append((u, i))
                    stack.append((v, 0))
            else:
                color[u] = 2
                stack.pop()
                if path:
                    path.pop()
    return None


def _layout(node: IntArray, qty: FloatArray, n_nodes: int) -> tuple[FloatArray, FloatArray]:
    """Items sorted by node: global end coordinate of each item and each node's start."""
    ends = np.cumsum(qty)
    totals = np.bincount(node, weights=qty, minlength=n_nodes)
    starts = np.concatenate([[0.0], np.cumsum(totals)[:-1]])
    return ends, starts


def build_trades(
    topo: Topology,
    price: FloatArray,
    s_order: IntArray,
    s_node: IntArray,
    s_qty: FloatArray,
    d_order: IntArray,
    d_node: IntArray,
    d_qty: FloatArray,
    flow: FloatArray,
) -> Trades:
    """Trades from supply items (order index or GRID, node, kWh) and demand items, each
    already sorted by node (and canonically within a node)."""
    n = topo.n_nodes
    supply = np.bincount(s_node, weights=s_qty, minlength=n)
    demand = np.bincount(d_node, weights=d_qty, minlength=n)
    local = np.minimum(supply, demand)
    surplus = (supply - demand).astype(np.float64)
    src, dst, amt = decompose_flows(n, topo.line_from, topo.line_to, flow, surplus)
    s_ends, s_start = _layout(s_node, s_qty, n)
    d_ends, d_start = _layout(d_node, d_qty, n)
    s_used = local.copy()
    d_used = local.copy()
    # segments: local matches by node, then transfers in (src, dst) order
    loc = np.flatnonzero(local > 0)
    seg_len = [local[loc]]
    seg_s = [s_start[loc]]
    seg_d = [d_start[loc]]
    if src.shape[0]:
        s_off = np.empty_like(amt)
        d_off = np.empty_like(amt)
        for k in range(src.shape[0]):
            a, b = int(src[k]), int(dst[k])
            s_off[k] = s_start[a] + s_used[a]
            d_off[k] = d_start[b] + d_used[b]
            s_used[a] += amt[k]
            d_used[b] += amt[k]
        seg_len.append(amt)
        seg_s.append(s_off)
        seg_d.append(d_off)
    length = np.concatenate(seg_len)
    s_from = np.concatenate(seg_s)
    d_from = np.concatenate(seg_d)
    if length.shape[0] == 0 or s_ends.shape[0] == 0 or d_ends.shape[0] == 0:
        return _empty()
    g_end = np.cumsum(length)
    g_start = g_end - length
    total = float(g_end[-1])

    def to_tape(ends: FloatArray, seg_from: FloatArray) -> FloatArray:
        order = np.argsort(seg_from, kind="stable")
        sf = seg_from[order]
        j = np.clip(np.searchsorted(sf, ends, side="right") - 1, 0, None)
        seg = order[j]
        pos = g_start[seg] + (ends - sf[j])
        clipped: FloatArray = np.clip(pos, g_start[seg], g_end[seg])
        return clipped

    pts = np.concatenate([[0.0], g_end, to_tape(s_ends, s_from), to_tape(d_ends, d_from)])
    pts = np.unique(np.clip(pts, 0.0, total))
    eps = 1e-12 * max(1.0, total)
    keep = np.concatenate([[True], np.diff(pts) > eps])
    pts = pts[keep]
    lo, hi = pts[:-1], pts[1:]
    mid = 0.5 * (lo + hi)
    seg = np.clip(np.searchsorted(g_start, mid, side="right") - 1, 0, length.shape[0] - 1)
    s_coord = s_from[seg] + (mid - g_start[seg])
    d_coord = d_from[seg] + (mid - g_start[seg])
    si = np.clip(np.searchsorted(s_ends, s_coord, side="right"), 0, s_ends.shape[0] - 1)
    di = np.clip(np.searchsorted(d_ends, d_coord, side="right"), 0, d_ends.shape[0] - 1)
    qty = hi - lo
    # merge neighbouring pieces of the same pair (a cut that only one side needed)
    same = np.concatenate([[False], (si[1:] == si[:-1]) & (di[1:] == di[:-1])])
    group = np.cumsum(~same) - 1
    first = np.flatnonzero(~same)
    qty = np.bincount(group, weights=qty).astype(np.float64)
    si, di = si[first], di[first]
    good = qty > eps
    si, di, qty = si[good], di[good], qty[good]
    sn, dn = s_node[si], d_node[di]
    return Trades(
        seller=s_order[si],
        buyer=d_order[di],
        seller_node=sn,
        buyer_node=dn,
        quantity_kwh=qty,
        seller_price=price[sn],
        buyer_price=price[dn],
    )


def _empty() -> Trades:
    i = np.zeros(0, dtype=np.int64)
    f = np.zeros(0, dtype=np.float64)
    return Trades(i, i, i, i, f, f, f)


__all__ = ["GRID", "build_trades", "decompose_flows"]
