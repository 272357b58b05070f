"""Nodal prices per (node, interval) for the several-interval clearing.

The rule (docs/clearing.md, "Several intervals"):

1. Storage: the value of stored energy μ[s, t] (the dual of a unit's state-of-charge row)
   relates to its node's price as a step does: charging at η_c × μ, discharging at
   μ / η_d + wear cost, and μ[t] to μ[t+1] through the state of charge.
2. Transport model: bounds from steps and grid connections, and per line
   price(to) − price(from) = 0 (fee-free, strictly inside its limit), = fee (flow inside the
   limit with a fee), ≥ / ≤ (at the limit), |·| ≤ fee (a fee line without flow): a system of
   difference constraints whose least and greatest solutions are each node-interval's
   range [price_low, price_high] (propagation, no LP). With storage, μ is a variable of the
   same system (`transport_prices_storage`: two-variable monotone constraints, still a
   lattice), so the ranges are over the whole dual optimal face, not the solver's μ. The
   chosen price is the midpoint of the range clipped to the interval's span of limit prices
   (`matching.prices.targets`); if those targets are not optimal together, the greatest
   optimal vector not above them is taken.
3. Meshed DC power flow, with or without fees: the single-interval rule
   (`matching.prices.choose_prices`, each line's dual ν in its fee's range: −fee carrying
   energy from → to inside the limit, [−fee, fee] carrying nothing, ≤ −fee at the limit)
   per interval, storage as steps at the LP's μ.
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
#: A fee-free line's flow this close to its limit (relative, at least kWh) is at the limit.
LIMIT_DUST = 1e-12


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
    # a merged line's flow is summed from the injections: within float dust of its limit
    # it is at the limit (2e-16 short of a 0.5 kWh limit made a zone of a congested line)
    dust = LIMIT_DUST * np.maximum(1.0, limit)
    at_pos = free & (flow >= limit - dust)
    at_neg = free & ~at_pos & (flow <= -limit + dust)
    inside = free & ~at_pos & ~at_neg
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
        not_full = fee_l & (part < limit - dust)
        not_zero = fee_l & (part > dust)
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


@dataclass(frozen=True, slots=True, eq=False)
class StorageFace:
    """What complementary slackness says about the storage units' values of stored energy μ
    (one per unit and interval, (s, t) row-major as the model's `soc` block): the node-interval
    of each (s, t), the schedule and its limits."""

    at: IntArray  # node-interval of (s, t)
    charge: FloatArray
    charge_cap: FloatArray
    discharge: FloatArray
    discharge_cap: FloatArray
    eta_c: FloatArray
    eta_d: FloatArray
    wear: FloatArray
    soc: FloatArray
    soc_lo: FloatArray  # 0, or soc_final_min_kwh in the last interval
    soc_hi: FloatArray
    n_intervals: int


@dataclass(frozen=True, slots=True, eq=False)
class Monotone:
    """Two-variable monotone constraints a·x[i] − b·x[j] ≤ w (a, b > 0)."""

    i: IntArray
    j: IntArray
    a: FloatArray
    b: FloatArray
    w: FloatArray


def _monotone(edges: Edges, zone_i: IntArray, zone_j: IntArray) -> Monotone:
    ones = np.ones(edges.a.shape[0])
    return Monotone(zone_i, zone_j, ones, ones.copy(), edges.w)


def storage_constraints(
    face: StorageFace, zone: IntArray, first: int
) -> tuple[Monotone, FloatArray, FloatArray]:
    """Complementary slackness of the storage columns, μ[k] being variable `first + k`:
    charging is worth η_c·μ against the price λ, discharging costs μ/η_d + wear, holding
    energy from t to t+1 compares μ[t] with μ[t+1], the final state μ with 0. Returns the
    constraints and μ's own bounds."""
    k_n = face.at.shape[0]
    mu = first + np.arange(k_n)
    lam = zone[face.at]
    i: list[IntArray] = []
    j: list[IntArray] = []
    a: list[FloatArray] = []
    b: list[FloatArray] = []
    w: list[FloatArray] = []

    def add(sel: np.ndarray, ii: IntArray, jj: IntArray, aa: FloatArray, bb: FloatArray,
            ww: FloatArray) -> None:  # fmt: skip
        i.append(ii[sel])
        j.append(jj[sel])
        a.append(aa[sel])
        b.append(bb[sel])
        w.append(ww[sel])

    one = np.ones(k_n)
    zero = np.zeros(k_n)
    # charge c: reduced cost η_c μ − λ; c > 0 ⇒ ≥ 0, c < cap ⇒ ≤ 0
    add(face.charge > 0, lam, mu, one, face.eta_c, zero)
    add(face.charge < face.charge_cap, mu, lam, face.eta_c, one, zero)
    # discharge d: reduced cost λ − wear − μ/η_d; d > 0 ⇒ ≥ 0, d < cap ⇒ ≤ 0
    inv = 1.0 / face.eta_d
    add(face.discharge > 0, mu, lam, inv, one, -face.wear)
    add(face.discharge < face.discharge_cap, lam, mu, one, inv, face.wear)
    # state of charge q[t], t before the last: reduced cost μ[t+1] − μ[t]
    t_n = face.n_intervals
    last = (np.arange(k_n) % t_n) == t_n - 1
    nxt = np.where(last, mu, mu + 1)
    add(~last & (face.soc > face.soc_lo), mu, nxt, one, one, zero)
    add(~last & (face.soc < face.soc_hi), nxt, mu, one, one, zero)
    # the last state: reduced cost −μ
    mu_lo = np.full(k_n, -INF)
    mu_hi = np.full(k_n, INF)
    mu_hi[last & (face.soc > face.soc_lo)] = 0.0
    mu_lo[last & (face.soc < face.soc_hi)] = 0.0
    cons = Monotone(
        np.concatenate(i), np.concatenate(j), np.concatenate(a), np.concatenate(b),
        np.concatenate(w),
    )  # fmt: skip
    return cons, mu_lo, mu_hi


#: The storage rule's box (× the problem's largest price, fee or wear) and the size beyond
#: which an end of a range is unbounded: a chain of lossy units divides by at most
#: η_c·η_d per unit, so BIG / UNBOUNDED leaves room for many of them.
BIG = 1e12
UNBOUNDED = 1e6
#: Sweeps of the monotone propagation at most, per variable (gain cycles of storage
#: efficiencies converge geometrically, not in a bounded number of sweeps).
SWEEPS_PER_VARIABLE = 4
SWEEPS_MIN = 2_000
#: How close the ranges' closures settle (relative): far below TOL, so that the targets
#: chosen inside a range are not TOL below the face's true end (see `_mono_closure`).
RANGE_TOL = 1e-15


def _mono_closure(
    start: FloatArray,
    cons: Monotone,
    upper: bool,
    tol: float = TOL,
    beyond: FloatArray | None = None,
) -> FloatArray:
    """The greatest (`upper`) or least solution of the monotone constraints from `start`:
    x[i] = min(x[i], (w + b·x[j]) / a), or x[j] = max(x[j], (a·x[i] − w) / b), all at once
    each sweep (Jacobi: the result does not depend on the order of the constraints).

    A sweep only evaluates the constraints whose source (x[j], or x[i]) moved in the
    previous sweep: any other one gives the value it gave then, which its target already
    is at or beyond, so it would change nothing (the same numbers, bit for bit, as
    evaluating every constraint every sweep).

    `tol` below TOL (the ranges' closures, `RANGE_TOL`) settles a geometric approach (a
    gain cycle of efficiencies) much closer to its limit; when the sweeps run out after the
    changes had already come within TOL, that TOL answer is returned. A range end left
    TOL short of its limit could put a target below every optimal point, and a cycle of
    gain > 1 then runs the chosen prices' closure down to −∞ (outside checker, check12b:
    "the storage values' constraints do not settle" on a valid one-node problem).

    `beyond`: the other end of the face (the greatest point for the least one, the least
    for the chosen prices' closure from the targets); the closure never moves past it.
    Where the face is one point, a converging cycle (gain < 1) and a diverging one (gain
    > 1: a lossy unit charging and discharging in one interval, λ = 0.5 μ and
    λ = μ / 0.7 + wear) meet there, and one ulp of overshoot ran the least point to +∞
    ("the optimal price ranges came out empty" / "do not settle", outside checker
    check12b). The true closure never passes the other end, so the cap changes nothing
    but float trouble."""
    x = start.copy()
    if cons.i.shape[0] == 0:
        return x
    n = x.shape[0]
    i, j, a, b, w = cons.i, cons.j, cons.a, cons.b, cons.w
    moved = np.ones(n, dtype=np.bool_)
    within_tol = False
    for _ in range(max(SWEEPS_MIN, SWEEPS_PER_VARIABLE * n)):
        new = x.copy()
        with np.errstate(invalid="ignore"):
            if upper:
                k = np.flatnonzero(moved[j])
                np.minimum.at(new, i[k], (w[k] + b[k] * x[j[k]]) / a[k])
            else:
                k = np.flatnonzero(moved[i])
                np.maximum.at(new, j[k], (a[k] * x[i[k]] - w[k]) / b[k])
            if beyond is not None:
                new = np.maximum(new, beyond) if upper else np.minimum(new, beyond)
            step = np.abs(new - x)
            size = np.maximum(1.0, np.abs(x))
            close = np.isfinite(x) & (step <= tol * size)
            changed = ~((new == x) | close)
            if tol < TOL:
                within_tol = not (~((new == x) | (np.isfinite(x) & (step <= TOL * size)))).any()
        moved = new != x  # NaN counts as moved: re-evaluating is always harmless
        x = new
        if not changed.any():
            return x
    if within_tol:
        return x
    raise PriceRuleError("the storage values' constraints do not settle")


def _mono_holds(x: FloatArray, cons: Monotone) -> bool:
    with np.errstate(invalid="ignore"):
        d = cons.a * x[cons.i] - cons.b * x[cons.j] - cons.w
        scale = np.maximum(1.0, np.abs(cons.a * x[cons.i]))
    return bool(((d <= TOL * scale) | np.isnan(d)).all())


def transport_prices_storage(
    n_vars: int,
    lo: FloatArray,
    hi: FloatArray,
    edges: Edges,
    join_a: IntArray,
    join_b: IntArray,
    span_lo: FloatArray,
    span_hi: FloatArray,
    face: StorageFace,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(price, low, high) per node-interval over the whole dual optimal face, the storage
    values μ free (docs/clearing.md, "Prices per (node, interval)", rule 1).

    Every constraint of that face is monotone in two variables (a price zone's price and a
    unit's μ, or two of either): the face is a lattice, so its least and greatest points
    exist and give every node-interval's range at once; the price is the greatest optimal
    vector not above the targets (the clipped midpoints), which is the targets themselves
    whenever they are optimal. μ is only a means: it is not published."""
    graph = coo_matrix((np.ones(join_a.shape[0]), (join_a, join_b)), shape=(n_vars, n_vars)).tocsr()
    n_z, zone = connected_components(graph, directed=False)
    z_lo = np.full(n_z, -INF)
    z_hi = np.full(n_z, INF)
    np.maximum.at(z_lo, zone, lo)
    np.minimum.at(z_hi, zone, hi)
    za, zb = zone[edges.a], zone[edges.b]
    keep = za != zb
    if (edges.w[~keep] < -TOL).any():
        raise PriceRuleError("a fee line at its limit joins two nodes of one price zone")
    lines = _monotone(Edges(za[keep], zb[keep], edges.w[keep]), za[keep], zb[keep])
    # μ of one unit is one number while its state stays strictly inside its limits
    k_n = face.at.shape[0]
    t_n = face.n_intervals
    held = ((np.arange(k_n) % t_n) < t_n - 1) & (face.soc > face.soc_lo) & (face.soc < face.soc_hi)
    src = np.flatnonzero(held)
    g = coo_matrix((np.ones(src.shape[0]), (src, src + 1)), shape=(k_n, k_n)).tocsr()
    n_m, mu_of = connected_components(g, directed=False)
    s_raw, raw_lo, raw_hi = storage_constraints(face, zone, n_z)
    var = np.concatenate([np.arange(n_z), n_z + mu_of])
    s_i, s_j = var[s_raw.i], var[s_raw.j]
    loop = s_i == s_j  # the joined states' own equalities
    s_cons = Monotone(s_i[~loop], s_j[~loop], s_raw.a[~loop], s_raw.b[~loop], s_raw.w[~loop])
    mu_lo = np.full(n_m, -INF)
    mu_hi = np.full(n_m, INF)
    np.maximum.at(mu_lo, mu_of, raw_lo)
    np.minimum.at(mu_hi, mu_of, raw_hi)
    cons = Monotone(
        *(
            np.concatenate([getattr(lines, f), getattr(s_cons, f)])
            for f in ("i", "j", "a", "b", "w")
        )
    )
    v_lo = np.concatenate([z_lo, mu_lo])
    v_hi = np.concatenate([z_hi, mu_hi])
    # A cycle through a unit's μ implies bounds no propagation from ±∞ finds (an idle
    # lossy unit alone at a node: 0.8 μ ≤ λ ≤ μ / 0.8 gives λ ≥ 0). So the propagation
    # starts from ±BIG, converges to the face's extremes within that box (geometrically
    # around such a cycle), and a value beyond ±`UNBOUNDED` of the problem's scale is an
    # unbounded end.
    finite = np.concatenate(
        [
            v_lo[np.isfinite(v_lo)],
            v_hi[np.isfinite(v_hi)],
            cons.w,
            span_lo[np.isfinite(span_lo)],
            span_hi[np.isfinite(span_hi)],
        ]
    )
    scale = max(1.0, float(np.abs(finite).max(initial=0.0)))
    big = BIG * scale
    high = _mono_closure(np.minimum(v_hi, big), cons, True, RANGE_TOL)
    low = _mono_closure(np.maximum(v_lo, -big), cons, False, RANGE_TOL, beyond=high)
    high[high >= UNBOUNDED * scale] = INF
    low[low <= -UNBOUNDED * scale] = -INF
    if (low > high + TOL * np.maximum(1.0, np.abs(high))).any():
        raise PriceRuleError("the optimal price ranges came out empty")
    z_span_lo = np.full(n_z, -INF)
    z_span_hi = np.full(n_z, INF)
    np.maximum.at(z_span_lo, zone, span_lo)
    np.minimum.at(z_span_hi, zone, span_hi)
    zl, zh = low[:n_z], high[:n_z]
    a = np.maximum(zl, z_span_lo)
    b = np.minimum(zh, z_span_hi)
    tgt = np.where(a <= b, 0.5 * (a + b), np.where(zh < z_span_lo, zh, zl))
    # the greatest optimal vector not above the targets (μ as large as they allow)
    chosen = _mono_closure(
        np.concatenate([np.minimum(zh, tgt), high[n_z:]]), cons, True, beyond=low
    )
    if not _mono_holds(chosen, cons) or (chosen < low - TOL * np.maximum(1.0, np.abs(low))).any():
        raise PriceRuleError("no optimal price vector near the targets")
    price = chosen[:n_z]
    return price[zone], zl[zone], zh[zone]


def _holds(x: FloatArray, edges: Edges) -> bool:
    d = x[edges.a] - x[edges.b] - edges.w
    return bool((d <= TOL * np.maximum(1.0, np.abs(x[edges.a]))).all())


__all__ = [
    "Edges",
    "Monotone",
    "StepsAt",
    "StorageFace",
    "bounds",
    "line_constraints",
    "storage_constraints",
    "transport_prices",
    "transport_prices_storage",
]
