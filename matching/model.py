"""The clearing LP, built as named steps from arrays (no Python loop over orders).

Named variable blocks (`LinearModel.layout`, looked up by name)::

    order        x[s]  accepted energy of step s          0 ≤ x ≤ Q[s]          kWh
    flow         f[l]  flow on line l, + means from → to  −F[l] ≤ f ≤ F[l]      kWh
    grid_import  m[g]  import at grid connection g        0 ≤ m ≤ M[g]          kWh
    grid_export  e[g]  export at grid connection g        0 ≤ e ≤ E[g]          kWh

with F = capacity_kw × minutes / 60 and likewise M, E. Named constraint blocks:
`nodal_balance` (one row per node) and `kvl` (one Kirchhoff voltage law row per
independent cycle when DC power flow applies; empty otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from matching.glop import Csr, csr_from_coo
from matching.network import Topology
from matching.problem import BoolArray, ClearingProblem, FloatArray, IntArray
from matching.steps import Steps

if TYPE_CHECKING:
    import scipy.sparse as sp


@dataclass(frozen=True, slots=True)
class Block:
    """A named block of variables (columns) or constraints (rows): indices [start, stop)."""

    name: str
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start

    @property
    def index(self) -> slice:
        return slice(self.start, self.stop)


@dataclass(frozen=True, slots=True)
class ModelLayout:
    """Where each named block of the LP lives, looked up by name (as linopy names its
    variables and constraints). A new kind of variable or constraint (storage, block
    orders, several intervals) is a new named block; no positional arithmetic elsewhere."""

    variables: tuple[Block, ...]
    constraints: tuple[Block, ...]

    @property
    def n_variables(self) -> int:
        return self.variables[-1].stop if self.variables else 0

    @property
    def n_constraints(self) -> int:
        return self.constraints[-1].stop if self.constraints else 0

    def variable(self, name: str) -> Block:
        return _find(self.variables, name, "variable")

    def constraint(self, name: str) -> Block:
        return _find(self.constraints, name, "constraint")


def _find(blocks: tuple[Block, ...], name: str, kind: str) -> Block:
    for block in blocks:
        if block.name == name:
            return block
    raise KeyError(f"no {kind} block {name!r} in the model")


@dataclass(slots=True)
class _Blocks:
    """Blocks laid out one after another as they are added."""

    blocks: list[Block]

    def add(self, name: str, size: int) -> Block:
        start = self.blocks[-1].stop if self.blocks else 0
        block = Block(name, start, start + size)
        self.blocks.append(block)
        return block


@dataclass(frozen=True, slots=True, eq=False)
class LinearModel:
    """The LP in sparse form: `lower ≤ x ≤ upper`, `row_lower ≤ matrix · x ≤ row_upper`,
    maximise `objective · x`; `layout` names the blocks of columns and rows."""

    lower: FloatArray
    upper: FloatArray
    objective: FloatArray
    row_lower: FloatArray
    row_upper: FloatArray
    matrix: Csr | sp.csr_matrix
    layout: ModelLayout

    def values(self, solution: FloatArray, name: str) -> FloatArray:
        """The part of a primal solution that belongs to variable block `name`."""
        out: FloatArray = solution[self.layout.variable(name).index]
        return out

    def duals(self, row_duals: FloatArray, name: str) -> FloatArray:
        """The part of the row duals that belongs to constraint block `name`."""
        out: FloatArray = row_duals[self.layout.constraint(name).index]
        return out


@dataclass(slots=True)
class _Columns:
    """Columns collected step by step: bounds, objective and (row, coefficient) entries,
    each variable block under its name."""

    lower: list[FloatArray]
    upper: list[FloatArray]
    objective: list[FloatArray]
    rows: list[IntArray]
    cols: list[IntArray]
    vals: list[FloatArray]
    blocks: _Blocks

    def add(
        self, name: str, lower: FloatArray, upper: FloatArray, objective: FloatArray
    ) -> IntArray:
        block = self.blocks.add(name, int(lower.shape[0]))
        self.lower.append(lower)
        self.upper.append(upper)
        self.objective.append(objective)
        return np.arange(block.start, block.stop, dtype=np.int64)

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


def add_order_variables(cols: _Columns, steps: StepColumns, balance: Block) -> IntArray:
    """Block `order`: x[s] ∈ [0, Q[s]]; objective +price for buys, −price for sells;
    in the balance of its node a sell supplies (+1) and a buy withdraws (−1)."""
    sign = np.where(steps.is_buy, -1.0, 1.0)
    idx = cols.add(
        "order", np.zeros_like(steps.quantity_kwh), steps.quantity_kwh, -sign * steps.price
    )
    cols.entries(balance.start + steps.node, idx, sign)
    return idx


def add_line_variables(cols: _Columns, topo: Topology, balance: Block) -> IntArray:
    """Block `flow`: f[l] ∈ [−F[l], F[l]]; leaves its from-node (−1), enters its to-node (+1)."""
    limit = topo.line_limit_kwh
    idx = cols.add("flow", -limit, limit, np.zeros_like(limit))
    cols.entries(balance.start + topo.line_from, idx, -np.ones_like(limit))
    cols.entries(balance.start + topo.line_to, idx, np.ones_like(limit))
    return idx


def add_grid_connection(cols: _Columns, topo: Topology, balance: Block) -> None:
    """Blocks `grid_import`, `grid_export`: m[g] ∈ [0, M[g]] bought at the import price,
    e[g] ∈ [0, E[g]] sold at the export price; import supplies (+1) and export withdraws
    (−1) at the connection's node."""
    row = balance.start + topo.grid_node
    imp = cols.add(
        "grid_import",
        np.zeros_like(topo.import_limit_kwh),
        topo.import_limit_kwh,
        -topo.import_price,
    )
    cols.entries(row, imp, np.ones_like(topo.import_price))
    exp = cols.add(
        "grid_export",
        np.zeros_like(topo.export_limit_kwh),
        topo.export_limit_kwh,
        topo.export_price,
    )
    cols.entries(row, exp, -np.ones_like(topo.export_price))


def add_kirchhoff_voltage_law(
    cols: _Columns, topo: Topology, flow_idx: IntArray, kvl: Block
) -> None:
    """Block `kvl` (DC power flow): around each independent cycle Σ ±reactance[l] × f[l] = 0
    (equivalently f[l] = (θ_from − θ_to) / reactance[l] for some node angles θ)."""
    cyc = topo.cycles
    if cyc is None or kvl.size == 0:
        return
    cols.entries(kvl.start + cyc.row, flow_idx[cyc.line], cyc.coefficient)


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
    rows = _Blocks([])
    balance = rows.add("nodal_balance", topo.n_nodes)
    cyc = topo.cycles
    kvl = rows.add("kvl", 0 if cyc is None else cyc.n_cycles)
    cols = _Columns([], [], [], [], [], [], _Blocks([]))
    add_order_variables(cols, steps, balance)
    flow_idx = add_line_variables(cols, topo, balance)
    add_grid_connection(cols, topo, balance)
    add_kirchhoff_voltage_law(cols, topo, flow_idx, kvl)
    layout = ModelLayout(tuple(cols.blocks.blocks), tuple(rows.blocks))
    n_rows, n_cols = layout.n_constraints, layout.n_variables
    matrix = csr_from_coo(
        np.concatenate(cols.vals),
        np.concatenate(cols.rows),
        np.concatenate(cols.cols),
        (n_rows, n_cols),
    )
    rhs = np.zeros(n_rows)
    if fixed_injection is not None:
        rhs[balance.index] = -fixed_injection
    return LinearModel(
        lower=np.concatenate(cols.lower),
        upper=np.concatenate(cols.upper),
        objective=np.concatenate(cols.objective),
        row_lower=rhs,
        row_upper=rhs.copy(),
        matrix=matrix,
        layout=layout,
    )
