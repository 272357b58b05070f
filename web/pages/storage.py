"""A storage metering point's technical data: one page per point for its owner and the
coordinator (`market.trading.storage_data`), every field's error shown at once."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from market.core.fields import flag
from market.trading import day_ahead, storage_data
from web.auth import requires_role
from web.deps import CurrentActor, Db
from web.ui.render import expect_form, page, render

REQUIRED = ("energy_kwh", "charge_kw", "discharge_kw")
#: Left blank they take their defaults (efficiency 1, minimum 0, no final minimum).
OPTIONAL = ("efficiency_charge", "efficiency_discharge", "soc_min_kwh", "soc_final_min_kwh")
guards = [requires_role("member", "coordinator")]


def _section(actor: Any) -> str:
    return "coordinator" if actor.role == "coordinator" else "day_ahead"


@get("/points/{point_id:int}/storage", guards=guards)
async def storage_page(
    request: HTMXRequest, db: Db, actor: CurrentActor, point_id: FromPath[int]
) -> Template:
    point = await storage_data.storage_point(db, actor, point_id)
    return page(request, "storage/index.html", "storage/_form.html", section=_section(actor),
                point=point)  # fmt: skip


@post("/points/{point_id:int}/storage", guards=guards)
async def save_storage(
    request: HTMXRequest, db: Db, actor: CurrentActor, point_id: FromPath[int]
) -> Template:
    form = await request.form()
    raw = {name: str(form.get(name, "") or "").strip() for name in REQUIRED + OPTIONAL}
    fields = {k: v for k, v in raw.items() if v or k in REQUIRED}
    point = await storage_data.storage_point(db, actor, point_id)
    expect_form(request, "storage/_form.html", point=point, form=raw,
                check=(day_ahead.parse_storage_unit, fields))  # fmt: skip
    make_storage = flag(form.get("make_storage", ""), "make_storage")
    inp = day_ahead.parse_storage_unit(fields)
    saved = await storage_data.save_storage_data(
        db, actor, point_id, inp, make_storage=make_storage
    )
    return render(request, "storage/_form.html", point=saved, saved=True)


HANDLERS = [storage_page, save_storage]
