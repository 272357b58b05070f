"""The final result is checked before it is called optimal.

Feasibility in absolute kWh (bounds, nodal balance, Kirchhoff's voltage law), budget balance
(congestion rent ≥ 0) and the prices' consistency with the acceptances (no order accepted
against its price, none rejected in its favour; the transport model's line conditions). A
failed check makes the result `error` with the check's own words: a wrong result is never
published as optimal.

Tolerances: 1e-6 kWh, plus 1e-13 of the energy through the node (a float carries 16
significant digits, so a node trading 1e12 kWh is only resolved to ~1e-4 kWh); prices to
1e-9 PLN/kWh relative.
"""

from __future__ import annotations

import numpy as np

from matching.network import Topology
from matching.problem import ClearingProblem, FloatArray, IntArray
from matching.steps import Steps

FEASIBILITY_KWH = 1e-6
RELATIVE = 1e-13
PRICE_TOL = 1e-9


def check_result(
    problem: ClearingProblem,
    topo: Topology,
    steps: Steps,
    x: FloatArray,
    accepted: FloatArray,
    flow: FloatArray,
    imports: FloatArray,
    exports: FloatArray,
    price: FloatArray,
    rent: float,
) -> str | None:
    """None when every check holds, else what failed (one sentence)."""
    book = problem.orders
    n = topo.n_nodes
    names = [node.id for node in problem.network.nodes]
    if (accepted < 0).any() or (accepted > book.quantity_kwh).any():
        return "an order's accepted energy is outside [0, quantity]"
    limit = topo.line_limit_kwh
    if (np.abs(flow) > limit).any():
        return "a line flow exceeds its limit"
    if (imports < 0).any() or (imports > topo.import_limit_kwh).any():
        return "a grid import is outside its limit"
    if (exports < 0).any() or (exports > topo.export_limit_kwh).any():
        return "a grid export is outside its limit"

    def per_node(idx: IntArray, weights: FloatArray) -> FloatArray:
        out: FloatArray = np.bincount(idx, weights=weights, minlength=n).astype(np.float64)
        return out

    signed = np.where(book.is_buy, -accepted, accepted)
    balance = per_node(book.node, signed) + per_node(topo.grid_node, imports - exports)
    balance += per_node(topo.line_to, flow) - per_node(topo.line_from, flow)
    through = per_node(book.node, accepted) + per_node(topo.grid_node, imports + exports)
    through += per_node(topo.line_to, np.abs(flow)) + per_node(topo.line_from, np.abs(flow))
    bad = np.abs(balance) > FEASIBILITY_KWH + RELATIVE * through
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        return f"node {names[k]!r} is out of balance by {balance[k]:.3g} kWh"
    cyc = topo.cycles
    if cyc is not None and cyc.n_cycles:
        terms = cyc.coefficient * flow[cyc.line]
        kvl = np.bincount(cyc.row, weights=terms, minlength=cyc.n_cycles).astype(np.float64)
        size = np.bincount(cyc.row, weights=np.abs(terms), minlength=cyc.n_cycles)
        if (np.abs(kvl) > FEASIBILITY_KWH + 1e-9 * size).any():
            return "the flows break Kirchhoff's voltage law"
    paid = float(np.dot(price[book.node], np.where(book.is_buy, accepted, 0.0)))
    if rent < -(FEASIBILITY_KWH + 1e-12 * abs(paid)):
        return f"the congestion rent is negative ({rent:.3g} PLN)"
    # prices against acceptances, step by step (steps hold the orders' limit prices)
    lam = price[steps.node]
    tol = PRICE_TOL * np.maximum(1.0, np.abs(steps.price))
    buy = steps.is_buy
    full = x >= steps.quantity_kwh
    none = x <= 0
    above = steps.price > lam + tol
    below = steps.price < lam - tol
    if (buy & above & ~full).any() or (~buy & below & ~full).any():
        return "an order in the money is not fully accepted at the chosen prices"
    if (buy & below & ~none).any() or (~buy & above & ~none).any():
        return "an order out of the money is accepted at the chosen prices"
    g_lam = price[topo.grid_node]
    g_tol = PRICE_TOL * np.maximum(1.0, np.abs(g_lam))
    if (
        ((imports > 0) & (g_lam < topo.import_price - g_tol)).any()
        or ((imports < topo.import_limit_kwh) & (g_lam > topo.import_price + g_tol)).any()
        or ((exports > 0) & (g_lam > topo.export_price + g_tol)).any()
        or ((exports < topo.export_limit_kwh) & (g_lam < topo.export_price - g_tol)).any()
    ):
        return "the grid connection trades against the chosen prices"
    if not topo.dc_flow and topo.n_lines:
        d = price[topo.line_to] - price[topo.line_from]
        l_tol = PRICE_TOL * np.maximum(1.0, np.abs(price[topo.line_to]))
        at_pos = flow >= limit
        at_neg = flow <= -limit
        if ((d > l_tol) & ~at_pos).any() or ((d < -l_tol) & ~at_neg).any():
            return "a line is not at its limit although the prices at its ends differ"
    return None
