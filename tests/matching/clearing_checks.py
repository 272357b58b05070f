"""Assertions shared by the matching tests: the rules every clearing result must satisfy."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from matching import GRID, ClearingProblem, ClearingResult, Status

TOL = 1e-6


def assert_feasible(problem: ClearingProblem, r: ClearingResult) -> None:
    """Rule 1: bounds, nodal balance, line and grid limits (and KVL for DC) to 1e-6 kWh."""
    assert r.status is Status.OPTIMAL, r.reason
    book, net = problem.orders, problem.network
    h = problem.interval.minutes / 60.0
    acc = r.accepted_kwh
    assert (acc >= -TOL).all() and (acc <= book.quantity_kwh + TOL).all()
    idx = net.node_index()
    bal = np.zeros(len(net.nodes))
    np.add.at(bal, book.node, np.where(book.is_buy, -acc, acc))
    for j, ln in enumerate(net.lines):
        f = r.flow_kwh[j]
        assert abs(f) <= ln.capacity_kw * h + TOL, (ln, f)
        bal[idx[ln.from_node]] -= f
        bal[idx[ln.to_node]] += f
    for g, conn in enumerate(net.grid_connections):
        m, e = r.import_kwh[g], r.export_kwh[g]
        assert -TOL <= m <= conn.import_limit_kw * h + TOL
        assert -TOL <= e <= conn.export_limit_kw * h + TOL
        bal[idx[conn.node]] += m - e
    assert np.abs(bal).max(initial=0.0) <= TOL, bal
    if net.uses_dc_flow:
        # flows must come from node angles: solve for θ in least squares, check the residual
        n = len(net.nodes)
        a = np.zeros((len(net.lines), n))
        for j, ln in enumerate(net.lines):
            a[j, idx[ln.from_node]] = 1.0 / ln.reactance
            a[j, idx[ln.to_node]] = -1.0 / ln.reactance
        theta, *_ = np.linalg.lstsq(a, r.flow_kwh, rcond=None)
        assert np.abs(a @ theta - r.flow_kwh).max(initial=0.0) <= TOL


def assert_prices_consistent(problem: ClearingProblem, r: ClearingResult) -> None:
    """Rule 3: no paradoxically accepted or rejected order; equal prices across uncongested
    lines (transport model); the grid trades only on the right side of its prices."""
    book, net = problem.orders, problem.network
    lam = r.price[book.node]
    q, acc, p = book.quantity_kwh, r.accepted_kwh, book.price
    buy = book.is_buy
    above = p > lam + TOL
    below = p < lam - TOL
    assert np.all(np.abs(acc[buy & above] - q[buy & above]) <= TOL), "buy above price not filled"
    assert np.all(acc[buy & below] <= TOL), "buy below price accepted"
    assert np.all(np.abs(acc[~buy & below] - q[~buy & below]) <= TOL), "sell below price not filled"
    assert np.all(acc[~buy & above] <= TOL), "sell above price accepted"
    idx = net.node_index()
    h = problem.interval.minutes / 60.0
    if not net.uses_dc_flow:
        for j, ln in enumerate(net.lines):
            cap = ln.capacity_kw * h
            a, b = idx[ln.from_node], idx[ln.to_node]
            if abs(r.flow_kwh[j]) < cap - TOL:
                assert abs(r.price[a] - r.price[b]) <= TOL, (ln, r.price[a], r.price[b])
            elif cap > TOL and r.flow_kwh[j] > 0:
                assert r.price[b] >= r.price[a] - TOL
            elif cap > TOL:
                assert r.price[a] >= r.price[b] - TOL
    for g, conn in enumerate(net.grid_connections):
        lam_g = r.price[idx[conn.node]]
        if r.import_kwh[g] > TOL:
            assert lam_g >= conn.import_price - TOL
        if r.import_kwh[g] < conn.import_limit_kw * h - TOL:
            assert lam_g <= conn.import_price + TOL
        if r.export_kwh[g] > TOL:
            assert lam_g <= conn.export_price + TOL
        if r.export_kwh[g] < conn.export_limit_kw * h - TOL:
            assert lam_g >= conn.export_price - TOL


def assert_pro_rata(problem: ClearingProblem, r: ClearingResult) -> None:
    """Rule 5: orders at the same node, side and price get the same share (to 1 Wh)."""
    book = problem.orders
    groups: dict[tuple[int, bool, float], list[int]] = defaultdict(list)
    for k in range(len(book)):
        groups[(int(book.node[k]), bool(book.is_buy[k]), float(book.price[k]))].append(k)
    for members in groups.values():
        total_q = sum(book.quantity_kwh[k] for k in members)
        total_a = sum(r.accepted_kwh[k] for k in members)
        for k in members:
            fair = total_a * book.quantity_kwh[k] / total_q
            assert abs(r.accepted_kwh[k] - fair) <= 1e-3, (k, r.accepted_kwh[k], fair)


def assert_budget_and_trades(problem: ClearingProblem, r: ClearingResult) -> None:
    """Rule 7 and the trades: rent ≥ 0 equals line + connection rents; trades sum to every
    order's acceptance and to the grid's import/export, and follow the flows."""
    book, net = problem.orders, problem.network
    idx = net.node_index()
    lam = r.price
    line_rent = sum(
        r.flow_kwh[j] * (lam[idx[ln.to_node]] - lam[idx[ln.from_node]])
        for j, ln in enumerate(net.lines)
    )
    conn_rent = sum(
        r.import_kwh[g] * (lam[idx[c.node]] - c.import_price)
        + r.export_kwh[g] * (c.export_price - lam[idx[c.node]])
        for g, c in enumerate(net.grid_connections)
    )
    assert r.congestion_rent >= -TOL
    assert abs(r.congestion_rent - (line_rent + conn_rent)) <= 1e-6 * max(1.0, abs(line_rent))
    tr = r.trades
    sold = np.zeros(len(book))
    bought = np.zeros(len(book))
    grid_in = np.zeros(len(net.nodes))
    grid_out = np.zeros(len(net.nodes))
    assert (tr.quantity_kwh > 0).all()
    for s, b, sn, bn, qty in zip(
        tr.seller, tr.buyer, tr.seller_node, tr.buyer_node, tr.quantity_kwh, strict=True
    ):
        if s == GRID:
            grid_in[sn] += qty
        else:
            assert not book.is_buy[s] and book.node[s] == sn
            sold[s] += qty
        if b == GRID:
            grid_out[bn] += qty
        else:
            assert book.is_buy[b] and book.node[b] == bn
            bought[b] += qty
    acc = r.accepted_kwh
    assert np.allclose(sold[~book.is_buy], acc[~book.is_buy], atol=TOL)
    assert np.allclose(bought[book.is_buy], acc[book.is_buy], atol=TOL)
    for g, c in enumerate(net.grid_connections):
        assert abs(grid_in[idx[c.node]] - r.import_kwh[g]) <= TOL
        assert abs(grid_out[idx[c.node]] - r.export_kwh[g]) <= TOL
    # follow the flows: every inter-node trade goes from a to b along flow-directed lines
    succ: dict[int, set[int]] = defaultdict(set)
    for j, ln in enumerate(net.lines):
        f = r.flow_kwh[j]
        if f > 1e-9:
            succ[idx[ln.from_node]].add(idx[ln.to_node])
        elif f < -1e-9:
            succ[idx[ln.to_node]].add(idx[ln.from_node])
    for sn, bn in {(int(a), int(b)) for a, b in zip(tr.seller_node, tr.buyer_node, strict=True)}:
        if sn == bn:
            continue
        seen, stack = {sn}, [sn]
        while stack:
            u = stack.pop()
            for v in succ[u]:
                if v not in seen:
                    seen.add(v)
                    stack.append(v)
        assert bn in seen, f"trade {sn}->{bn} has no flow path"
    # the energy the trades move out of each node equals its net line outflow
    out_by_node = np.zeros(len(net.nodes))
    for sn, bn, qty in zip(tr.seller_node, tr.buyer_node, tr.quantity_kwh, strict=True):
        if sn != bn:
            out_by_node[sn] += qty
            out_by_node[bn] -= qty
    net_out = np.zeros(len(net.nodes))
    for j, ln in enumerate(net.lines):
        net_out[idx[ln.from_node]] += r.flow_kwh[j]
        net_out[idx[ln.to_node]] -= r.flow_kwh[j]
    assert np.allclose(out_by_node, net_out, atol=1e-5)
