"""The several-interval problem in a labelling of its own (docs/clearing.md, "Several
intervals", "Ties, determinism, trades"): `clear` solves this form and maps the result back.

Where the LP has several optima (a storage schedule two equally priced intervals leave open,
a state-of-charge value μ that several prices allow, block decisions within the gap) the
solver's answer depends on the order in which the model is written. Writing it in an order
given by the data alone makes that answer a function of the problem: renaming nodes and
lines, listing nodes, lines, grid connections, orders, storage or blocks in another order, or
flipping a line gives the same model, hence the same result mapped back.

**The canonical writing** (as `matching.labelling` for one interval, with the several-interval
data in the colours):

1. *Nodes* are ranked by colour refinement: a node's first colour is a 64-bit hash of the
   multiset of its orders (interval, side, limit price, quantity), of its grid connections
   (prices and limits per interval), of its storage units (every parameter) and of its blocks
   (side, price, first interval, quantities, minimum ratio, whether grouped); each round a
   node's colour becomes the hash of its colour and of the multiset of (line capacity,
   reactance and fee, neighbour's colour) over its lines; the rounds stop when the number of
   distinct colours stops growing. Nodes are then listed breadth first over the lines: each
   component from its first node by final colour, a node's neighbours by final colour (so
   the LP keeps the network's locality).
2. *Lines* run from the end with the lower rank to the other, sorted by (ranks of their
   ends, capacity, reactance, fee); *grid connections* by (rank of their node, prices,
   limits); *orders* by (rank of their node, interval, side, limit price, quantity). Storage
   units and blocks are then sorted by what they are (`matching.multi.clearing.canonical`),
   their node being its rank.

Only elements nothing in the data tells apart (nodes with equal final colours, identical
orders, storage units or blocks, which then differ by id only) keep their input order.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt

from matching.labelling import _C2, _C3, Labelling, _bits, _hash_rows, _mix, _pick, _sum_at
from matching.multi.problem import MultiOrders, MultiProblem
from matching.problem import IntArray, Line, Network

U64 = npt.NDArray[np.uint64]


#: The same permutations as one interval's (`matching.labelling.Labelling`).
MultiLabelling = Labelling


def _row_hash(values: npt.NDArray[np.float64]) -> U64:
    """One hash per row of a 2-D float array: of the set of its (column, value) pairs, so
    of its values in order (vectorised: no loop over the intervals)."""
    r, c = values.shape
    if c == 0:
        return np.zeros(r, dtype=np.uint64)
    col = _mix(np.arange(c, dtype=np.uint64) + _C2)
    bits = _bits(values.ravel()).reshape(r, c)
    with np.errstate(over="ignore"):
        out: U64 = _mix(_mix(bits ^ col[None, :]).sum(axis=1, dtype=np.uint64))
    return out


def node_colours(problem: MultiProblem) -> U64:
    """Each node's colour after colour refinement (see the module docstring)."""
    net = problem.network
    n = len(net.nodes)
    index = net.node_index()
    o = problem.orders
    colour = _sum_at(
        n,
        o.node,
        _hash_rows(o.interval.astype(np.float64), o.is_buy.astype(np.float64), o.price,
                   o.quantity_kwh),
    )  # fmt: skip
    gc = net.grid_connections
    if gc:
        g_node = np.array([index[g.node] for g in gc], dtype=np.int64)
        g_hash = _row_hash(
            np.hstack(
                [
                    problem.import_price,
                    problem.export_price,
                    problem.import_limit_kwh,
                    problem.export_limit_kwh,
                ]
            )
        )
        colour = colour ^ _mix(_sum_at(n, g_node, g_hash) + _C2)
    st = problem.storage
    if len(st):
        s_hash = _hash_rows(
            st.energy_kwh, st.soc_initial_kwh, st.soc_final_min_kwh, st.charge_kwh,
            st.discharge_kwh, st.efficiency_charge, st.efficiency_discharge, st.cost_per_kwh,
        )  # fmt: skip
        colour = colour ^ _mix(_sum_at(n, st.node, s_hash) + _C3)
    bl = problem.blocks
    if len(bl):
        b_hash = _mix(
            _row_hash(bl.quantity_kwh)
            ^ _hash_rows(
                bl.is_buy.astype(np.float64), bl.price, bl.first_interval.astype(np.float64),
                bl.min_ratio, (bl.group >= 0).astype(np.float64),
            )
        )  # fmt: skip
        colour = colour ^ _mix(_sum_at(n, bl.node, b_hash) + _C2 + _C3)
    colour = _mix(colour)
    if not net.lines:
        return colour
    a = np.array([index[ln.from_node] for ln in net.lines], dtype=np.int64)
    b = np.array([index[ln.to_node] for ln in net.lines], dtype=np.int64)
    l_hash = _hash_rows(
        [ln.capacity_kw for ln in net.lines],
        [np.nan if ln.reactance is None else ln.reactance for ln in net.lines],
        problem.fee_per_kwh,
    )
    ends = np.concatenate([a, b])
    other = np.concatenate([b, a])
    l2 = np.concatenate([l_hash, l_hash])
    distinct = np.unique(colour).shape[0]
    for _ in range(n):
        with np.errstate(over="ignore"):
            around = _sum_at(n, ends, _mix(l2 ^ colour[other]))
            refined = _mix(colour ^ _mix(around + _C3))
        now = np.unique(refined).shape[0]
        if now <= distinct:
            break
        colour, distinct = refined, now
    return colour


def _walk(net: Network, index: dict[str, int], by_colour: IntArray) -> IntArray:
    """Nodes in breadth-first order over the lines, from the first node by colour of each
    component, neighbours by colour: canonical as the colour order is, and neighbours get
    near positions, so the LP's rows and columns keep the network's locality (sorting by
    colour alone scatters a feeder and made GLOP's factorisations 5× slower on the
    product's day)."""
    n = by_colour.shape[0]
    if not net.lines:
        return by_colour
    rank = np.empty(n, dtype=np.int64)
    rank[by_colour] = np.arange(n)
    a = np.array([index[ln.from_node] for ln in net.lines], dtype=np.int64)
    b = np.array([index[ln.to_node] for ln in net.lines], dtype=np.int64)
    ends = np.concatenate([a, b])
    other = np.concatenate([b, a])
    # adjacency in CSR form, each node's neighbours by colour rank
    order = np.lexsort((rank[other], ends))
    nbr = other[order].tolist()
    start = np.searchsorted(ends[order], np.arange(n + 1)).tolist()
    seen = [False] * n
    out: list[int] = []
    for root in by_colour.tolist():
        if seen[root]:
            continue
        seen[root] = True
        out.append(root)
        k = len(out) - 1
        while k < len(out):
            v = out[k]
            k += 1
            for w in nbr[start[v] : start[v + 1]]:
                if not seen[w]:
                    seen[w] = True
                    out.append(w)
    return np.array(out, dtype=np.int64)


def canonical_labelling(problem: MultiProblem) -> MultiLabelling:
    net, o = problem.network, problem.orders
    n = len(net.nodes)
    index = net.node_index()
    colour = node_colours(problem)
    by_colour = np.lexsort((np.arange(n), colour)).astype(np.int64)
    node_perm = _walk(net, index, by_colour)
    pos = np.empty(n, dtype=np.int64)
    pos[node_perm] = np.arange(n)
    n_l = len(net.lines)
    if n_l:
        pa = pos[np.array([index[ln.from_node] for ln in net.lines], dtype=np.int64)]
        pb = pos[np.array([index[ln.to_node] for ln in net.lines], dtype=np.int64)]
        cap = np.array([ln.capacity_kw for ln in net.lines], dtype=np.float64)
        react = np.array(
            [np.inf if ln.reactance is None else ln.reactance for ln in net.lines],
            dtype=np.float64,
        )
        lo, hi = np.minimum(pa, pb), np.maximum(pa, pb)
        line_perm = np.lexsort((np.arange(n_l), problem.fee_per_kwh, react, cap, hi, lo)).astype(
            np.int64
        )
        flip = (pa > pb)[line_perm]
    else:
        line_perm = np.zeros(0, dtype=np.int64)
        flip = np.zeros(0, dtype=np.bool_)
    gc = net.grid_connections
    n_g = len(gc)
    if n_g == 1:  # one connection (the usual cluster): its order is itself, no keys needed
        grid_perm = np.zeros(1, dtype=np.int64)
    elif n_g:
        g_keys: list[npt.NDArray[np.generic]] = [np.arange(n_g)]
        for arr in (
            problem.export_limit_kwh,
            problem.import_limit_kwh,
            problem.export_price,
            problem.import_price,
        ):
            g_keys.extend(arr[:, t] for t in range(arr.shape[1] - 1, -1, -1))
        g_keys.append(pos[np.array([index[g.node] for g in gc], dtype=np.int64)])
        grid_perm = np.lexsort(tuple(g_keys)).astype(np.int64)
    else:
        grid_perm = np.zeros(0, dtype=np.int64)
    # lexsort is stable: equal keys keep their input order
    order_perm = np.lexsort((o.quantity_kwh, o.price, o.is_buy, o.interval, pos[o.node])).astype(
        np.int64
    )
    return MultiLabelling(node_perm, line_perm, flip, grid_perm, order_perm)


def relabelled(problem: MultiProblem, lab: MultiLabelling) -> MultiProblem:
    """The problem written canonically (ids kept: they only name things)."""
    net, o = problem.network, problem.orders
    nodes = tuple(net.nodes[int(k)] for k in lab.node)
    lines = []
    for j, f in zip(lab.line.tolist(), lab.flip.tolist(), strict=True):
        ln = net.lines[j]
        lines.append(
            Line(ln.id, ln.to_node, ln.from_node, ln.capacity_kw, ln.reactance) if f else ln
        )
    conns = tuple(net.grid_connections[int(k)] for k in lab.grid)
    pos = np.empty(len(nodes), dtype=np.int64)
    pos[lab.node] = np.arange(len(nodes))
    p = lab.order
    orders = MultiOrders(
        _pick(o.ids, p), pos[o.node[p]], o.is_buy[p], o.quantity_kwh[p], o.price[p],
        o.interval[p],
    )  # fmt: skip
    g = lab.grid
    return replace(
        problem,
        network=Network(nodes, tuple(lines), conns),
        fee_per_kwh=problem.fee_per_kwh[lab.line],
        import_price=problem.import_price[g],
        export_price=problem.export_price[g],
        import_limit_kwh=problem.import_limit_kwh[g],
        export_limit_kwh=problem.export_limit_kwh[g],
        orders=orders,
        storage=replace(problem.storage, node=pos[problem.storage.node]),
        blocks=replace(problem.blocks, node=pos[problem.blocks.node]),
    )


__all__ = ["MultiLabelling", "canonical_labelling", "node_colours", "relabelled"]
