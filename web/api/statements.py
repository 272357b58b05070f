"""/api/v1 statements: a member's monthly statement as JSON, the same figures as the
statement page and its CSV (`market.reports.service.member_statement`): both markets (the
day-ahead auction's firm positions and the intraday auctions' trades), the grid residuals,
the total, the grid-only comparison and the savings, and the month day by day. Amounts in
PLN and quantities in kWh are strings (Decimals, as in the rest of the API). A member reads
their own; the coordinator and the distributor anyone's with `?member_id=`. Errors: 422 on
`month` (not `YYYY-MM`), 403 on `member_id` (a member asking for another's), 404 on
`member_id` (no such member)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from litestar import get
from litestar.params import FromPath, FromQuery

from market.core.errors import NotFound, ValidationFailed
from market.export.request import month_range, parse_month
from market.reports.member_days import MemberDay, member_days
from market.reports.service import member_statement
from market.settlement.settle import Statement
from web.api.responses import error_spec
from web.auth import requires_role
from web.deps import CurrentActor, Db


@dataclass
class DayView:
    """One local day of the month, both markets (as the page's "Day by day" table); the
    days add up to the statement: Σ `day_ahead_amount_pln` = `day_ahead_amount_pln`,
    Σ (`intraday_cost_pln` − `intraday_revenue_pln`) = `local_amount_pln`."""

    day: date
    day_ahead_bought_kwh: str
    day_ahead_sold_kwh: str
    day_ahead_amount_pln: str
    intraday_bought_kwh: str
    intraday_sold_kwh: str
    intraday_cost_pln: str
    intraday_revenue_pln: str


@dataclass
class StatementView:
    """A member's month. Positive amounts are paid by the member, negative ones paid to it;
    `total_pln` = `day_ahead_amount_pln` + `local_amount_pln` + `grid_cost_pln` −
    `grid_revenue_pln` + `grid_settled_import_cost_pln` − `grid_settled_export_revenue_pln`;
    `savings_pln` = `grid_only_pln` − `total_pln`."""

    member_id: int
    member: str
    month: str
    ppes: list[str]
    #: Settled intraday lines (metering point × interval) and day-ahead positions counted.
    intraday_lines: int
    day_ahead_positions: int
    intervals_with_meter_data: int
    #: Lines of intervals with day-ahead positions only (settled against meter data where
    #: imported: the residual and grid-only figures), and what the figures stand on:
    #: `meter_data`, `cleared_positions`, `mixed`, or null (no line).
    day_ahead_only_lines: int = 0
    source: str | None = None
    #: Lines (metering point × interval) with meter data but no market at all, settled
    #: against the grid as without the cluster (`grid_settled_*` figures; no savings there).
    grid_settled_lines: int = 0
    #: The statement's items by key (`bought_local_kwh`, `day_ahead_amount_pln`, …: the CSV's
    #: keys with the unit as suffix), each a decimal string (kWh with 3 places, PLN with 2).
    figures: dict[str, str] = field(default_factory=dict)
    days: list[DayView] = field(default_factory=list)


#: The scale each unit is stored with (kWh to the Wh, PLN to the grosz).
PLACES = {"kWh": Decimal("0.001"), "PLN": Decimal("0.01")}


def _text(value: Decimal, unit: str) -> str:
    return str(value.quantize(PLACES[unit]))


def day_view(d: MemberDay) -> DayView:
    return DayView(
        day=d.day,
        day_ahead_bought_kwh=_text(d.day_ahead_bought_kwh, "kWh"),
        day_ahead_sold_kwh=_text(d.day_ahead_sold_kwh, "kWh"),
        day_ahead_amount_pln=_text(d.day_ahead_amount_pln, "PLN"),
        intraday_bought_kwh=_text(d.bought_kwh, "kWh"),
        intraday_sold_kwh=_text(d.sold_kwh, "kWh"),
        intraday_cost_pln=_text(d.cost_pln, "PLN"),
        intraday_revenue_pln=_text(d.revenue_pln, "PLN"),
    )


def view_of(statement: Statement, member_id: int, days: list[MemberDay]) -> StatementView:
    return StatementView(
        member_id=member_id,
        member=statement.member,
        month=statement.period,
        ppes=sorted(statement.ppes),
        intraday_lines=statement.lines,
        day_ahead_positions=statement.day_ahead_positions,
        intervals_with_meter_data=statement.intervals_with_meter_data,
        day_ahead_only_lines=statement.day_ahead_only_lines,
        source=statement.source,
        grid_settled_lines=statement.grid_settled_lines,
        figures={
            f"{key}_{unit.lower()}": _text(value, unit)
            for key, unit, value in statement.rows(grid_settled=True)
        },
        days=[day_view(d) for d in days],
    )


@get(
    "/statements/{month:str}",
    guards=[requires_role("member", "coordinator", "distributor")],
    responses={
        403: error_spec(403, "A member asked for another member's statement (`member_id`)."),
        404: error_spec(404, "No such member (`member_id`)."),
        422: error_spec(
            422,
            "`month` is not a month (use 2026-10), `member_id` is refused, or a coordinator "
            "or distributor did not give `member_id`.",
        ),
    },
)
async def statement(
    db: Db, actor: CurrentActor, month: FromPath[str], member_id: FromQuery[int | None] = None
) -> StatementView:
    """My statement for a local month (`2026-10`); the coordinator or distributor passes
    `member_id`. A month with nothing settled yet answers zeros (the same as the empty
    statement CSV)."""
    first = parse_month(month)
    if member_id is None and actor.role != "member":
        # a coordinator's or distributor's own statement is empty: they meant a member's
        raise ValidationFailed("member_id", "give member_id: the member whose statement to show")
    target = actor.member_id if member_id is None else member_id
    try:
        found = await member_statement(db, actor, first, target, field="member_id")
    except NotFound as error:
        if error.field != "from":  # `load_scope`: nothing settled in the month
            raise
        return view_of(Statement(member="", period=first.strftime("%Y-%m")), target, [])
    try:
        days = await member_days(db, actor, *month_range(first), target, stored=True)
    except NotFound as error:
        if error.field != "from":  # a month with meter data only: no market days
            raise
        days = []
    return view_of(found, target, days)


HANDLERS: list[Any] = [statement]
