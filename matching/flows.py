"""Flows on a given set of lines that take away given node injections: the potential flow
(least Σ f², loop-free, within limits) and its helpers. Used by `matching.canonical` to
choose the rule's optimal solution.
"""

from __future__ import annotations

import numpy as np

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
    return dense_labels(union_roots(n, a.tolist(), b.tolist()))


def union_roots(n: int, a: list[int], b: list[int]) -> list[int]:
    """Each node's component root (union-find over the edges a–b)."""
    root = list(range(n))
    for u, v in zip(a, b, strict=True):
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
    return root


def dense_labels(labels: list[int]) -> IntArray:
    """Each label's rank among the distinct labels: `np.unique(..., return_inverse=True)`,
    on a small network without its set-up (which cost more than the union-find)."""
    if len(labels) > _SMALL_LABELS:
        _, inverse = np.unique(np.array(labels, dtype=np.int64), return_inverse=True)
        out: IntArray = inverse.astype(np.int64).ravel()
        return out
    rank = {r: i for i, r in enumerate(sorted(set(labels)))}
    return np.array([rank[r] for r in labels], dtype=np.int64)


#: Up to this many labels `dense_labels` ranks them with a dict (the same numbers).
_SMALL_LABELS = 256


def _polish(
    n: int,
    a: IntArray,
    b: IntArray,
    lim: FloatArray,
    injection: FloatArray,
    theta: FloatArray,
    f: FloatArray,
) -> FloatArray:
    """The exact flow for the lines the Newton steps found at their limits: those fixed
    there, the others by one Laplacian solve (each part's float dust spread over its nodes),
    so the result depends on that set and the injections only, not on where the steps
    stopped. Kept only if it is consistent (the others within their limits); else `f`."""
    d = theta[a] - theta[b]
    sat = np.abs(d) >= lim * (1 - 1e-9)
    fixed = np.sign(d[sat]) * lim[sat]
    inj = injection - np.bincount(a[sat], weights=fixed, minlength=n)
    inj = inj + np.bincount(b[sat], weights=fixed, minlength=n)
    aa, bb = a[~sat], b[~sat]
    zone = zones_of(n, aa, bb)
    n_z = int(zone.max()) + 1 if n else 0
    total = np.bincount(zone, weights=inj, minlength=n_z)
    if (np.abs(total) > 1e-8 * (1.0 + np.abs(inj).sum())).any():
        return f
    inj = inj - (total / np.bincount(zone, minlength=n_z))[zone]
    th = laplacian_solve(n, aa, bb, zone, inj)
    free = th[aa] - th[bb]
    if (np.abs(free) > lim[~sat] * (1 + 1e-9)).any():
        return f
    out = np.empty_like(f)
    out[sat] = fixed
    out[~sat] = free
    return out


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


def _forest_flow(n: int, a: IntArray, b: IntArray, injection: FloatArray) -> FloatArray:
    """The flow on a forest of lines (a → b positive) that takes away `injection` (each
    tree's balance already 0): each node's surplus, its own plus what its subtree sends,
    goes up the line to its parent. Trees are rooted at their lowest-numbered node (the
    canonical writing's order) and children are taken in line order."""
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for k, (u, v) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
        adj[u].append((v, k))
        adj[v].append((u, k))
    seen = [False] * n
    order: list[int] = []
    up = [-1] * n  # the line to the parent
    for root in range(n):
        if seen[root] or not adj[root]:
            continue
        seen[root] = True
        stack = [root]
        while stack:
            u = stack.pop()
            order.append(u)
            for v, k in adj[u]:
                if not seen[v]:
                    seen[v] = True
                    up[v] = k
                    stack.append(v)
    surplus = injection.tolist()
    a_l = a.tolist()
    out = [0.0] * a.shape[0]
    for u in reversed(order):
        k = up[u]
        if k < 0:
            continue
        s = surplus[u]
        if a_l[k] == u:  # u → parent along the line
            out[k] = s
            parent = int(b[k])
        else:
            out[k] = -s
            parent = a_l[k]
        surplus[parent] += s
    return np.array(out, dtype=np.float64)


def least_squares_flow(
    topo: Topology, free: BoolArray, injection: FloatArray, through: FloatArray | None = None
) -> FloatArray | None:
    """The unique least Σ f² flow on the free lines (unit weights), within their limits,
    that takes away each node's `injection` (the *potential flow with limits*).

    Its optimality conditions say f_l = clip(θ_from − θ_to, −F_l, F_l) for potentials θ
    with the balance holding at every node, so it runs downhill in θ and has no loops. θ
    minimises the convex piecewise-quadratic Σ_l H_l(θ_from − θ_to) − θ·injection (H_l'
    = clip); it is found by Newton steps with a backtracking line search, starting from
    the unconstrained potential flow (exact at once when no line would be overloaded). A
    piecewise quadratic ends in finitely many steps; the count is bounded (work, not time).
    Returns None if the injections cannot be taken away or the steps do not settle. The
    flow is unique given the injections (strictly convex), whatever θ the steps reach.
    `through` (kWh per node, gross): a zone's balance may be off by float dust of the energy
    passing its nodes (1e-13 of it, as the result check allows), not only by 1e-9 kWh."""
    n = topo.n_nodes
    idx = np.flatnonzero(free & (topo.line_limit_kwh > 0))
    flow = np.zeros(topo.n_lines)
    a, b = topo.line_from[idx], topo.line_to[idx]
    lim = topo.line_limit_kwh[idx]
    scale = 1.0 + float(np.abs(injection).max(initial=0.0))
    tol = 1e-12 * scale
    zone = zones_of(n, a, b)
    n_z = int(zone.max()) + 1 if n else 0
    allow: float | FloatArray = 1e-9 + tol
    if through is not None:
        allow = allow + 1e-13 * np.bincount(zone, weights=through, minlength=n_z).astype(np.float64)
    if (np.abs(np.bincount(zone, weights=injection, minlength=n_z)) > allow).any():
        return None
    if idx.shape[0] == 0:
        return flow
    # float dust of a zone's balance is spread over its nodes, so the steps can settle: in
    # proportion to the energy through each (the dust of 1e12 kWh belongs to the node
    # trading it, not to a 3e-6 kWh neighbour), else evenly
    dust = np.bincount(zone, weights=injection, minlength=n_z)
    size = np.bincount(zone, minlength=n_z).astype(np.float64)
    if through is not None:
        z_through = np.bincount(zone, weights=through, minlength=n_z)
        share = np.where(
            z_through[zone] > 0, through / np.where(z_through > 0, z_through, 1.0)[zone], 0.0
        )
        share = np.where(z_through[zone] > 0, share, 1.0 / size[zone])
    else:
        share = 1.0 / size[zone]
    injection = injection - dust[zone] * share
    if a.shape[0] == n - n_z:
        # a forest: the flow follows from the injections alone, summed leaf to root (no
        # linear algebra, so no BLAS/LAPACK kernel decides its last bits)
        tree = _forest_flow(n, a, b, injection)
        if (np.abs(tree) <= lim + 4 * np.spacing(lim)).all():
            out = np.clip(tree, -lim, lim)
            at = np.abs(lim - np.abs(out)) <= 4 * np.spacing(lim)
            flow[idx] = np.where(at, np.sign(out) * lim, out)
            return flow
    theta = laplacian_solve(n, a, b, zone, injection)

    def gradient(th: FloatArray) -> tuple[FloatArray, FloatArray]:
        f = np.clip(th[a] - th[b], -lim, lim)
        g = np.bincount(a, weights=f, minlength=n) - np.bincount(b, weights=f, minlength=n)
        return g - injection, f

    def phi(th: FloatArray) -> float:
        d = th[a] - th[b]
        ad = np.abs(d)
        h = np.where(ad <= lim, 0.5 * d * d, lim * ad - 0.5 * lim * lim)
        return float(h.sum() - np.dot(th, injection))

    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    g, f = gradient(theta)
    best, stalled = np.inf, 0
    for _ in range(200):
        size = np.abs(g).max(initial=0.0)
        # settled: exact to float resolution, or no longer improving within what the LP
        # values of the injections allow (~1e-9 kWh each; a node between lines at their
        # limits keeps that residual, which the exact solve below spreads over its part)
        stalled = stalled + 1 if size >= best * 0.5 else 0
        best = min(best, size)
        if size <= tol or stalled >= 3:
            exact = _polish(n, a, b, lim, injection, theta, f)
            # stuck far from balance: go on unless the limits found give an exact flow
            if size <= tol or size <= 1e-8 * scale or exact is not f:
                # onto a limit only within float resolution of it: these flows are computed,
                # not a solver's, and 1e-9 kWh is the whole flow of a 1e-6 kWh line
                out = np.clip(exact, -lim, lim)
                at = np.abs(lim - np.abs(out)) <= 4 * np.spacing(lim)
                flow[idx] = np.where(at, np.sign(out) * lim, out)
                return flow if _check_acyclic(topo, flow) is not None else None
        inside = (np.abs(theta[a] - theta[b]) <= lim).astype(np.float64)
        rows = np.concatenate([a, b, a, b, np.arange(n)])
        cols = np.concatenate([a, b, b, a, np.arange(n)])
        vals = np.concatenate([inside, inside, -inside, -inside, np.full(n, 1e-10)])
        hess = sp.csc_matrix((vals, (rows, cols)), shape=(n, n))
        step = splu(hess).solve(-g)
        base = phi(theta)
        slope = float(np.dot(g, step))
        alpha = 1.0
        for _ in range(80):
            trial = theta + alpha * step
            if phi(trial) <= base + 1e-4 * alpha * slope:
                break
            alpha *= 0.5
        else:
            return None
        theta = trial
        g, f = gradient(theta)
    return None
