"""Fee rates as cluster parameters (the coordinator edits them, with validity dates) and the
demo seed's technologies."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import func, select

from market.access.actor import Actor
from market.access.models import Member
from market.core.errors import Forbidden, ValidationFailed
from market.demo.seed import seed_demo
from market.network.models import MeteringPoint
from market.statutory.models import Fee, FeeRate
from market.statutory.rates import (
    RateBook,
    list_fee_rates,
    load_rate_book,
    parse_fee_rate,
    set_fee_rate,
)
from market.statutory.report import parse_statutory_request
from market.statutory.rules import RULES

pytestmark = pytest.mark.anyio

MEMBER = Actor(2, "member", "Anna")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"fee": "vat", "rate_pln_per_kwh": "1", "valid_from": "2026-01-01"}, "fee"),
        ({"fee": "oze", "rate_pln_per_kwh": "-1", "valid_from": "2026-01-01"}, "rate_pln_per_kwh"),
        ({"fee": "oze", "rate_pln_per_kwh": "x", "valid_from": "2026-01-01"}, "rate_pln_per_kwh"),
        ({"fee": "oze", "rate_pln_per_kwh": "0.1", "valid_from": "1.1.2026"}, "valid_from"),
        (
            {
                "fee": "oze",
                "rate_pln_per_kwh": "0.1",
                "valid_from": "2026-02-01",
                "valid_to": "2026-01-31",
            },
            "valid_to",
        ),
        (
            {
                "fee": "quality",
                "rate_pln_per_kwh": "0.1",
                "valid_from": "2026-01-01",
                "tariff_group": "X1",
            },
            "tariff_group",
        ),
    ],
)
def test_bad_fee_rates_name_the_field(fields: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_fee_rate(fields)
    assert caught.value.field == field


def test_rate_book_prefers_the_groups_own_rate_and_respects_dates() -> None:
    book = RateBook(
        [
            parse_fee_rate(
                {
                    "fee": "distribution_variable",
                    "rate_pln_per_kwh": "0,30",
                    "valid_from": "2026-01-01",
                    "valid_to": "2026-06-30",
                }
            ),
            parse_fee_rate(
                {
                    "fee": "distribution_variable",
                    "rate_pln_per_kwh": "0.32",
                    "valid_from": "2026-07-01",
                }
            ),
            parse_fee_rate(
                {
                    "fee": "distribution_variable",
                    "rate_pln_per_kwh": "0.35",
                    "valid_from": "2026-01-01",
                    "tariff_group": "g11",
                }
            ),
        ]
    )
    fee = Fee.DISTRIBUTION_VARIABLE
    assert book.rate(fee, date(2026, 6, 30), "C11") == D("0.30")
    assert book.rate(fee, date(2026, 7, 1), "C11") == D("0.32")
    assert book.rate(fee, date(2026, 7, 1), "G11") == D("0.35")
    assert book.rate(fee, date(2025, 12, 31), "C11") is None
    assert book.rate(Fee.OZE, date(2026, 7, 1)) is None


async def test_coordinator_sets_rates_overlaps_refused(db: Any) -> None:
    async with db.session() as s:
        await seed_demo(s, now=datetime(2026, 6, 1, 10, tzinfo=UTC))
        await s.commit()
        coordinator_id = await s.scalar(select(Member.id).where(Member.role == "coordinator"))
        assert coordinator_id is not None
        coordinator = Actor(coordinator_id, "coordinator", "Koordynator")
        before = len(await list_fee_rates(s, coordinator))
        with pytest.raises(Forbidden):
            await set_fee_rate(
                s,
                MEMBER,
                parse_fee_rate(
                    {"fee": "oze", "rate_pln_per_kwh": "0.004", "valid_from": "2027-01-01"}
                ),
            )
        overlapping = parse_fee_rate(
            {"fee": "oze", "rate_pln_per_kwh": "0.004", "valid_from": "2026-12-01"}
        )
        with pytest.raises(ValidationFailed) as caught:
            await set_fee_rate(s, coordinator, overlapping)
        assert caught.value.field == "valid_from"
        assert len(await list_fee_rates(s, coordinator)) == before  # nothing stored
        oze = next(r for r in await list_fee_rates(s, coordinator) if r.fee == "oze")
        closed = parse_fee_rate(
            {
                "fee": "oze",
                "rate_pln_per_kwh": oze.rate_pln_per_kwh,
                "valid_from": oze.valid_from.isoformat(),
                "valid_to": "2026-12-31",
            }
        )
        await set_fee_rate(s, coordinator, closed, oze.id)
        await set_fee_rate(
            s,
            coordinator,
            parse_fee_rate(
                {"fee": "oze", "rate_pln_per_kwh": "0.0042", "valid_from": "2027-01-01"}
            ),
        )
        await s.commit()
        book = await load_rate_book(s)
        assert book.rate(Fee.OZE, date(2026, 12, 31)) == D("0.0035")
        assert book.rate(Fee.OZE, date(2027, 1, 1)) == D("0.0042")
        assert await s.scalar(select(func.count()).select_from(FeeRate)) == before + 1


async def test_demo_technologies(db: Any) -> None:
    async with db.session() as s:
        await seed_demo(s, now=datetime(2026, 6, 1, 10, tzinfo=UTC))
        await s.commit()
        rows = (await s.execute(select(MeteringPoint.name, MeteringPoint.technology))).all()
    tech = dict(rows)
    assert tech["Silnik gazu składowiskowego"] == "landfill_gas"
    assert tech["Magazyn 1 MW / 2 MWh"] == "storage"
    assert tech["Farma PV 1 MWp"] == "pv" and tech["Ratusz"] == "none"
    assert RULES.is_renewable(tech["Silnik gazu składowiskowego"])
    assert not RULES.is_renewable(tech["Magazyn 1 MW / 2 MWh"])


def test_request_ranges() -> None:
    r = parse_statutory_request("2026-02", "", "year")
    assert (r.first_day, r.last_day, r.granularity.value) == (
        date(2026, 2, 1),
        date(2026, 2, 28),
        "year",
    )
    r = parse_statutory_request("2026-03-29", "2026-10", "hour")
    assert (r.first_day, r.last_day) == (date(2026, 3, 29), date(2026, 10, 31))
    with pytest.raises(ValidationFailed) as caught:
        parse_statutory_request("", None)
    assert caught.value.field == "from"
