"""One optimal primal solution chosen by a rule, not by the solver.

The optimal solutions of the clearing LP form a face; a simplex solver returns one of its
vertices, which depends on how the problem happens to be written (which of two equal-priced
sellers at different nodes was listed first, which way round a loop the flow was sent). Given
the chosen prices λ (optimal duals), complementary slackness describes the whole face:

- a step whose limit price differs from its node's price is fully accepted or rejected; the
  grid connection likewise; in the transport model a line whose end prices differ is at its
  limit towards the dearer end, with DC power flow a line whose dual (`Prices.line_dual`) is
  non-zero is at its limit;
- the rest is free: steps priced exactly at their node's price (*tied*), the grid at its own
  price, and the other lines (within their limits; Kirchhoff's voltage law with DC).

The rule (`matching.ties`): among the face's points, the least tied volume (Σ accepted kWh of
the tied elements: tied buys and sells never trade with each other for nothing), then the
**leximin** of the tied elements' fill ratios (accepted / capacity: the least ratio as high
as possible, then the next, …). Where the network allows it this is exactly **pro rata**
(equal ratios on the side that must trade, nothing on the other), computed directly; only
where it does not are the small LPs of `matching.ties` solved. Flows: with DC power flow they
follow from the injections; in the transport model the free lines carry the least-Σ f² flow
within their limits (`matching.flows.least_squares_flow`), unique and loop-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching.flows import laplacian_solve, least_squares_flow, zones_of
from matching.network import Topology
from matching.prices import line_states
from matching.problem import BoolArray, FloatArray, IntArray
from matching.steps import Steps
from matching.ties import Elements, Face, fixed_lines, leximin

TIE = 1e-12  # relative: a limit price equal to its node's price
#: A line dual below this (relative to the prices) is read as zero.
LINE_DUAL_TOL = 1e-9


@dataclass(frozen=True, slots=True, eq=False)
class Primal:
    x: FloatArray
    flow: FloatArray
    imports: FloatArray
    exports: FloatArray
    note: str = ""
    #: why the rule could not be applied (numerical trouble; never seen in the tests):
    #: the clearing then reports `error` with this reason, never a silent other choice
    failed: str = ""


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
    # a zero grid limit leaves nothing to share
    i_tied &= topo.import_limit_kwh > 0
    e_tied &= topo.export_limit_kwh > 0
    return _AtPrices(tied, x_new, i_tied, e_tied, m_new, e_new)


@dataclass(frozen=True, slots=True, eq=False)
class _Tied:
    """The tied elements in one list: steps, then grid imports, then grid exports."""

    node: IntArray
    sign: FloatArray  # +1 supply, −1 demand
    cap: FloatArray
    k_s: int
    k_i: int

    def split(self, value: FloatArray, at: _AtPrices) -> tuple[FloatArray, FloatArray, FloatArray]:
        x, m, e = at.x_new.copy(), at.m_new.copy(), at.e_new.copy()
        x[at.tied] = value[: self.k_s]
        m[at.i_tied] = value[self.k_s : self.k_s + self.k_i]
        e[at.e_tied] = value[self.k_s + self.k_i :]
        return x, m, e


def _tied_elements(steps: Steps, topo: Topology, at: _AtPrices) -> _Tied:
    g = topo.grid_node
    node = np.concatenate([steps.node[at.tied], g[at.i_tied], g[at.e_tied]])
    sign = np.concatenate(
        [
            np.where(steps.is_buy[at.tied], -1.0, 1.0),
            np.ones(int(at.i_tied.sum())),
            -np.ones(int(at.e_tied.sum())),
        ]
    )
    cap = np.concatenate(
        [
            steps.quantity_kwh[at.tied],
            topo.import_limit_kwh[at.i_tied],
            topo.export_limit_kwh[at.e_tied],
        ]
    )
    return _Tied(node, sign, cap, int(at.tied.sum()), int(at.i_tied.sum()))


def _fixed_injection(steps: Steps, topo: Topology, at: _AtPrices) -> FloatArray:
    """Each node's injection (+ supplied) from the steps and grid exchanges the prices fix."""
    n = topo.n_nodes
    sign = np.where(steps.is_buy, -1.0, 1.0)
    x = np.where(at.tied, 0.0, at.x_new)
    m = np.where(at.i_tied, 0.0, at.m_new)
    e = np.where(at.e_tied, 0.0, at.e_new)
    out = np.bincount(steps.node, weights=sign * x, minlength=n).astype(np.float64)
    out += np.bincount(topo.grid_node, weights=m - e, minlength=n)
    return out


def _pro_rata(
    el: _Tied, group: IntArray, n_groups: int, need: FloatArray
) -> tuple[FloatArray, BoolArray]:
    """Each group's need (+ supply, − demand) shared pro rata to capacity on its side, the
    other side nothing; and which groups could be covered."""
    supply = el.sign > 0
    s_cap = np.bincount(group, weights=np.where(supply, el.cap, 0.0), minlength=n_groups)
    d_cap = np.bincount(group, weights=np.where(supply, 0.0, el.cap), minlength=n_groups)
    covered = np.where(need > 0, s_cap, np.where(need < 0, d_cap, 0.0))
    ok = np.abs(need) <= covered * (1 + 1e-12) + 1e-12
    s_share = np.divide(need, s_cap, out=np.zeros(n_groups), where=(need > 0) & (s_cap > 0))
    d_share = np.divide(-need, d_cap, out=np.zeros(n_groups), where=(need < 0) & (d_cap > 0))
    share = np.minimum(np.where(supply, s_share[group], d_share[group]), 1.0)
    value: FloatArray = np.where(share >= 1.0, el.cap, el.cap * share)
    return value, ok


def _need(
    n_groups: int,
    group_of_node: IntArray,
    injection: FloatArray,
    line_flow: FloatArray,
    topo: Topology,
) -> FloatArray:
    """What each group's tied elements must supply (+) or take (−) to balance its nodes,
    given the fixed injections and the flows on lines leaving the group; float dust is 0."""
    z = group_of_node
    fixed = np.bincount(z, weights=injection, minlength=n_groups).astype(np.float64)
    fixed += np.bincount(z[topo.line_to], weights=line_flow, minlength=n_groups)
    fixed -= np.bincount(z[topo.line_from], weights=line_flow, minlength=n_groups)
    scale = np.bincount(z, weights=np.abs(injection), minlength=n_groups)
    scale += np.bincount(z[topo.line_to], weights=np.abs(line_flow), minlength=n_groups)
    scale += np.bincount(z[topo.line_from], weights=np.abs(line_flow), minlength=n_groups)
    need = -fixed
    need[np.abs(need) <= 1e-14 * scale] = 0.0
    return need


def canonical_primal(
    topo: Topology,
    steps: Steps,
    x: FloatArray,
    flow: FloatArray,
    imports: FloatArray,
    exports: FloatArray,
    lam: FloatArray,
) -> Primal:
    """The rule's optimal solution (see the module docstring); transport model."""
    n = topo.n_nodes
    limit = topo.line_limit_kwh
    at = _at_prices(steps, topo, lam)
    l_tied, l_up, l_down = _tied(lam[topo.line_to], lam[topo.line_from])
    forced_flow = np.where(l_up, limit, np.where(l_down, -limit, 0.0))
    free_line = l_tied & (limit > 0)
    el = _tied_elements(steps, topo, at)
    inj_fixed = _fixed_injection(steps, topo, at)
    cross = np.where(free_line, 0.0, forced_flow)
    zone = zones_of(n, topo.line_from[free_line], topo.line_to[free_line])
    n_z = int(zone.max()) + 1 if n else 0
    need = _need(n_z, zone, inj_fixed, cross, topo)
    value, ok = _pro_rata(el, zone[el.node], n_z, need)
    if ok.all() and _unique_already(topo, steps, free_line, zone, at.tied, at.i_tied, at.e_tied):
        # the optimum is unique: the solver's flows stand, and each tied element takes
        # its zone's need by the same formula as below (not the solver's value, whose
        # last bits depend on GLOP's arithmetic); a need its element cannot cover (float
        # trouble) goes the general way below
        x_new, m_new, e_new = el.split(value, at)
        return Primal(x_new, _dust_free(topo, flow), m_new, e_new)
    # the zone's free lines: the unconstrained potential flow; a zone whose flow it would
    # overload (or whose need its tied elements cannot cover) goes to the LPs
    injection = inj_fixed + np.bincount(el.node, weights=el.sign * value, minlength=n)
    injection += np.bincount(topo.line_to, weights=cross, minlength=n)
    injection -= np.bincount(topo.line_from, weights=cross, minlength=n)
    a, b = topo.line_from[free_line], topo.line_to[free_line]
    theta = laplacian_solve(n, a, b, zone, np.where(ok[zone], injection, 0.0))
    f_free = theta[a] - theta[b]
    over = np.abs(f_free) > limit[free_line] * (1 + 1e-12)
    bad = ~ok
    bad[zone[a[over]]] = True
    note = ""
    if bad.any():
        chosen = _leximin_zones(topo, el, value, zone, bad, free_line, injection)
        if chosen is None:
            why = "an LP of the tie rule did not end optimal after every GLOP set-up"
            return _not_applied(x, flow, imports, exports, why)
        value = chosen
        note = "tied orders shared by the leximin rule"
    x_new, m_new, e_new = el.split(value, at)
    injection = inj_fixed + np.bincount(el.node, weights=el.sign * value, minlength=n)
    injection += np.bincount(topo.line_to, weights=cross, minlength=n)
    injection -= np.bincount(topo.line_from, weights=cross, minlength=n)
    through = np.bincount(steps.node, weights=x_new, minlength=n).astype(np.float64)
    through += np.bincount(topo.grid_node, weights=m_new + e_new, minlength=n)
    through += np.bincount(topo.line_to, weights=np.abs(cross), minlength=n)
    through += np.bincount(topo.line_from, weights=np.abs(cross), minlength=n)
    routed = least_squares_flow(topo, free_line, injection, through)
    if routed is None:
        why = "the least-Σf² flow within the limits did not settle"
        return _not_applied(x, flow, imports, exports, why)
    out = Primal(x_new, _dust_free(topo, np.where(free_line, routed, cross)), m_new, e_new, note)
    return out


def _leximin_zones(
    topo: Topology,
    el: _Tied,
    value: FloatArray,
    zone: IntArray,
    bad: BoolArray,
    free_line: BoolArray,
    injection: FloatArray,
) -> FloatArray | None:
    """The LPs of `matching.ties` on the zones pro rata could not settle, each zone its own
    group: only their nodes and free lines (the zones share no constraint, and the leximin
    over independent zones is each zone's leximin)."""
    n = topo.n_nodes
    in_bad = bad[zone]
    nodes = np.flatnonzero(in_bad)
    local = np.full(n, -1, dtype=np.int64)
    local[nodes] = np.arange(nodes.shape[0])
    lines = np.flatnonzero(free_line & in_bad[topo.line_from])
    mine = in_bad[el.node]
    # what the zone's nodes get from everything but their tied elements
    own = np.bincount(el.node, weights=el.sign * value, minlength=n)
    face = Face(
        nodes.shape[0],
        local[topo.line_from[lines]],
        local[topo.line_to[lines]],
        (injection - own)[nodes],
        -topo.line_limit_kwh[lines],
        topo.line_limit_kwh[lines],
    )
    sub = Elements(
        local[el.node[mine]],
        el.sign[mine],
        el.cap[mine],
        np.full(int(mine.sum()), np.nan),
        zone[el.node[mine]],
    )
    chosen = leximin(sub, face)
    if chosen is None:
        return None
    out = value.copy()
    out[mine] = chosen[0]
    return out


def _dust_free(topo: Topology, flow: FloatArray) -> FloatArray:
    """A flow is float dust (→ 0) when it is within 1e-14 of the largest flow at *each* of
    its ends: a 1e-15 kWh remainder between two nodes passing 1e3 kWh is noise, but a
    2.5e-10 kWh flow to a node that has nothing else is that node's whole trade, however
    large the flows elsewhere (issue 11: a tiny order next to 1e9 kWh lost its trade)."""
    a = np.abs(flow)
    big = np.zeros(topo.n_nodes)
    np.maximum.at(big, topo.line_from, a)
    np.maximum.at(big, topo.line_to, a)
    tiny = 1e-14 * np.minimum(big[topo.line_from], big[topo.line_to])
    out: FloatArray = np.where(a <= tiny, 0.0, flow)
    return out


def _unique_already(
    topo: Topology,
    steps: Steps,
    free_line: BoolArray,
    zone: IntArray,
    tied: BoolArray,
    i_tied: BoolArray,
    e_tied: BoolArray,
) -> bool:
    """True when the optimal solution is unique, so the solver's is the rule's: the lines
    with equal end prices form a forest (flows follow from the injections) and no price
    zone (`zone`: the components of the free lines) has more than one tied element (its
    amount follows from the balance)."""
    n = topo.n_nodes
    n_z = int(zone.max()) + 1 if n else 0
    if int(free_line.sum()) != n - n_z:  # a cycle (or parallel lines) among the free lines
        return False
    count = np.bincount(zone[steps.node[tied]], minlength=n_z)
    count += np.bincount(zone[topo.grid_node[i_tied]], minlength=n_z)
    count += np.bincount(zone[topo.grid_node[e_tied]], minlength=n_z)
    return bool(count.max(initial=0) <= 1)


def canonical_primal_dc(
    topo: Topology,
    steps: Steps,
    x: FloatArray,
    flow: FloatArray,
    imports: FloatArray,
    exports: FloatArray,
    lam: FloatArray,
    line_dual: FloatArray | None,
) -> Primal:
    """DC power flow: the same rule. Lines with a non-zero dual are at their limit on the
    whole face; when the equalities left (each network's balance, those lines' flows as
    PTDF × injections) fix every node's net tied injection, the solver's nets are the
    rule's and each node shares its own pro rata on its side; otherwise the LPs of
    `matching.ties` decide. The DC flows follow from the injections."""
    n = topo.n_nodes
    at = _at_prices(steps, topo, lam)
    el = _tied_elements(steps, topo, at)
    limit = topo.line_limit_kwh
    _, pos, neg = line_states(topo, flow)
    if line_dual is None:
        return _not_applied(x, flow, imports, exports, "the price rule gave no line duals")
    tol = LINE_DUAL_TOL * max(1.0, float(np.abs(lam).max(initial=0.0)))
    held = ((np.abs(line_dual) > tol) & (pos | neg)) | (limit <= 0)
    inj_fixed = _fixed_injection(steps, topo, at)
    value: FloatArray | None = np.zeros(0)
    level: IntArray | None = None
    movable = np.zeros(n, dtype=np.bool_)
    note = ""
    if el.node.shape[0]:
        # the solver's net per node; where the face's equalities fix it, it is the rule's
        # and the node shares it pro rata on its side (as within a node)
        got = np.concatenate([x[at.tied], imports[at.i_tied], exports[at.e_tied]])
        net = np.bincount(el.node, weights=el.sign * got, minlength=n).astype(np.float64)
        scale = np.bincount(el.node, weights=got, minlength=n)
        net[np.abs(net) <= 1e-14 * scale] = 0.0
        value, ok = _pro_rata(el, el.node, n, net)
        movable = _movable_nets(topo, np.unique(el.node), held)
        movable[~ok] = True
        if movable.any():
            lo, hi = fixed_lines(topo, ~held, pos, neg)
            face = Face(n, topo.line_from, topo.line_to, inj_fixed, lo, hi, topo.cycles)
            preset = np.where(movable[el.node], np.nan, value)
            group = topo.component[el.node]
            chosen = leximin(Elements(el.node, el.sign, el.cap, preset, group), face)
            value, level = (None, None) if chosen is None else chosen
            note = "tied orders shared by the leximin rule"
    if value is None:
        why = "an LP of the tie rule did not end optimal after every GLOP set-up"
        return _not_applied(x, flow, imports, exports, why)
    b = 1.0 / topo.reactance

    def flows(v: FloatArray) -> FloatArray:
        inj = inj_fixed + np.bincount(el.node, weights=el.sign * v, minlength=n)
        theta = laplacian_solve(n, topo.line_from, topo.line_to, topo.component, inj, b)
        out: FloatArray = b * (theta[topo.line_from] - theta[topo.line_to])
        return out

    f_new = flows(value)
    if value.shape[0]:
        at_limit = held | (np.abs(f_new) >= limit * (1 - 1e-9))
        value = _polish_dc(topo, el, value, level, movable, inj_fixed, at_limit, f_new)
        f_new = flows(value)
    x_new, m_new, e_new = el.split(value, at)
    if (np.abs(f_new) > limit + 1e-9 * np.maximum(1.0, limit)).any():
        why = "the rule's DC flows exceed a line limit"
        return _not_applied(x, flow, imports, exports, why)
    from matching.solve import clean

    f_new = _dust_free(topo, clean(f_new, -limit, limit))
    return Primal(x_new, f_new, m_new, e_new, note)


def _movable_nets(topo: Topology, tied_nodes: IntArray, held: BoolArray) -> BoolArray:
    """Per node: True where the face's equalities (each network's balance; the held
    lines' flows, PTDF × injections) leave the node's net tied injection free to move,
    i.e. where a vector of their null space is non-zero (elsewhere it is the same at every
    optimum)."""
    from matching.prices import _ptdf_rows

    out = np.zeros(topo.n_nodes, dtype=np.bool_)
    lines = np.flatnonzero(held)
    k = tied_nodes.shape[0]
    n_comp = int(topo.component.max()) + 1
    ptdf = _ptdf_rows(topo, lines)[:, tied_nodes]
    comp = np.zeros((n_comp, k))
    comp[topo.component[tied_nodes], np.arange(k)] = 1.0
    m = np.vstack([comp, ptdf])
    # e_i lies in the row space (node i's net is fixed) iff the i-th row of an orthonormal
    # basis of that space has unit norm; the basis from a rank-revealing QR of mᵀ (column
    # pivoting; ~2× faster than the SVD it replaces, the same decisions on the meshed DC
    # and zero-capacity test and benchmark networks)
    from scipy.linalg import qr

    q, r, _ = qr(m.T, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int((diag > 1e-9 * max(1.0, float(diag.max(initial=0.0)))).sum())
    norm = np.square(q[:, :rank]).sum(axis=1)
    out[tied_nodes] = norm < 1.0 - 1e-9
    return out


def _polish_dc(
    topo: Topology,
    el: _Tied,
    value: FloatArray,
    level: IntArray | None,
    movable: BoolArray,
    inj_fixed: FloatArray,
    at_limit: BoolArray,
    flow: FloatArray,
) -> FloatArray:
    """The tied acceptances recomputed exactly from what the rule decided: each fixed
    node's net and each level of the leximin are the unknowns, the networks' balances and
    the flows of the lines at their limits (PTDF × injections) the equations (one dense
    least-squares solve). The LP values are exact only to about 1e-9 kWh, which would show
    in the result's ninth decimal and depend on how the problem is written; these do not.
    Kept only when they agree with the LP values to 1e-7 (else the LP values stand)."""
    from matching.prices import _ptdf_rows

    n = topo.n_nodes
    k = el.node.shape[0]
    lev = np.full(k, -1, dtype=np.int64) if level is None else level
    supply = el.sign > 0
    # a fixed node's net moves its side's elements pro rata (not when full or zero)
    net = np.bincount(el.node, weights=el.sign * value, minlength=n)
    side_cap = np.where(
        net > 0,
        np.bincount(el.node, weights=np.where(supply, el.cap, 0.0), minlength=n),
        np.bincount(el.node, weights=np.where(supply, 0.0, el.cap), minlength=n),
    )
    on_side = np.where(net[el.node] > 0, supply, ~supply) & (net[el.node] != 0)
    by_net = ~movable[el.node] & on_side & (value < el.cap) & (lev < 0)
    by_level = movable[el.node] & (lev >= 0)
    net_nodes = np.unique(el.node[by_net])
    levels = np.unique(lev[by_level])
    n_u = net_nodes.shape[0] + levels.shape[0]
    if n_u == 0:
        return value
    # injection = const + U u (u: nets of the fixed nodes, then levels)
    col_of_node = np.full(n, -1, dtype=np.int64)
    col_of_node[net_nodes] = np.arange(net_nodes.shape[0])
    u_map = np.zeros((n, n_u))
    u_map[net_nodes, np.arange(net_nodes.shape[0])] = 1.0
    level_col = net_nodes.shape[0] + np.searchsorted(levels, lev[by_level])
    np.add.at(u_map, (el.node[by_level], level_col), el.sign[by_level] * el.cap[by_level])
    varied = by_net | by_level
    const = inj_fixed + np.bincount(
        el.node[~varied], weights=el.sign[~varied] * value[~varied], minlength=n
    )
    lines = np.flatnonzero(at_limit)
    ptdf = _ptdf_rows(topo, lines)
    n_comp = int(topo.component.max()) + 1
    comp = np.zeros((n_comp, n))
    comp[topo.component, np.arange(n)] = 1.0
    rows = np.vstack([comp, ptdf])
    target = np.concatenate([np.zeros(n_comp), np.sign(flow[lines]) * topo.line_limit_kwh[lines]])
    lhs = rows @ u_map
    rhs = target - rows @ const
    u, *_ = np.linalg.lstsq(lhs, rhs, rcond=None)
    scale = 1.0 + float(np.abs(rhs).max(initial=0.0))
    if np.abs(lhs @ u - rhs).max(initial=0.0) > 1e-9 * scale:
        return value
    out = value.copy()
    share = np.divide(np.abs(u[col_of_node[el.node[by_net]]]), side_cap[el.node[by_net]])
    out[by_net] = el.cap[by_net] * share
    out[by_level] = el.cap[by_level] * u[level_col]
    if (np.abs(out - value) > 1e-7 * (1.0 + np.abs(value))).any():
        return value
    polished: FloatArray = np.clip(out, 0.0, el.cap)
    return polished


def _not_applied(x: FloatArray, flow: FloatArray, imports: FloatArray, exports: FloatArray,
                 why: str) -> Primal:  # fmt: skip
    return Primal(x, flow, imports, exports, failed=why)
