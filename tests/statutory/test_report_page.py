"""The statutory section of the coordinator's report page, on the export tests' cluster.

October 2026 (cleared positions only): two hours, each A (PV) sells 3 kWh and B (C11) buys
2.5 kWh → matched = exempt = 5 kWh of 6 renewable, ratio 0.8333 → tier 3 (pay 85 %);
avoided 2 × 0.0258 = 0.0516 PLN; discount 2 × 0.8328 × 0.15 = 0.2498 PLN.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import update

from market.network.models import MeteringPoint
from market.statutory.models import FeeRate
from market.statutory.rates import DEMO_RATES_2026
from tests.support.exports import PASSWORD, PPE_A, STARTS, build_cluster

pytestmark = pytest.mark.anyio


@pytest.fixture
async def app(db: Any) -> Litestar:
    from market.core.clock import ManualClock
    from market.core.settings import Settings
    from web.app import create_app
    from web.config import WebConfig

    async with db.session() as s:
        await build_cluster(s, STARTS)
        await s.execute(
            update(MeteringPoint).where(MeteringPoint.ppe_code == PPE_A).values(technology="pv")
        )
        s.add_all(
            FeeRate(fee=r.fee.value, tariff_group=r.tariff_group,
                    rate_pln_per_kwh=r.rate_pln_per_kwh, valid_from=r.valid_from)
            for r in DEMO_RATES_2026
        )  # fmt: skip
        await s.commit()
    settings = Settings(data_dir=Path("."), database_url=db.url, secret_key="test-secret")
    config = WebConfig(secure_cookies=False, signin_rate=("minute", 50))
    return create_app(
        settings, config=config, clock=ManualClock(datetime(2026, 10, 26, tzinfo=UTC))
    )


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app=app) as c:
        yield c


def sign_in(client: TestClient[Litestar], login: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token
    data = {"login": login, "password": PASSWORD, "_csrf_token": token.group(1)}
    assert client.post("/login", data=data, follow_redirects=False).status_code < 400


async def test_report_page_shows_the_statutory_month(client: TestClient[Litestar]) -> None:
    sign_in(client, "coord")
    r = client.get("/reports/", params={"start": "2026-10"})
    assert r.status_code == 200, r.text
    assert 'hx-get="/reports/statutory?start=2026-10&amp;end="' in r.text  # loaded after
    r = client.get("/reports/statutory", params={"start": "2026-10"})
    assert r.status_code == 200, r.text
    section = r.text[r.text.index('id="statutory"') :]
    section = section[: section.index("</section>")]
    assert "Korzyści ustawowe" in section and "pozycje z rozliczenia rynku" in section
    assert section.count('<rect class="bar"') == 1 and 'class="threshold"' in section
    cells = re.findall(r'<td class="num">([^<]*)</td>', section)
    assert cells[:4] == ["6,0", "5,0", "5,0", "5,0"]  # renewable, consumption, matched, exempt
    avoided, ratio, tier, discount = cells[4:8]
    assert avoided.startswith("0,05") and ratio.startswith("83,3") and discount.startswith("0,25")
    assert tier.startswith("3 (płatne 85")
    assert "projekt" in section and "2 lipca 2024" in section and "niespełniony" in section
    bad = client.get("/reports/statutory", params={"start": "2026-13"})
    assert 400 <= bad.status_code < 500


async def test_statement_shows_the_members_share(client: TestClient[Litestar]) -> None:
    sign_in(client, "coord")
    page = client.get("/statement/", params={"month": "2026-10", "member": 4})
    assert 'hx-get="/statement/statutory?month=2026-10&amp;member=4"' in page.text
    r = client.get("/statement/statutory", params={"month": "2026-10", "member": 4})  # bakery
    assert r.status_code == 200, r.text
    cells = re.findall(r'<td class="num">([^<]*)</td>', r.text)
    # exempt 5 kWh, avoided 0.0516 PLN; discount on 5 kWh: 1.6656 × 15 % = 0.2498 PLN
    assert cells[0].startswith("5,000") and cells[1].startswith("0,05")
    assert cells[2].startswith("5,000") and cells[3].startswith("0,25")
    assert "próg 3" in r.text and "pozycje z rozliczenia rynku" in r.text
    assert 'id="statement-counterfactual"' in r.text and "Łączna korzyść z klastra" in r.text
    assert "w net-billingu" in r.text
    sign_in(client, "anna")
    mine = client.get("/statement/statutory", params={"month": "2026-10"})
    assert mine.status_code == 200 and re.findall(r'<td class="num">([^<]*)</td>', mine.text)[0]
    other = client.get("/statement/statutory", params={"month": "2026-10", "member": 4})
    assert other.status_code == 403
