"""The problem in a labelling of its own: `clear` solves this form and maps the result back.

Renaming ids, listing nodes, lines, grid connections or orders in another order, or flipping
a line's from/to changes nothing in the problem, but it changes the order in which every
float operation of the clearing is done (sums, the rows and columns of the LP and of the
dense solves, the vertex GLOP returns). The rules of the core are symmetric, so the results
agreed up to ~1e-12 kWh; a value that sits on a rounding half-point of the result's ninth
decimal could still come out differently (issue 11: 1 of 144 large problems). Clearing one
canonical writing of the problem makes every operation the same, so the bytes are the same.

**The canonical writing** (computed from the data alone, never from ids or positions):

1. *Nodes* are ranked by colour refinement: a node's initial colour is a 64-bit hash of the
   multiset of its orders (side, limit price, quantity) and of its grid connections (prices
   and limits); each round a node's colour becomes the hash of its colour and the multiset
   of (line capacity and reactance, neighbour's colour) over its lines; the rounds stop when
   the number of distinct colours stops growing. Nodes are sorted by their final colour.
2. *Lines* go from the end with the lower rank to the other and are sorted by (rank of
   their ends, capacity, reactance); *grid connections* by (rank of their node, prices,
   limits); *orders* by (rank of their node, side, limit price, quantity), and get ids that
   sort in that order.

Only elements that nothing in the data tells apart (nodes with the same final colour, e.g.
mirror images in a symmetric network; identical orders or parallel lines) keep their input
order among themselves; the clearing's own symmetric rules (pro rata, classes of identical
orders, equal shares) then decide for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter

import numpy as np
import numpy.typing as npt

from matching.problem import ClearingProblem, IntArray, Line, Network, OrderBook

U64 = npt.NDArray[np.uint64]


@dataclass(frozen=True, slots=True, eq=False)
class Labelling:
    """Canonical position → input position, per kind; `flip[j]` when canonical line j runs
    against its input direction."""

    node: IntArray
    line: IntArray
    flip: npt.NDArray[np.bool_]
    grid: IntArray
    order: IntArray

    @property
    def identity(self) -> bool:
        """Every permutation the identity and no line flipped (the input already canonical)."""
        return bool(
            not self.flip.any()
            and all(
                np.array_equal(p, np.arange(p.shape[0]))
                for p in (self.node, self.line, self.grid, self.order)
            )
        )


_C1 = np.uint64(0x9E3779B97F4A7C15)
_C2 = np.uint64(0xBF58476D1CE4E5B9)
_C3 = np.uint64(0x94D049BB133111EB)
# the same constants as 0-d arrays: a ufunc with array operands takes no scalar-conversion
# path, and integer arrays wrap without a floating-point error check (`_mix` runs ~17 times
# a clearing on ~20 values, where those fixed costs were most of its time)
_A1, _A2, _A3 = (np.array(c, dtype=np.uint64) for c in (_C1, _C2, _C3))
_S30, _S27, _S31 = (np.array(s, dtype=np.uint64) for s in (30, 27, 31))


def _mix(x: U64) -> U64:
    """splitmix64's finaliser, element-wise (wrapping uint64 arithmetic)."""
    z: U64 = np.add(x, _A1, out=np.empty(np.shape(x), dtype=np.uint64))
    np.bitwise_xor(z, np.right_shift(z, _S30), out=z)
    np.multiply(z, _A2, out=z)
    np.bitwise_xor(z, np.right_shift(z, _S27), out=z)
    np.multiply(z, _A3, out=z)
    np.bitwise_xor(z, np.right_shift(z, _S31), out=z)
    return z


def _bits(values: npt.ArrayLike) -> U64:
    """The IEEE bits of float values (−0.0 as 0.0, every NaN alike)."""
    v = np.asarray(values, dtype=np.float64) + 0.0
    v = np.where(np.isnan(v), np.nan, v)
    out: U64 = np.ascontiguousarray(v).view(np.uint64)
    return out


def _hash_rows(*columns: npt.ArrayLike) -> U64:
    h = np.zeros(np.asarray(columns[0]).shape[0], dtype=np.uint64)
    for col in columns:
        h = _mix(h ^ _bits(col))
    return h


def _sum_at(n: int, index: IntArray, values: U64) -> U64:
    """Σ values per index, wrapping: a multiset hash that does not depend on order."""
    out = np.zeros(n, dtype=np.uint64)
    np.add.at(out, index, values)
    return out


def node_colours(problem: ClearingProblem) -> U64:
    """Each node's colour after colour refinement (see the module docstring)."""
    net, book = problem.network, problem.orders
    n = len(net.nodes)
    index = net.node_index()
    colour = _sum_at(
        n,
        book.node,
        _hash_rows(book.is_buy.astype(np.float64), book.price, book.quantity_kwh),
    )
    gc = net.grid_connections
    if gc:
        g_node = np.array([index[g.node] for g in gc], dtype=np.int64)
        g_hash = _hash_rows(
            [g.import_price for g in gc],
            [g.export_price for g in gc],
            [g.import_limit_kw for g in gc],
            [g.export_limit_kw for g in gc],
        )
        colour = colour ^ _mix(_sum_at(n, g_node, g_hash) + _C2)
    colour = _mix(colour)
    if not net.lines:
        return colour
    a = np.array([index[ln.from_node] for ln in net.lines], dtype=np.int64)
    b = np.array([index[ln.to_node] for ln in net.lines], dtype=np.int64)
    l_hash = _hash_rows(
        [ln.capacity_kw for ln in net.lines],
        [np.nan if ln.reactance is None else ln.reactance for ln in net.lines],
    )
    ends = np.concatenate([a, b])
    other = np.concatenate([b, a])
    l2 = np.concatenate([l_hash, l_hash])
    distinct = len(set(colour.tolist()))  # np.unique's count, without its sort
    for _ in range(n):
        with np.errstate(over="ignore"):
            around = _sum_at(n, ends, _mix(l2 ^ colour[other]))
            refined = _mix(colour ^ _mix(around + _C3))
        now = len(set(refined.tolist()))
        if now <= distinct:
            break
        colour, distinct = refined, now
    return colour


def canonical_labelling(problem: ClearingProblem) -> Labelling:
    net, book = problem.network, problem.orders
    n = len(net.nodes)
    index = net.node_index()
    colour = node_colours(problem)
    node_perm = np.lexsort((np.arange(n), colour)).astype(np.int64)
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
        line_perm = np.lexsort((np.arange(n_l), react, cap, hi, lo)).astype(np.int64)
        flip = (pa > pb)[line_perm]
    else:
        line_perm = np.zeros(0, dtype=np.int64)
        flip = np.zeros(0, dtype=np.bool_)
    gc = net.grid_connections
    n_g = len(gc)
    if n_g:
        keys: list[npt.NDArray[np.generic]] = [
            np.arange(n_g),
            np.array([g.export_limit_kw for g in gc], dtype=np.float64),
            np.array([g.import_limit_kw for g in gc], dtype=np.float64),
            np.array([g.export_price for g in gc], dtype=np.float64),
            np.array([g.import_price for g in gc], dtype=np.float64),
            pos[np.array([index[g.node] for g in gc], dtype=np.int64)],
        ]
        grid_perm = np.lexsort(tuple(keys)).astype(np.int64)
    else:
        grid_perm = np.zeros(0, dtype=np.int64)
    # lexsort is stable: equal keys keep their input order
    order_perm = np.lexsort(
        (book.quantity_kwh, book.price, pos[book.node] * 2 + book.is_buy)
    ).astype(np.int64)
    return Labelling(node_perm, line_perm, flip, grid_perm, order_perm)


def relabelled(problem: ClearingProblem, lab: Labelling) -> ClearingProblem:
    """The problem written canonically. Ids are kept (they only name things in messages):
    the clearing of this form takes the orders' canonical positions where it would
    otherwise sort by id (`aggregate(..., by_position=True)`)."""
    net, book = problem.network, problem.orders
    nodes = tuple(net.nodes[int(k)] for k in lab.node)
    lines = []
    for j, f in zip(lab.line.tolist(), lab.flip.tolist(), strict=True):
        ln = net.lines[j]
        lines.append(
            Line(ln.id, ln.to_node, ln.from_node, ln.capacity_kw, ln.reactance) if f else ln
        )
    conns = tuple(net.grid_connections[int(k)] for k in lab.grid)
    p = lab.order
    pos = np.empty(len(nodes), dtype=np.int64)
    pos[lab.node] = np.arange(len(nodes))
    orders = OrderBook(
        _pick(book.ids, p),
        pos[book.node[p]],
        book.is_buy[p],
        book.quantity_kwh[p],
        book.price[p],
    )
    return ClearingProblem(
        problem.interval, Network(nodes, tuple(lines), conns), orders, problem.time_limit_s
    )


def _pick(ids: tuple[str, ...], perm: IntArray) -> tuple[str, ...]:
    if perm.shape[0] == 0:
        return ()
    if perm.shape[0] == 1:
        return (ids[int(perm[0])],)
    picked: tuple[str, ...] = itemgetter(*perm.tolist())(ids)
    return picked


__all__ = ["Labelling", "canonical_labelling", "node_colours", "relabelled"]
