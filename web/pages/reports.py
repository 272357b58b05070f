"""The coordinator's cluster report (with SVG charts) and the members' monthly statements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Response, get
from litestar.params import FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template
from markupsafe import Markup

from market.cluster.service import cluster_info
from market.export.request import parse_month
from market.reports.service import (
    ClusterReport,
    cluster_report,
    default_month,
    member_statement,
    parse_report_request,
)
from market.reports.statement_csv import statement_csv
from market.statutory.figures import Granularity, Period
from market.statutory.points import member_benefit
from market.statutory.report import parse_statutory_request, request_for_range, statutory_report
from market.statutory.rules import RULES
from web.auth import requires_role, signed_in
from web.deps import CurrentActor, Db
from web.ui import formatting as fmt
from web.ui.i18n import connection_locale, gettext
from web.ui.render import page, render
from web.ui.report_charts import bars_svg, congestion_chart, price_volume_chart, shares_chart


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


class ReportsController(Controller):
    path = "/reports"
    guards = [requires_role("coordinator", "distributor")]  # noqa: RUF012 - Litestar style

    @get("/")
    async def index(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
        period: FromQuery[str] = "day",
    ) -> Template:
        start = start or await default_month(db)
        asked = parse_report_request(start, end, period)
        report = await cluster_report(db, actor, asked.start, asked.end, asked.period)
        return page(
            request,
            "reports/index.html",
            "reports/_report.html",
            section="reports",
            report=report,
            charts=charts(report, connection_locale(request)),
            statutory_url="/reports/statutory?" + urlencode({"start": start, "end": end or ""}),
            start=start,
            end=end or "",
            period=period,
        )

    @get("/statutory")
    async def statutory(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
    ) -> Template:
        """The statutory section, loaded after the page (it reads every hour of the range)."""
        asked = parse_report_request(start or await default_month(db), end or None)
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


class StatementController(Controller):
    path = "/statement"
    guards = [signed_in]  # noqa: RUF012 - Litestar style

    @get("/")
    async def show(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        month: FromQuery[str | None] = None,
        member: FromQuery[int | None] = None,
    ) -> Template:
        month = month or await default_month(db)
        statement = await member_statement(db, actor, parse_month(month), member)
        return render(
            request,
            "reports/statement.html",
            section="statement",
            statement=statement,
            month=month,
            member=member,
        )

    @get("/statutory")
    async def statutory(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        month: FromQuery[str | None] = None,
        member: FromQuery[int | None] = None,
    ) -> Template:
        """The member's fee exemption and distribution discount, loaded after the page."""
        asked = parse_statutory_request(month or await default_month(db), None, "month")
        benefit = await member_benefit(db, actor, member or actor.member_id, asked)
        return render(request, "reports/_statement_statutory.html", benefit=benefit)

    @get("/csv")
    async def download(
        self,
        db: Db,
        actor: CurrentActor,
        month: FromQuery[str | None] = None,
        member: FromQuery[int | None] = None,
    ) -> Response[bytes]:
        month = month or await default_month(db)
        statement = await member_statement(db, actor, parse_month(month), member)
        name = f"klaster-statement-{statement.period}-{member or actor.member_id}.csv"
        return Response(
            statement_csv(statement),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


HANDLERS: list[Any] = [ReportsController, StatementController]
