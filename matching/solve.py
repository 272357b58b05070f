"""Solving the clearing LP with GLOP's dual simplex, filled in one call from sparse arrays.

Parameters are chosen by model type from measurements on the 2-core machine
(docs/benchmarks.md): a radial/transport model solves fastest without GLOP's presolve
(100k orders / 2,000 nodes: 141 ms against 244 ms with it); the meshed DC model with
presolve and no crash basis (`initial_basis: NONE`: 0.68 s against 0.82 s).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from ortools.linear_solver.python import model_builder_helper as _mbh

from matching.model import LinearModel, build_model
from matching.network import Topology
from matching.problem import ClearingProblem, FloatArray
from matching.result import Status
from matching.steps import Steps

# OR-Tools' pybind stubs mistype numpy arrays; use the module untyped.
mbh: Any = _mbh

GLOP_TRANSPORT = "use_dual_simplex: true, use_preprocessing: false"
GLOP_DC = "use_dual_simplex: true, initial_basis: NONE"

_STATUS = {
    mbh.SolveStatus.OPTIMAL: Status.OPTIMAL,
    mbh.SolveStatus.INFEASIBLE: Status.INFEASIBLE,
}


@dataclass(frozen=True, slots=True, eq=False)
class Solution:
    status: Status
    reason: str
    x: FloatArray  # accepted energy per step
    flow: FloatArray
    imports: FloatArray
    exports: FloatArray
    duals: FloatArray  # balance-row duals (price = −dual)
    model_ms: float = 0.0  # time spent building the LP (the rest of solve() is GLOP)


def solve_model(
    model: LinearModel, parameters: str, time_limit_s: float | None
) -> tuple[Status, str, FloatArray, FloatArray]:
    """One GLOP solve. Returns (status, solver reason, values, row duals)."""
    helper = mbh.ModelBuilderHelper()
    helper.fill_model_from_sparse_data(
        model.lower, model.upper, model.objective, model.row_lower, model.row_upper, model.matrix
    )
    helper.set_maximize(True)
    solver = mbh.ModelSolverHelper("glop")
    solver.set_solver_specific_parameters(parameters)
    if time_limit_s is not None:
        solver.set_time_limit_in_seconds(max(time_limit_s, 1e-3))
    solver.solve(helper)
    raw = solver.status()
    status = _STATUS.get(raw)
    if status is None:
        timed_out = raw == mbh.SolveStatus.FEASIBLE or (
            raw == mbh.SolveStatus.NOT_SOLVED and time_limit_s is not None
        )
        status = Status.TIME_LIMIT if timed_out else Status.ERROR
    reason = f"GLOP: {raw.name.lower()}"
    if solver.status_string():
        reason += f" ({solver.status_string()})"
    if status is not Status.OPTIMAL:
        return status, reason, np.zeros(0), np.zeros(0)
    return status, reason, np.asarray(solver.variable_values()), np.asarray(solver.dual_values())


def _clean(values: FloatArray, lower: FloatArray, upper: FloatArray) -> FloatArray:
    """Snap values within 1e-9 (relative) of a bound onto it; the simplex leaves float dust."""
    tol = 1e-9 * np.maximum(1.0, np.maximum(np.abs(lower), np.abs(upper)))
    out = np.clip(values, lower, upper)
    out = np.where(np.abs(out - lower) <= tol, lower, out)
    cleaned: FloatArray = np.where(np.abs(out - upper) <= tol, upper, out)
    return cleaned


def solve(problem: ClearingProblem, steps: Steps, topo: Topology) -> Solution:
    """Build the LP and solve it to optimality."""
    t0 = time.perf_counter()
    model = build_model(problem, steps, topo)
    model_ms = (time.perf_counter() - t0) * 1000.0
    parameters = GLOP_DC if topo.dc_flow else GLOP_TRANSPORT
    status, reason, values, duals = solve_model(model, parameters, problem.time_limit_s)
    if status is not Status.OPTIMAL:
        empty = np.zeros(0)
        return Solution(status, reason, empty, empty, empty, empty, empty, model_ms)
    values = _clean(values, model.lower, model.upper)
    return Solution(
        status,
        reason,
        values[: model.n_steps],
        values[model.flow_slice],
        values[model.import_slice],
        values[model.export_slice],
        duals[: topo.n_nodes],
        model_ms,
    )
