"""The coordinator's fee rates (OZE, cogeneration, quality, variable distribution per tariff
group) with validity dates: the parameters of the statutory figures (docs/statutory.md)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from market.statutory import rates
from market.statutory.models import Fee
from web.auth import requires_role
from web.deps import CurrentActor, Db
from web.ui.render import expect_form, page, render

FIELDS = ("fee", "tariff_group", "rate_pln_per_kwh", "valid_from", "valid_to", "note")


class FeeRatesController(Controller):
    path = "/coordinator/fee-rates"
    guards = [requires_role("coordinator")]  # noqa: RUF012 - Litestar's declaration style

    @get("/")
    async def show(self, request: HTMXRequest, db: Db, actor: CurrentActor) -> Template:
        listed = await rates.list_fee_rates(db, actor)
        return page(
            request, "coordinator/fee_rates.html", section="coordinator", **_context(listed)
        )

    @post("/")
    async def add(self, request: HTMXRequest, db: Db, actor: CurrentActor) -> Template:
        form = await request.form()
        fields = {name: str(form.get(name, "")).strip() for name in FIELDS}
        listed = await rates.list_fee_rates(db, actor)
        expect_form(request, "coordinator/_fee_rates.html", form=fields,
                    check=(rates.parse_fee_rate, fields), **_context(listed))  # fmt: skip
        await rates.set_fee_rate(db, actor, rates.parse_fee_rate(fields))
        listed = await rates.list_fee_rates(db, actor)
        return render(request, "coordinator/_fee_rates.html", ok=True, **_context(listed))

    @post("/{rate_id:int}/delete")
    async def delete(
        self, request: HTMXRequest, db: Db, actor: CurrentActor, rate_id: FromPath[int]
    ) -> Template:
        await rates.delete_fee_rate(db, actor, rate_id)
        listed = await rates.list_fee_rates(db, actor)
        return render(request, "coordinator/_fee_rates.html", **_context(listed))


def _context(listed: list[rates.FeeRateView]) -> dict[str, Any]:
    return {"rates": listed, "fees": [f.value for f in Fee], "groups": rates.TARIFF_GROUPS}


HANDLERS: list[Any] = [FeeRatesController]
