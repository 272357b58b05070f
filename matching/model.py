"""The clearing LP, built as named steps from arrays (no Python loop over orders).

Variables, in this column order::

    x[s]  accepted energy of step s          0 ≤ x ≤ Q[s]                    kWh
    f[l]  flow on line l, + means from → to  −F[l] ≤ f ≤ F[l]                kWh
    m[g]  import at grid connection g        0 ≤ m ≤ M[g]                    kWh
    e[g]  export at grid connection g        0 ≤ e ≤ E[g]                    kWh

with F = capacity_kw × minutes / 60 and likewise M, E. Rows: one nodal balance per node,
then one Kirchhoff voltage law row per independent cycle when DC power flow applies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from matching.network import Topology
from matching.problem import BoolArray, ClearingProblem, FloatArray, IntArray
from matching.steps import Steps


@dataclass(frozen=True, slots=True, eq=False)
class LinearModel:
    lower: FloatArray
    upper: FloatArray
    objective: FloatArray
    row_lower: FloatArray
    row_upper: FloatArray
    matrix: sp.csr_matrix
    n_steps: int
    n_lines: int
    n_grid: int

    @property
    def flow_slice(self) -> slice:
        return slice(self.n_steps, self.n_steps + self.n_lines)

    @property
    def import_slice(self) -> slice:
        start = self.n_steps + self.n_lines
        return slice(start, start + self.n_grid)

    @property
    def export_slice(self) -> slice:
        start = self.n_steps + self.n_lines + self.n_grid
        return slice(start, start + self.n_grid)


@dataclass(slots=True)
class _Columns:
    """Columns collected step by step: bounds, objective and (row, coefficient) entries."""

    lower: list[FloatArray]
    upper: list[FloatArray]
    objective: list[FloatArray]
    rows: list[IntArray]
    cols: list[IntArray]
    vals: list[FloatArray]
    n_cols: int = 0

    def add(self, lower: FloatArray, upper: FloatArray, objective: FloatArray) -> IntArray:
        idx = np.arange(self.n_cols, self.n_cols + lower.shape[0], dtype=np.int64)
        self.lower.append(lower)
        self.upper.append(upper)
        self.objective.append(objective)
        self.n_cols += lower.shape[0]
        return idx

    def entries(self, rows: IntArray, cols: IntArray, vals: FloatArray) -> None:
        self.rows.append(rows)
        self.cols.append(cols)
        self.vals.append(vals)


@dataclass(frozen=True, slots=True, eq=False)
class StepColumns:
    """The order variables of one LP: all steps, a subset of them, or price buckets."""

    node: IntArray
    is_buy: BoolArray
    price: FloatArray
    quantity_kwh: FloatArray

    @classmethod
    def of(cls, steps: Steps, subset: IntArray | None = None) -> StepColumns:
        if subset is None:
            return cls(steps.node, steps.is_buy, steps.price, steps.quantity_kwh)
        return cls(
            steps.node[subset],
            steps.is_buy[subset],
            steps.price[subset],
            steps.quantity_kwh[subset],
        )


def add_order_variables(cols: _Columns, steps: StepColumns) -> IntArray:
    """x[s] ∈ [0, Q[s]]; objective +price for buys, −price for sells;
    in the balance of its node a sell supplies (+1) and a buy withdraws (−1)."""
    sign = np.where(steps.is_buy, -1.0, 1.0)
    idx = cols.add(np.zeros_like(steps.quantity_kwh), steps.quantity_kwh, -sign * steps.price)
    cols.entries(steps.node, idx, sign)
    return idx


def add_line_variables(cols: _Columns, topo: Topology) -> IntArray:
    """f[l] ∈ [−F[l], F[l]]; leaves its from-node (−1) and enters its to-node (+1)."""
    limit = topo.line_limit_kwh
    idx = cols.add(-limit, limit, np.zeros_like(limit))
    cols.entries(topo.line_from, idx, -np.ones_like(limit))
    cols.entries(topo.line_to, idx, np.ones_like(limit))
    return idx


def add_grid_connection(cols: _Columns, topo: Topology) -> tuple[IntArray, IntArray]:
    """m[g] ∈ [0, M[g]] bought at the import price, e[g] ∈ [0, E[g]] sold at the export
    price; import supplies (+1) and export withdraws (−1) at the connection's node."""
    imp = cols.add(np.zeros_like(topo.import_limit_kwh), topo.import_limit_kwh, -topo.import_price)
    cols.entries(topo.grid_node, imp, np.ones_like(topo.import_price))
    exp = cols.add(np.zeros_like(topo.export_limit_kwh), topo.export_limit_kwh, topo.export_price)
    cols.entries(topo.grid_node, exp, -np.ones_like(topo.export_price))
    return imp, exp


def add_kirchhoff_voltage_law(cols: _Columns, topo: Topology, flow_idx: IntArray, row0: int) -> int:
    """DC power flow: around each independent cycle Σ ±reactance[l] × f[l] = 0
    (equivalently f[l] = (θ_from − θ_to) / reactance[l] for some node angles θ)."""
    cyc = topo.cycles
    if cyc is None or cyc.n_cycles == 0:
        return 0
    cols.entries(row0 + cyc.row, flow_idx[cyc.line], cyc.coefficient)
    return cyc.n_cycles


def build_model(
    problem: ClearingProblem,
    steps: Steps | StepColumns,
    topo: Topology,
    fixed_injection: FloatArray | None = None,
) -> LinearModel:
    """Assemble the LP: order variables → nodal balance → line limits → grid connection →
    objective (maximise welfare); plus KVL rows for meshed DC networks.

    `fixed_injection[n]` is energy already supplied (+) or withdrawn (−) at node n by steps
    held at a bound outside the model; the nodal balance then reads Σ ... = −fixed."""
    if isinstance(steps, Steps):
        steps = StepColumns.of(steps)
    cols = _Columns([], [], [], [], [], [])
    add_order_variables(cols, steps)
    flow_idx = add_line_variables(cols, topo)
    add_grid_connection(cols, topo)
    n_nodes = topo.n_nodes
    n_kvl = add_kirchhoff_voltage_law(cols, topo, flow_idx, n_nodes)
    n_rows = n_nodes + n_kvl
    rows = np.concatenate(cols.rows)
    col_idx = np.concatenate(cols.cols)
    vals = np.concatenate(cols.vals)
    matrix = sp.csr_matrix((vals, (rows, col_idx)), shape=(n_rows, cols.n_cols))
    rhs = np.zeros(n_rows)
    if fixed_injection is not None:
        rhs[:n_nodes] = -fixed_injection
    return LinearModel(
        lower=np.concatenate(cols.lower),
        upper=np.concatenate(cols.upper),
        objective=np.concatenate(cols.objective),
        row_lower=rhs,
        row_upper=rhs.copy(),
        matrix=matrix,
        n_steps=len(steps.price),
        n_lines=topo.n_lines,
        n_grid=topo.n_grid,
    )
