"""Network topology as arrays: line ends and limits, grid connections, components, a
breadth-first spanning forest (used by the price rule) and, for meshed DC networks, a cycle
basis for Kirchhoff's voltage law."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from matching.problem import ClearingProblem, FloatArray, IntArray


@dataclass(frozen=True, slots=True, eq=False)
class Cycles:
    """Sparse KVL rows: entry k puts `coefficient[k]` on line `line[k]` in cycle `row[k]`."""

    n_cycles: int
    row: IntArray
    line: IntArray
    coefficient: FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class Topology:
    n_nodes: int
    line_from: IntArray
    line_to: IntArray
    line_limit_kwh: FloatArray
    reactance: FloatArray  # NaN where absent
    grid_node: IntArray
    import_price: FloatArray
    export_price: FloatArray
    import_limit_kwh: FloatArray
    export_limit_kwh: FloatArray
    #: nodes in breadth-first order, component by component; root of each first
    bfs_order: IntArray
    #: BFS parent of each node (−1 for a root) and the line joining them (−1 for a root)
    parent: IntArray
    parent_line: IntArray
    component: IntArray
    #: lines not in the spanning forest (they close cycles)
    chords: IntArray
    dc_flow: bool
    cycles: Cycles | None

    @property
    def n_lines(self) -> int:
        return int(self.line_from.shape[0])

    @property
    def n_grid(self) -> int:
        return int(self.grid_node.shape[0])


def build_topology(problem: ClearingProblem) -> Topology:
    net = problem.network
    hours = problem.interval.minutes / 60.0
    index = net.node_index()
    n = len(net.nodes)
    lf = np.array([index[ln.from_node] for ln in net.lines], dtype=np.int64)
    lt = np.array([index[ln.to_node] for ln in net.lines], dtype=np.int64)
    cap = np.array([ln.capacity_kw for ln in net.lines], dtype=np.float64) * hours
    react = np.array(
        [np.nan if ln.reactance is None else ln.reactance for ln in net.lines], dtype=np.float64
    )
    gc = net.grid_connections
    grid_node = np.array([index[g.node] for g in gc], dtype=np.int64)

    # Adjacency in input order of the lines, so the forest depends only on the problem.
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for k, (a, b) in enumerate(zip(lf.tolist(), lt.tolist(), strict=True)):
        adj[a].append((b, k))
        adj[b].append((a, k))
    roots = [int(x) for x in grid_node] + list(range(n))
    parent_l = [-1] * n
    parent_line_l = [-1] * n
    component_l = [-1] * n
    depth_l = [0] * n
    order: list[int] = []
    tree_line_l = [False] * len(net.lines)
    n_comp = 0
    for root in roots:
        if component_l[root] >= 0:
            continue
        component_l[root] = n_comp
        queue = deque([root])
        while queue:
            u = queue.popleft()
            order.append(u)
            for v, k in adj[u]:
                if component_l[v] < 0:
                    component_l[v] = n_comp
                    parent_l[v] = u
                    parent_line_l[v] = k
                    depth_l[v] = depth_l[u] + 1
                    tree_line_l[k] = True
                    queue.append(v)
        n_comp += 1
    parent = np.array(parent_l, dtype=np.int64)
    parent_line = np.array(parent_line_l, dtype=np.int64)
    component = np.array(component_l, dtype=np.int64)
    depth = np.array(depth_l, dtype=np.int64)
    tree_line = np.array(tree_line_l, dtype=np.bool_)
    chords = np.flatnonzero(~tree_line).astype(np.int64)
    dc = net.uses_dc_flow and chords.shape[0] > 0
    cycles = _cycle_basis(lf, lt, react, parent, parent_line, depth, chords) if dc else None
    return Topology(
        n_nodes=n,
        line_from=lf,
        line_to=lt,
        line_limit_kwh=cap,
        reactance=react,
        grid_node=grid_node,
        import_price=np.array([g.import_price for g in gc], dtype=np.float64),
        export_price=np.array([g.export_price for g in gc], dtype=np.float64),
        import_limit_kwh=np.array([g.import_limit_kw for g in gc], dtype=np.float64) * hours,
        export_limit_kwh=np.array([g.export_limit_kw for g in gc], dtype=np.float64) * hours,
        bfs_order=np.array(order, dtype=np.int64),
        parent=parent,
        parent_line=parent_line,
        component=component,
        chords=chords,
        dc_flow=dc,
        cycles=cycles,
    )


def _cycle_basis(
    lf: IntArray,
    lt: IntArray,
    react: FloatArray,
    parent: IntArray,
    parent_line: IntArray,
    depth: IntArray,
    chords: IntArray,
) -> Cycles:
    """One KVL row per chord a→b: Σ over the tree path a…b of ±x·f − x_chord·f_chord = 0.

    Walking the path from a to b, a line traversed along its direction contributes
    θ_i − θ_j = +x·f, against it −x·f; the chord closes the loop (θ_a − θ_b = x·f).
    """
    rows: list[int] = []
    lines: list[int] = []
    coefs: list[float] = []
    lf_l, lt_l, x_l = lf.tolist(), lt.tolist(), react.tolist()
    par, pline, dep = parent.tolist(), parent_line.tolist(), depth.tolist()
    for r, chord in enumerate(chords.tolist()):
        a, b = lf_l[chord], lt_l[chord]
        up: list[tuple[int, float]] = []  # from a towards the common ancestor
        down: list[tuple[int, float]] = []  # from b towards the common ancestor (reversed later)
        u, v = a, b
        while u != v:
            if dep[u] >= dep[v]:
                k = pline[u]
                # traversed u → parent(u)
                up.append((k, x_l[k] if lf_l[k] == u else -x_l[k]))
                u = par[u]
            else:
                k = pline[v]
                # on the a→b walk this edge is traversed parent(v) → v
                down.append((k, x_l[k] if lt_l[k] == v else -x_l[k]))
                v = par[v]
        for k, c in up + down[::-1]:
            rows.append(r)
            lines.append(k)
            coefs.append(float(c))
        rows.append(r)
        lines.append(int(chord))
        coefs.append(-x_l[chord])
    return Cycles(
        n_cycles=int(chords.shape[0]),
        row=np.array(rows, dtype=np.int64),
        line=np.array(lines, dtype=np.int64),
        coefficient=np.array(coefs, dtype=np.float64),
    )
