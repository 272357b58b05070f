"""Solving the clearing LP with GLOP's dual simplex, filled in one call from sparse arrays.

GLOP's set-up and its parameters per model type live in `matching.glop`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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
    model: LinearModel, parameters: str, time_limit_s: float | None, solver_name: str = "glop"
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
        solver_name=solver_name,
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

#: GLOP checks its answer to about 1e-6 after unscaling, which can turn a marginal step
#: into a full one (and move its node's price). If the rows do not hold to ROW_KWH (plus
#: float resolution), or GLOP ends "abnormal" (seen without presolve on 1e-6/1e12 mixes),
#: the LP is solved again with stricter tolerances, then with presolve, then with the
#: primal simplex (with presolve, then without presolve and scaling), and last with HiGHS:
#: deterministic, no clock involved. A verdict "infeasible" is retried the same way (the LP
#: always has a feasible point: accept nothing). If none succeeds the result says so, as
#: `error` (never an infeasible "optimal").
ROW_KWH = 1e-9
_STRICT = ", primal_feasibility_tolerance: 1e-12, dual_feasibility_tolerance: 1e-12"
_PRESOLVE = ("use_preprocessing: false", "use_preprocessing: true")
RETRIES: tuple[Callable[[str], str], ...] = (
    lambda base: base,
    lambda base: base + _STRICT,
    lambda base: base.replace(*_PRESOLVE) + _STRICT,
    lambda base: (
        base.replace(*_PRESOLVE).replace("use_dual_simplex: true", "use_dual_simplex: false")
        + _STRICT
    ),
    lambda _: "use_dual_simplex: false, use_preprocessing: false, use_scaling: false",
    lambda _: "highs",  # last resort: HiGHS for the primal (the prices never use its duals)
)


def rows_hold(model: LinearModel, values: FloatArray) -> bool:
    """Every row (nodal balance, KVL) holds to ROW_KWH plus 1e-13 of what passes it."""
    activity = model.matrix @ values
    through = abs(model.matrix) @ np.abs(values)
    tol = ROW_KWH + 1e-13 * through
    return bool(
        (activity >= model.row_lower - tol).all() and (activity <= model.row_upper + tol).all()
    )


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
    t_solve = time.perf_counter()
    tries = 0
    for extra in RETRIES:
        tries += 1
        left = None
        if time_limit_s is not None:
            left = time_limit_s - (time.perf_counter() - t_solve)
            if left <= 0:
                break
        settings = extra(parameters)
        if settings == "highs":
            status, reason, values, duals = solve_model(model, "output_flag=false", left, "highs")
        else:
            status, reason, values, duals = solve_model(model, settings, left)
        if status is Status.OPTIMAL:
            values = clean(values, model.lower, model.upper)
            if rows_hold(model, values):
                break
        elif status is Status.TIME_LIMIT:
            break  # out of time: retrying cannot help
        # "infeasible" is numerical trouble too: accepting nothing is always feasible
        # (hypothesis found GLOP calling a 1e12/1e-6 kWh mix infeasible, on main too)
    if status is Status.OPTIMAL and tries > 1:
        reason += f" (after {tries - 1} stricter re-solve{'s' if tries > 2 else ''})"
    if status is Status.INFEASIBLE:
        status = Status.ERROR
        reason += " (the clearing LP is always feasible — accept nothing —: numerical trouble)"
    if status is not Status.OPTIMAL:
        empty = np.zeros(0)
        return Solution(status, reason, empty, empty, empty, empty, empty, model_ms)
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
