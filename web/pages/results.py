"""Results: a day's cleared intervals with charts, and one interval in full (with my trades)."""

from __future__ import annotations

from datetime import date

from litestar import get
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from market.clearing import price_reasons, results
from market.core.errors import ValidationFailed
from market.core.fields import check_year
from web.auth import signed_in
from web.deps import ClockDep, CurrentActor, Db, SettingsDep
from web.ui.formatting import to_local
from web.ui.render import page


def parse_day(text: str | None, today: date) -> date:
    if not text:
        return today
    try:
        chosen = date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed("day", "use a date like 2026-11-26") from None
    check_year(chosen.year, "day")  # `?day=9999-01-01` showed an empty day, `0001` a 422 unnamed
    return chosen


@get("/results", guards=[signed_in])
async def results_day(
    request: HTMXRequest,
    db: Db,
    clock: ClockDep,
    settings: SettingsDep,
    day: FromQuery[str | None] = None,
) -> Template:
    chosen = parse_day(day, to_local(clock.now(), settings.timezone).date())
    rows = await results.day_results(db, chosen)
    cleared = [r for r in rows if r.status in ("cleared", "failed")]
    return page(request, "results/day.html", "results/_day.html", section="results", day=chosen,
                rows=rows, cleared=cleared)  # fmt: skip


@get("/results/{interval_id:int}", guards=[signed_in])
async def result_detail(
    request: HTMXRequest, db: Db, actor: CurrentActor, interval_id: FromPath[int]
) -> Template:
    result = await results.interval_result(db, interval_id)
    trades = await results.my_trades(db, actor, interval_id)
    why = await price_reasons.why_this_price(db, result)
    return page(request, "results/interval.html", section="results", r=result, trades=trades,
                why=why)  # fmt: skip


HANDLERS = [results_day, result_detail]
