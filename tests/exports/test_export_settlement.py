"""Settlement: hand cases, largest-remainder splitting, and balance to the grosz over a month."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from market.reports.statement_csv import statement_csv
from market.settlement.settle import (
    GridFlow,
    IntervalInput,
    Position,
    Statement,
    Totals,
    settle,
    settle_interval,
    split_largest_remainder,
)

D = Decimal
T0 = datetime(2026, 10, 1, tzinfo=UTC)
IMP, EXP = D("0.89"), D("0.1829")


def test_two_nodes_congested_line_hand_case() -> None:
    # Seller at LV-A (price 0.40) sells 10 kWh to a buyer at LV-B (0.80) over a full line.
    data = IntervalInput(
        T0,
        {"A": D("0.4"), "B": D("0.8")},
        [
            Position(
                "S",
                "A",
                matched_export_kwh=D("10"),
                metered_import_kwh=D("0"),
                metered_export_kwh=D("9.5"),
            ),
            Position(
                "B",
                "B",
                matched_import_kwh=D("10"),
                metered_import_kwh=D("11"),
                metered_export_kwh=D("0"),
            ),
        ],
        import_reference_pln_per_kwh=IMP,
        export_reference_pln_per_kwh=EXP,
    )
    s = settle_interval(data)
    seller, buyer = s.lines
    assert seller.traded_amount_pln == D("-4.00") and buyer.traded_amount_pln == D("8.00")
    assert s.congestion_rent_pln == D("4.00")
    # the seller delivered 0.5 kWh short: bought from the grid at the import reference
    assert (seller.grid_import_kwh, seller.grid_amount_pln) == (D("0.5"), D("0.45"))
    # the buyer used 1 kWh more than it bought
    assert (buyer.grid_import_kwh, buyer.grid_amount_pln) == (D("1"), D("0.89"))
    assert s.residual_import_cost_pln == D("1.34") and s.residual_export_revenue_pln == 0
    # with the grid alone the buyer pays 11 × 0.89 and the seller gets 9.5 × 0.1829
    assert buyer.grid_only_amount_pln == D("9.79")
    assert seller.grid_only_amount_pln == D("-1.74")
    totals = Totals()
    totals.add(s)
    assert totals.balanced
    assert totals.member_payments_pln - totals.member_receipts_pln == D("5.34")


def test_grid_connection_costs_enter_the_balance() -> None:
    # One buyer at the GPZ takes 3 kWh, all imported at 0.89: no rent, cost = 2.67.
    s = settle_interval(
        IntervalInput(
            T0,
            {"GPZ": D("0.89")},
            [Position("B", "GPZ", matched_import_kwh=D("3"))],
            [GridFlow("GPZ", D("3"), D("0"), IMP, EXP)],
        )
    )
    assert s.lines[0].traded_amount_pln == D("2.67")
    assert s.congestion_rent_pln == 0 and s.market_grid_import_cost_pln == D("2.67")
    assert s.lines[0].grid_amount_pln is None  # no meter data: no residual


def test_largest_remainder_hits_the_total() -> None:
    # thirds of 1 PLN: 0.34, 0.33, 0.33 (ties: the first gets the missing grosz)
    assert split_largest_remainder([D(1) / 3] * 3, D("1.00")) == [D("0.34"), D("0.33"), D("0.33")]
    assert split_largest_remainder([D("-0.005"), D("0.005")], D("0.00")) == [D("0.00"), D("0.00")]
    assert split_largest_remainder([D("0.004")] * 2, D("-0.01")) == [D("0.00"), D("-0.01")]


amounts = st.decimals(min_value=0, max_value=500, places=3)
prices = st.decimals(min_value=D("-0.5"), max_value=2, places=4)


@st.composite
def intervals(draw: st.DrawFn) -> IntervalInput:
    nodes = draw(st.lists(st.sampled_from("ABCD"), min_size=1, max_size=4, unique=True))
    node_price = {n: draw(prices) for n in nodes}
    positions = []
    for k in range(draw(st.integers(0, 12))):
        idle = draw(st.booleans())
        metered = draw(st.booleans())
        positions.append(
            Position(
                f"P{k}",
                draw(st.sampled_from(nodes)),
                D(0) if idle else draw(amounts),
                D(0) if idle else draw(amounts),
                draw(amounts) if metered else None,
                draw(amounts) if metered else None,
            )
        )
    grid = [
        GridFlow(n, draw(amounts), draw(amounts), D("0.89"), draw(st.decimals(0, 1, places=4)))
        for n in draw(st.lists(st.sampled_from(nodes), max_size=2, unique=True))
    ]
    return IntervalInput(T0, node_price, positions, grid, IMP, EXP)


@settings(max_examples=300, deadline=None)
@given(st.lists(intervals(), min_size=1, max_size=6))
def test_balance_to_the_grosz_property(data: list[IntervalInput]) -> None:
    totals = Totals()
    for inp, s in zip(data, settle(data), strict=True):
        totals.add(s)
        for line, pos in zip(s.lines, inp.positions, strict=True):
            exact = (pos.matched_import_kwh - pos.matched_export_kwh) * inp.node_price[pos.node]
            assert line.traded_amount_pln == line.traded_amount_pln.quantize(D("0.01"))
            assert abs(line.traded_amount_pln - exact) < D("0.03")
            if not (pos.matched_import_kwh or pos.matched_export_kwh):
                assert line.traded_amount_pln == 0  # no trade, no share of the rounding
    assert totals.balanced, totals.imbalance_pln


def simulated_month(seed: int = 7) -> list[IntervalInput]:
    """October 2026 (2,980 quarter-hours incl. the 25-hour day), 40 metering points on three
    nodes, physically balanced: what members net-buy comes from the grid at the GPZ."""
    rng = random.Random(seed)
    start, end = datetime(2026, 9, 30, 22, tzinfo=UTC), datetime(2026, 10, 31, 23, tzinfo=UTC)
    nodes = ["GPZ", "LV-1", "LV-2"]
    ppes = [(f"PPE{k:02d}", nodes[k % 3]) for k in range(40)]
    out = []
    t = start
    while t < end:
        positions = []
        net = {n: D(0) for n in nodes}
        for ppe, node in ppes:
            buy = D(rng.randint(0, 900)).scaleb(-3)
            sell = D(rng.randint(0, 900)).scaleb(-3) if rng.random() < 0.4 else D(0)
            net[node] += buy - sell
            noise = D(rng.randint(-80, 80)).scaleb(-3)
            positions.append(Position(ppe, node, buy, sell, max(D(0), buy + noise), sell))
        total = sum(net.values(), D(0))
        # the marginal source sets the price: the grid when importing or exporting
        base = IMP if total > 0 else EXP if total < 0 else D("0.5")
        congested = rng.random() < 0.2 and net["LV-2"] > 0
        price = {n: base + (D("0.0731") if congested and n == "LV-2" else 0) for n in nodes}
        grid = [GridFlow("GPZ", max(total, D(0)), max(-total, D(0)), IMP, EXP)]
        out.append(IntervalInput(t, price, positions, grid, IMP, EXP))
        t += timedelta(minutes=15)
    return out


def test_fixed_month_balances_and_statement_adds_up() -> None:
    month = simulated_month()
    assert len(month) == 2980
    totals = Totals()
    statement = Statement("PPE05 owner", "2026-10")
    lines = 0
    for s in settle(month):
        totals.add(s)
        for line in s.lines:
            lines += 1
            if line.ppe == "PPE05":
                statement.add(line)
    assert lines == 2980 * 40
    assert totals.intervals == 2980
    assert totals.balanced, totals.imbalance_pln
    assert totals.congestion_rent_pln > 0
    assert totals.member_payments_pln > 0 and totals.grid_import_cost_pln > 0
    # statement: total = local + grid cost − grid revenue; savings = grid-only − total
    assert statement.lines == 2980
    assert statement.total_pln == (
        statement.local_amount_pln + statement.grid_cost_pln - statement.grid_revenue_pln
    )
    assert statement.savings_pln == statement.grid_only_pln - statement.total_pln
    csv = statement_csv(statement).decode("utf-8")
    assert csv.startswith("\ufeffmember;period;item;unit;value\r\n")
    total_line = next(x for x in csv.split("\r\n") if ";total;" in x)
    assert total_line.endswith(format(statement.total_pln, ".2f").replace(".", ","))
