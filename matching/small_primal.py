"""`matching.canonical.canonical_primal`'s common case for a small clearing, in plain Python.

In the demo cluster's intervals (issue 14) the optimum is nearly always unique (the lines
with equal end prices form a forest, no price zone has two tied elements): the rule's
solution then follows from the prices by the same few formulas, which numpy spread over
~100 calls on arrays of a few dozen values (~0.25 ms). Here the same formulas run on lists
with the same float operations in the same order (sums in the order `np.bincount` adds,
each `+=` of two arrays as such), so the result is the same bits. Anything else (a tie to
share among several elements or over a loop, a need its elements cannot cover) returns None
and `canonical_primal` decides as before.
"""

from __future__ import annotations

import numpy as np

from matching.canonical import TIE, Primal
from matching.flows import dense_labels, union_roots
from matching.network import Topology
from matching.problem import FloatArray
from matching.steps import Steps

#: Largest number of steps and lines taken here (the rest: `canonical_primal`).
MAX_SIZE = 256


def _tied(price: float, lam: float) -> tuple[bool, bool, bool]:
    """`matching.canonical._tied` for one element: (tied, above, below)."""
    tied = abs(price - lam) <= TIE * max(1.0, abs(price))
    return tied, price > lam and not tied, price < lam and not tied


def _bincount(index: list[int], weights: list[float], n: int) -> list[float]:
    out = [0.0] * n
    for i, w in zip(index, weights, strict=True):
        out[i] += w
    return out


def _plus(a: list[float], b: list[float]) -> list[float]:
    return [x + y for x, y in zip(a, b, strict=True)]


def unique_primal(
    topo: Topology, steps: Steps, flow: FloatArray, lam_a: FloatArray
) -> Primal | None:
    """The rule's solution when the optimum is unique (`canonical_primal`'s early return),
    else None."""
    n = topo.n_nodes
    lam = lam_a.tolist()
    s_node, s_buy = steps.node.tolist(), steps.is_buy.tolist()
    s_price, s_qty = steps.price.tolist(), steps.quantity_kwh.tolist()
    lf, lt = topo.line_from.tolist(), topo.line_to.tolist()
    limit = topo.line_limit_kwh.tolist()
    g_node = topo.grid_node.tolist()
    ip, ep = topo.import_price.tolist(), topo.export_price.tolist()
    il, el_ = topo.import_limit_kwh.tolist(), topo.export_limit_kwh.tolist()
    # `_at_prices`: what the prices decide alone
    tied: list[bool] = []
    x_new: list[float] = []
    for p, u, buy, q in zip(s_price, s_node, s_buy, s_qty, strict=True):
        at = lam[u]  # `_tied` inline (the longest loop)
        t = abs(p - at) <= TIE * max(1.0, abs(p))
        tied.append(t)
        x_new.append(q if not t and ((buy and p > at) or (not buy and p < at)) else 0.0)
    i_tied: list[bool] = []
    e_tied: list[bool] = []
    m_new: list[float] = []
    e_new: list[float] = []
    for g, u in enumerate(g_node):
        it, _, i_below = _tied(ip[g], lam[u])
        et, e_above, _ = _tied(ep[g], lam[u])
        m_new.append(il[g] if i_below else 0.0)
        e_new.append(el_[g] if e_above else 0.0)
        i_tied.append(it and il[g] > 0)
        e_tied.append(et and el_[g] > 0)
    # the lines: forced to a limit by their end prices, or free
    free: list[bool] = []
    cross: list[float] = []
    for a, b, lim in zip(lf, lt, limit, strict=True):
        t, up, down = _tied(lam[b], lam[a])
        forced = lim if up else (-lim if down else 0.0)
        f = t and lim > 0
        free.append(f)
        cross.append(0.0 if f else forced)
    # `_tied_elements`: steps, then grid imports, then grid exports
    e_node = [u for u, t in zip(s_node, tied, strict=True) if t]
    e_sign = [-1.0 if b else 1.0 for b, t in zip(s_buy, tied, strict=True) if t]
    e_cap = [q for q, t in zip(s_qty, tied, strict=True) if t]
    k_s = len(e_node)
    for g, u in enumerate(g_node):
        if i_tied[g]:
            e_node.append(u)
            e_sign.append(1.0)
            e_cap.append(il[g])
    k_i = len(e_node) - k_s
    for g, u in enumerate(g_node):
        if e_tied[g]:
            e_node.append(u)
            e_sign.append(-1.0)
            e_cap.append(el_[g])
    # `_fixed_injection`
    inj = _plus(
        _bincount(
            s_node,
            [
                (-1.0 if b else 1.0) * (0.0 if t else x)
                for b, t, x in zip(s_buy, tied, x_new, strict=True)
            ],
            n,
        ),
        _bincount(
            g_node,
            [
                (0.0 if it else m) - (0.0 if et else e)
                for it, m, et, e in zip(i_tied, m_new, e_tied, e_new, strict=True)
            ],
            n,
        ),
    )
    a_free = [a for a, f in zip(lf, free, strict=True) if f]
    b_free = [b for b, f in zip(lt, free, strict=True) if f]
    zone = dense_labels(union_roots(n, a_free, b_free)).tolist()
    n_z = max(zone) + 1 if n else 0
    # `_unique_already` (what `canonical_primal` asks once the need is covered): a forest of
    # free lines, at most one tied element per zone
    if len(a_free) != n - n_z:
        return None
    count = [0] * n_z
    for u in e_node:
        count[zone[u]] += 1
    if max(count, default=0) > 1:
        return None
    # `_need`
    z_to = [zone[b] for b in lt]
    z_from = [zone[a] for a in lf]
    fixed = _bincount(zone, inj, n_z)
    fixed = _plus(fixed, _bincount(z_to, cross, n_z))
    fixed = [x - y for x, y in zip(fixed, _bincount(z_from, cross, n_z), strict=True)]
    abs_cross = [abs(c) for c in cross]
    scale = _bincount(zone, [abs(v) for v in inj], n_z)
    scale = _plus(scale, _bincount(z_to, abs_cross, n_z))
    scale = _plus(scale, _bincount(z_from, abs_cross, n_z))
    need = [-f for f in fixed]
    need = [0.0 if abs(v) <= 1e-14 * s else v for v, s in zip(need, scale, strict=True)]
    # `_pro_rata`
    group = [zone[u] for u in e_node]
    supply = [s > 0 for s in e_sign]
    s_cap = _bincount(group, [c if s else 0.0 for c, s in zip(e_cap, supply, strict=True)], n_z)
    d_cap = _bincount(group, [0.0 if s else c for c, s in zip(e_cap, supply, strict=True)], n_z)
    s_share: list[float] = []
    d_share: list[float] = []
    for v, sc, dc in zip(need, s_cap, d_cap, strict=True):
        covered = sc if v > 0 else (dc if v < 0 else 0.0)
        if not abs(v) <= covered * (1 + 1e-12) + 1e-12:
            return None  # a need its elements cannot cover: the general way
        s_share.append(v / sc if v > 0 and sc > 0 else 0.0)
        d_share.append(-v / dc if v < 0 and dc > 0 else 0.0)
    value: list[float] = []
    for c, s, g in zip(e_cap, supply, group, strict=True):
        share = min(s_share[g] if s else d_share[g], 1.0)
        value.append(c if share >= 1.0 else c * share)
    # `_Tied.split`
    x_out = list(x_new)
    for k, j in enumerate(j for j, t in enumerate(tied) if t):
        x_out[j] = value[k]
    m_out, e_out = list(m_new), list(e_new)
    for k, j in enumerate(j for j, t in enumerate(i_tied) if t):
        m_out[j] = value[k_s + k]
    for k, j in enumerate(j for j, t in enumerate(e_tied) if t):
        e_out[j] = value[k_s + k_i + k]
    return Primal(
        np.array(x_out, dtype=np.float64),
        _dust_free(n, lf, lt, flow),
        np.array(m_out, dtype=np.float64),
        np.array(e_out, dtype=np.float64),
    )


def _dust_free(n: int, lf: list[int], lt: list[int], flow: FloatArray) -> FloatArray:
    """`matching.canonical._dust_free`."""
    fl = flow.tolist()
    a = [abs(f) for f in fl]
    big = [0.0] * n
    for u, v in zip(lf, a, strict=True):
        big[u] = max(big[u], v)
    for u, v in zip(lt, a, strict=True):
        big[u] = max(big[u], v)
    out = [
        0.0 if v <= 1e-14 * min(big[u], big[w]) else f
        for u, w, v, f in zip(lf, lt, a, fl, strict=True)
    ]
    return np.array(out, dtype=np.float64)


__all__ = ["MAX_SIZE", "unique_primal"]
