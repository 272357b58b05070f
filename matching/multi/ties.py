"""Tied orders shared across nodes by the one-interval rule, for all intervals at once
(docs/clearing.md, "Ties"; the rule itself: `matching.canonical`, `matching.ties`).

With the chosen prices λ (T, N) complementary slackness fixes every step, grid exchange and
line-interval whose price is not tied; storage schedules and accepted blocks are held as
the LP has them (a storage unit's charging is tied to its other intervals through its state
of charge, so it is not shared). What is left falls apart into *zones*: node-intervals
joined by the line-intervals the prices leave free (a fee-free line with equal end prices,
either way within its limit; a fee line whose end prices differ by exactly its fee, towards
the dearer end within its limit). In each zone the tied elements are shared by the
one-interval rule: least tied volume, then leximin fill ratios, which is exactly pro rata
(equal ratios on the side that must trade) where the zone's lines allow it — computed
directly there, by `matching.ties.leximin`'s small LPs elsewhere.

Zones whose free lines form a tree (every zone of a radial network) get the rule; their
flows then follow from the injections. A zone with a cycle of free lines (meshed transport
networks) gets pro rata when the unconstrained potential flow of that allocation (least
Σ f², the one-interval rule's flow) fits its lines' limits; otherwise it keeps the solver's
allocation, as does everything with DC power flow: `Shared.note` says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching.flows import laplacian_solve, zones_of
from matching.network import Topology
from matching.problem import FloatArray, IntArray
from matching.steps import Steps
from matching.ties import Elements, Face, leximin

#: A limit price within this (relative to max(1, |price|)) of its node's price is tied, and
#: a line's end prices this close to a difference of 0 or of its fee hold it free.
TIE = 1e-12


@dataclass(frozen=True, slots=True, eq=False)
class Shared:
    """The rule's acceptances: steps `x`, grid `imports`/`exports` (G, T), `flow` (T, L)."""

    x: FloatArray
    imports: FloatArray
    exports: FloatArray
    flow: FloatArray
    note: str
    changed: bool = True


def _close(a: FloatArray, b: FloatArray) -> np.ndarray:
    out: np.ndarray = np.abs(a - b) <= TIE * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
    return out


def share_ties(
    topo: Topology,
    n_intervals: int,
    fee: FloatArray,
    steps: Steps,
    x: FloatArray,
    imports: FloatArray,
    exports: FloatArray,
    import_price: FloatArray,
    export_price: FloatArray,
    import_limit: FloatArray,
    export_limit: FloatArray,
    held: FloatArray,
    flow: FloatArray,
    price: FloatArray,
) -> Shared:
    """The rule's point of the optimal face (module docstring). `held` (T·N) is what storage
    and blocks inject (+) per node-interval; grid arrays are (G, T)."""
    t_n, n, n_l = n_intervals, topo.n_nodes, topo.n_lines
    n_v = t_n * n
    lam = price.ravel()
    same = Shared(x, imports, exports, flow, "", False)
    if topo.dc_flow:
        return same
    # line-intervals (t, l) flattened as t·L + l
    base = (np.arange(t_n) * n)[:, None]
    lf = (base + topo.line_from[None, :]).ravel()
    lt = (base + topo.line_to[None, :]).ravel()
    cap = np.tile(topo.line_limit_kwh, t_n)
    f_l = np.tile(fee, t_n)
    diff = lam[lt] - lam[lf]
    has_fee = f_l > 0
    tied0 = ~has_fee & _close(lam[lt], lam[lf])
    fwd = has_fee & _close(diff, f_l)  # dearer `to`: flow from → to within [0, F]
    back = has_fee & _close(-diff, f_l)
    free = (tied0 | fwd | back) & (cap > 0)
    f_lo = np.where(fwd, 0.0, -cap)
    f_hi = np.where(back, 0.0, cap)
    # elements: steps, then grid imports, then grid exports, (g, t) row-major
    g_v = (np.arange(t_n)[None, :] * n + topo.grid_node[:, None]).ravel()
    s_tied = _close(steps.price, lam[steps.node])
    i_tied = _close(import_price.ravel(), lam[g_v]) & (import_limit.ravel() > 0)
    e_tied = _close(export_price.ravel(), lam[g_v]) & (export_limit.ravel() > 0)
    k_s, k_i = int(s_tied.sum()), int(i_tied.sum())
    el_node = np.concatenate([steps.node[s_tied], g_v[i_tied], g_v[e_tied]])
    el_sign = np.concatenate(
        [np.where(steps.is_buy[s_tied], -1.0, 1.0), np.ones(k_i), -np.ones(int(e_tied.sum()))]
    )
    el_cap = np.concatenate(
        [steps.quantity_kwh[s_tied], import_limit.ravel()[i_tied], export_limit.ravel()[e_tied]]
    )
    el_old = np.concatenate([x[s_tied], imports.ravel()[i_tied], exports.ravel()[e_tied]])
    a, b = lf[free], lt[free]
    zone = zones_of(n_v, a, b)
    n_z = int(zone.max()) + 1 if n_v else 0
    count = np.bincount(zone[el_node], minlength=n_z)
    if count.max(initial=0) <= 1:
        return same  # no zone has two tied elements: the solver's point is the rule's
    nodes_in = np.bincount(zone, minlength=n_z)
    lines_in = np.bincount(zone[a], minlength=n_z)
    tree = lines_in == nodes_in - 1
    # the rest as the LP has it (what the prices fix, by complementary slackness)
    sign = np.where(steps.is_buy, -1.0, 1.0)
    held_flow = np.where(free, 0.0, flow.ravel())
    inj = held.copy()
    inj += np.bincount(steps.node, weights=np.where(s_tied, 0.0, sign * x), minlength=n_v)
    grid_net = np.where(i_tied, 0.0, imports.ravel()) - np.where(e_tied, 0.0, exports.ravel())
    inj += np.bincount(g_v, weights=grid_net, minlength=n_v)
    inj += np.bincount(lt, weights=held_flow, minlength=n_v)
    inj -= np.bincount(lf, weights=held_flow, minlength=n_v)
    scale = np.bincount(zone, weights=np.abs(inj), minlength=n_z)
    need = -np.bincount(zone, weights=inj, minlength=n_z)
    need[np.abs(need) <= 1e-14 * scale] = 0.0
    # pro rata on the side that must trade
    el_zone = zone[el_node]
    supply = el_sign > 0
    s_cap = np.bincount(el_zone, weights=np.where(supply, el_cap, 0.0), minlength=n_z)
    d_cap = np.bincount(el_zone, weights=np.where(supply, 0.0, el_cap), minlength=n_z)
    covered = np.where(need > 0, s_cap, np.where(need < 0, d_cap, 0.0))
    # a zone with a loop of free lines too: its pro rata allocation stands when the
    # unconstrained potential flow (least Σ f², so loop-free) fits the lines' limits
    ok = np.abs(need) <= covered * (1 + 1e-12) + 1e-12
    s_share = np.divide(need, s_cap, out=np.zeros(n_z), where=(need > 0) & (s_cap > 0))
    d_share = np.divide(-need, d_cap, out=np.zeros(n_z), where=(need < 0) & (d_cap > 0))
    share = np.minimum(np.where(supply, s_share[el_zone], d_share[el_zone]), 1.0)
    value = np.where(share >= 1.0, el_cap, el_cap * share)
    total = inj + np.bincount(el_node, weights=el_sign * value, minlength=n_v)
    # the flows a tree zone's injections imply (only zones the rule changes: a Laplacian
    # over the whole day costs more than the rest of the rule)
    live = ok & (count >= 2)
    f_free = _zone_flows(n_v, a, b, zone, live, total)
    over = (f_free > f_hi[free] * (1 + 1e-12) + 1e-12) | (f_free < f_lo[free] * (1 + 1e-12) - 1e-12)
    ok[zone[a[over]]] = False
    note = ""
    bad = tree & ~ok & (count >= 2)
    if bad.any():
        chosen = _leximin_zones(n_v, zone, bad, a, b, f_lo[free], f_hi[free], inj, el_node,
                                el_sign, el_cap)  # fmt: skip
        if chosen is not None:
            mine = bad[el_zone]
            value = np.where(mine, chosen, value)
            ok |= bad
            note = "tied orders shared by the leximin rule"
    rule = ok[el_zone] & (count[el_zone] >= 2)
    if not rule.any():
        return same
    new = np.where(rule, value, el_old)
    if over.any() or bad.any():
        # some zones left the rule or got leximin's values: their flows again
        total = inj + np.bincount(el_node, weights=el_sign * value, minlength=n_v)
        live = ok & (count >= 2)
        f_free = _zone_flows(n_v, a, b, zone, live, total)
    # else the same zones and injections as above: the same flows
    f_all = flow.ravel().copy()
    free_idx = np.flatnonzero(free)
    in_rule = live[zone[a]]
    f_all[free_idx[in_rule]] = np.clip(f_free[in_rule], f_lo[free][in_rule], f_hi[free][in_rule])
    x_new = x.copy()
    x_new[s_tied] = new[:k_s]
    m_new = imports.ravel().copy()
    m_new[i_tied] = new[k_s : k_s + k_i]
    e_new = exports.ravel().copy()
    e_new[e_tied] = new[k_s + k_i :]
    cyc = int((~tree & ~ok & (count >= 2)).sum())
    if cyc:
        note = "; ".join(
            filter(None, [note, f"{cyc} price zone(s) with a loop keep the solver's ties"])
        )
    return Shared(
        x_new, m_new.reshape(imports.shape), e_new.reshape(exports.shape),
        f_all.reshape(t_n, n_l), note,
    )  # fmt: skip


def _zone_flows(
    n_v: int, a: IntArray, b: IntArray, zone: IntArray, live: np.ndarray, injection: FloatArray
) -> FloatArray:
    """Flow on each free line (a → b) of the `live` zones from the injections (unique on a
    tree: the unconstrained potential flow), 0 on the others."""
    sel = live[zone[a]]
    out = np.zeros(a.shape[0])
    if not sel.any():
        return out
    theta = laplacian_solve(n_v, a[sel], b[sel], zone, np.where(live[zone], injection, 0.0))
    out[sel] = theta[a[sel]] - theta[b[sel]]
    return out


def _leximin_zones(
    n_v: int,
    zone: IntArray,
    bad: np.ndarray,
    a: IntArray,
    b: IntArray,
    lo: FloatArray,
    hi: FloatArray,
    inj: FloatArray,
    el_node: IntArray,
    el_sign: FloatArray,
    el_cap: FloatArray,
) -> FloatArray | None:
    """`matching.ties.leximin` on the zones pro rata could not settle, each its own group."""
    in_bad = bad[zone]
    nodes = np.flatnonzero(in_bad)
    local = np.full(n_v, -1, dtype=np.int64)
    local[nodes] = np.arange(nodes.shape[0])
    lines = np.flatnonzero(in_bad[a])
    mine = in_bad[el_node]
    face = Face(nodes.shape[0], local[a[lines]], local[b[lines]], inj[nodes], lo[lines], hi[lines])
    sub = Elements(
        local[el_node[mine]],
        el_sign[mine],
        el_cap[mine],
        np.full(int(mine.sum()), np.nan),
        zone[el_node[mine]],
    )
    chosen = leximin(sub, face)
    if chosen is None:
        return None
    out = np.zeros(el_node.shape[0])
    out[mine] = chosen[0]
    return out


__all__ = ["Shared", "share_ties"]
