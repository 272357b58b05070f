"""The member's month statement page (`/statement/`) reads its day table from the settled
days (`reports.member_days.member_days(stored=True)`, the member's intervals stored in its
rows of kind `statement`): on a simulated autumn DST day (25 hours) with intraday trades,
day-ahead positions and meter data, the days and intervals equal those built from the
member's settled lines (`stored=False`) on every field the table reads, and every member's
page body is byte-identical to the page built from settled lines."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from market.access.models import Member
from market.core.errors import NotFound
from market.demo.seed import DEMO_PASSWORD
from market.export.request import month_range
from market.reports import member_days as days_module
from market.reports.member_days import MemberDay, day_bounds, member_days
from market.reports.settled import ROWS, decode_rows, encode_rows
from market.settlement.models import SettledMemberDay
from tests.simulation.test_simulate import DAY
from tests.statutory.test_settled_days import COORDINATOR, MONTH, _simulate

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
MINUTE = timedelta(minutes=1)

#: What the month's day table reads of an interval (the intraday price and the metered
#: values are not stored: None on the stored path).
SHOWN = (
    "start_utc", "local_day", "bought_kwh", "sold_kwh", "cost_pln", "revenue_pln",
    "day_ahead_bought_kwh", "day_ahead_sold_kwh", "day_ahead_cost_pln",
    "day_ahead_revenue_pln", "day_ahead_amount_pln", "day_ahead_price_pln_per_kwh",
    "cleared_intraday",
)  # fmt: skip


def _exact(value: object) -> object:
    """Decimals with their exponent (Decimal("0") == Decimal("0.000"), not as text)."""
    return str(value) if isinstance(value, Decimal) else value


def _shown(days: list[MemberDay] | None) -> object:
    if days is None:
        return None
    return [
        (d.day, [tuple(_exact(getattr(i, f)) for f in SHOWN) for i in d.intervals]) for d in days
    ]


async def _days(s: Any, member: int, start: datetime, end: datetime, *, stored: bool) -> Any:
    try:
        return await member_days(s, COORDINATOR, start, end, member, stored=stored)
    except NotFound as error:
        return f"NotFound {error.field}"


async def test_stored_member_days_equal_the_settled_lines(db: Any) -> None:
    await _simulate(db.sessions)
    async with db.sessions() as s:
        members = (await s.scalars(select(Member.id).order_by(Member.id))).all()
        traded = da = 0
        for m in members:
            for bounds in (
                month_range(MONTH),
                day_bounds(DAY),
                month_range(MONTH.replace(month=9)),
            ):
                settled = await _days(s, m, *bounds, stored=False)
                stored = await _days(s, m, *bounds, stored=True)
                if isinstance(settled, str):
                    assert stored == settled
                    continue
                assert _shown(stored) == _shown(settled), (m, bounds)
                for got in stored:
                    assert all(i.price_pln_per_kwh is None for i in got.intervals)
                traded += sum(i.bought_kwh + i.sold_kwh > 0 for d in settled for i in d.intervals)
                da += sum(i.day_ahead_amount_pln != 0 for d in settled for i in d.intervals)
        await s.commit()
    assert traded > 20 and da > 20  # both markets in the compared intervals
    async with db.sessions() as s:
        rows = (await s.scalars(select(SettledMemberDay.figures))).all()
    # a member's row holds its intervals of the day: 25 on the DST day
    assert max(len(decode_rows(f.get(ROWS, ""))) for f in rows) == 25


def test_the_stored_intervals_read_back_exactly() -> None:
    """Decimals to the exponent, starts across the DST change, nothing traded as a start."""
    at = datetime(2026, 10, 25, 0, 45, tzinfo=UTC)
    rows = [
        (at, Decimal("0"), Decimal("0"), Decimal("0.00"), Decimal("0")),
        (at + 15 * MINUTE, Decimal("1.250"), Decimal("0"), Decimal("0.62"), Decimal("0")),
        (at + 75 * MINUTE, Decimal("0.000"), Decimal("2.5"), Decimal("0"), Decimal("1.10")),
        (at + 90 * MINUTE, Decimal("0"), Decimal("0"), Decimal("0.00"), Decimal("0")),
    ]
    text = encode_rows(rows)
    assert text == "29881485;15:1.250:0:0.62:0;60:0.000:2.5:0:1.10;15"
    back = decode_rows(text)
    assert [tuple(map(str, r)) for r in back] == [tuple(map(str, r)) for r in rows]
    assert decode_rows(encode_rows([])) == []


async def test_the_statement_page_is_byte_identical(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from market.core.clock import ManualClock
    from market.core.settings import Settings
    from web.app import create_app
    from web.config import WebConfig
    from web.pages import reports as pages

    await _simulate(db.sessions)
    async with db.sessions() as s:
        members = (await s.scalars(select(Member.id).order_by(Member.id))).all()
    settings = Settings(data_dir=Path("."), database_url=db.url, secret_key="test-secret")
    app = create_app(
        settings,
        config=WebConfig(secure_cookies=False, signin_rate=("minute", 50)),
        clock=ManualClock(datetime(2026, 10, 26, tzinfo=UTC)),
    )
    calls: list[bool] = []
    real = days_module.member_days

    async def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("stored", False))
        return await real(*args, **kwargs)

    def pages_of(client: TestClient[Any]) -> dict[int, str]:
        out = {}
        for m in members:
            r = client.get("/statement/", params={"month": "2026-10", "member": m})
            assert r.status_code == 200, r.text
            out[m] = re.sub(r'name="_csrf_token" value="[^"]+"', "", r.text)
        return out

    with TestClient(app=app) as client:
        login = client.get("/login")
        token = re.search(r'name="_csrf_token" value="([^"]+)"', login.text)
        assert token
        r = client.post(
            "/login",
            data={"login": "koordynator", "password": DEMO_PASSWORD, "_csrf_token": token[1]},
            follow_redirects=False,
        )
        assert r.status_code < 400
        monkeypatch.setattr(pages, "member_days", spy)
        stored = pages_of(client)
        assert calls and all(calls)  # the page asked for the stored days
        calls.clear()

        async def settled(*args: Any, **kwargs: Any) -> Any:
            kwargs.pop("stored", None)
            return await spy(*args, **kwargs)

        monkeypatch.setattr(pages, "member_days", settled)
        current = pages_of(client)
        assert calls and not any(calls)
    assert [m for m in members if stored[m] != current[m]] == []
    with_days = [m for m in members if 'id="days"' in stored[m]]
    assert len(with_days) > 10
