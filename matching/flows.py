"""Flows on a given set of lines that take away given node injections: the potential flow
(least Σ f², loop-free, within limits), or the least-Σ|f| flow (an LP), and the helpers they
share. Used by `matching.canonical` to choose the rule's optimal solution.
"""

from __future__ import annotations

import numpy as np

from matching import glop
from matching.network import Topology
from matching.problem import BoolArray, FloatArray, IntArray


def zones_of(n: int, a: IntArray, b: IntArray) -> IntArray:
    """Connected components (any numbering): union-find for small networks, scipy's
    csgraph (fixed ~1 ms overhead) for large ones."""
    if a.shape[0] > 400:
        import scipy.sparse as sp  # large networks only (scipy stays off small problems)

        graph = sp.coo_matrix((np.ones(a.shape[0]), (a, b)), shape=(n, n))
        _, labels = sp.csgraph.connected_components(graph, directed=False)
        out: IntArray = labels.astype(np.int64)
        return out
    root = list(range(n))
    for u, v in zip(a.tolist(), b.tolist(), strict=True):
        while root[u] != u:
            root[u] = root[root[u]]
            u = root[u]
        while root[v] != v:
            root[v] = root[root[v]]
            v = root[v]
        if u != v:
            root[max(u, v)] = min(u, v)
    for u in range(n):
        r = u
        while root[r] != r:
            r = root[r]
        root[u] = r
    _, labels = np.unique(np.array(root, dtype=np.int64), return_inverse=True)
    zone: IntArray = labels.astype(np.int64).ravel()
    return zone


def least_flow(topo: Topology, free: BoolArray, injection: FloatArray) -> FloatArray | None:
    """min Σ|f| over the free lines within their limits taking away `injection` (an LP:
    f = f⁺ − f⁻); a flow with a loop could be reduced, so the optimum has none."""
    from matching.solve import clean

    idx = np.flatnonzero(free)
    k = idx.shape[0]
    n = topo.n_nodes
    if k == 0:
        return np.zeros(topo.n_lines) if not np.abs(injection).max(initial=0.0) > 1e-9 else None
    a, b = topo.line_from[idx], topo.line_to[idx]
    cols = np.concatenate([np.arange(k), np.arange(k), k + np.arange(k), k + np.arange(k)])
    rows = np.concatenate([a, b, a, b])
    vals = np.concatenate([np.ones(k), -np.ones(k), -np.ones(k), np.ones(k)])
    matrix = glop.csr_from_coo(vals, rows, cols, (n, 2 * k))
    lim = np.concatenate([topo.line_limit_kwh[idx], topo.line_limit_kwh[idx]])
    out = glop.solve_lp(
        np.zeros(2 * k), lim, np.ones(2 * k), injection, injection, matrix, maximize=False
    )
    if not out.optimal:
        return None
    v = clean(out.values, np.zeros(2 * k), lim)
    flow = np.zeros(topo.n_lines)
    flow[idx] = v[:k] - v[k:]
    return flow


def potential_flow(
    topo: Topology, free: BoolArray, injection: FloatArray, *, settle: bool = True
) -> tuple[FloatArray, BoolArray] | None:
    """Least Σ f² on the free lines (unit weights) that takes away each node's `injection`:
    lines the unconstrained flow would overload are filled to their limit and the rest
    solved again (with `settle=False`, the first such lines are returned at once). Returns
    the flow and the lines so filled; None if the parts left do not balance or a bounded
    number of rounds does not settle."""
    n = topo.n_nodes
    limit = topo.line_limit_kwh
    out = np.zeros(topo.n_lines)
    active = free.copy()
    inj = injection.copy()
    for _ in range(topo.n_lines + 1):
        idx = np.flatnonzero(active)
        a, b = topo.line_from[idx], topo.line_to[idx]
        zone = zones_of(n, a, b)
        n_z = int(zone.max()) + 1 if n else 0
        total = np.bincount(zone, weights=inj, minlength=n_z)
        size = np.bincount(zone, weights=np.abs(inj), minlength=n_z)
        if (np.abs(total) > 1e-9 + 1e-12 * size).any():
            return None
        theta = laplacian_solve(n, a, b, zone, inj)
        f = theta[a] - theta[b]
        over = np.abs(f) > limit[idx] * (1 + 1e-12)
        if not over.any():
            from matching.solve import clean

            # float dust next to a limit is the limit (so "congested" does not flicker)
            out[idx] = clean(f, -limit[idx], limit[idx])
            if _check_acyclic(topo, out) is None:
                return None
            return out, free & ~active
        if not settle:
            # only the most overloaded line of each part (and its equals) is filled: an
            # upstream overload may vanish once a downstream line is full
            ratio = np.where(over, np.abs(f) / np.maximum(limit[idx], 1e-300), 0.0)
            worst = np.zeros(n)
            np.maximum.at(worst, zone[a], ratio)
            over &= ratio >= worst[zone[a]]
        sat = idx[over]
        fixed = np.sign(f[over]) * limit[sat]
        out[sat] = fixed
        active[sat] = False
        if not settle:  # the caller re-allocates with these lines full
            return out, free & ~active
        # a saturated line takes its flow out of its from-end and into its to-end
        inj = inj - np.bincount(topo.line_from[sat], weights=fixed, minlength=n)
        inj = inj + np.bincount(topo.line_to[sat], weights=fixed, minlength=n)
    return None


def laplacian_solve(
    n: int,
    a: IntArray,
    b: IntArray,
    zone: IntArray,
    inj: FloatArray,
    conductance: FloatArray | None = None,
) -> FloatArray:
    """θ with Σ_lines at n c·(θ_n − θ_other) = inj[n] (conductances c, 1 by default),
    θ = 0 at one node per zone (the flows c·(θ_a − θ_b) do not depend on which)."""
    theta = np.zeros(n)
    if a.shape[0] == 0:
        return theta
    ones = np.ones(a.shape[0]) if conductance is None else conductance
    _, first = np.unique(zone, return_index=True)
    keep = np.ones(n, dtype=np.bool_)
    keep[first] = False
    # nodes alone in their zone have no equation
    degree = np.bincount(np.concatenate([a, b]), minlength=n)
    keep &= degree > 0
    k = np.flatnonzero(keep)
    if k.shape[0] == 0:
        return theta
    rows = np.concatenate([a, b, a, b])
    cols = np.concatenate([a, b, b, a])
    vals = np.concatenate([ones, ones, -ones, -ones])
    if n <= 300:  # small: a dense solve costs less than sparse set-up
        dense = np.zeros((n, n))
        np.add.at(dense, (rows, cols), vals)
        theta[k] = np.linalg.solve(dense[np.ix_(k, k)], inj[k])
        return theta
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    lap = sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsc()

    theta[k] = splu(lap[k][:, k].tocsc()).solve(inj[k])
    return theta


def _check_acyclic(topo: Topology, flow: FloatArray) -> FloatArray | None:
    """The flow itself, unless its directed lines close a loop (then None)."""
    moving = np.flatnonzero(flow != 0)
    if moving.shape[0] == 0:
        return flow
    a = np.where(flow[moving] > 0, topo.line_from[moving], topo.line_to[moving])
    b = np.where(flow[moving] > 0, topo.line_to[moving], topo.line_from[moving])
    n = topo.n_nodes
    if a.shape[0] > 400:
        import scipy.sparse as sp

        graph = sp.coo_matrix((np.ones(a.shape[0]), (a, b)), shape=(n, n))
        n_strong, _ = sp.csgraph.connected_components(graph, directed=True, connection="strong")
        return None if n_strong != n else flow
    succ: list[list[int]] = [[] for _ in range(n)]
    indeg = [0] * n
    for u, v in zip(a.tolist(), b.tolist(), strict=True):
        succ[u].append(v)
        indeg[v] += 1
    ready = [u for u in range(n) if indeg[u] == 0]
    seen = 0
    while ready:
        u = ready.pop()
        seen += 1
        for v in succ[u]:
            indeg[v] -= 1
            if indeg[v] == 0:
                ready.append(v)
    return flow if seen == n else None
