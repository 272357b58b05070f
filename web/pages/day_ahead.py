"""The day-ahead pages: a day's result (price heat map per interval and node, volumes,
storage schedules with their state of charge, blocks with the reason for a rejection, my own
positions) and, for a member, the forms to place a day's profile (a 24-hour curve, pasted or
uploaded 92/96/100 values), set a storage unit's data, schedule it (one day or every day) and
create an exclusive block group."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from litestar import get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from market.clearing.day_ahead_results import StorageView, day_ahead_result, my_day_positions
from market.cluster.service import get_cluster
from market.core.clock import Clock
from market.core.errors import ValidationFailed
from market.core.timegrid import intervals_per_local_day
from market.members.queries import my_metering_points
from market.trading import day_ahead
from market.trading.day_ahead_gate import gate_closure, next_day_ahead
from market.trading.rules import point_key
from web.api.intake import publish_later
from web.auth import requires_role, signed_in
from web.deps import ClockDep, CurrentActor, Db, PublisherDep, SettingsDep
from web.pages.results import parse_day
from web.ui.formatting import to_local
from web.ui.render import expect_form, page, render

#: An uploaded profile is small: at most 100 values.
MAX_PROFILE_BYTES = 64 * 1024
PROFILE_FIELDS = ("local_day", "metering_point_id", "side", "price", "hourly_kw",
                  "quantities_kwh", "client_order_id")  # fmt: skip
UNIT_FIELDS = ("metering_point_id", "energy_kwh", "charge_kw", "discharge_kw",
               "efficiency_charge", "efficiency_discharge", "soc_min_kwh",
               "soc_final_min_kwh")  # fmt: skip
UNIT_OPTIONAL = ("efficiency_charge", "efficiency_discharge", "soc_min_kwh", "soc_final_min_kwh")
STORAGE_FIELDS = ("metering_point_id", "local_day", "daily", "soc_initial_kwh", "cost_per_kwh")
BLOCK_FIELDS = ("metering_point_id", "local_day", "daily", "side", "power_kw", "duration_hours",
                "start_from", "start_to", "price", "min_acceptance_ratio", "name")  # fmt: skip


async def _fields(request: HTMXRequest, names: tuple[str, ...]) -> dict[str, Any]:
    form = await request.form()
    out: dict[str, Any] = {name: str(form.get(name, "") or "").strip() for name in names}
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read(MAX_PROFILE_BYTES + 1)
        if len(raw) > MAX_PROFILE_BYTES:
            raise ValidationFailed("file", "the file is larger than %(size_mb)s MB", size_mb=1)
        out["quantities_kwh"] = raw.decode("utf-8-sig", errors="replace")
    hours = [str(form.get(f"h{k}", "") or "").strip() for k in range(24)]
    if not out.get("hourly_kw") and not out.get("quantities_kwh") and any(hours):
        out["hourly_kw"] = ";".join(_day_hours([h or "0" for h in hours], out))
    return out


def _day_hours(clock_hours: list[str], fields: dict[str, Any]) -> list[str]:
    """The form's 24 clock hours as the day's hours: the spring DST day has no 02:00, the
    autumn day has it twice (the curve's value for both)."""
    try:
        day = date.fromisoformat(str(fields.get("local_day", "")))
    except ValueError:
        return clock_hours
    count = intervals_per_local_day(day, 60)
    if count == 23:
        return clock_hours[:2] + clock_hours[3:]
    if count == 25:
        return clock_hours[:3] + clock_hours[2:]
    return clock_hours


#: Up to this many storage units the result charts each; beyond it (a 5,000-point cluster
#: has ~250: 6 MB of charts) it charts their sum, the member's own units and the unit asked
#: for (`?unit=PPE`), and lists every unit with a link to its own curve.
CHARTED_UNITS = 12
ZERO = Decimal(0)


def storage_charts(
    units: list[StorageView], mine: set[str], asked: str | None
) -> tuple[list[StorageView], StorageView | None]:
    """The storage units whose curves the page draws, and the units' sum when there are
    more than `CHARTED_UNITS` of them (None: every unit is drawn)."""
    if len(units) <= CHARTED_UNITS:
        return units, None
    shown = [u for u in units if u.ppe_code in mine or u.ppe_code == asked]
    n = len(units[0].soc_kwh)
    total = StorageView(
        storage_order_id=0,
        ppe_code="",
        name="",
        charge_kwh=[sum((u.charge_kwh[t] for u in units), ZERO) for t in range(n)],
        discharge_kwh=[sum((u.discharge_kwh[t] for u in units), ZERO) for t in range(n)],
        soc_kwh=[sum((u.soc_kwh[t] for u in units), ZERO) for t in range(n)],
        energy_kwh=sum((u.energy_kwh or ZERO for u in units), ZERO),
    )
    return shown, total


async def _context(
    db: Db, actor: Any, clock: Clock, timezone: str, day: date | None, unit: str | None = None
) -> dict[str, Any]:
    cluster = await get_cluster(db)
    now = clock.now()
    upcoming = next_day_ahead(cluster, now)
    today = to_local(now, timezone).date()
    chosen = day or (upcoming[0] if upcoming else today + timedelta(days=1))
    view = await day_ahead_result(db, chosen)
    member = actor is not None and actor.role == "member"
    context: dict[str, Any] = {
        "section": "day_ahead",
        "day": chosen,
        "prev_day": chosen - timedelta(days=1),
        "next_day": chosen + timedelta(days=1),
        "upcoming": upcoming,
        "view": view,
        "timezone": timezone,
        "member": member,
        "my_positions": await my_day_positions(db, actor, chosen) if member else [],
        "hours": list(range(24)),
    }
    mine: set[str] = set()
    if member:
        context["points"] = await my_metering_points(db, actor)
        context["order_day"] = upcoming[0] if upcoming else chosen
        context |= await mine_context(db, actor, clock)
        mine = {p.ppe_code for p in context["points"]}
    shown, total = storage_charts(view.storage if view else [], mine, unit)
    context |= {"storage_shown": shown, "storage_total": total, "unit_asked": unit or ""}
    return context


async def _forms_context(db: Db, actor: Any, clock: Clock, timezone: str) -> dict[str, Any]:
    """What `day_ahead/_forms.html` shows (a member's points, the day orders go to, my
    storage orders and block groups): not the day's result (`_context`), which on a
    5,000-point cluster reads ~200,000 positions and took a form post 1-4 s."""
    cluster = await get_cluster(db)
    now = clock.now()
    upcoming = next_day_ahead(cluster, now)
    order_day = upcoming[0] if upcoming else to_local(now, timezone).date() + timedelta(days=1)
    return {
        "section": "day_ahead",
        "upcoming": upcoming,
        "timezone": timezone,
        "member": True,
        "hours": list(range(24)),
        "points": await my_metering_points(db, actor),
        "order_day": order_day,
    } | await mine_context(db, actor, clock)


async def mine_context(db: Db, actor: Any, clock: Clock) -> dict[str, Any]:
    """My storage orders and block groups, and which can still be cancelled (a daily one
    always, a day's before its gate): `day_ahead/_mine.html` (also on /my)."""
    cluster = await get_cluster(db)
    now = clock.now()
    storage_orders = await day_ahead.my_storage_orders(db, actor)
    block_groups = await day_ahead.my_block_groups(db, actor)
    days = {o.local_day for o in storage_orders} | {g.local_day for g in block_groups}
    open_days = {d for d in days if d is None or gate_closure(cluster, d) > now}
    return {"storage_orders": storage_orders, "block_groups": block_groups,
            "cancellable": open_days.__contains__}  # fmt: skip


@get("/day-ahead", guards=[signed_in])
async def day_ahead_page(
    request: HTMXRequest,
    db: Db,
    actor: CurrentActor,
    clock: ClockDep,
    settings: SettingsDep,
    day: FromQuery[str | None] = None,
    unit: FromQuery[str | None] = None,
) -> Template:
    chosen = parse_day(day, to_local(clock.now(), settings.timezone).date()) if day else None
    context = await _context(db, actor, clock, settings.timezone, chosen, (unit or "").strip())
    return page(request, "day_ahead/index.html", "day_ahead/_result.html", **context)


async def _forms(
    request: HTMXRequest, db: Db, actor: Any, clock: Clock, timezone: str, **extra: Any
) -> Template:
    context = await _forms_context(db, actor, clock, timezone)
    return render(request, "day_ahead/_forms.html", **context, **extra)


@post("/day-ahead/profile", guards=[requires_role("member")])
async def place_profile(
    request: HTMXRequest,
    db: Db,
    actor: CurrentActor,
    clock: ClockDep,
    settings: SettingsDep,
    publisher: PublisherDep,
) -> Template:
    fields = await _fields(request, PROFILE_FIELDS)
    # A profile's simple orders are not on the forms: the context read for an error's
    # re-render is the one the placed form shows too.
    context = await _forms_context(db, actor, clock, settings.timezone)
    expect_form(request, "day_ahead/_forms.html", form=fields, active="profile", **context)
    cluster = await get_cluster(db)
    inp = day_ahead.parse_profile(fields, minutes=cluster.interval_minutes, tz=cluster.timezone)
    placement = await day_ahead.place_profile(db, actor, clock, inp)
    template = render(request, "day_ahead/_forms.html", **context, active="profile",
                      placed_profile=placement.placed)  # fmt: skip
    template.background = publish_later(publisher, placement.events)
    return template


@post("/day-ahead/storage-unit", guards=[requires_role("member")])
async def set_storage_unit(
    request: HTMXRequest, db: Db, actor: CurrentActor, clock: ClockDep, settings: SettingsDep
) -> Template:
    fields = await _fields(request, UNIT_FIELDS)
    # Blank optional values take their defaults (as on the storage data page).
    given = {k: v for k, v in fields.items() if v or k not in UNIT_OPTIONAL}
    context = await _forms_context(db, actor, clock, settings.timezone)
    expect_form(request, "day_ahead/_forms.html", form=fields, active="unit",
                check=(day_ahead.parse_storage_unit, given), **context)  # fmt: skip
    point = point_key(fields.get("metering_point_id"))
    await day_ahead.set_storage_unit(db, actor, point, day_ahead.parse_storage_unit(given))
    return await _forms(request, db, actor, clock, settings.timezone, active="unit",
                        saved_unit=True)  # fmt: skip


@post("/day-ahead/storage", guards=[requires_role("member")])
async def place_storage(
    request: HTMXRequest, db: Db, actor: CurrentActor, clock: ClockDep, settings: SettingsDep
) -> Template:
    fields = await _fields(request, STORAGE_FIELDS)
    context = await _forms_context(db, actor, clock, settings.timezone)
    expect_form(request, "day_ahead/_forms.html", form=fields, active="storage", **context)
    await day_ahead.place_storage_order(db, actor, clock, day_ahead.parse_storage_order(fields))
    return await _forms(request, db, actor, clock, settings.timezone, active="storage",
                        saved_storage=True)  # fmt: skip


@post("/day-ahead/blocks", guards=[requires_role("member")])
async def place_blocks(
    request: HTMXRequest, db: Db, actor: CurrentActor, clock: ClockDep, settings: SettingsDep
) -> Template:
    fields = await _fields(request, BLOCK_FIELDS)
    context = await _forms_context(db, actor, clock, settings.timezone)
    expect_form(request, "day_ahead/_forms.html", form=fields, active="blocks", **context)
    cluster = await get_cluster(db)
    group = day_ahead.parse_block_group(fields, interval_minutes=cluster.interval_minutes)
    view = await day_ahead.place_block_group(db, actor, clock, group)
    return await _forms(request, db, actor, clock, settings.timezone, active="blocks",
                        saved_blocks=view.blocks)  # fmt: skip


@post("/day-ahead/storage/{order_id:int}/cancel", guards=[requires_role("member")])
async def cancel_storage(
    request: HTMXRequest,
    db: Db,
    actor: CurrentActor,
    clock: ClockDep,
    order_id: FromPath[int],
) -> Template:
    """Cancel my storage order (a daily one with its copies in days before their gate)."""
    context = await mine_context(db, actor, clock)
    expect_form(request, "day_ahead/_mine.html", **context)
    await day_ahead.cancel_storage_order(db, actor, clock, order_id)
    return render(request, "day_ahead/_mine.html", **await mine_context(db, actor, clock),
                  cancelled_storage=True)  # fmt: skip


@post("/day-ahead/blocks/{group_id:int}/cancel", guards=[requires_role("member")])
async def cancel_blocks(
    request: HTMXRequest,
    db: Db,
    actor: CurrentActor,
    clock: ClockDep,
    group_id: FromPath[int],
) -> Template:
    """Cancel my block group (a daily one with its copies in days before their gate)."""
    context = await mine_context(db, actor, clock)
    expect_form(request, "day_ahead/_mine.html", **context)
    await day_ahead.cancel_block_group(db, actor, clock, group_id)
    return render(request, "day_ahead/_mine.html", **await mine_context(db, actor, clock),
                  cancelled_blocks=True)  # fmt: skip


HANDLERS = [day_ahead_page, place_profile, set_storage_unit, place_storage, place_blocks,
            cancel_storage, cancel_blocks]  # fmt: skip
