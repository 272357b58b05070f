"""Nodal prices per (node, interval) for the several-interval clearing.

The rule (docs/clearing.md, "Several intervals"):

1. The storage units' value of stored energy μ[s, t] is taken from the final LP's duals of
   the state-of-charge rows. Given μ, charging is a buy step at η_c × μ and discharging a sell
   step at μ / η_d + wear cost (their limits per interval); every interval's prices are then
   independent of the others' and are described by complementary slackness as in the single
   interval (accepted blocks are energy fixed at their accepted ratio).
2. Transport model: bounds from steps and grid connections, and per line
   price(to) − price(from) = 0 (fee-free, strictly inside its limit), = fee (flow inside the
   limit with a fee), ≥ / ≤ (at the limit), |·| ≤ fee (a fee line without flow): a system of
   difference constraints whose least and greatest solutions are each node-interval's
   range [price_low, price_high] (propagation, no LP). The chosen price is the midpoint of
   the range clipped to the interval's span of limit prices (`matching.prices.targets`);
   if that vector breaks a line's fee constraint, the greatest optimal vector not above the
   targets is taken.
3. Meshed DC power flow without fees: the single-interval rule (`matching.prices.choose_prices`)
   per interval, storage as steps.
4. Meshed DC power flow with fees: the LP's duals (range = the price itself); documented limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from matching.prices import PriceRuleError
from matching.problem import BoolArray, FloatArray, IntArray

INF = np.inf
TOL = 1e-9


@dataclass(frozen=True, slots=True, eq=False)
class StepsAt:
    """Steps at node-intervals (orders, storage): node-interval, buy?, limit price, quantity,
    accepted."""

    node: IntArray
    is_buy: BoolArray
    price: FloatArray
    quantity: FloatArray
    accepted: FloatArray


def bounds(
    n_vars: int,
    steps: StepsAt,
    grid_node: IntArray,
    imports: FloatArray,
    import_limit: FloatArray,
    import_price: FloatArray,
    exports: FloatArray,
    export_limit: FloatArray,
    export_price: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Each node-interval's own bounds from its steps and grid connections (all flattened)."""
    lo = np.full(n_vars, -INF)
    hi = np.full(n_vars, INF)
    zero = steps.accepted <= 0.0
    full = steps.accepted >= steps.quantity
    buy, sell = steps.is_buy, ~steps.is_buy
    ge = (buy & ~full) | (sell & ~zero)
    le = (buy & ~zero) | (sell & ~full)
    np.maximum.at(lo, steps.node[ge], steps.price[ge])
    np.minimum.at(hi, steps.node[le], steps.price[le])
    iz, ifull = imports <= 0.0, imports >= import_limit
    ez, efull = exports <= 0.0, exports >= export_limit
    np.maximum.at(lo, grid_node[~iz], import_price[~iz])
    np.minimum.at(hi, grid_node[~ifull], import_price[~ifull])
    np.maximum.at(lo, grid_node[~efull], export_price[~efull])
    np.minimum.at(hi, grid_node[~ez], export_price[~ez])
    return lo, hi


@dataclass(frozen=True, slots=True, eq=False)
class Edges:
    """Difference constraints x[a] − x[b] ≤ w."""

    a: IntArray
    b: IntArray
    w: FloatArray


def line_constraints(
    frm: IntArray,
    to: IntArray,
    limit: FloatArray,
    fee: FloatArray,
    fwd: FloatArray,
    back: FloatArray,
) -> tuple[Edges, IntArray, IntArray]:
    """Complementary slackness of the line variables (all arrays per line-interval;
    `fwd`/`back` the flow's parts from → to and to → from). Returns the inequality edges
    and the pairs joined by a fee-free equality (one price zone)."""
    live = limit > 0
    free = live & (fee <= 0)
    fee_l = live & (fee > 0)
    flow = fwd - back
    inside = free & (flow < limit) & (flow > -limit)
    at_pos = free & ~inside & (flow >= limit)
    at_neg = free & ~inside & (flow <= -limit)
    a: list[IntArray] = []
    b: list[IntArray] = []
    w: list[FloatArray] = []

    def add(x: IntArray, y: IntArray, weight: FloatArray) -> None:
        a.append(x)
        b.append(y)
        w.append(weight)

    # fee-free at +limit: price(from) ≤ price(to); at −limit the reverse
    add(frm[at_pos], to[at_pos], np.zeros(int(at_pos.sum())))
    add(to[at_neg], frm[at_neg], np.zeros(int(at_neg.sum())))
    # fee lines, each direction on its own: Δ = price(to) − price(from)
    for part, sgn in ((fwd, 1.0), (back, -1.0)):
        # direction d: reduced cost sgn·Δ − fee; part = 0 → ≤ 0; part = limit → ≥ 0
        not_full = fee_l & (part < limit)
        not_zero = fee_l & (part > 0)
        src, dst = (frm, to) if sgn > 0 else (to, frm)
        # sgn·Δ ≤ fee  ⇔ price(dst) − price(src) ≤ fee
        add(dst[not_full], src[not_full], fee[not_full])
        # sgn·Δ ≥ fee  ⇔ price(src) − price(dst) ≤ −fee
        add(src[not_zero], dst[not_zero], -fee[not_zero])
    edges = Edges(np.concatenate(a), np.concatenate(b), np.concatenate(w))
    return edges, frm[inside], to[inside]


def _closure(start: FloatArray, edges: Edges, upper: bool, n: int) -> FloatArray:
    """Least fixed point of the difference constraints from `start`: for the greatest
    solution x[a] = min(x[a], x[b] + w); for the least x[b] = max(x[b], x[a] − w)."""
    x = start.copy()
    if edges.a.shape[0] == 0:
        return x
    for _ in range(n + 1):
        if upper:
            cand = x[edges.b] + edges.w
            new = x.copy()
            np.minimum.at(new, edges.a, cand)
        else:
            cand = x[edges.a] - edges.w
            new = x.copy()
            np.maximum.at(new, edges.b, cand)
        with np.errstate(invalid="ignore"):
            # (an infinite old value has no tolerance: −inf → 0.45 is a change)
            close = np.isfinite(x) & (np.abs(new - x) <= TOL * np.maximum(1.0, np.abs(x)))
            changed = ~((new == x) | close)
        x = new
        if not changed.any():
            return x
    raise PriceRuleError("the price constraints have no solution (a cycle of line fees)")


def transport_prices(
    n_vars: int,
    lo: FloatArray,
    hi: FloatArray,
    edges: Edges,
    join_a: IntArray,
    join_b: IntArray,
    span_lo: FloatArray,
    span_hi: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(price, low, high) per node-interval; `span_lo/hi` per node-interval."""
    graph = coo_matrix((np.ones(join_a.shape[0]), (join_a, join_b)), shape=(n_vars, n_vars)).tocsr()
    n_z, zone = connected_components(graph, directed=False)
    z_lo = np.full(n_z, -INF)
    z_hi = np.full(n_z, INF)
    np.maximum.at(z_lo, zone, lo)
    np.minimum.at(z_hi, zone, hi)
    za, zb = zone[edges.a], zone[edges.b]
    keep = za != zb
    ze = Edges(za[keep], zb[keep], edges.w[keep])
    # an edge inside a zone needs w ≥ 0 (prices equal there)
    if (edges.w[~keep] < -TOL).any():
        raise PriceRuleError("a fee line at its limit joins two nodes of one price zone")
    high = _closure(z_hi, ze, True, n_z)
    low = _closure(z_lo, ze, False, n_z)
    if (low > high + TOL * np.maximum(1.0, np.abs(high))).any():
        raise PriceRuleError("the optimal price ranges came out empty")
    z_span_lo = np.full(n_z, -INF)
    z_span_hi = np.full(n_z, INF)
    np.maximum.at(z_span_lo, zone, span_lo)
    np.minimum.at(z_span_hi, zone, span_hi)
    a = np.maximum(low, z_span_lo)
    b = np.minimum(high, z_span_hi)
    tgt = np.where(a <= b, 0.5 * (a + b), np.where(high < z_span_lo, high, low))
    if not _holds(tgt, ze):
        tgt = _closure(np.minimum(high, tgt), ze, True, n_z)
        if not _holds(tgt, ze) or (tgt < low - TOL * np.maximum(1.0, np.abs(low))).any():
            raise PriceRuleError("no optimal price vector near the targets")
    return tgt[zone], low[zone], high[zone]


def _holds(x: FloatArray, edges: Edges) -> bool:
    d = x[edges.a] - x[edges.b] - edges.w
    return bool((d <= TOL * np.maximum(1.0, np.abs(x[edges.a]))).all())


__all__ = ["Edges", "StepsAt", "bounds", "line_constraints", "transport_prices"]
