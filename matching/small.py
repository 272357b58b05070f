"""The exact path for small one-node problems: plain Python, no numpy, no OR-Tools.

`klaster clear` on a tiny problem spent ~0.3 s importing numpy and OR-Tools before it read
the file (issue 12). A problem with one node, no lines and at most `MAX_ORDERS` orders is
cleared here instead, by the same documented rules and with the same float operations in
the same order as `matching.clear` (merit order in exact rational arithmetic; the price
rule; the tie rule's pro rata; allocation; the trades' tape), so its JSON is the same bytes
(property-tested against the OR-Tools path, `tests/matching/test_small_path.py`). The
`solver`/`reason` fields say `glop`/`GLOP: optimal` as that path does: they name the rule's
reference solve, whose answer this is.

Anything else — more nodes, lines, integer ids, a problem this path is not sure about
(values within float dust of a snapping threshold, magnitudes beyond 1e6 kWh, an empty
book) — returns None and is cleared by `matching.clear`, which also names any bad field.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

#: Largest book cleared here (the tape is built in plain Python).
MAX_ORDERS = 300
#: Kinds of keys a small problem may have (anything else goes to the full path).
_ROOT = {"interval", "network", "orders"}
_ORDER = {"id", "node", "side", "quantity_kwh", "price"}
_GRID = {"node", "import_price", "export_price", "import_limit_kw", "export_limit_kw"}
#: `matching.solve.SNAP_KWH`, `matching.canonical.TIE`, `matching.transfers.DUST_KWH`,
#: `matching.checks` tolerances, `matching.jsonio.DIGITS`: the same rules, the same numbers
SNAP_KWH = 1e-9
TIE = 1e-12
DUST_KWH = 1e-12
FEASIBILITY_KWH = 1e-6
RELATIVE = 1e-13
PRICE_TOL = 1e-9
DIGITS = 9
INF = math.inf


class _NotSmall(Exception):
    """This path is not sure: the full path clears the problem."""


def _pairwise(a: list[float], lo: int, n: int) -> float:
    """numpy's pairwise summation (`pairwise_sum_DOUBLE`), for the same bits."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    if n <= 128:
        r = a[lo : lo + 8]
        i = 8
        while i < n - (n % 8):
            for j in range(8):
                r[j] += a[lo + i + j]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n:
            res += a[lo + i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise(a, lo, n2) + _pairwise(a, lo + n2, n - n2)


def _reduceat_sum(a: list[float]) -> float:
    """`np.add.reduceat` over one segment: its first value plus the pairwise sum of the rest."""
    return a[0] if len(a) == 1 else a[0] + _pairwise(a, 1, len(a) - 1)


def _bincount(values: list[float]) -> float:
    """`np.bincount(..., weights)` into one bin: a running sum from 0.0."""
    out = 0.0
    for v in values:
        out += v
    return out


def _spacing(x: float) -> float:
    return math.ulp(abs(x))


def _clean(v: float, upper: float) -> float:
    """`matching.solve.clean` for one value in [0, upper]."""
    out = min(max(v, 0.0), upper)
    near_lo = out - 0.0 <= SNAP_KWH + 4 * _spacing(0.0)
    near_hi = upper - out <= SNAP_KWH + 4 * _spacing(upper)
    if near_lo:
        out = 0.0
    if near_hi and (not near_lo or upper - out < out - 0.0):
        out = upper
    return out


def _np_round(x: float) -> float | None:
    """`np.round(x, 9) + 0.0` (rint of x·1e9, divided by 1e9); None for ±inf/NaN."""
    if not math.isfinite(x):
        return None
    y = x * 1e9
    if not math.isfinite(y):
        return None
    return round(y) / 1e9 + 0.0


def _py_round(x: float) -> float:
    return float(round(x, DIGITS)) + 0.0


# --------------------------------------------------------------------------------------
# reading: a strict subset of the problem format; on any doubt the full path reads it


def _number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _NotSmall
    try:
        out = float(v)
    except OverflowError:
        raise _NotSmall from None
    if not math.isfinite(out):
        raise _NotSmall
    return out


def _text_id(v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise _NotSmall
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: the full path names the field
        raise _NotSmall from None
    return v


class _Problem:
    __slots__ = ("buy", "grid", "grid_kw", "ids", "minutes", "node", "price", "qty", "start")

    def __init__(self, data: Any) -> None:
        if not isinstance(data, dict) or set(data) != _ROOT:
            raise _NotSmall
        iv, net, orders = data["interval"], data["network"], data["orders"]
        if not isinstance(iv, dict) or not set(iv) <= {"start", "minutes"}:
            raise _NotSmall
        start = iv.get("start")
        if not isinstance(start, str):
            raise _NotSmall
        try:
            parsed = datetime.fromisoformat(start)
        except ValueError:
            raise _NotSmall from None
        self.start = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
        minutes = iv.get("minutes", 15)
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 < minutes <= 1440:
            raise _NotSmall
        self.minutes = minutes
        if not isinstance(net, dict) or not set(net) <= {"nodes", "lines", "grid_connections"}:
            raise _NotSmall
        nodes = net.get("nodes")
        if not isinstance(nodes, list) or len(nodes) != 1:
            raise _NotSmall
        if not isinstance(nodes[0], dict) or set(nodes[0]) != {"id"}:
            raise _NotSmall
        self.node = _text_id(nodes[0]["id"])
        if net.get("lines") not in (None, []):
            raise _NotSmall
        hours = minutes / 60.0
        grid = net.get("grid_connections")
        self.grid: list[tuple[float, float, float, float]] = []
        #: the grid connections' (prices, limits in kW): the canonical order sorts by them
        self.grid_kw: list[tuple[float, float, float, float]] = []
        if grid not in (None, []):
            if not isinstance(grid, list):
                raise _NotSmall
            for g in grid:
                if not isinstance(g, dict) or set(g) != _GRID or g["node"] != self.node:
                    raise _NotSmall
                ip, ep = _number(g["import_price"]), _number(g["export_price"])
                il, el = _number(g["import_limit_kw"]), _number(g["export_limit_kw"])
                if il < 0 or el < 0:
                    raise _NotSmall
                self.grid.append((ip, ep, il * hours, el * hours))
                self.grid_kw.append((ip, ep, il, el))
        if not isinstance(orders, list) or not 0 < len(orders) <= MAX_ORDERS:
            raise _NotSmall
        self.ids: list[str] = []
        self.buy: list[bool] = []
        self.qty: list[float] = []
        self.price: list[float] = []
        for o in orders:
            if not isinstance(o, dict) or set(o) != _ORDER or o["node"] != self.node:
                raise _NotSmall
            side = o["side"]
            if side not in ("buy", "sell"):
                raise _NotSmall
            q = _number(o["quantity_kwh"])
            if not q > 0:
                raise _NotSmall
            self.ids.append(_text_id(o["id"]))
            self.buy.append(side == "buy")
            self.qty.append(q)
            self.price.append(_number(o["price"]))
        if len(set(self.ids)) != len(self.ids):
            raise _NotSmall
        sizes = self.qty + [v for g in self.grid for v in g[2:] if v > 0]
        prices = self.price + [v for g in self.grid for v in g[:2]]
        if max(sizes) > 1e6 or min(sizes) < 1e-6 or max(map(abs, prices)) > 1e6:
            raise _NotSmall  # wide magnitudes: GLOP may need re-solves; the full path says so


# --------------------------------------------------------------------------------------
# clearing


def _merit_order(
    supply: list[tuple[float, int, float]], demand: list[tuple[float, int, float]]
) -> dict[int, Fraction]:
    """An optimal acceptance in exact arithmetic: (price, key, capacity) per side; the
    cheapest supply meets the dearest demand while the demand pays more."""
    out = {key: Fraction(0) for _, key, _ in supply + demand}
    s = sorted(supply, key=lambda t: t[0])
    d = sorted(demand, key=lambda t: -t[0])
    i = j = 0
    left_s = Fraction(s[0][2]) if s else Fraction(0)
    left_d = Fraction(d[0][2]) if d else Fraction(0)
    while i < len(s) and j < len(d) and d[j][0] > s[i][0]:
        take = min(left_s, left_d)
        out[s[i][1]] += take
        out[d[j][1]] += take
        left_s -= take
        left_d -= take
        if left_s == 0:
            i += 1
            left_s = Fraction(s[i][2]) if i < len(s) else Fraction(0)
        if left_d == 0:
            j += 1
            left_d = Fraction(d[j][2]) if j < len(d) else Fraction(0)
    return out


def _solved(exact: Fraction, upper: float) -> float:
    """The exact optimum as GLOP's cleaned value would be; not sure near a snapping edge."""
    v = float(exact)
    for gap in (v, upper - v):
        if gap > 0 and abs(gap - SNAP_KWH) <= 1e-3 * SNAP_KWH + 8 * _spacing(upper):
            raise _NotSmall
    return _clean(v, upper)


def _tied(price: float, lam: float) -> tuple[bool, bool, bool]:
    tol = TIE * max(1.0, abs(price))
    tied = abs(price - lam) <= tol
    return tied, (price > lam) and not tied, (price < lam) and not tied


def clear_small(data: Any, *, timings: bool = True) -> dict[str, Any] | None:
    """The result's JSON form (as `matching.jsonio.result_to_dict` writes it) for a small
    one-node problem; None when the full path must clear it."""
    try:
        return _clear(data, timings)
    except _NotSmall:
        return None


def _clear(data: Any, with_timings: bool) -> dict[str, Any]:
    t_all = time.perf_counter()
    p = _Problem(data)
    n_o = len(p.ids)
    # the canonical writing (`matching.labelling`): orders by (side: sell first, price,
    # quantity, input position); grid connections by (prices, limits, input position)
    corder = sorted(range(n_o), key=lambda k: (p.buy[k], p.price[k], p.qty[k], k))
    buy = [p.buy[k] for k in corder]
    qty = [p.qty[k] for k in corder]
    price = [p.price[k] for k in corder]
    gperm = sorted(range(len(p.grid)), key=lambda g: (p.grid_kw[g], g))
    grid = [p.grid[g] for g in gperm]
    ip = [g[0] for g in grid]
    ep = [g[1] for g in grid]
    il = [g[2] for g in grid]
    el = [g[3] for g in grid]
    n_g = len(grid)
    # steps (`matching.steps.aggregate`): (buy first, price); listing (buy first, price,
    # position); step totals summed smallest first
    listing = sorted(range(n_o), key=lambda k: (not buy[k], price[k], k))
    step_keys: list[tuple[bool, float]] = []
    order_step = [0] * n_o
    for k in listing:
        key = (buy[k], price[k])
        if not step_keys or step_keys[-1] != key:
            step_keys.append(key)
        order_step[k] = len(step_keys) - 1
    by_size = sorted(range(n_o), key=lambda k: (not buy[k], price[k], qty[k], k))
    members: list[list[float]] = [[] for _ in step_keys]
    for k in by_size:
        members[order_step[k]].append(qty[k])
    s_buy = [b for b, _ in step_keys]
    s_price = [pr for _, pr in step_keys]
    s_qty = [_reduceat_sum(m) for m in members]
    n_s = len(step_keys)
    build_ms = (time.perf_counter() - t_all) * 1000.0

    # an optimal primal (exactly), cleaned as GLOP's would be
    t0 = time.perf_counter()
    supply = [(s_price[i], i, s_qty[i]) for i in range(n_s) if not s_buy[i]]
    supply += [(ip[g], n_s + g, il[g]) for g in range(n_g) if il[g] > 0]
    demand = [(s_price[i], i, s_qty[i]) for i in range(n_s) if s_buy[i]]
    demand += [(ep[g], n_s + n_g + g, el[g]) for g in range(n_g) if el[g] > 0]
    exact = _merit_order(supply, demand)
    zero = Fraction(0)
    x = [_solved(exact.get(i, zero), s_qty[i]) for i in range(n_s)]
    m = [_solved(exact.get(n_s + g, zero), il[g]) for g in range(n_g)]
    e = [_solved(exact.get(n_s + n_g + g, zero), el[g]) for g in range(n_g)]
    solve_ms = (time.perf_counter() - t0) * 1000.0

    # the price rule (`matching.prices`): the node's range from complementary slackness,
    # its target the midpoint clipped to the problem's price span
    t0 = time.perf_counter()
    lo, hi = -INF, INF
    for i in range(n_s):
        zero_i, full_i = x[i] <= 0.0, x[i] >= s_qty[i]
        ge = (s_buy[i] and not full_i) or (not s_buy[i] and not zero_i)
        le = (s_buy[i] and not zero_i) or (not s_buy[i] and not full_i)
        if ge:
            lo = max(lo, s_price[i])
        if le:
            hi = min(hi, s_price[i])
    for g in range(n_g):
        iz, ifull = m[g] <= 0.0, m[g] >= il[g]
        ez, efull = e[g] <= 0.0, e[g] >= el[g]
        if not iz:
            lo = max(lo, ip[g])
        if not ifull:
            hi = min(hi, ip[g])
        if not efull:
            lo = max(lo, ep[g])
        if not ez:
            hi = min(hi, ep[g])
    if lo > hi:
        if lo > hi + 1e-9 * max(1.0, abs(lo), abs(hi)):
            raise _NotSmall  # the full path reports the rule's error
        lo = hi = 0.5 * (lo + hi)
    all_prices = s_price + ip + ep
    p_lo, p_hi = min(all_prices), max(all_prices)
    a, b = max(lo, p_lo), min(hi, p_hi)
    lam = 0.5 * (a + b) if a <= b else (hi if hi < p_lo else lo)

    # the tie rule (`matching.canonical.canonical_primal`): one zone, pro rata
    x_new = [0.0] * n_s
    tied_s = [False] * n_s
    for i in range(n_s):
        t, above, below = _tied(s_price[i], lam)
        tied_s[i] = t
        if (s_buy[i] and above) or (not s_buy[i] and below):
            x_new[i] = s_qty[i]
    m_new, e_new = [0.0] * n_g, [0.0] * n_g
    i_tied, e_tied = [False] * n_g, [False] * n_g
    for g in range(n_g):
        t, _, below = _tied(ip[g], lam)
        if below:
            m_new[g] = il[g]
        i_tied[g] = t and il[g] > 0
        t, above, _ = _tied(ep[g], lam)
        if above:
            e_new[g] = el[g]
        e_tied[g] = t and el[g] > 0
    el_sign = [(-1.0 if s_buy[i] else 1.0) for i in range(n_s) if tied_s[i]]
    el_sign += [1.0] * sum(i_tied) + [-1.0] * sum(e_tied)
    el_cap = [s_qty[i] for i in range(n_s) if tied_s[i]]
    el_cap += [il[g] for g in range(n_g) if i_tied[g]]
    el_cap += [el[g] for g in range(n_g) if e_tied[g]]
    inj_steps = _bincount(
        [(-1.0 if s_buy[i] else 1.0) * (0.0 if tied_s[i] else x_new[i]) for i in range(n_s)]
    )
    inj_grid = _bincount(
        [(0.0 if i_tied[g] else m_new[g]) - (0.0 if e_tied[g] else e_new[g]) for g in range(n_g)]
    )
    injection = inj_steps + inj_grid
    fixed = ((0.0 + injection) + 0.0) - 0.0
    scale = ((0.0 + abs(injection)) + 0.0) + 0.0
    need = -fixed
    if abs(need) <= 1e-14 * scale:
        need = 0.0
    s_cap = _bincount([c if s > 0 else 0.0 for s, c in zip(el_sign, el_cap, strict=True)])
    d_cap = _bincount([0.0 if s > 0 else c for s, c in zip(el_sign, el_cap, strict=True)])
    covered = s_cap if need > 0 else (d_cap if need < 0 else 0.0)
    if not abs(need) <= covered * (1 + 1e-12) + 1e-12:
        raise _NotSmall  # the full path's leximin LPs
    s_share = need / s_cap if need > 0 and s_cap > 0 else 0.0
    d_share = -need / d_cap if need < 0 and d_cap > 0 else 0.0
    value = []
    for s, c in zip(el_sign, el_cap, strict=True):
        share = min(s_share if s > 0 else d_share, 1.0)
        value.append(c if share >= 1.0 else c * share)
    if len(el_cap) > 1:  # not unique: the flow step checks the zone's balance
        after = injection + _bincount([s * v for s, v in zip(el_sign, value, strict=True)])
        after = (after + 0.0) - 0.0
        x_all, it_v = list(x_new), iter(value)
        for i in range(n_s):
            if tied_s[i]:
                x_all[i] = next(it_v)
        m_all = [next(it_v) if i_tied[g] else m_new[g] for g in range(n_g)]
        e_all = [next(it_v) if e_tied[g] else e_new[g] for g in range(n_g)]
        through = _bincount(x_all) + _bincount([a + b for a, b in zip(m_all, e_all, strict=True)])
        through = (through + 0.0) + 0.0
        allow = (1e-9 + 1e-12 * (1.0 + abs(after))) + 1e-13 * (0.0 + through)
        if abs(0.0 + after) > allow:
            raise _NotSmall
    it = iter(value)
    for i in range(n_s):
        if tied_s[i]:
            x_new[i] = next(it)
    for g in range(n_g):
        if i_tied[g]:
            m_new[g] = next(it)
    for g in range(n_g):
        if e_tied[g]:
            e_new[g] = next(it)
    prices_ms = (time.perf_counter() - t0) * 1000.0

    # allocation (`matching.steps.allocate_pro_rata`)
    t0 = time.perf_counter()
    accepted = []
    for k in range(n_o):
        st = order_step[k]
        share = min(max(x_new[st] / s_qty[st], 0.0), 1.0)
        accepted.append(qty[k] if share >= 1.0 else qty[k] * share)
    alloc_ms = (time.perf_counter() - t0) * 1000.0

    t0 = time.perf_counter()
    pieces = _trades(listing, buy, accepted, price, qty, ip, ep, il, el, m_new, e_new)
    trades_ms = (time.perf_counter() - t0) * 1000.0

    # welfare and rent (`matching.clearing`: correctly rounded sums)
    grid_terms = [-(ip[g] * m_new[g]) for g in range(n_g)] + [ep[g] * e_new[g] for g in range(n_g)]
    welfare = math.fsum(
        [(price[k] if buy[k] else -price[k]) * accepted[k] for k in range(n_o)] + grid_terms
    )
    rent = math.fsum([(lam if buy[k] else -lam) * accepted[k] for k in range(n_o)] + grid_terms)
    welfare += 0.0
    rent += 0.0
    _check(buy, accepted, qty, x_new, s_buy, s_price, s_qty, lam, m_new, e_new, grid, rent)

    # the JSON form (`matching.jsonio.result_to_dict`), in the input's order
    back = [0] * n_o
    for c, k in enumerate(corder):
        back[k] = c
    acc_in = [accepted[back[k]] for k in range(n_o)]
    gback = [0] * n_g
    for c, g in enumerate(gperm):
        gback[g] = c
    lam_r = _np_round(lam)

    def id_key(owner: int) -> tuple[int, str]:
        return (1, "") if owner < 0 else (0, p.ids[corder[owner]])

    # within a piece the members of a class by id (`matching.clearing._restore`)
    pieces.sort(key=lambda t: (t[0], id_key(t[1]), id_key(t[2])))
    trades = []
    for _, s_owner, b_owner, q in pieces:
        s_id = None if s_owner < 0 else p.ids[corder[s_owner]]
        b_id = None if b_owner < 0 else p.ids[corder[b_owner]]
        trades.append(
            {
                "seller": s_id,
                "seller_kind": "grid" if s_id is None else "order",
                "seller_node": p.node,
                "buyer": b_id,
                "buyer_kind": "grid" if b_id is None else "order",
                "buyer_node": p.node,
                "quantity_kwh": _np_round(q),
                "seller_price": lam_r,
                "buyer_price": lam_r,
            }
        )
    out: dict[str, Any] = {
        "status": "optimal",
        "reason": "GLOP: optimal",
        "solver": "glop",
        "flow_model": "transport",
        "interval": {"start": p.start.isoformat(), "minutes": p.minutes},
        "price_unit": "PLN/kWh",
        "energy_unit": "kWh",
        "orders": [
            {"id": i, "accepted_kwh": _np_round(a)} for i, a in zip(p.ids, acc_in, strict=True)
        ],
        "nodes": [
            {"id": p.node, "price": lam_r, "price_low": _np_round(lo), "price_high": _np_round(hi)}
        ],
        "lines": [],
        "grid_connections": [
            {
                "node": p.node,
                "import_kwh": _np_round(m_new[gback[g]]),
                "export_kwh": _np_round(e_new[gback[g]]),
            }
            for g in range(n_g)
        ],
        "welfare": _py_round(welfare),
        "congestion_rent": _py_round(rent),
        "trades": trades,
    }
    if with_timings:
        total = (time.perf_counter() - t_all) * 1000.0
        out["timings"] = {
            "build_ms": round(build_ms, 3),
            "solve_ms": round(solve_ms, 3),
            "prices_ms": round(prices_ms, 3),
            "allocation_ms": round(alloc_ms, 3),
            "trades_ms": round(trades_ms, 3),
            "total_ms": round(total, 3),
        }
    return out


def _check(
    buy: list[bool],
    accepted: list[float],
    qty: list[float],
    x: list[float],
    s_buy: list[bool],
    s_price: list[float],
    s_qty: list[float],
    lam: float,
    m: list[float],
    e: list[float],
    grid: list[tuple[float, float, float, float]],
    rent: float,
) -> None:
    """`matching.checks.check_result` for one node; a failure goes to the full path (which
    then reports the failed check)."""
    if any(a < 0 or a > q for a, q in zip(accepted, qty, strict=True)):
        raise _NotSmall
    if any(not 0 <= v <= g[2] for v, g in zip(m, grid, strict=True)) or any(
        not 0 <= v <= g[3] for v, g in zip(e, grid, strict=True)
    ):
        raise _NotSmall
    balance = _bincount([(-a if b else a) for a, b in zip(accepted, buy, strict=True)])
    balance += _bincount([mi - ei for mi, ei in zip(m, e, strict=True)])
    through = _bincount(accepted) + _bincount([mi + ei for mi, ei in zip(m, e, strict=True)])
    if abs(balance) > FEASIBILITY_KWH + RELATIVE * through:
        raise _NotSmall
    paid = sum(lam * a for a, b in zip(accepted, buy, strict=True) if b)
    if rent < -(FEASIBILITY_KWH + 1e-12 * abs(paid)):
        raise _NotSmall
    for i, xi in enumerate(x):
        tol = PRICE_TOL * max(1.0, abs(s_price[i]))
        full, none = xi >= s_qty[i], xi <= 0
        above, below = s_price[i] > lam + tol, s_price[i] < lam - tol
        if s_buy[i] and ((above and not full) or (below and not none)):
            raise _NotSmall
        if not s_buy[i] and ((below and not full) or (above and not none)):
            raise _NotSmall
    g_tol = PRICE_TOL * max(1.0, abs(lam))
    for mi, ei, (ip, ep, il, el) in zip(m, e, grid, strict=True):
        if (
            (mi > 0 and lam < ip - g_tol)
            or (mi < il and lam > ip + g_tol)
            or (ei > 0 and lam > ep + g_tol)
            or (ei < el and lam < ep - g_tol)
        ):
            raise _NotSmall


# --------------------------------------------------------------------------------------
# trades (`matching.trades` on one node: one segment, the local match)


class _Side:
    """One side's items in canonical order and their classes on the node's tape."""

    def __init__(
        self,
        owner: list[int],
        qty: list[float],
        is_grid: list[bool],
        price: list[float],
        size: list[float],
        other: list[float],
    ) -> None:
        k = len(owner)
        rounded = [_np_round(q) for q in qty]
        multi_grid = sum(is_grid) > 1
        if multi_grid:
            by_key = sorted(
                range(k),
                key=lambda i: (is_grid[i], rounded[i], price[i], size[i], other[i]),
            )
        else:
            by_key = sorted(range(k), key=lambda i: (is_grid[i], rounded[i]))
        starts = []
        for pos, i in enumerate(by_key):
            if pos == 0:
                starts.append(0)
                continue
            j = by_key[pos - 1]
            same = (price[i], rounded[i], is_grid[i], qty[i]) == (
                price[j],
                rounded[j],
                is_grid[j],
                qty[j],
            )
            if multi_grid:
                same = same and (size[i], other[i]) == (size[j], other[j])
            if not same:
                starts.append(pos)
        self.by_key = by_key
        self.starts = starts
        self.count = [b - a for a, b in zip(starts, [*starts[1:], k][: len(starts)], strict=True)]
        ends = []
        run = 0.0
        for s, c in zip(starts, self.count, strict=True):
            run += qty[by_key[s]] * c
            ends.append(run)
        self.ends = ends
        self.owner = owner


def _trades(
    listing: list[int],
    buy: list[bool],
    accepted: list[float],
    price: list[float],
    qty: list[float],
    ip: list[float],
    ep: list[float],
    il: list[float],
    el: list[float],
    m: list[float],
    e: list[float],
) -> list[tuple[int, int, int, float]]:
    """(piece, seller, buyer, kWh) per trade, canonical order indices (−1 for the grid),
    pieces numbered along the node's tape (the caller orders the members of a class)."""
    n_g = len(ip)

    def side(is_buy: bool, g_qty: list[float], own: list[float], oth: list[float],
             lim: list[float]) -> _Side:  # fmt: skip
        sel = [k for k in listing if buy[k] == is_buy and accepted[k] > 0]
        gsel = [g for g in range(n_g) if g_qty[g] > 0]
        return _Side(
            sel + [-1] * len(gsel),
            [accepted[k] for k in sel] + [g_qty[g] for g in gsel],
            [False] * len(sel) + [True] * len(gsel),
            [price[k] for k in sel] + [own[g] for g in gsel],
            [qty[k] for k in sel] + [lim[g] for g in gsel],
            [0.0] * len(sel) + [oth[g] for g in gsel],
        )

    sup = side(False, m, ip, ep, il)
    dem = side(True, e, ep, ip, el)
    s_items = [accepted[k] for k in listing if not buy[k] and accepted[k] > 0] + [
        m[g] for g in range(n_g) if m[g] > 0
    ]
    d_items = [accepted[k] for k in listing if buy[k] and accepted[k] > 0] + [
        e[g] for g in range(n_g) if e[g] > 0
    ]
    local = min(_bincount(s_items), _bincount(d_items))
    if not local > 0 or not sup.ends or not dem.ends:
        return []
    # boundaries: the start, the supply cuts, the demand cuts, the end (a stable sort)
    bounds = [(0.0, 0, 0)]
    bounds += [(off, 1, 0) for off in sup.ends if 0.0 < off < local]
    bounds += [(off, 0, 1) for off in dem.ends if 0.0 < off < local]
    bounds.append((local, 0, 0))
    bounds.sort(key=lambda t: t[0])
    s_last, d_last = len(sup.ends) - 1, len(dem.ends) - 1
    s_passed = d_passed = 0
    raw: list[tuple[float, int, int]] = []
    for i in range(len(bounds) - 1):
        s_passed += bounds[i][1]
        d_passed += bounds[i][2]
        length = bounds[i + 1][0] - bounds[i][0]
        if length > DUST_KWH:
            raw.append((length, min(s_passed, s_last), min(d_passed, d_last)))
    merged: list[list[Any]] = []
    for length, sc, dc in raw:
        if merged and merged[-1][1] == sc and merged[-1][2] == dc:
            merged[-1][0] += length
        else:
            merged.append([0.0 + length, sc, dc])
    out: list[tuple[int, int, int, float]] = []
    for piece, (length, sc, dc) in enumerate(merged):
        ks, kd = sup.count[sc], dem.count[dc]
        reps = ks * kd
        q = length / reps
        for w in range(reps):
            s_item = sup.by_key[sup.starts[sc] + w // kd]
            d_item = dem.by_key[dem.starts[dc] + w % kd]
            out.append((piece, sup.owner[s_item], dem.owner[d_item], q))
    return out


__all__ = ["MAX_ORDERS", "clear_small"]
