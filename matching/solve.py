"""Solving the clearing LP with GLOP's dual simplex, filled in one call from sparse arrays.

GLOP's set-up and its parameters per model type live in `matching.glop`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from matching import glop
from matching.model import LinearModel, build_model
from matching.network import Topology
from matching.problem import ClearingProblem, FloatArray
from matching.result import Status
from matching.steps import Steps


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
    """One GLOP solve. Returns (status, solver reason, values, row duals).

    GLOP stopped by its time limit ends `not_solved`, `feasible` or (mid-simplex on meshed
    models) `abnormal`; any of them once the limit has been used up is `time_limit`."""
    t0 = time.perf_counter()
    out = glop.solve_lp(
        model.lower,
        model.upper,
        model.objective,
        model.row_lower,
        model.row_upper,
        model.matrix,
        maximize=True,
        parameters=parameters,
        time_limit_s=time_limit_s,
    )
    if out.optimal:
        return Status.OPTIMAL, out.reason, out.values, out.duals
    raw = out.solve_status
    if raw == glop.mbh.SolveStatus.INFEASIBLE:
        status = Status.INFEASIBLE
    elif time_limit_s is not None and (
        raw in (glop.mbh.SolveStatus.FEASIBLE, glop.mbh.SolveStatus.NOT_SOLVED)
        or time.perf_counter() - t0 >= 0.9 * time_limit_s
    ):
        status = Status.TIME_LIMIT
    else:
        status = Status.ERROR
    return status, out.reason, np.zeros(0), np.zeros(0)


#: Values this close to a bound (in kWh) are float dust and are moved onto it.
SNAP_KWH = 1e-9


def clean(values: FloatArray, lower: FloatArray, upper: FloatArray) -> FloatArray:
    """Move values within float dust of a bound onto that bound: SNAP_KWH in absolute kWh,
    or a few units in the last place of the bound itself (a bound of 1e12 kWh is resolved
    to ~1e-4 kWh only). Never relative to the other bound: a 0.2 kWh import under a 1e12 kWh
    limit stays 0.2."""
    out = np.clip(values, lower, upper)
    with np.errstate(invalid="ignore"):
        near_lo = out - lower <= SNAP_KWH + 4 * np.spacing(np.abs(lower))
        near_hi = upper - out <= SNAP_KWH + 4 * np.spacing(np.abs(upper))
    out = np.where(near_lo, lower, out)
    to_hi = near_hi & (~near_lo | (upper - out < out - lower))
    cleaned: FloatArray = np.where(to_hi, upper, out)
    return cleaned


def solve(
    problem: ClearingProblem, steps: Steps, topo: Topology, time_limit_s: float | None = None
) -> Solution:
    """Build the LP and solve it to optimality (GLOP stops after `time_limit_s`)."""
    t0 = time.perf_counter()
    model = build_model(problem, steps, topo)
    model_ms = (time.perf_counter() - t0) * 1000.0
    parameters = glop.DC if topo.dc_flow else glop.TRANSPORT
    if time_limit_s is not None:
        time_limit_s -= model_ms / 1000.0
        if time_limit_s <= 0:
            empty = np.zeros(0)
            reason = "time limit reached before solving"
            return Solution(Status.TIME_LIMIT, reason, empty, empty, empty, empty, empty, model_ms)
    status, reason, values, duals = solve_model(model, parameters, time_limit_s)
    if status is not Status.OPTIMAL:
        empty = np.zeros(0)
        return Solution(status, reason, empty, empty, empty, empty, empty, model_ms)
    values = clean(values, model.lower, model.upper)
    return Solution(
        status,
        reason,
        model.values(values, "order"),
        model.values(values, "flow"),
        model.values(values, "grid_import"),
        model.values(values, "grid_export"),
        model.duals(duals, "nodal_balance"),
        model_ms,
    )
