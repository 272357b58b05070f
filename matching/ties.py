"""Tied orders shared by a symmetric rule over the whole optimal face (`matching.canonical`).

Given the chosen prices, complementary slackness fixes every step, grid exchange and line
whose price is not tied; what is left (the *face*) is a polytope in the tied elements'
acceptances and the free lines' flows. The rule picks one point of it, by two stages of small
LPs through `matching.glop`:

1. **Least tied volume:** minimise Σ accepted kWh of the tied elements (tied buy and sell at
   one price never trade with each other for nothing, as within a node). The optimal face of
   this LP is read from its reduced costs (complementary slackness with any dual optimum
   describes the whole face, so it does not matter which dual GLOP returns): an element or
   line with a non-zero reduced cost is at its bound in every optimum.
2. **Leximin fill ratios** (progressive filling): maximise t such that every tied element
   not yet frozen accepts at least t × its capacity, frozen ones fixed; every element whose
   fill row has a non-zero dual is at t in every optimum (complementary slackness again), so
   it is frozen there; repeat until all are frozen. Each round freezes at least one element,
   so the number of LPs is bounded by the number of tied elements (a count, not a clock).

The leximin vector over a convex set is unique, and each freeze is implied by the face
itself, never by which optimum GLOP returns, so the result depends only on the problem, not
on how it is written. Where the face allows equal ratios it gives exactly pro rata.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from ortools.linear_solver import pywraplp  # type: ignore[attr-defined]

from matching import glop
from matching.network import Cycles, Topology
from matching.problem import BoolArray, FloatArray, IntArray

if TYPE_CHECKING:
    import scipy.sparse as sp


class TimeUp(Exception):
    """The caller's time limit (`--time-limit`) ran out during the rule's LP rounds."""


#: The caller's deadline (`time.perf_counter()` value) while the rule runs, or None: the
#: rounds are bounded in work, so only a time limit the user asked for can stop them.
DEADLINE: ContextVar[float | None] = ContextVar("klaster_tie_deadline", default=None)


def _check_deadline() -> None:
    deadline = DEADLINE.get()
    if deadline is not None and time.perf_counter() > deadline:
        raise TimeUp


#: A reduced cost or dual below this (in units of the LP's objective) is read as zero.
DUAL_TOL = 1e-9
#: GLOP set-up of the progressive filling: no presolve, so that a round starts from the
#: last round's basis
INCREMENTAL = "use_preprocessing: false"
#: GLOP set-ups tried in turn when one ends "abnormal" (a fixed sequence: no clock).
ATTEMPTS = (
    glop.DUAL_SIMPLEX,
    "use_dual_simplex: false",
    "use_dual_simplex: true, use_preprocessing: false, use_scaling: false",
)


def _solve(
    lo: FloatArray,
    hi: FloatArray,
    objective: FloatArray,
    r_lo: FloatArray,
    r_hi: FloatArray,
    matrix: sp.csr_matrix,
    *,
    maximize: bool,
) -> glop.LpOutcome | None:
    for parameters in ATTEMPTS:
        out = glop.solve_lp(
            lo, hi, objective, r_lo, r_hi, matrix, maximize=maximize, parameters=parameters
        )
        if out.optimal:
            return out
    return None


@dataclass(frozen=True, slots=True, eq=False)
class Elements:
    """The tied elements: node, +1 for supply (sell, grid import) or −1 for demand,
    capacity (kWh), `preset` (NaN where the element is free, else its fixed value) and
    `group`: elements of different groups share no constraint (price zones, networks), so
    each group fills its own ratio in the same LP."""

    node: IntArray
    sign: FloatArray
    cap: FloatArray
    preset: FloatArray
    group: IntArray


@dataclass(frozen=True, slots=True, eq=False)
class Face:
    """The rest of the face: its nodes and lines, each node's fixed injection (kWh,
    + supplied) from what the prices fix, each line's flow bounds (equal where the prices
    fix the line) and, with DC power flow, the KVL rows."""

    n_nodes: int
    line_from: IntArray
    line_to: IntArray
    injection: FloatArray
    flow_lo: FloatArray
    flow_hi: FloatArray
    cycles: Cycles | None = None


def _matrix(face: Face, el: Elements, n_t: int) -> tuple[sp.csr_matrix, int]:
    """Rows: nodal balance, KVL (DC only); columns: elements, lines, t per group."""
    import scipy.sparse as sp  # only where ties need the LPs: keeps scipy off small problems

    n, k, n_l = face.n_nodes, el.node.shape[0], face.line_from.shape[0]
    rows = [el.node, face.line_from, face.line_to]
    cols = [np.arange(k), k + np.arange(n_l), k + np.arange(n_l)]
    vals = [el.sign, -np.ones(n_l), np.ones(n_l)]
    n_rows = n
    cyc = face.cycles
    if cyc is not None and cyc.n_cycles:
        rows.append(n + cyc.row)
        cols.append(k + cyc.line)
        vals.append(cyc.coefficient)
        n_rows += cyc.n_cycles
    matrix = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows, k + n_l + n_t),
    )
    return matrix, n_rows


def leximin(el: Elements, face: Face) -> tuple[FloatArray, IntArray] | None:
    """The tied elements' acceptances by the rule (see the module docstring) and each
    one's level (elements frozen together at one ratio strictly between 0 and 1 share a
    level number; −1 for the others); None if an LP does not end optimal."""
    k, n_l = el.node.shape[0], face.line_from.shape[0]
    _, group = np.unique(el.group, return_inverse=True)
    group = group.ravel()
    n_t = int(group.max()) + 1 if k else 0
    base, n_rows = _matrix(face, el, n_t)
    rhs = np.zeros(n_rows)
    rhs[: face.n_nodes] = -face.injection
    preset = np.isfinite(el.preset)
    zeros_t = np.zeros(n_t)
    lo = np.concatenate([np.where(preset, el.preset, 0.0), face.flow_lo, zeros_t])
    hi = np.concatenate([np.where(preset, el.preset, el.cap), face.flow_hi, zeros_t])
    # 1. least tied volume; its optimal face by reduced costs
    cost = np.concatenate([np.where(preset, 0.0, 1.0), np.zeros(n_l + n_t)])
    out = _solve(lo, hi, cost, rhs, rhs, base, maximize=False)
    if out is None:
        return None
    reduced = cost - base.T @ out.duals
    fix_lo = (reduced > DUAL_TOL) & (lo < hi)
    fix_hi = (reduced < -DUAL_TOL) & (lo < hi)
    hi = np.where(fix_lo, lo, hi)
    lo = np.where(fix_hi, hi, lo)
    value = np.where(preset, el.preset, np.nan)
    fixed_el = (lo[:k] == hi[:k]) & ~preset
    value[fixed_el] = lo[:k][fixed_el]
    # 2. progressive filling of the fill ratios, every group its own t in one LP (the
    # groups share no constraint, so maximising Σ t maximises each)
    t_col = k + n_l + np.arange(n_t)
    hi[t_col] = 1.0
    level = np.full(k, -1, dtype=np.int64)
    if np.isnan(value).any() and not _fill(base, rhs, lo, hi, el, group, t_col, value, level):
        return None
    if np.isnan(value).any():
        return None
    result: FloatArray = np.clip(value, 0.0, el.cap)
    return result, level


class _FillModel:
    """The progressive filling's GLOP model for the current state: frozen elements fixed
    at their value (no fill row), the free ones with their fill rows, one t per group."""

    def __init__(
        self,
        base: sp.csr_matrix,
        rhs: FloatArray,
        lo: FloatArray,
        hi: FloatArray,
        el: Elements,
        group: IntArray,
        t_col: IntArray,
        value: FloatArray,
        parameters: str,
    ) -> None:
        solver = pywraplp.Solver.CreateSolver("GLOP")
        solver.SetSolverSpecificParametersAsString(parameters)
        self.solver = solver
        self.inf = inf = solver.infinity()
        free = np.isnan(value)
        v_lo = np.where(np.isneginf(lo), -inf, lo)
        v_hi = np.where(np.isposinf(hi), inf, hi)
        k = el.node.shape[0]
        v_lo[:k] = np.where(free, v_lo[:k], value)
        v_hi[:k] = np.where(free, v_hi[:k], value)
        cols = [solver.NumVar(a, b, "") for a, b in zip(v_lo.tolist(), v_hi.tolist(), strict=True)]
        indptr, indices, data = base.indptr.tolist(), base.indices.tolist(), base.data.tolist()
        for r, b in enumerate(rhs.tolist()):
            row = solver.Constraint(b, b)
            for j in range(indptr[r], indptr[r + 1]):
                row.SetCoefficient(cols[indices[j]], data[j])
        self.fill: dict[int, Any] = {}
        for i in np.flatnonzero(free).tolist():
            row = solver.Constraint(0.0, inf)
            row.SetCoefficient(cols[i], 1.0)
            row.SetCoefficient(cols[int(t_col[group[i]])], -float(el.cap[i]))
            self.fill[i] = row
        objective = solver.Objective()
        for j in t_col.tolist():
            objective.SetCoefficient(cols[j], 1.0)
        objective.SetMaximization()
        self.cols = cols
        self.t_vars = [cols[j] for j in t_col.tolist()]

    def solve(self, live: BoolArray) -> bool:
        for g, var in enumerate(self.t_vars):
            if not live[g]:
                var.SetBounds(0.0, 0.0)
        return bool(self.solver.Solve() == pywraplp.Solver.OPTIMAL)

    def rows_hold(
        self, base: sp.csr_matrix, rhs: FloatArray, last: IntArray, frozen: FloatArray
    ) -> bool:
        """The last solution holds the face's rows (balance, KVL) to ROW_KWH plus 1e-12 of
        what passes them, and its elements `last` sit at the values they are frozen at."""
        v = np.array([c.solution_value() for c in self.cols])
        activity = base @ v
        through = abs(base) @ np.abs(v)
        rows_ok = (np.abs(activity - rhs) <= ROW_KWH + 1e-12 * (through + np.abs(rhs))).all()
        at = np.abs(v[last] - frozen) <= ROW_KWH + 1e-12 * np.abs(frozen)
        return bool(rows_ok and at.all())

    def freeze(self, i: int, at: float) -> None:
        self.cols[i].SetBounds(at, at)
        self.fill[i].SetBounds(-self.inf, self.inf)


#: GLOP set-ups for the filling, in turn: the first continues from the last round's basis;
#: when a round does not end optimal, or the finished filling does not hold the face's rows
#: to ROW_KWH (numerical trouble, e.g. 1e-6 next to 1e6 kWh, where GLOP's own 1e-6
#: tolerance is the size of the orders), the filling is done again with the next one,
#: stricter (a fixed sequence, no clock).
_STRICT = ", primal_feasibility_tolerance: 1e-12, dual_feasibility_tolerance: 1e-12"
FILL_ATTEMPTS = (
    INCREMENTAL,
    INCREMENTAL + _STRICT,
    "use_preprocessing: true" + _STRICT,
    "use_dual_simplex: true, use_preprocessing: false, use_scaling: false" + _STRICT,
    "use_dual_simplex: false, use_preprocessing: true" + _STRICT,
)
#: The face's rows (nodal balance, KVL) must hold to this (kWh) plus 1e-12 of what passes.
ROW_KWH = 1e-9


def _fill(
    base: sp.csr_matrix,
    rhs: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    el: Elements,
    group: IntArray,
    t_col: IntArray,
    value: FloatArray,
    level: IntArray,
) -> bool:
    """Progressive filling (fills `value` in place): one GLOP model kept across the rounds;
    a round fixes the frozen elements at their value and drops their fill rows, which keeps
    the last solution feasible, so GLOP goes on from its basis (a few pivots per round).
    Checked at the end: the rows hold with the frozen values, else done again stricter."""
    start_value, start_level = value.copy(), level.copy()
    attempt = 0
    while attempt < len(FILL_ATTEMPTS):
        done, attempt = _rounds(base, rhs, lo, hi, el, group, t_col, value, level, attempt)
        if done:
            return True
        value[:] = start_value
        level[:] = start_level
        attempt += 1
    return False


def _rounds(
    base: sp.csr_matrix,
    rhs: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    el: Elements,
    group: IntArray,
    t_col: IntArray,
    value: FloatArray,
    level: IntArray,
    attempt: int,
) -> tuple[bool, int]:
    """The filling's rounds from the state in `value`, starting with set-up `attempt`
    (the next ones when a round does not end optimal). Returns whether it finished with the
    face's rows holding (checked on the last round's solution, whose elements must sit at
    the values frozen), and the set-up reached."""

    def build() -> _FillModel:
        return _FillModel(base, rhs, lo, hi, el, group, t_col, value, FILL_ATTEMPTS[attempt])

    model = build()
    k = el.node.shape[0]
    for round_ in range(k + 1):
        _check_deadline()
        free_idx = np.flatnonzero(np.isnan(value))
        if free_idx.shape[0] == 0:
            return True, attempt
        live = np.zeros(t_col.shape[0], dtype=np.bool_)
        live[group[free_idx]] = True
        while not model.solve(live):
            attempt += 1
            if attempt == len(FILL_ATTEMPTS):
                return False, attempt
            model = build()
        t = np.clip(np.array([v.solution_value() for v in model.t_vars]), 0.0, 1.0)
        t_el = t[group[free_idx]]
        cap = el.cap[free_idx]
        duals = np.array([model.fill[i].dual_value() for i in free_idx.tolist()])
        full = t_el >= 1.0 - 1e-12
        block = (np.abs(duals) * cap > DUAL_TOL) | full
        # every live group freezes at least one element (complementary slackness: its t is
        # held by some fill row with a non-zero dual); if float trouble hides them all, the
        # rule cannot be applied here, and the caller says so (never a guessed freeze)
        blocked = np.zeros(t_col.shape[0], dtype=np.bool_)
        blocked[group[free_idx[block]]] = True
        if not blocked[live].all():
            return False, attempt
        if block.all() and not model.rows_hold(
            base, rhs, free_idx, np.where(full, cap, t_el * cap)
        ):
            return False, attempt
        at_level = block & ~full & (t_el > 0)
        level[free_idx[at_level]] = round_ * t_col.shape[0] + group[free_idx[at_level]]
        for i, at in zip(
            free_idx[block].tolist(), np.where(full, cap, t_el * cap)[block].tolist(), strict=True
        ):
            value[i] = at
            model.freeze(i, at)
    return False, attempt


def fixed_lines(
    topo: Topology, moving: BoolArray, at_pos: BoolArray, at_neg: BoolArray
) -> tuple[FloatArray, FloatArray]:
    """Flow bounds on the face: lines in `moving` keep [−F, F]; the others are fixed at the
    limit they sit on (0 for a zero-limit line)."""
    limit = topo.line_limit_kwh
    at = np.where(at_pos & ~at_neg, limit, np.where(at_neg & ~at_pos, -limit, 0.0))
    lo = np.where(moving, -limit, at)
    hi = np.where(moving, limit, at)
    return lo, hi


__all__ = ["DEADLINE", "Elements", "Face", "TimeUp", "fixed_lines", "leximin"]
