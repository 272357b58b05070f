"""Settlement per metering point per interval, in exact decimals, balanced to the grosz.

For each interval:

1. **Local market.** A metering point pays `matched_import × p` and receives
   `matched_export × p` at its node's clearing price `p`. Exactly, these amounts sum to
   `congestion rent + grid import cost − grid export revenue` at the cluster's grid
   connections (that is the budget balance of nodal pricing; the congestion rent is
   *defined* as the difference, so the identity holds exactly whatever the stored precision).
2. **Residual against the grid.** With meter data, the deviation
   `(metered_import − metered_export) − (matched_import − matched_export)` (net per interval;
   matched = intraday + the firm day-ahead position, whose amount the day-ahead auction settled)
   is bought from the grid at the import reference price when positive and sold to it at the
   export reference price when negative. Each member pays its own residual: these amounts are
   rounded per line, and the residual totals are the sums of the rounded lines.

Rounding: market amounts are split with the largest-remainder method so that, per interval,
Σ rounded member amounts = round(congestion rent) + round(grid import cost) −
round(grid export revenue), each rounded to the grosz (half up). Therefore, over any period:

    Σ member payments − Σ member receipts
        = congestion rent + grid import cost − grid export revenue

to the grosz, where grid import cost and export revenue include the residuals.
Amounts are signed: positive = the member pays, negative = the member receives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

GROSZ = Decimal("0.01")
ZERO = Decimal(0)


def to_grosz(amount: Decimal) -> Decimal:
    """Round an amount to the grosz, half up (as on Polish invoices)."""
    return amount.quantize(GROSZ, rounding=ROUND_HALF_UP)


def split_largest_remainder(exact: Sequence[Decimal], total: Decimal) -> list[Decimal]:
    """Round each amount to the grosz so that the rounded amounts sum exactly to `total`.

    Every amount is floored to the grosz, then the missing grosze go one by one to the
    amounts with the largest remainders (ties: earlier first). `total` must be in whole
    grosze; if it lies more than one grosz per item away from the exact sum, the
    difference is spread evenly first. Deterministic.
    """
    if not exact:
        if total != 0:
            raise ValueError("cannot split a non-zero total over no amounts")
        return []
    units = [a * 100 for a in exact]
    floors = [int(u.to_integral_value(rounding=ROUND_FLOOR)) for u in units]
    target = int((total * 100).to_integral_value())
    if Decimal(target) != total * 100:
        raise ValueError(f"total {total} is not in whole grosze")
    missing = target - sum(floors)
    n = len(exact)
    base, extra = divmod(missing, n)  # floor division: works for negative `missing` too
    order = sorted(range(n), key=lambda i: (-(units[i] - floors[i]), i))
    result = [f + base for f in floors]
    for i in order[:extra]:
        result[i] += 1
    return [Decimal(r).scaleb(-2) for r in result]


class Position(NamedTuple):
    """One metering point in one interval: what the market matched and what was metered."""

    ppe: str
    node: str
    matched_import_kwh: Decimal = ZERO
    matched_export_kwh: Decimal = ZERO
    metered_import_kwh: Decimal | None = None
    metered_export_kwh: Decimal | None = None
    #: Firm day-ahead positions (settled in the day-ahead auction at its prices): not part of
    #: this interval's market amount, but of what the meter is compared with.
    firm_import_kwh: Decimal = ZERO
    firm_export_kwh: Decimal = ZERO

    @property
    def has_meter_data(self) -> bool:
        return self.metered_import_kwh is not None and self.metered_export_kwh is not None


@dataclass(frozen=True, slots=True)
class GridFlow:
    """Energy exchanged with the upstream grid at one connection, at its prices."""

    node: str
    import_kwh: Decimal
    export_kwh: Decimal
    import_price_pln_per_kwh: Decimal
    export_price_pln_per_kwh: Decimal

    @property
    def import_cost_exact(self) -> Decimal:
        return self.import_kwh * self.import_price_pln_per_kwh

    @property
    def export_revenue_exact(self) -> Decimal:
        return self.export_kwh * self.export_price_pln_per_kwh


@dataclass(frozen=True, slots=True)
class IntervalInput:
    start: datetime
    node_price: Mapping[str, Decimal]
    positions: Sequence[Position]
    grid: Sequence[GridFlow] = ()
    #: Reference prices for the residual (what a member pays / gets from its supplier).
    import_reference_pln_per_kwh: Decimal = Decimal("0.89")
    export_reference_pln_per_kwh: Decimal = Decimal("0.3")


class Line(NamedTuple):
    """The settlement of one metering point in one interval."""

    start: datetime
    ppe: str
    node: str
    price_pln_per_kwh: Decimal
    matched_import_kwh: Decimal
    matched_export_kwh: Decimal
    traded_amount_pln: Decimal
    metered_import_kwh: Decimal | None
    metered_export_kwh: Decimal | None
    grid_import_kwh: Decimal | None
    grid_export_kwh: Decimal | None
    grid_amount_pln: Decimal | None
    #: What the interval would have cost with the grid alone (net metered, or net matched
    #: when there is no meter data), at the reference prices.
    grid_only_amount_pln: Decimal

    @property
    def total_pln(self) -> Decimal:
        return self.traded_amount_pln + (self.grid_amount_pln or ZERO)


def split_traded_amount(line: Line) -> tuple[Decimal, Decimal]:
    """(purchase cost, sales revenue) of a line's traded amount, both ≥ 0, whose difference
    is the line's (rounded) net amount exactly."""
    net = line.traded_amount_pln
    if line.matched_export_kwh <= 0:
        return net, ZERO
    if line.matched_import_kwh <= 0:
        return ZERO, -net
    cost = to_grosz(line.price_pln_per_kwh * line.matched_import_kwh)
    return cost, cost - net


@dataclass(frozen=True, slots=True)
class IntervalSettlement:
    start: datetime
    lines: tuple[Line, ...]
    congestion_rent_pln: Decimal
    #: At the cluster's grid connections, as cleared.
    market_grid_import_cost_pln: Decimal
    market_grid_export_revenue_pln: Decimal
    #: Residuals (metered − traded), the sums of the members' rounded residual amounts.
    residual_import_cost_pln: Decimal
    residual_export_revenue_pln: Decimal

    @property
    def grid_import_cost_pln(self) -> Decimal:
        return self.market_grid_import_cost_pln + self.residual_import_cost_pln

    @property
    def grid_export_revenue_pln(self) -> Decimal:
        return self.market_grid_export_revenue_pln + self.residual_export_revenue_pln


GROSZ_ZERO = Decimal("0.00")


def settle_interval(data: IntervalInput) -> IntervalSettlement:
    """Settle one interval (see the module docstring for the rules).

    Only metering points that traded share the rounding: one that did not trade gets
    exactly 0.00 for the market. If nobody traded, the rent absorbs the rounding.
    """
    prices = [data.node_price[p.node] for p in data.positions]
    exact: list[Decimal | None] = [
        (p.matched_import_kwh - p.matched_export_kwh) * price
        if (p.matched_import_kwh or p.matched_export_kwh)
        else None
        for p, price in zip(data.positions, prices, strict=True)
    ]
    traded_exact = [x for x in exact if x is not None]
    import_exact = sum((g.import_cost_exact for g in data.grid), ZERO)
    export_exact = sum((g.export_revenue_exact for g in data.grid), ZERO)
    rent_exact = sum(traded_exact, ZERO) - import_exact + export_exact
    import_cost, export_revenue = to_grosz(import_exact), to_grosz(export_exact)
    rent = to_grosz(rent_exact)
    if not traded_exact:
        rent = export_revenue - import_cost
    split = iter(split_largest_remainder(traded_exact, rent + import_cost - export_revenue))
    lines = []
    residual_import = residual_export = ZERO
    imp_ref, exp_ref = data.import_reference_pln_per_kwh, data.export_reference_pln_per_kwh
    start = data.start
    for p, price, x in zip(data.positions, prices, exact, strict=True):
        amount = GROSZ_ZERO if x is None else next(split)
        # The residual (metered net − matched net, firm included) and what the grid alone
        # would have cost, in one pass (a simulated day settles 480,000 lines at 5,000
        # points; tests/exports/test_settlement_lines.py holds the rules as first written)
        mi, me, met_in, met_out = (
            p.matched_import_kwh, p.matched_export_kwh, p.metered_import_kwh, p.metered_export_kwh
        )  # fmt: skip
        matched_net = mi + p.firm_import_kwh - me - p.firm_export_kwh
        if met_in is None or met_out is None:
            grid_in = grid_out = grid_amount = None
            net = matched_net
        else:
            net = met_in - met_out
            deviation = net - matched_net
            if deviation >= 0:
                grid_in, grid_out = deviation, ZERO
                grid_amount = (deviation * imp_ref).quantize(GROSZ, rounding=ROUND_HALF_UP)
            else:
                grid_in, grid_out = ZERO, -deviation
                grid_amount = -(-deviation * exp_ref).quantize(GROSZ, rounding=ROUND_HALF_UP)
            if grid_amount >= 0:  # by the amount's sign (-0.00 counts as an import)
                residual_import += grid_amount
            else:
                residual_export -= grid_amount
        if not net:
            grid_only = GROSZ_ZERO
        elif net > 0:
            grid_only = (net * imp_ref).quantize(GROSZ, rounding=ROUND_HALF_UP)
        else:
            grid_only = -(-net * exp_ref).quantize(GROSZ, rounding=ROUND_HALF_UP)
        lines.append(
            Line(
                start,
                p.ppe,
                p.node,
                price,
                mi,
                me,
                amount,
                met_in,
                met_out,
                grid_in,
                grid_out,
                grid_amount,
                grid_only,
            )
        )
    return IntervalSettlement(
        start=data.start,
        lines=tuple(lines),
        congestion_rent_pln=rent,
        market_grid_import_cost_pln=import_cost,
        market_grid_export_revenue_pln=export_revenue,
        residual_import_cost_pln=residual_import,
        residual_export_revenue_pln=residual_export,
    )


def settle_totals(data: IntervalInput) -> list[Decimal]:
    """Each position's `Line.total_pln` of `settle_interval(data)` (the market amount plus
    the grid residual's), in positions' order, and nothing else: the simulation's figures
    need no more of its 7,200 lines a day at the demo's 75 points (nor of the 480,000 at
    5,000). The same rules, operation by operation: tests/market/test_settle_totals.py
    holds it to `settle_interval`."""
    node_price = data.node_price
    exact: list[Decimal | None] = [
        (p.matched_import_kwh - p.matched_export_kwh) * node_price[p.node]
        if (p.matched_import_kwh or p.matched_export_kwh)
        else None
        for p in data.positions
    ]
    traded_exact = [x for x in exact if x is not None]
    import_exact = sum((g.import_cost_exact for g in data.grid), ZERO)
    export_exact = sum((g.export_revenue_exact for g in data.grid), ZERO)
    import_cost, export_revenue = to_grosz(import_exact), to_grosz(export_exact)
    if traded_exact:
        rent = to_grosz(sum(traded_exact, ZERO) - import_exact + export_exact)
        split = iter(split_largest_remainder(traded_exact, rent + import_cost - export_revenue))
    else:
        split = iter(())
    imp_ref, exp_ref = data.import_reference_pln_per_kwh, data.export_reference_pln_per_kwh
    totals = []
    for p, x in zip(data.positions, exact, strict=True):
        amount = GROSZ_ZERO if x is None else next(split)
        met_in, met_out = p.metered_import_kwh, p.metered_export_kwh
        if met_in is None or met_out is None:
            totals.append(amount + ZERO)  # `total_pln` of a line without a residual
            continue
        deviation = (met_in - met_out) - (
            p.matched_import_kwh + p.firm_import_kwh - p.matched_export_kwh - p.firm_export_kwh
        )
        if deviation >= 0:
            grid_amount = (deviation * imp_ref).quantize(GROSZ, rounding=ROUND_HALF_UP)
        else:
            grid_amount = -(-deviation * exp_ref).quantize(GROSZ, rounding=ROUND_HALF_UP)
        totals.append(amount + (grid_amount or ZERO))
    return totals


@dataclass(slots=True)
class Totals:
    """Running totals over many settled intervals; `balanced` checks the identity."""

    intervals: int = 0
    member_payments_pln: Decimal = ZERO
    member_receipts_pln: Decimal = ZERO
    congestion_rent_pln: Decimal = ZERO
    grid_import_cost_pln: Decimal = ZERO
    grid_export_revenue_pln: Decimal = ZERO

    def add(self, s: IntervalSettlement) -> None:
        self.intervals += 1
        for line in s.lines:
            for amount in (line.traded_amount_pln, line.grid_amount_pln or ZERO):
                if amount >= 0:
                    self.member_payments_pln += amount
                else:
                    self.member_receipts_pln -= amount
        self.congestion_rent_pln += s.congestion_rent_pln
        self.grid_import_cost_pln += s.grid_import_cost_pln
        self.grid_export_revenue_pln += s.grid_export_revenue_pln

    @property
    def imbalance_pln(self) -> Decimal:
        """Payments − receipts − (rent + import cost − export revenue); zero when balanced."""
        return (self.member_payments_pln - self.member_receipts_pln) - (
            self.congestion_rent_pln + self.grid_import_cost_pln - self.grid_export_revenue_pln
        )

    @property
    def balanced(self) -> bool:
        return self.imbalance_pln == 0


def settle(intervals: Iterable[IntervalInput]) -> Iterable[IntervalSettlement]:
    """Settle intervals one by one (a generator: a month streams through)."""
    for data in intervals:
        yield settle_interval(data)


class DayAheadAmount(NamedTuple):
    """A metering point's firm day-ahead position in one interval, as the auction stored it:
    bought (import) and sold (export) kWh, the net amount in PLN (already rounded to the grosz
    by the auction; positive = paid) and the node's day-ahead price."""

    ppe: str
    import_kwh: Decimal
    export_kwh: Decimal
    amount_pln: Decimal
    price_pln_per_kwh: Decimal | None = None
    #: The interval's start (UTC), for views by day and interval.
    start_utc: datetime | None = None

    def split(self) -> tuple[Decimal, Decimal]:
        """(purchase cost, sales revenue), both ≥ 0 when the position is one-sided, their
        difference the stored amount exactly (as `split_traded_amount`). A position both
        buying and selling (a storage unit charging and discharging in one interval) costs
        import × price rounded to the grosz; the revenue is what makes up the stored amount."""
        if self.export_kwh <= 0:
            return self.amount_pln, ZERO
        if self.import_kwh <= 0:
            return ZERO, -self.amount_pln
        cost = to_grosz((self.price_pln_per_kwh or ZERO) * self.import_kwh)
        return cost, cost - self.amount_pln


#: The `Statement` fields that `Statement.add` sums (intraday lines), decimals and counts.
INTRADAY_SUMS = (
    "bought_local_kwh",
    "sold_local_kwh",
    "local_amount_pln",
    "local_purchase_cost_pln",
    "local_sales_revenue_pln",
    "bought_grid_kwh",
    "sold_grid_kwh",
    "grid_cost_pln",
    "grid_revenue_pln",
    "metered_import_kwh",
    "metered_export_kwh",
    "grid_only_pln",
)
INTRADAY_COUNTS = ("lines", "intervals_with_meter_data")


@dataclass(slots=True)
class Statement:
    """A member's monthly statement, accumulated line by line: the intraday market (`local_*`,
    `add`), the day-ahead auction's firm positions (`day_ahead_*`, `add_day_ahead`) and the
    grid residuals. Both markets count in `total_pln`."""

    member: str
    period: str
    ppes: set[str] = field(default_factory=set)
    bought_local_kwh: Decimal = ZERO
    sold_local_kwh: Decimal = ZERO
    local_amount_pln: Decimal = ZERO
    bought_grid_kwh: Decimal = ZERO
    sold_grid_kwh: Decimal = ZERO
    grid_cost_pln: Decimal = ZERO
    grid_revenue_pln: Decimal = ZERO
    metered_import_kwh: Decimal = ZERO
    metered_export_kwh: Decimal = ZERO
    grid_only_pln: Decimal = ZERO
    intervals_with_meter_data: int = 0
    lines: int = 0
    #: The local amount split by side: what buying in the cluster cost and what selling in it
    #: earned (`local_amount_pln` = cost − revenue, to the grosz).
    local_purchase_cost_pln: Decimal = ZERO
    local_sales_revenue_pln: Decimal = ZERO
    #: The day-ahead auction's firm positions (simple orders, blocks, storage charge as a
    #: purchase and discharge as a sale) at the day-ahead nodal prices, as stored with the
    #: run in force: `day_ahead_amount_pln` is the sum of the stored amounts (already in
    #: grosze), = cost − revenue.
    bought_day_ahead_kwh: Decimal = ZERO
    sold_day_ahead_kwh: Decimal = ZERO
    day_ahead_purchase_cost_pln: Decimal = ZERO
    day_ahead_sales_revenue_pln: Decimal = ZERO
    day_ahead_amount_pln: Decimal = ZERO
    day_ahead_positions: int = 0
    #: Lines of intervals with day-ahead positions only (`market.reports.day_ahead_only`).
    day_ahead_only_lines: int = 0
    #: Intervals with meter data but no market (neither cleared intraday nor with a firm
    #: day-ahead position, `market.reports.meter_only`): settled against the grid as without
    #: the cluster, metered import at the tariff and energy fed in under net-billing (PLN to
    #: 0.0001). They count in `total_pln` and `grid_only_pln` alike: no savings there.
    grid_settled_lines: int = 0
    grid_settled_import_kwh: Decimal = ZERO
    grid_settled_export_kwh: Decimal = ZERO
    grid_settled_import_cost_pln: Decimal = ZERO
    grid_settled_export_revenue_pln: Decimal = ZERO

    def add_day_ahead(self, position: DayAheadAmount) -> None:
        """Add one metering point's firm day-ahead position in one interval."""
        self.ppes.add(position.ppe)
        self.day_ahead_positions += 1
        self.bought_day_ahead_kwh += position.import_kwh
        self.sold_day_ahead_kwh += position.export_kwh
        self.day_ahead_amount_pln += position.amount_pln
        cost, revenue = position.split()
        self.day_ahead_purchase_cost_pln += cost
        self.day_ahead_sales_revenue_pln += revenue

    def add(self, line: Line, *, intraday: bool = True) -> None:
        """Add one settled line; `intraday=False` for an interval with day-ahead positions
        only (no intraday trade: its line carries the residual and the grid-only amount)."""
        self.ppes.add(line.ppe)
        if intraday:
            self.lines += 1
        else:
            self.day_ahead_only_lines += 1
        self.bought_local_kwh += line.matched_import_kwh
        self.sold_local_kwh += line.matched_export_kwh
        self.local_amount_pln += line.traded_amount_pln
        cost, revenue = split_traded_amount(line)
        self.local_purchase_cost_pln += cost
        self.local_sales_revenue_pln += revenue
        if line.grid_amount_pln is not None:
            self.intervals_with_meter_data += 1
            self.bought_grid_kwh += line.grid_import_kwh or ZERO
            self.sold_grid_kwh += line.grid_export_kwh or ZERO
            if line.grid_amount_pln >= 0:
                self.grid_cost_pln += line.grid_amount_pln
            else:
                self.grid_revenue_pln -= line.grid_amount_pln
            self.metered_import_kwh += line.metered_import_kwh or ZERO
            self.metered_export_kwh += line.metered_export_kwh or ZERO
        self.grid_only_pln += line.grid_only_amount_pln

    def intraday_figures(self) -> dict[str, Any]:
        """What `add` summed (the intraday lines), as JSON-ready values with decimals as
        strings (exact), for `add_intraday_figures` (`market.settlement.stored`)."""
        out: dict[str, Any] = {name: str(getattr(self, name)) for name in INTRADAY_SUMS}
        out.update({name: getattr(self, name) for name in INTRADAY_COUNTS})
        out["ppes"] = sorted(self.ppes)
        return out

    def add_intraday_figures(self, figures: Mapping[str, Any]) -> None:
        """Add the sums of `intraday_figures` (another statement's, e.g. one day's): the
        same as adding its lines one by one (decimal sums are exact)."""
        self.ppes.update(figures["ppes"])
        for name in INTRADAY_SUMS:
            setattr(self, name, getattr(self, name) + Decimal(figures[name]))
        for name in INTRADAY_COUNTS:
            setattr(self, name, getattr(self, name) + int(figures[name]))

    def add_grid_settled(
        self,
        ppe: str,
        import_kwh: Decimal,
        export_kwh: Decimal,
        import_cost_pln: Decimal,
        export_revenue_pln: Decimal,
    ) -> None:
        """Add one metering point's interval without a market, settled against the grid."""
        self.ppes.add(ppe)
        self.grid_settled_lines += 1
        self.grid_settled_import_kwh += import_kwh
        self.grid_settled_export_kwh += export_kwh
        self.grid_settled_import_cost_pln += import_cost_pln
        self.grid_settled_export_revenue_pln += export_revenue_pln
        self.grid_only_pln += import_cost_pln - export_revenue_pln

    @property
    def grid_settled_amount_pln(self) -> Decimal:
        return self.grid_settled_import_cost_pln - self.grid_settled_export_revenue_pln

    @property
    def source(self) -> str | None:
        """Which energy the figures stand on: `meter_data` (every line metered),
        `cleared_positions` (none: the traded quantities), `mixed`, or None (no line).
        Intervals without a market are meter data by definition."""
        count = self.lines + self.day_ahead_only_lines + self.grid_settled_lines
        metered = self.intervals_with_meter_data + self.grid_settled_lines
        if count == 0:
            return None
        if metered == count:
            return "meter_data"
        return "cleared_positions" if metered == 0 else "mixed"

    @property
    def total_pln(self) -> Decimal:
        """What the member pays for the month (negative: what it receives): day-ahead and
        intraday trades, the grid residuals and the intervals without a market."""
        return (
            self.day_ahead_amount_pln
            + self.local_amount_pln
            + self.grid_cost_pln
            - self.grid_revenue_pln
            + self.grid_settled_amount_pln
        )

    @property
    def market_amount_pln(self) -> Decimal:
        """Both markets' net amount (day-ahead + intraday)."""
        return self.day_ahead_amount_pln + self.local_amount_pln

    @property
    def savings_pln(self) -> Decimal:
        """How much less than with the grid alone (negative: more)."""
        return self.grid_only_pln - self.total_pln

    def rows(self, *, grid_settled: bool | None = None) -> list[tuple[str, str, Decimal]]:
        """(key, unit, value) rows for the CSV statement and the HTML table. The four
        `grid_settled_*` rows (intervals without a market) come after `grid_revenue` when
        `grid_settled` is True, or when None and the month has such intervals."""
        if grid_settled is None:
            grid_settled = self.grid_settled_lines > 0
        settled: list[tuple[str, str, Decimal]] = []
        if grid_settled:
            settled = [
                ("grid_settled_import", "kWh", self.grid_settled_import_kwh),
                ("grid_settled_import_cost", "PLN", self.grid_settled_import_cost_pln),
                ("grid_settled_export", "kWh", self.grid_settled_export_kwh),
                ("grid_settled_export_revenue", "PLN", self.grid_settled_export_revenue_pln),
            ]
        return [
            ("bought_local", "kWh", self.bought_local_kwh),
            ("sold_local", "kWh", self.sold_local_kwh),
            ("local_purchase_cost", "PLN", self.local_purchase_cost_pln),
            ("local_sales_revenue", "PLN", self.local_sales_revenue_pln),
            ("local_amount", "PLN", self.local_amount_pln),
            ("bought_day_ahead", "kWh", self.bought_day_ahead_kwh),
            ("sold_day_ahead", "kWh", self.sold_day_ahead_kwh),
            ("day_ahead_purchase_cost", "PLN", self.day_ahead_purchase_cost_pln),
            ("day_ahead_sales_revenue", "PLN", self.day_ahead_sales_revenue_pln),
            ("day_ahead_amount", "PLN", self.day_ahead_amount_pln),
            ("bought_grid", "kWh", self.bought_grid_kwh),
            ("sold_grid", "kWh", self.sold_grid_kwh),
            ("grid_cost", "PLN", self.grid_cost_pln),
            ("grid_revenue", "PLN", self.grid_revenue_pln),
            *settled,
            ("total", "PLN", self.total_pln),
            ("grid_only", "PLN", self.grid_only_pln),
            ("savings", "PLN", self.savings_pln),
        ]
