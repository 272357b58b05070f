"""Fee rates (PLN/kWh) as the cluster's parameters: the coordinator lists, sets and removes
them; the statutory report looks them up per local day and tariff group (`RateBook`).

A metering point's tariff group follows its load profile (`TARIFF_GROUP`) until metering
points carry their own group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.access import audit
from market.access.actor import READ, WRITE, Actor, require_role
from market.core import fields as f
from market.core.errors import NotFound, ValidationFailed
from market.network.models import LoadProfile
from market.statutory.models import Fee, FeeRate

#: The distribution tariff group a load profile is billed in (an assumption, docs/statutory.md).
TARIFF_GROUP: Mapping[str, str] = {
    LoadProfile.HOUSEHOLD.value: "G11",
    LoadProfile.BUSINESS.value: "C11",
    LoadProfile.MUNICIPAL.value: "C21",
    LoadProfile.FLAT.value: "C21",
    LoadProfile.STREET_LIGHTING.value: "C11",
    LoadProfile.NONE.value: "B21",
}
TARIFF_GROUPS = ("G11", "G12", "C11", "C12", "C21", "C22", "B21", "B23")


@dataclass(frozen=True, slots=True)
class FeeRateInput:
    fee: Fee
    tariff_group: str | None
    rate_pln_per_kwh: Decimal
    valid_from: date
    valid_to: date | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class FeeRateView:
    id: int
    fee: str
    tariff_group: str | None
    rate_pln_per_kwh: Decimal
    valid_from: date
    valid_to: date | None
    note: str


def parse_date(raw: object, field: str) -> date:
    if isinstance(raw, date):
        return f.in_years(raw, field)
    try:
        value = date.fromisoformat(str(raw if raw is not None else "").strip())
    except ValueError:
        raise ValidationFailed(field, "must be a date (YYYY-MM-DD)") from None
    return f.in_years(value, field)


def parse_fee_rate(fields: f.Fields) -> FeeRateInput:
    """The one parser of a fee rate (form strings or JSON values)."""
    fee = f.choice(fields.get("fee"), "fee", Fee)
    group_raw = fields.get("tariff_group")
    group = None if f.blank(group_raw) else str(group_raw).strip().upper()
    if group is not None and group not in TARIFF_GROUPS:
        raise ValidationFailed(
            "tariff_group", "must be one of: %(values)s", values=", ".join(TARIFF_GROUPS)
        )
    rate = f.number(
        fields.get("rate_pln_per_kwh"),
        "rate_pln_per_kwh",
        places=6,
        maximum=Decimal(10),
        unit="PLN/kWh",
    )
    valid_from = parse_date(fields.get("valid_from"), "valid_from")
    raw_to = fields.get("valid_to")
    valid_to = None if f.blank(raw_to) else parse_date(raw_to, "valid_to")
    if valid_to is not None and valid_to < valid_from:
        raise ValidationFailed("valid_to", "must not be before valid_from")
    note = f.text(fields.get("note"), "note", max_len=500, required=False)
    return FeeRateInput(fee, group, rate, valid_from, valid_to, note)


def _view(r: FeeRate) -> FeeRateView:
    return FeeRateView(
        r.id, r.fee, r.tariff_group, r.rate_pln_per_kwh, r.valid_from, r.valid_to, r.note
    )


def _overlaps(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    return (a_to is None or b_from <= a_to) and (b_to is None or a_from <= b_to)


async def list_fee_rates(session: AsyncSession, actor: Actor) -> list[FeeRateView]:
    require_role(actor, *READ)
    rows = await session.scalars(
        select(FeeRate).order_by(FeeRate.fee, FeeRate.tariff_group, FeeRate.valid_from)
    )
    return [_view(r) for r in rows]


async def set_fee_rate(
    session: AsyncSession, actor: Actor, data: FeeRateInput, rate_id: int | None = None
) -> FeeRateView:
    """Add a rate (or change rate `rate_id`); periods of one fee and group must not overlap."""
    require_role(actor, *WRITE)
    same = await session.scalars(
        select(FeeRate).where(
            FeeRate.fee == data.fee.value,
            FeeRate.tariff_group.is_(None)
            if data.tariff_group is None
            else FeeRate.tariff_group == data.tariff_group,
        )
    )
    for other in same:
        if other.id != rate_id and _overlaps(
            other.valid_from, other.valid_to, data.valid_from, data.valid_to
        ):
            raise ValidationFailed(
                "valid_from",
                "overlaps the rate valid from %(valid_from)s",
                valid_from=other.valid_from,
            )
    if rate_id is None:
        rate = FeeRate(updated_by_id=actor.member_id)
        session.add(rate)
    else:
        found = await session.get(FeeRate, rate_id)
        if found is None:
            raise NotFound("rate_id", "no such fee rate")
        rate = found
    rate.fee, rate.tariff_group = data.fee.value, data.tariff_group
    rate.rate_pln_per_kwh, rate.note = data.rate_pln_per_kwh, data.note
    rate.valid_from, rate.valid_to = data.valid_from, data.valid_to
    rate.updated_by_id = actor.member_id
    await session.flush()
    audit.record(
        session, actor, "update" if rate_id else "create", "fee_rate", rate.id,
        fee=rate.fee, rate=str(rate.rate_pln_per_kwh), valid_from=str(rate.valid_from),
    )  # fmt: skip
    return _view(rate)


async def delete_fee_rate(session: AsyncSession, actor: Actor, rate_id: int) -> None:
    require_role(actor, *WRITE)
    rate = await session.get(FeeRate, rate_id)
    if rate is None:
        raise NotFound("rate_id", "no such fee rate")
    await session.delete(rate)
    audit.record(session, actor, "delete", "fee_rate", rate_id, fee=rate.fee)
    await session.flush()


class RateBook:
    """Fee rates by local day: a tariff group's own rate first, else the all-groups rate."""

    def __init__(self, rates: Iterable[FeeRateView | FeeRateInput]) -> None:
        self._rates: dict[tuple[str, str | None], list[tuple[date, date | None, Decimal]]] = {}
        for r in rates:
            key = (str(Fee(r.fee).value), r.tariff_group)
            self._rates.setdefault(key, []).append((r.valid_from, r.valid_to, r.rate_pln_per_kwh))

        self._memo: dict[tuple[Fee, date, str | None], Decimal | None] = {}

    def rate(self, fee: Fee, day: date, tariff_group: str | None = None) -> Decimal | None:
        memo = (fee, day, tariff_group)
        if memo in self._memo:
            return self._memo[memo]
        found = None
        for key in ((fee.value, tariff_group), (fee.value, None)):
            for start, end, value in self._rates.get(key, ()):
                if start <= day and (end is None or day <= end):
                    found = value
                    break
            if found is not None:
                break
        self._memo[memo] = found
        return found


async def load_rate_book(session: AsyncSession) -> RateBook:
    rows = await session.scalars(select(FeeRate))
    return RateBook(_view(r) for r in rows)


def _rate(fee: Fee, value: str, group: str | None = None, note: str = "") -> FeeRateInput:
    return FeeRateInput(fee, group, Decimal(value), date(2026, 1, 1), None, note)


#: 2026 levels for the demo, open-ended (PLN/kWh net; estimates where the note says so). The
#: notes are the coordinator's own words, data not UI: the demo cluster's are in Polish.
DEMO_RATES_2026 = (
    _rate(Fee.OZE, "0.0035", note="szacunek; opłata OZE + kogeneracyjna ≈ 0,0103"),
    _rate(Fee.COGENERATION, "0.0068", note="szacunek; opłata OZE + kogeneracyjna ≈ 0,0103"),
    _rate(Fee.QUALITY, "0.0331"),
    _rate(Fee.DISTRIBUTION_VARIABLE, "0.35", "G11", "szacunek dla PGE Dystrybucja"),
    _rate(Fee.DISTRIBUTION_VARIABLE, "0.30", "C11", "szacunek"),
    _rate(Fee.DISTRIBUTION_VARIABLE, "0.25", "C21", "szacunek"),
    _rate(Fee.DISTRIBUTION_VARIABLE, "0.12", "B21", "szacunek"),
)
