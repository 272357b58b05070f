"""Block decisions by branch and bound over the blocks' on/off variables, every node an LP
solved by GLOP warm-started from the previous node's basis (docs/clearing.md, "Block
orders", step 1).

The MIP's relaxation is loaded once into one GLOP solver (`WarmLp`); a node only changes
the bounds of the on/off variables, and GLOP's dual simplex goes on from the basis it has,
so a node costs tens of pivots (≈ 60 ms at the day-ahead scale, against ≈ 0.9 s for the
first solve). The search is best-bound first, diving towards the rounded relaxation until the
first incumbent, and stops when no open node's bound is more than the gap above the
incumbent: the same guarantee as HiGHS's relative gap, proved by the bounds. A finished
search hands back its leaves, from which the block rule's next round (one more block
forbidden) searches on (`restrict`) instead of starting again from the relaxation.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

import numpy as np

from matching.multi.model import MultiModel
from matching.multi.wire import model_proto
from matching.problem import FloatArray, IntArray

#: GLOP for the nodes: the first solve with presolve (0.9 s against 1.3 s without at the
#: day-ahead scale), then without, so that GLOP keeps its basis from node to node.
FIRST = "use_dual_simplex: true, use_preprocessing: false, perturb_costs_in_dual_simplex: true"
WARM = "use_dual_simplex: true, use_preprocessing: false"
#: A relaxed on/off value this close to 0 or 1 counts as decided.
INTEGRAL = 1e-9


@dataclass(frozen=True, slots=True)
class Node:
    """A node's LP: `status` "optimal", "infeasible" or what GLOP said; its welfare and the
    on/off values."""

    status: str
    objective: float
    y: FloatArray

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"

    @property
    def integral(self) -> bool:
        return bool((np.abs(self.y - np.round(self.y)) <= INTEGRAL).all())


class WarmLp:
    """The MIP's LP relaxation in one GLOP solver; `solve(lower, upper)` sets the on/off
    variables' bounds and re-solves from the basis GLOP has."""

    def __init__(self, model: MultiModel, ycols: IntArray) -> None:
        # OR-Tools ships no stubs for these two modules
        from ortools.linear_solver import (  # type: ignore[attr-defined]
            linear_solver_pb2,
            pywraplp,
        )

        # the message encoded from the arrays (`matching.multi.wire`): equal to the one
        # filled variable by variable, in a few ms instead of ≈ 0.2 s
        proto = model_proto(model, maximize=True)
        self._pb2: Any = linear_solver_pb2
        self._pywraplp: Any = pywraplp
        solver: Any = pywraplp.Solver.CreateSolver("GLOP")
        error = solver.LoadModelFromProto(proto)
        if error:
            raise ValueError(f"GLOP could not load the block model: {error}")
        self._solver = solver
        self._vars = [solver.variable(int(j)) for j in ycols.tolist()]
        self._lower = np.full(ycols.shape[0], np.nan)
        self._upper = np.full(ycols.shape[0], np.nan)
        self._solved = False
        self._last: Node | None = None
        self.solves = 0

    def solve(self, lower: FloatArray, upper: FloatArray, left: float | None) -> Node:
        last = self._last
        if (
            last is not None
            and bool(((lower >= self._lower) & (upper <= self._upper)).all())
            and bool(((lower <= last.y) & (last.y <= upper)).all())
        ):
            # the bounds only shrank and the last optimum lies within them: it is still
            # optimal (exact). The solver keeps its bounds until the next real solve, so
            # `solution()` still reads that optimum.
            return last
        changed = np.flatnonzero((lower != self._lower) | (upper != self._upper))
        for k in changed.tolist():
            self._vars[k].SetBounds(float(lower[k]), float(upper[k]))
        self._lower = lower.copy()
        self._upper = upper.copy()
        solver = self._solver
        solver.SetSolverSpecificParametersAsString(WARM if self._solved else FIRST)
        if left is not None:
            solver.set_time_limit(max(1, int(left * 1000)))
        status = solver.Solve()
        self.solves += 1
        self._solved = True
        lp = self._pywraplp.Solver
        if status == lp.OPTIMAL:
            y = np.array([v.solution_value() for v in self._vars], dtype=np.float64)
            self._last = Node("optimal", float(solver.Objective().Value()), y)
            return self._last
        self._last = None
        word = "infeasible" if status == lp.INFEASIBLE else f"GLOP status {status}"
        return Node(word, float("-inf"), np.zeros(0))

    def solution(self) -> tuple[FloatArray, FloatArray]:
        """Every variable's value and every row's dual of the last (optimal) solve, in the
        model's order; the duals with the sign of `matching.glop.solve_lp`'s."""
        # one response message (`MPSolver::FillSolutionResponseProto` reads the same
        # `solution_value()` and `dual_value()` of every variable and row) instead of a
        # Python call per variable: ≈ 0.4 s less at the day-ahead scale
        response = self._pb2.MPSolutionResponse()
        self._solver.FillSolutionResponseProto(response)
        values = np.array(response.variable_value, dtype=np.float64)
        duals = np.array(response.dual_value, dtype=np.float64)
        return values, duals


@dataclass(frozen=True, slots=True)
class Leaf:
    """A node of a finished search that was not branched on: its on/off bounds, an upper
    bound on the welfare of every decision within them, and its LP's on/off optimum `y`
    (None when `bound` is only an upper bound carried over from an earlier round and the
    node's LP has not been solved since)."""

    bound: float
    lower: FloatArray
    upper: FloatArray
    y: FloatArray | None


@dataclass(frozen=True, slots=True)
class Search:
    """What the search found: `on` (empty when nothing feasible was found), its welfare, the
    best bound left open when it stopped, the nodes solved, and why it stopped early
    ("" when it finished). When it finished, `leaves` cover every decision within the
    search's bounds that was not proved infeasible (`restrict` carries them to a narrower
    search), and `costs` are the pseudo-costs it learnt."""

    on: np.ndarray
    welfare: float
    bound: float
    nodes: int
    stopped: str
    leaves: tuple[Leaf, ...] = ()
    costs: PseudoCosts | None = None


def restrict(leaves: tuple[Leaf, ...], lower: FloatArray, upper: FloatArray) -> list[Leaf]:
    """A finished search's leaves within narrower on/off bounds (a later round of the block
    rule forbids a block): a leaf that no longer meets them is dropped; one whose LP optimum
    still lies within them keeps it (an optimum stays optimal when only bounds it satisfies
    are added: exact); any other keeps its bound as an upper bound, to be solved when the
    search reaches it. Together they still cover every decision within the new bounds."""
    out: list[Leaf] = []
    for leaf in leaves:
        lo = np.maximum(leaf.lower, lower)
        hi = np.minimum(leaf.upper, upper)
        if bool((lo > hi).any()):
            continue
        y = leaf.y
        if y is not None and not bool(((lo <= y) & (y <= hi)).all()):
            y = None
        out.append(Leaf(leaf.bound, lo, hi, y))
    return out


def branch_and_bound(
    lp: WarmLp,
    root: Node,
    lower: FloatArray,
    upper: FloatArray,
    incumbent: tuple[np.ndarray, float] | None,
    gap: float,
    max_nodes: int,
    left: Any,
    start: list[Leaf] | None = None,
    costs: PseudoCosts | None = None,
) -> Search:
    """Best-bound-first search over the on/off variables from `root` (the relaxation with
    `lower`/`upper`), or from the leaves `start` of an earlier search (`restrict`) when
    given, starting from `incumbent` (decisions, welfare) if any. Branches by pseudo-costs
    (`PseudoCosts`, `costs` if given), the child towards the rounded value first; until the
    first incumbent it dives (depth first) into the child with the higher bound. Stops when
    every open node's bound is within `gap` of the incumbent, or after `max_nodes` node LPs,
    or when `left()` (seconds, None = no limit) runs out."""
    best_on = None if incumbent is None else incumbent[0]
    best = float("-inf") if incumbent is None else incumbent[1]
    # (−bound, sequence, lower, upper, y or None: a leaf carried over, not solved yet)
    heap: list[tuple[float, int, FloatArray, FloatArray, FloatArray | None]] = []
    leaves: list[Leaf] = []
    seq = 0
    nodes = 0
    costs = PseudoCosts(root.y.shape[0]) if costs is None else costs
    current: tuple[float, FloatArray, FloatArray, FloatArray] | None = None
    if start is None:
        current = (root.objective, lower, upper, root.y)
    else:
        for leaf in start:
            y = leaf.y
            if y is not None and bool((np.abs(y - np.round(y)) <= INTEGRAL).all()):
                # an integral LP optimum: the best decision within its bounds
                leaves.append(leaf)
                if leaf.bound > best:
                    best, best_on = leaf.bound, np.round(y) > 0.5
                continue
            heapq.heappush(heap, (-leaf.bound, seq, leaf.lower, leaf.upper, y))
            seq += 1
    while True:
        if current is None:
            if not heap:
                break
            neg, _, lo, hi, y_or = heapq.heappop(heap)
            if y_or is None and -neg > best + gap:
                # a carried-over leaf whose optimum the narrower bounds cut off: solve it
                rest = left()
                if rest is not None and rest <= 0:
                    return Search(_on(best_on), best, _open_bound(heap, -neg), nodes, "time")
                node = lp.solve(lo, hi, rest)
                nodes += 1
                if node.status == "infeasible":
                    continue
                if not node.optimal:
                    return Search(_on(best_on), best, _open_bound(heap, -neg), nodes, node.status)
                if node.integral and node.objective > best + gap:
                    best, best_on = node.objective, np.round(node.y) > 0.5
                if node.integral or node.objective <= best + gap:
                    leaves.append(Leaf(node.objective, lo, hi, node.y))
                    if nodes >= max_nodes:
                        return Search(_on(best_on), best, _open_bound(heap, -neg), nodes, "nodes")
                    continue
                current = (node.objective, lo, hi, node.y)
            elif y_or is None:
                leaves.append(Leaf(-neg, lo, hi, None))
                continue
            else:
                current = (-neg, lo, hi, y_or)
        bound, lo, hi, y = current
        current = None
        if bound <= best + gap:
            leaves.append(Leaf(bound, lo, hi, y))
            # best-bound first: every other open node is at most the heap's top
            if best_on is not None and (not heap or -heap[0][0] <= best + gap):
                break
            continue
        k = costs.choose(y)
        first = float(np.round(y[k]))
        dive: tuple[float, FloatArray, FloatArray, FloatArray] | None = None
        for v in (first, 1.0 - first):
            c_lo, c_hi = lo.copy(), hi.copy()
            c_lo[k] = c_hi[k] = v
            rest = left()
            if rest is not None and rest <= 0:
                return Search(_on(best_on), best, _open_bound(heap, bound), nodes, "time")
            node = lp.solve(c_lo, c_hi, rest)
            nodes += 1
            if node.status == "infeasible":
                costs.infeasible(k, v, y[k])
                continue
            if not node.optimal:
                return Search(_on(best_on), best, _open_bound(heap, bound), nodes, node.status)
            costs.record(k, v, y[k], bound - node.objective)
            if node.objective <= best + gap:
                leaves.append(Leaf(node.objective, c_lo, c_hi, node.y))
                continue
            if node.integral:
                best, best_on = node.objective, np.round(node.y) > 0.5
                leaves.append(Leaf(node.objective, c_lo, c_hi, node.y))
                continue
            child: tuple[float, FloatArray, FloatArray, FloatArray] | None = (
                node.objective, c_lo, c_hi, node.y
            )  # fmt: skip
            if best_on is None and (dive is None or node.objective > dive[0]):
                # dive into the child with the higher bound; the other waits in the heap
                child, dive = dive, child
            if child is not None:
                heapq.heappush(heap, (-child[0], seq, child[1], child[2], child[3]))
                seq += 1
        if nodes >= max_nodes:
            if dive is not None:
                heapq.heappush(heap, (-dive[0], seq, dive[1], dive[2], dive[3]))
            return Search(_on(best_on), best, _open_bound(heap, bound), nodes, "nodes")
        if dive is not None and best_on is not None:
            # the dive's sibling found the first incumbent: the dive child waits its turn
            heapq.heappush(heap, (-dive[0], seq, dive[1], dive[2], dive[3]))
            seq += 1
            dive = None
        current = dive
    leaves.extend(Leaf(-h[0], h[2], h[3], h[4]) for h in heap)
    return Search(
        _on(best_on),
        best,
        best if best_on is not None else float("-inf"),
        nodes,
        "",
        tuple(leaves),
        costs,
    )


def dive(
    lp: WarmLp,
    root: Node,
    lower: FloatArray,
    upper: FloatArray,
    group: IntArray,
    max_nodes: int,
) -> tuple[np.ndarray, float, int]:
    """An incumbent by fixing and re-solving (docs/clearing.md, "Block orders", step 1(b′)):
    from `root`, fix the fractional on/off value nearest to 0 or 1 (ties: the first) and
    re-solve, leaving the others free, until the LP is integral. An exclusive group with a
    fractional member is decided whole:
    its member with the largest relaxed value (ties: the first) is fixed on when the group's
    relaxed total is at least ½, the others off; else its fractional members are fixed off.
    An ungrouped block goes to the nearer of 0 and 1 (½ up). If a step is infeasible its
    blocks are fixed off instead. Returns (decisions, welfare, node LPs); the decisions are
    empty when no incumbent was found within `max_nodes` node LPs."""
    lo, hi = lower.copy(), upper.copy()
    node = root
    nodes = 0
    while nodes < max_nodes:
        y = node.y
        frac = np.abs(y - np.round(y)) > INTEGRAL
        if not frac.any():
            return np.round(y) > 0.5, node.objective, nodes
        fix = np.flatnonzero(frac)
        # only the fractional value nearest to 0 or 1 (ties: the first), with its group's
        k = int(fix[np.argmin(np.abs(y[fix] - np.round(y[fix])))])
        fix = np.flatnonzero(frac & (group == group[k])) if group[k] >= 0 else fix[fix == k]
        value = np.round(y[fix])
        grouped = group[fix] >= 0
        value[grouped] = 0.0
        for g in np.unique(group[fix[grouped]]).tolist():
            members = np.flatnonzero((group == g) & (lo < hi))
            if members.shape[0] == 0:
                continue
            best = int(members[np.argmax(y[members])])  # ties: the first in canonical order
            if float(y[members].sum()) >= 0.5:
                lo[members] = hi[members] = 0.0
                lo[best] = hi[best] = 1.0
                value[fix == best] = 1.0
        lo[fix] = hi[fix] = value
        node = lp.solve(lo, hi, None)
        nodes += 1
        if node.status == "infeasible" and nodes < max_nodes:
            # every block this step fixed on is fixed off instead
            changed = np.zeros(lo.shape[0], dtype=np.bool_)
            changed[fix] = True
            changed |= np.isin(group, group[fix[grouped]])
            turned = changed & (lo > 0.5)
            lo[turned] = hi[turned] = 0.0
            node = lp.solve(lo, hi, None)
            nodes += 1
        if not node.optimal:
            break
    return np.zeros(0, dtype=np.bool_), float("-inf"), nodes


class PseudoCosts:
    """Pseudo-costs: the average loss of bound per unit of change of each on/off variable,
    up and down, learnt from the children solved so far. The branching variable maximises
    max(down loss, ε) × max(up loss, ε) (the usual product rule; a variable not yet
    branched on gets the average of those that were, before any, its fractionality);
    ties: the first. An infeasible child counts as a large loss."""

    def __init__(self, n: int) -> None:
        self.total = np.zeros((2, n))
        self.count = np.zeros((2, n))

    def record(self, k: int, value: float, y: float, loss: float) -> None:
        side = int(value > 0.5)
        change = max(abs(value - y), INTEGRAL)
        self.total[side, k] += max(loss, 0.0) / change
        self.count[side, k] += 1

    def infeasible(self, k: int, value: float, y: float) -> None:
        seen = self.count > 0
        big = 10.0 * float(self.total[seen].sum() / self.count[seen].sum()) if seen.any() else 1.0
        self.record(k, value, y, big * max(abs(value - y), INTEGRAL))

    def choose(self, y: FloatArray) -> int:
        frac = np.abs(y - np.round(y))
        cand = frac > INTEGRAL
        seen = self.count > 0
        if not seen.any():
            return int(np.argmax(np.where(cand, frac, -1.0)))
        mean = np.where(seen, self.total / np.maximum(self.count, 1.0), np.nan)
        avg = np.array([np.nanmean(row) if np.isfinite(row).any() else 1.0 for row in mean])
        unit = np.where(seen, mean, avg[:, None])
        down = unit[0] * y
        up = unit[1] * (1.0 - y)
        score = np.maximum(down, 1e-6) * np.maximum(up, 1e-6)
        return int(np.argmax(np.where(cand, score, -1.0)))


def _on(on: np.ndarray | None) -> np.ndarray:
    return np.zeros(0, dtype=np.bool_) if on is None else on


def _open_bound(heap: list[Any], bound: float) -> float:
    return float(max([bound] + [-h[0] for h in heap]))


__all__ = [
    "Leaf",
    "Node",
    "PseudoCosts",
    "Search",
    "WarmLp",
    "branch_and_bound",
    "dive",
    "restrict",
]
