"""One optimal primal solution chosen by a rule, not by the solver (transport model).

The optimal solutions of the clearing LP form a face; a simplex solver returns one of its
vertices, which depends on how the problem happens to be written (which of two equal-priced
sellers at different nodes was listed first, which way round a loop the flow was sent). Given
the chosen prices λ (optimal duals), complementary slackness describes the whole face:

- a step whose limit price differs from its node's price is fully accepted or rejected; the
  grid connection likewise; a line whose end prices differ is at its limit towards the dearer
  end;
- the rest is free: steps priced exactly at their node's price (*tied*), the grid at its own
  price, and lines with equal prices at both ends, which join nodes into price zones.

The rule, per price zone: the energy the zone's free elements must supply (or take) is fixed;
it is shared **pro rata** to capacity among all tied supply (sells and grid import) or tied
demand (buys and grid export) of the zone, as within a node; the zone's free lines then carry
the **potential flow** (least Σ f², unit weights; it has no loops, since energy runs downhill
in θ) within their limits. Where the network cannot carry the pro-rata allocation or the
potential flow with limits is not found in a bounded number of steps, the solver's own
allocation is kept and its flows are replaced by a least-Σ|f| flow (also loop-free), and the
reason says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching.flows import laplacian_solve, least_flow, potential_flow, zones_of
from matching.network import Topology
from matching.problem import BoolArray, FloatArray, IntArray
from matching.steps import Steps

TIE = 1e-12  # relative: a limit price equal to its node's price
#: Rounds of "fill the most overloaded line" before the solver's allocation is kept: a
#: bound in work, not time.
ROUNDS = 4


@dataclass(frozen=True, slots=True, eq=False)
class Primal:
    x: FloatArray
    flow: FloatArray
    imports: FloatArray
    exports: FloatArray
    note: str = ""


def _tied(price: FloatArray, lam: FloatArray) -> tuple[BoolArray, BoolArray, BoolArray]:
    """(tied, limit price above the node's price, below it)."""
    tol = TIE * np.maximum(1.0, np.abs(price))
    tied = np.abs(price - lam) <= tol
    return tied, (price > lam) & ~tied, (price < lam) & ~tied


@dataclass(frozen=True, slots=True, eq=False)
class _AtPrices:
    """What the prices `lam` decide alone: each step and grid exchange strictly in or out of
    the money is at its bound; the tied ones (the `*_tied` masks) are left to the tie rule."""

    tied: BoolArray
    x_new: FloatArray
    i_tied: BoolArray
    e_tied: BoolArray
    m_new: FloatArray
    e_new: FloatArray


def _at_prices(steps: Steps, topo: Topology, lam: FloatArray) -> _AtPrices:
    tied, above, below = _tied(steps.price, lam[steps.node])
    buy = steps.is_buy
    x_new = np.where((buy & above) | (~buy & below), steps.quantity_kwh, 0.0)
    g_lam = lam[topo.grid_node]
    i_tied, _, i_below = _tied(topo.import_price, g_lam)
    e_tied, e_above, _ = _tied(topo.export_price, g_lam)
    m_new = np.where(i_below, topo.import_limit_kwh, 0.0)
    e_new = np.where(e_above, topo.export_limit_kwh, 0.0)
    return _AtPrices(tied, x_new, i_tied, e_tied, m_new, e_new)


def canonical_primal(
    topo: Topology,
    steps: Steps,
    x: FloatArray,
    flow: FloatArray,
    imports: FloatArray,
    exports: FloatArray,
    lam: FloatArray,
) -> Primal:
    """The rule's optimal solution (see the module docstring); transport model only."""
    n = topo.n_nodes
    limit = topo.line_limit_kwh
    # steps and grid connections: what the prices decide alone
    fixed = _at_prices(steps, topo, lam)
    tied, x_new, i_tied, e_tied = fixed.tied, fixed.x_new, fixed.i_tied, fixed.e_tied
    m_new, e_new = fixed.m_new, fixed.e_new
    buy = steps.is_buy
    q = steps.quantity_kwh
    # lines
    l_tied, l_up, l_down = _tied(lam[topo.line_to], lam[topo.line_from])
    forced_flow = np.where(l_up, limit, np.where(l_down, -limit, 0.0))
    free_line = l_tied & (limit > 0)
    sign = np.where(buy, -1.0, 1.0)
    s_tied = tied & ~buy
    d_tied = tied & buy
    if _unique_already(topo, steps, free_line, tied, i_tied, e_tied):
        return Primal(x, flow, imports, exports)
    saturated = np.zeros(topo.n_lines, dtype=np.bool_)
    for _ in range(min(topo.n_lines, ROUNDS) + 1):
        open_line = free_line & ~saturated
        f_fixed = np.where(open_line, 0.0, forced_flow)
        zone = zones_of(n, topo.line_from[open_line], topo.line_to[open_line])
        shares = _shares(
            topo, steps, zone, sign * x_new, m_new - e_new, f_fixed, s_tied, d_tied, i_tied, e_tied
        )
        if shares is None:
            return _route_solver_allocation(topo, x, flow, imports, exports, steps, "the tied")
        s_share, d_share = shares
        share = np.where(buy, d_share[zone[steps.node]], s_share[zone[steps.node]])
        x_try = np.where(tied, np.where(share >= 1.0, q, q * share), x_new)
        g_zone = zone[topo.grid_node]
        m_try = np.where(i_tied, _part(topo.import_limit_kwh, s_share[g_zone]), m_new)
        e_try = np.where(e_tied, _part(topo.export_limit_kwh, d_share[g_zone]), e_new)
        injection = np.bincount(steps.node, weights=sign * x_try, minlength=n).astype(np.float64)
        injection += np.bincount(topo.grid_node, weights=m_try - e_try, minlength=n)
        injection += np.bincount(topo.line_to, weights=f_fixed, minlength=n)
        injection -= np.bincount(topo.line_from, weights=f_fixed, minlength=n)
        routed = potential_flow(topo, open_line, injection, settle=False)
        if routed is None:
            return _route_solver_allocation(topo, x, flow, imports, exports, steps, "")
        f_try, newly = routed
        if not newly.any():
            return Primal(x_try, np.where(open_line, f_try, f_fixed), m_try, e_try)
        # the network cannot carry this allocation: the lines it fills separate the zone
        # into parts, each sharing its own need pro rata
        saturated |= newly
        forced_flow = np.where(newly, f_try, forced_flow)
    return _route_solver_allocation(topo, x, flow, imports, exports, steps, "")


def _unique_already(
    topo: Topology,
    steps: Steps,
    free_line: BoolArray,
    tied: BoolArray,
    i_tied: BoolArray,
    e_tied: BoolArray,
) -> bool:
    """True when the optimal solution is unique, so the solver's is the rule's: the lines
    with equal end prices form a forest (flows follow from the injections) and no price
    zone has more than one tied element (its amount follows from the balance)."""
    n = topo.n_nodes
    a, b = topo.line_from[free_line], topo.line_to[free_line]
    zone = zones_of(n, a, b)
    n_z = int(zone.max()) + 1 if n else 0
    if a.shape[0] != n - n_z:  # a cycle (or parallel lines) among the free lines
        return False
    count = np.bincount(zone[steps.node[tied]], minlength=n_z)
    count += np.bincount(zone[topo.grid_node[i_tied]], minlength=n_z)
    count += np.bincount(zone[topo.grid_node[e_tied]], minlength=n_z)
    return bool(count.max(initial=0) <= 1)


def _part(limit: FloatArray, share: FloatArray) -> FloatArray:
    out: FloatArray = np.where(share >= 1.0, limit, limit * share)
    return out


def _shares(
    topo: Topology,
    steps: Steps,
    zone: IntArray,
    step_injection: FloatArray,
    grid_injection: FloatArray,
    line_flow: FloatArray,
    s_tied: BoolArray,
    d_tied: BoolArray,
    i_tied: BoolArray,
    e_tied: BoolArray,
) -> tuple[FloatArray, FloatArray] | None:
    """Per zone, the share of their capacity that the tied supply (or demand) must provide
    so that the zone balances with everything else fixed; None if it cannot."""
    n_z = int(zone.max()) + 1 if zone.shape[0] else 0
    q = steps.quantity_kwh

    def per_zone(node: IntArray, w: FloatArray) -> FloatArray:
        out: FloatArray = np.bincount(zone[node], weights=w, minlength=n_z).astype(np.float64)
        return out

    fixed = per_zone(steps.node, step_injection) + per_zone(topo.grid_node, grid_injection)
    fixed += per_zone(topo.line_to, line_flow) - per_zone(topo.line_from, line_flow)
    scale = (
        per_zone(steps.node, np.abs(step_injection))
        + per_zone(topo.grid_node, np.abs(grid_injection))
        + per_zone(topo.line_to, np.abs(line_flow))
        + per_zone(topo.line_from, np.abs(line_flow))
    )
    need = -fixed  # what the zone's tied supply (+) or demand (−) must provide
    need[np.abs(need) <= 1e-14 * scale] = 0.0
    s_cap = per_zone(steps.node[s_tied], q[s_tied]) + per_zone(
        topo.grid_node[i_tied], topo.import_limit_kwh[i_tied]
    )
    d_cap = per_zone(steps.node[d_tied], q[d_tied]) + per_zone(
        topo.grid_node[e_tied], topo.export_limit_kwh[e_tied]
    )
    covered = np.where(need > 0, s_cap, np.where(need < 0, d_cap, 0.0))
    if (np.abs(need) > covered * (1 + 1e-12) + 1e-12 * scale).any():
        return None
    s_share = np.divide(need, s_cap, out=np.zeros(n_z), where=(need > 0) & (s_cap > 0))
    d_share = np.divide(-need, d_cap, out=np.zeros(n_z), where=(need < 0) & (d_cap > 0))
    return np.minimum(s_share, 1.0), np.minimum(d_share, 1.0)


def canonical_primal_dc(
    topo: Topology,
    steps: Steps,
    x: FloatArray,
    flow: FloatArray,
    imports: FloatArray,
    exports: FloatArray,
    lam: FloatArray,
) -> Primal:
    """DC power flow: steps and grid trading not tied to their node's price are fixed by
    the prices; tied ones with the same price in one connected network keep the solver's
    net (supply − demand) for that group, which the side it falls on shares pro rata to
    capacity (the other side trades nothing, as within a node). The DC flows follow
    from the injections; the result is kept only if it respects every line limit and
    reaches the solver's welfare (then it is optimal too). Otherwise the solver's solution
    stands, and the reason says so."""
    n = topo.n_nodes
    # steps and grid connections: what the prices decide alone
    fixed = _at_prices(steps, topo, lam)
    tied, x_new, i_tied, e_tied = fixed.tied, fixed.x_new, fixed.i_tied, fixed.e_tied
    m_new, e_new = fixed.m_new, fixed.e_new
    buy = steps.is_buy
    q = steps.quantity_kwh
    sign = np.where(buy, -1.0, 1.0)
    zone = topo.component
    kept = Primal(x, flow, imports, exports, "tied orders as solved (DC network)")
    # tie groups: (network, side, price) over tied steps and tied grid trading; each keeps
    # the solver's total and shares it pro rata to capacity
    g_node = topo.grid_node
    k_s, k_i, k_e = int(tied.sum()), int(i_tied.sum()), int(e_tied.sum())
    grp_zone = np.concatenate([zone[steps.node[tied]], zone[g_node[i_tied]], zone[g_node[e_tied]]])
    grp_buy = np.concatenate(
        [buy[tied], np.zeros(k_i, dtype=np.bool_), np.ones(k_e, dtype=np.bool_)]
    )
    grp_price = np.concatenate(
        [steps.price[tied], topo.import_price[i_tied], topo.export_price[e_tied]]
    )
    cap = np.concatenate([q[tied], topo.import_limit_kwh[i_tied], topo.export_limit_kwh[e_tied]])
    got = np.concatenate([x[tied], imports[i_tied], exports[e_tied]])
    if cap.shape[0]:
        _, group = np.unique(
            np.stack([grp_zone.astype(np.float64), grp_price]), axis=1, return_inverse=True
        )
        group = group.ravel()
        n_g = int(group.max()) + 1
        # the group's net (supply − demand) as solved; the side it falls on shares it
        net = np.bincount(group, weights=np.where(grp_buy, -got, got), minlength=n_g)
        scale = np.bincount(group, weights=got, minlength=n_g)
        net[np.abs(net) <= 1e-14 * scale] = 0.0
        s_room = np.bincount(group, weights=np.where(grp_buy, 0.0, cap), minlength=n_g)
        d_room = np.bincount(group, weights=np.where(grp_buy, cap, 0.0), minlength=n_g)
        s_share = np.divide(net, s_room, out=np.zeros(n_g), where=(net > 0) & (s_room > 0))
        d_share = np.divide(-net, d_room, out=np.zeros(n_g), where=(net < 0) & (d_room > 0))
        share = np.minimum(np.where(grp_buy, d_share[group], s_share[group]), 1.0)
        part = np.where(share >= 1.0, cap, cap * share)
        x_new[tied] = part[:k_s]
        m_new[i_tied] = part[k_s : k_s + k_i]
        e_new[e_tied] = part[k_s + k_i :]
    injection = np.bincount(steps.node, weights=sign * x_new, minlength=n).astype(np.float64)
    injection += np.bincount(topo.grid_node, weights=m_new - e_new, minlength=n)
    b = 1.0 / topo.reactance
    theta = laplacian_solve(n, topo.line_from, topo.line_to, zone, injection, b)
    f_new = b * (theta[topo.line_from] - theta[topo.line_to])
    limit = topo.line_limit_kwh
    if (np.abs(f_new) > limit + 1e-9).any():
        return kept
    from matching.solve import clean

    f_new = clean(f_new, -limit, limit)

    def welfare(xs: FloatArray, m: FloatArray, e: FloatArray) -> float:
        return float(
            np.dot(-sign * steps.price, xs)
            - np.dot(topo.import_price, m)
            + np.dot(topo.export_price, e)
        )

    w_star = welfare(x, imports, exports)
    if abs(welfare(x_new, m_new, e_new) - w_star) > 1e-9 * max(1.0, abs(w_star)):
        return kept
    return Primal(x_new, f_new, m_new, e_new)


def _route_solver_allocation(
    topo: Topology,
    x: FloatArray,
    flow: FloatArray,
    imports: FloatArray,
    exports: FloatArray,
    steps: Steps,
    what: str,
) -> Primal:
    """Keep the solver's allocation; replace its flows on lines with equal end prices by
    the potential flow, else by a least-Σ|f| flow (both loop-free)."""
    n = topo.n_nodes
    limit = topo.line_limit_kwh
    sign = np.where(steps.is_buy, -1.0, 1.0)
    injection = np.bincount(steps.node, weights=sign * x, minlength=n).astype(np.float64)
    injection += np.bincount(topo.grid_node, weights=imports - exports, minlength=n)
    # lines the solver left strictly inside their limits may be rerouted; the others keep
    # their flows (at a limit the dual prices may differ across them)
    free = (np.abs(flow) < limit) & (limit > 0)
    rest = np.where(free, 0.0, flow)
    injection += np.bincount(topo.line_to, weights=rest, minlength=n)
    injection -= np.bincount(topo.line_from, weights=rest, minlength=n)
    note = "pro-rata allocation of tied orders not carried by the network; solver's kept"
    if not what:
        note = "potential flow not found; solver's allocation kept"
    potential = potential_flow(topo, free, injection)
    routed = None if potential is None else potential[0]
    if routed is None:
        routed = least_flow(topo, free, injection)
        if routed is None:
            return Primal(x, flow, imports, exports, f"{note}, flows as solved")
        note += ", least-|flow| routing"
    return Primal(x, np.where(free, routed, flow), imports, exports, note)
