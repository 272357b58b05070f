"""The coordinator's cluster report (with SVG charts) and the members' monthly statements."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from litestar import Controller, Litestar, Response, get
from litestar.params import FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template
from markupsafe import Markup

from market.clearing.day_ahead import core_available
from market.cluster.service import cluster_info
from market.core.errors import NotFound
from market.export.request import month_range, parse_month
from market.members.service import list_members
from market.reports.benefits import MemberBenefits, benefit_rows, member_benefits
from market.reports.member_days import day_bounds, member_days, month_totals
from market.reports.service import (
    ClusterReport,
    cluster_report,
    default_month,
    member_statement,
    parse_report_request,
)
from market.reports.statement_csv import statement_csv
from market.reports.storage_effect import latest_cleared_day, storage_effect
from market.settlement.settle import Statement
from market.statutory.figures import Granularity, Period
from market.statutory.report import request_for_range, statutory_report
from market.statutory.rules import RULES
from web.auth import requires_role, signed_in
from web.background import StorageEffectJobs
from web.config import app_services
from web.deps import ClockDep, CurrentActor, Db
from web.pages.results import parse_day
from web.ui import formatting as fmt
from web.ui.benefit_charts import signed_bars_svg
from web.ui.i18n import N_, connection_locale, gettext
from web.ui.render import page, render
from web.ui.report_charts import bars_svg, congestion_chart, price_volume_chart, shares_chart

T = TypeVar("T")


async def unless_empty(call: Awaitable[T]) -> T | None:
    """The report or statement, or None when nothing was cleared in the range (the page shows
    an empty state saying what will appear and when, not an error)."""
    try:
        return await call
    except NotFound as error:
        if error.field != "from":  # `load_scope`: no cleared interval in the range
            raise
        return None


#: The statement CSV's columns and items as a Polish reader sees them (the English file keeps
#: the machine keys of `Statement.rows`).
STATEMENT_COLUMNS = (N_("Member"), N_("Period"), N_("Item"), N_("Unit"), N_("Value"))
STATEMENT_ITEMS = {
    "bought_day_ahead": N_("Bought in the day-ahead auction"),
    "sold_day_ahead": N_("Sold in the day-ahead auction"),
    "day_ahead_purchase_cost": N_("Cost of purchases in the day-ahead auction"),
    "day_ahead_sales_revenue": N_("Revenue from sales in the day-ahead auction"),
    "day_ahead_amount": N_("Amount for the day-ahead auction"),
    "bought_local": N_("Bought in the intraday auctions"),
    "sold_local": N_("Sold in the intraday auctions"),
    "local_purchase_cost": N_("Cost of purchases in the intraday auctions"),
    "local_sales_revenue": N_("Revenue from sales in the intraday auctions"),
    "local_amount": N_("Amount for the intraday auctions"),
    "bought_grid": N_("Bought from the grid"),
    "sold_grid": N_("Sold to the grid"),
    "grid_cost": N_("Cost of energy from the grid"),
    "grid_revenue": N_("Revenue from energy sold to the grid"),
    "grid_settled_import": N_("Bought from the grid in intervals without a market"),
    "grid_settled_import_cost": N_("Cost of grid import in intervals without a market (tariff)"),
    "grid_settled_export": N_("Fed into the grid in intervals without a market"),
    "grid_settled_export_revenue": N_(
        "Revenue for energy fed in in intervals without a market (net-billing)"
    ),
    "total": N_("Total for the month"),
    "grid_only": N_("With the grid alone"),
    "savings": N_("Savings"),
    "exempt": N_("Renewable energy exempt from the OZE and cogeneration fees"),
    "avoided_fees": N_("Fees avoided (exemption)"),
    "distribution_discount": N_("Distribution-fee discount"),
    "with_cluster": N_("With the cluster, after the fee exemption and the discount"),
    "without_cluster_import": N_("Without the cluster: grid import"),
    "without_cluster_import_cost": N_("Without the cluster: cost of grid import at the tariff"),
    "without_cluster_export": N_("Without the cluster: energy fed in"),
    "without_cluster_export_revenue": N_(
        "Without the cluster: revenue for energy fed in under net-billing"
    ),
    "without_cluster": N_("Without the cluster, in total"),
    "total_benefit": N_("Total benefit of the cluster"),
}


def statement_csv_for(
    statement: Statement, locale: str, extra: Sequence[tuple[str, str, Decimal]] = ()
) -> bytes:
    """The statement CSV in the reader's language: Polish headers, items and units (zł) with a
    decimal comma; English keeps the machine keys. Cells go through the product's CSV writer.
    `extra`: the benefit rows (`benefit_rows`)."""
    if locale == "en":
        return statement_csv(statement, extra=extra)
    return statement_csv(
        statement,
        extra=extra,
        header=[gettext(c, locale) for c in STATEMENT_COLUMNS],
        item=lambda key: gettext(STATEMENT_ITEMS[key], locale),
        unit_label=lambda unit: "zł" if unit == "PLN" else unit,
    )


def charts(report: ClusterReport, loc: str) -> dict[str, Markup]:
    return {
        "shares": shares_chart(report.rows, loc),
        "congestion": congestion_chart(report.totals.congestion, report.line_names, loc),
        "day": price_volume_chart(report.last_day, loc),
    }


def self_consumption_chart(periods: Sequence[Period], loc: str) -> Markup:
    """Hourly self-consumption per month, with the lowest discount tier's threshold."""
    days = [p.start.date() for p in periods]
    tiers = [t.above for t in RULES.tiers if days and t.on(days[-1])]
    ratios = [p.self_consumption_ratio for p in periods]
    items = [
        (p.start.strftime("%Y-%m"), None if r is None else float(r))
        for p, r in zip(periods, ratios, strict=True)
    ]
    return Markup(
        bars_svg(
            items,
            title=gettext("Hourly self-consumption", loc),
            empty_label=gettext("No cleared intervals or meter data in this range.", loc),
            fmt_value=lambda v: fmt.percent(v, loc),
            threshold=float(min(tiers)) if tiers else None,
        )
    )


def benefit_chart(both: MemberBenefits, loc: str) -> Markup:
    """The member's month with the cluster, without it, and the benefit (PLN; paid > 0)."""
    return Markup(
        signed_bars_svg(
            [
                (gettext("With the cluster", loc), float(both.with_cluster_pln), "with"),
                (gettext("Without the cluster", loc), float(both.without_cluster_pln), "without"),
                (gettext("Total benefit", loc), float(both.total_benefit_pln), "benefit"),
            ],
            title=gettext("The month with and without the cluster", loc),
            empty_label=gettext("No figures for this month.", loc),
            fmt_value=lambda v: fmt.number(v, 2, loc) + " zł",
            width=440,
        )
    )


def storage_jobs(app: Litestar) -> StorageEffectJobs:
    """The app's background storage-effect jobs (made on first use)."""
    jobs = app.state.get("storage_effect_jobs")
    if jobs is None:
        jobs = app.state["storage_effect_jobs"] = StorageEffectJobs()
    return jobs


class ReportsController(Controller):
    path = "/reports"
    guards = [requires_role("coordinator", "distributor")]  # noqa: RUF012 - Litestar style

    @get("/")
    async def index(
        self,
        request: HTMXRequest,
        db: Db,
        clock: ClockDep,
        actor: CurrentActor,
        start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
        period: FromQuery[str] = "day",
    ) -> Template:
        start = start or await default_month(db, clock.now())
        asked = parse_report_request(start, end, period)
        report = await unless_empty(cluster_report(db, actor, asked.start, asked.end, asked.period))
        return page(
            request,
            "reports/index.html",
            "reports/_report.html",
            section="reports",
            report=report,
            charts=charts(report, connection_locale(request)) if report else {},
            statutory_url="/reports/statutory?" + urlencode({"start": start, "end": end or ""}),
            storage_url="/reports/storage?" + urlencode({"start": start, "end": end or ""}),
            start=start,
            end=end or "",
            period=period,
        )

    @get("/statutory")
    async def statutory(
        self,
        request: HTMXRequest,
        db: Db,
        clock: ClockDep,
        actor: CurrentActor,
        start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
    ) -> Template:
        """The statutory section, loaded after the page (it reads every hour of the range)."""
        asked = parse_report_request(start or await default_month(db, clock.now()), end or None)
        tz = (await cluster_info(db)).timezone
        legal = request_for_range(asked.start, asked.end, tz, Granularity.MONTH)
        periods = [p async for p in statutory_report(db, actor, legal)]
        return render(
            request,
            "reports/_statutory.html",
            statutory=periods,
            statutory_version=RULES.version,
            chart=self_consumption_chart(periods, connection_locale(request)),
        )

    @get("/storage")
    async def storage(
        self,
        request: HTMXRequest,
        db: Db,
        clock: ClockDep,
        day: FromQuery[str | None] = None,
        start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
    ) -> Template:
        """What storage changed on a cleared day-ahead day (`day`, else the latest in the
        report's range), loaded after the page: it clears the day twice."""
        tz = (await cluster_info(db)).timezone
        if day:
            chosen: date | None = parse_day(day, date.today())
        else:
            asked = parse_report_request(start or await default_month(db, clock.now()), end or None)
            first = asked.start.astimezone(ZoneInfo(tz)).date()
            last = (asked.end - timedelta(microseconds=1)).astimezone(ZoneInfo(tz)).date()
            chosen = await latest_cleared_day(db, first, last)
        available = core_available()
        effect, pending, failed = None, False, None
        if chosen and available:
            effect = await storage_effect(db, chosen, wait=False)
            if effect is None:  # a large day: computed in the background, asked for again
                jobs = storage_jobs(request.app)
                failed = jobs.take_failure(chosen)
                if failed is None:
                    jobs.start(app_services(request.app).session_factory, chosen)
                    pending = True
        return render(request, "reports/_storage_effect.html", effect=effect, day=chosen,
                      pending=pending, failed=failed, core_missing=not available)  # fmt: skip


class StatementController(Controller):
    path = "/statement"
    guards = [signed_in]  # noqa: RUF012 - Litestar style

    @get("/")
    async def show(
        self,
        request: HTMXRequest,
        db: Db,
        clock: ClockDep,
        actor: CurrentActor,
        month: FromQuery[str | None] = None,
        member: FromQuery[int | None] = None,
    ) -> Template:
        month = month or await default_month(db, clock.now())
        first = parse_month(month)
        if member is None and actor.role != "member":
            # their own statement is empty: ask which member's to show
            members = [m for m in await list_members(db, actor) if m.role == "member"]
            members.sort(key=lambda m: fmt.polish_sort_key(m.name))
            return render(
                request,
                "reports/statement.html",
                section="statement",
                statement=None,
                choose=members,
                days=[],
                month=month,
                member=None,
            )
        # both from the settled days (`reports.settled`): the member's rows, the cluster's
        # month settled once and stored, not at every request
        statement = await unless_empty(member_statement(db, actor, first, member))
        days: list[Any] = []
        if statement:  # a month with meter data only has a statement but no market days
            got = member_days(db, actor, *month_range(first), member, stored=True)
            days = await unless_empty(got) or []
        return render(
            request,
            "reports/statement.html",
            section="statement",
            statement=statement,
            days=days,
            month_days=month_totals(days),
            month=month,
            member=member,
        )

    @get("/statutory")
    async def statutory(
        self,
        request: HTMXRequest,
        db: Db,
        clock: ClockDep,
        actor: CurrentActor,
        month: FromQuery[str | None] = None,
        member: FromQuery[int | None] = None,
    ) -> Template:
        """The member's fee exemption, distribution discount and the month without the
        cluster, loaded after the page."""
        first = parse_month(month or await default_month(db, clock.now()))
        both = await member_benefits(db, actor, first, member or actor.member_id)
        return render(
            request,
            "reports/_statement_statutory.html",
            benefit=both.statutory,
            both=both,
            chart=benefit_chart(both, connection_locale(request)),
        )

    @get("/day")
    async def day(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        day: FromQuery[str],
        member: FromQuery[int | None] = None,
    ) -> Template:
        """One day interval by interval: metered consumption and production next to what was
        bought and sold in the cluster."""
        chosen = parse_day(day, date.today())
        days = await unless_empty(member_days(db, actor, *day_bounds(chosen), member))
        return render(
            request,
            "reports/statement_day.html",
            section="statement",
            day=chosen,
            member_day=days[0] if days else None,
            member=member,
        )

    @get("/csv")
    async def download(
        self,
        request: HTMXRequest,
        db: Db,
        clock: ClockDep,
        actor: CurrentActor,
        month: FromQuery[str | None] = None,
        member: FromQuery[int | None] = None,
    ) -> Response[bytes]:
        month = month or await default_month(db, clock.now())
        asked = parse_month(month)
        both = await member_benefits(db, actor, asked, member or actor.member_id)
        statement, extra = both.statement, benefit_rows(both)
        if statement is None:  # an empty month: the columns, no rows
            statement, extra = Statement(member="", period=asked.strftime("%Y-%m")), []
        name = f"klaster-statement-{statement.period}-{member or actor.member_id}.csv"
        return Response(
            statement_csv_for(statement, connection_locale(request), extra),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


HANDLERS: list[Any] = [ReportsController, StatementController]
