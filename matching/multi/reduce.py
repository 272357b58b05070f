"""An exact reduction of the LP for radial (tree) networks in the transport model.

In a tree the flow on every line is the net injection of the subtree below it, so a line
can carry at most min(what its subtree can supply, what the rest can take) one way and the
converse the other way (from the participants' limits in that interval). A line-interval
whose limit covers both and that has no fee can never bind: its two ends are merged into
one balance row. A line-interval that can carry nothing (an empty subtree) is merged too
(its flow is 0, so its fee does not matter). The LP over these merged rows has the same
optimal welfare and its prices extend to the full network (equal prices across a merged
line, which is strictly inside its limit or carries nothing); the flows of every line are
recomputed from the injections afterwards, and the prices are chosen on the full network
(`matching.multi.prices`). Meshed networks are not reduced.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from matching.multi.model import Reduction, block_balance
from matching.multi.problem import MultiProblem
from matching.network import Topology
from matching.problem import FloatArray
from matching.steps import Steps


def subtree_matrix(topo: Topology) -> sp.csr_matrix:
    """D[a, v] = 1 when node v lies in the subtree of a (a itself included), along the
    breadth-first forest of `topo`."""
    n = topo.n_nodes
    parent = topo.parent
    rows = [np.arange(n, dtype=np.int64)]
    cols = [np.arange(n, dtype=np.int64)]
    anc = parent.copy()
    nodes = np.arange(n, dtype=np.int64)
    while True:
        live = anc >= 0
        if not live.any():
            break
        rows.append(anc[live])
        cols.append(nodes[live])
        nodes = nodes[live]
        anc = parent[anc[live]]
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    return sp.csr_matrix((np.ones(r.shape[0]), (r, c)), shape=(n, n))


def tree_flows(topo: Topology, down: sp.csr_matrix, injection: FloatArray) -> FloatArray:
    """Flow per (interval, line) on a forest from net injections (T, N): each line carries
    its lower end's subtree injection towards the upper end."""
    sub = np.asarray((down @ injection.T).T)  # (T, N) subtree sums
    flow = np.zeros((injection.shape[0], topo.n_lines))
    child = np.flatnonzero(topo.parent >= 0)
    line = topo.parent_line[child]
    # the line runs from → to; the child's subtree pushes its surplus to the parent
    sign = np.where(topo.line_from[line] == child, 1.0, -1.0)
    flow[:, line] = sub[:, child] * sign[None, :]
    return flow


def potentials(
    problem: MultiProblem, steps: Steps, topo: Topology
) -> tuple[FloatArray, FloatArray]:
    """What each node-interval can at most supply and at most take (T, N), kWh."""
    t_n, n = problem.n_intervals, problem.n_nodes
    supply = np.zeros(t_n * n)
    take = np.zeros(t_n * n)
    np.add.at(supply, steps.node[~steps.is_buy], steps.quantity_kwh[~steps.is_buy])
    np.add.at(take, steps.node[steps.is_buy], steps.quantity_kwh[steps.is_buy])
    st = problem.storage
    sv = (np.arange(t_n)[None, :] * n + st.node[:, None]).ravel()
    np.add.at(supply, sv, np.repeat(st.discharge_kwh, t_n))
    np.add.at(take, sv, np.repeat(st.charge_kwh, t_n))
    gv = (np.arange(t_n)[None, :] * n + topo.grid_node[:, None]).ravel()
    np.add.at(supply, gv, problem.import_limit_kwh.ravel())
    np.add.at(take, gv, problem.export_limit_kwh.ravel())
    _, bv, bq = block_balance(problem)
    np.add.at(supply, bv[bq > 0], bq[bq > 0])
    np.add.at(take, bv[bq < 0], -bq[bq < 0])
    return supply.reshape(t_n, n), take.reshape(t_n, n)


def deliverable(topo: Topology, amount: FloatArray) -> FloatArray:
    """The most energy each node-interval can receive (T, N) when every node-interval can give
    at most `amount` (T, N) and every line carries at most its limit, kWh.

    On a forest this is exact for the given limits: the best flow into v takes what v has
    plus, from each side of v, min(the line's limit, what that side can deliver to it);
    one pass up the tree (what a subtree can send to its parent) and one down (what the rest
    can send into a subtree) give it for every node. On a meshed network it is the
    component's total (an upper bound, not tight)."""
    if topo.chords.shape[0]:
        comp = topo.component
        tot = np.zeros((amount.shape[0], int(comp.max()) + 1))
        np.add.at(tot.T, comp, amount.T)
        out: FloatArray = tot[:, comp]
        return out
    cap = topo.line_limit_kwh
    order = topo.bfs_order.tolist()
    parent = topo.parent.tolist()
    p_line = topo.parent_line.tolist()
    up = np.zeros_like(amount)  # up[:, u]: the most u's subtree can send to u's parent
    inner = amount.copy()  # what u has plus what its children's subtrees can send to it
    col_up = up.T
    col_in = inner.T
    for u in reversed(order):
        p = parent[u]
        if p >= 0:
            col_up[u] = np.minimum(cap[p_line[u]], col_in[u])
            col_in[p] += col_up[u]
    down = np.zeros_like(amount)  # the most the rest of the tree can send into u
    col_dn = down.T
    for u in order:
        p = parent[u]
        if p >= 0:
            col_dn[u] = np.minimum(cap[p_line[u]], col_in[p] - col_up[u] + col_dn[p])
    got: FloatArray = inner + down
    return got


def reduce_tree(
    problem: MultiProblem, steps: Steps, topo: Topology, down: sp.csr_matrix
) -> Reduction:
    t_n, n = problem.n_intervals, problem.n_nodes
    supply, take = potentials(problem, steps, topo)
    s_sub = np.asarray((down @ supply.T).T)
    w_sub = np.asarray((down @ take.T).T)
    comp = topo.component
    n_comp = int(comp.max()) + 1 if n else 0
    # totals per (interval, component of the network)
    s_tot = np.zeros((t_n, n_comp))
    w_tot = np.zeros((t_n, n_comp))
    for arr, tot in ((supply, s_tot), (take, w_tot)):
        np.add.at(tot.T, comp, arr.T)
    child = np.flatnonzero(topo.parent >= 0)
    line = topo.parent_line[child]
    c_comp = comp[child]
    up = np.minimum(s_sub[:, child], w_tot[:, c_comp] - w_sub[:, child])
    dn = np.minimum(s_tot[:, c_comp] - s_sub[:, child], w_sub[:, child])
    need = np.maximum(np.maximum(up, dn), 0.0)  # (T, children)
    cap = topo.line_limit_kwh[line][None, :]
    fee = problem.fee_per_kwh[line][None, :]
    merge = (need <= 0.0) | ((fee <= 0.0) & (cap >= need))
    t_idx, k_idx = np.nonzero(merge)
    a = t_idx * n + child[k_idx]
    b = t_idx * n + topo.parent[child[k_idx]]
    graph = sp.coo_matrix((np.ones(a.shape[0]), (a, b)), shape=(t_n * n, t_n * n))
    n_rows, row_of = connected_components(graph, directed=False)
    keep_t, keep_k = np.nonzero(~merge)
    keep_l = line[keep_k]
    has_fee = problem.fee_per_kwh[keep_l] > 0
    return Reduction(
        row_of=row_of.astype(np.int64),
        n_rows=int(n_rows),
        free_t=keep_t[~has_fee].astype(np.int64),
        free_l=keep_l[~has_fee].astype(np.int64),
        fee_t=keep_t[has_fee].astype(np.int64),
        fee_l=keep_l[has_fee].astype(np.int64),
        tree=True,
    )


__all__ = ["deliverable", "potentials", "reduce_tree", "subtree_matrix", "tree_flows"]
