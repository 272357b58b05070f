"""The month without the cluster in a member's statement, computed by hand on the report
tests' cluster (see tests/statutory/test_report_cli.py for its energies):

- B (bakery) takes 3 kWh in hour 00Z (meter data) and 2.5 kWh in hour 01Z (cleared):
  without the cluster 5.5 × 0.89 (the grid connection's import price) = 4.895 PLN;
  its PV point C feeds in 1 kWh in hour 00Z: 1 × 0.4 = 0.40 PLN;
- A (PV) feeds in 4 kWh in hour 00Z (meter data, RCE imported: 400 PLN/MWh) and 3 kWh in
  hour 01Z (cleared, no RCE: October's RCEm 330.00): 4 × 0.4 + 3 × 0.33 = 2.59 PLN received.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import select

from market.access.actor import Actor
from market.access.models import Role
from market.network.models import MeteringPoint
from market.prices.models import MarketPrice
from market.reports.benefits import member_benefits
from tests.statutory.test_report_cli import cli_db
from tests.support.exports import PPE_A, PPE_B

__all__ = ["cli_db"]

pytestmark = pytest.mark.anyio
COORD = Actor(0, Role.COORDINATOR.value, "coordinator")
OCTOBER = date(2026, 10, 1)


async def _members(db: Any) -> dict[str, int]:
    async with db.session() as s:
        rows = await s.execute(select(MeteringPoint.ppe_code, MeteringPoint.member_id))
        return {ppe: mid for ppe, mid in rows}


async def test_counterfactual_by_hand(cli_db: Any) -> None:
    members = await _members(cli_db)
    async with cli_db.session() as s:
        s.add(
            MarketPrice(
                start_utc=datetime(2026, 10, 25, 0, tzinfo=UTC),
                resolution_minutes=60,
                price_pln_per_mwh=D("400.00"),
                source="test",
            )
        )
        await s.commit()
    async with cli_db.session() as s:
        bakery = await member_benefits(s, COORD, OCTOBER, members[PPE_B])
        pv = await member_benefits(s, COORD, OCTOBER, members[PPE_A])
    b = bakery.statutory
    assert b.consumption_kwh == D("5.5") and b.tariff_pln_per_kwh == D("0.89")
    assert b.counterfactual_import_pln == D("4.895")
    # its second point C (PV) fed in 0.5 + 0.5 kWh in hour 00Z, at the RCE: 0.40 PLN
    assert b.export_kwh == 1 and b.counterfactual_export_pln == D("0.4")
    assert b.export_price_source == "rce"
    a = pv.statutory
    assert a.export_kwh == 7 and a.counterfactual_export_pln == D("2.59")
    assert a.export_price_source == "mixed" and pv.without_cluster_pln == D("-2.59")
    for m in (bakery, pv):
        assert m.statement is not None
        s_ = m.statement
        assert s_.local_purchase_cost_pln - s_.local_sales_revenue_pln == s_.local_amount_pln
        assert m.with_cluster_pln == (
            s_.total_pln - m.statutory.avoided_fees_pln - m.statutory.discount_pln
        )
        assert m.total_benefit_pln == m.without_cluster_pln - m.with_cluster_pln
    # The bakery bought 2 × 2.5 kWh locally at 0.80 (4.00) but its meter took only 1.5 kWh at
    # 00:00Z: 1 kWh went back to the grid at 0.1829 (−0.18), and C's 0.5 kWh too (−0.09).
    # 00:15Z has meter data and no market: settled against the grid as without the cluster
    # (B 1.5 × 0.89 = 1.335, C 0.5 × 0.40 = 0.20), so "with" covers the same intervals as
    # "without" (before issue 14 it left them out and showed a benefit of 0.9133).
    # With = 4.00 − 0.27 + 1.335 − 0.20 − 0.0567 (exemption) − 0.0916 (discount) = 4.7167;
    # without = 4.895 − 0.40 = 4.495; benefit −0.2217: the over-buying at 00:00Z costs more
    # than the local price and the fee benefits save.
    sb = bakery.statement
    assert sb is not None
    assert (sb.grid_settled_import_kwh, sb.grid_settled_import_cost_pln) == (
        D("1.5"), D("1.335"),
    )  # fmt: skip
    assert (sb.grid_settled_export_kwh, sb.grid_settled_export_revenue_pln) == (
        D("0.5"), D("0.2"),
    )  # fmt: skip
    assert sb.total_pln == D("4.865") and bakery.with_cluster_pln == D("4.7167")
    assert bakery.without_cluster_pln == D("4.495")
    assert bakery.total_benefit_pln == D("-0.2217")


async def test_rcem_only_without_imported_prices(cli_db: Any) -> None:
    members = await _members(cli_db)
    async with cli_db.session() as s:
        pv = await member_benefits(s, COORD, OCTOBER, members[PPE_A])
    assert pv.statutory.export_price_source == "rcem"
    assert pv.statutory.counterfactual_export_pln == D("2.31")  # 7 × 0.33


async def test_statements_reconcile_with_the_cluster(cli_db: Any) -> None:
    """Σ over the members' statements = the cluster's month (test_report_cli: exempt 5.5 kWh,
    avoided 0.0567 PLN, discount 0.0916 PLN; each member's discount rounded to 0.0001)."""
    members = set((await _members(cli_db)).values())
    async with cli_db.session() as s:
        benefits = [(await member_benefits(s, COORD, OCTOBER, m)).statutory for m in members]
    assert sum(b.exempt_kwh for b in benefits) == D("5.5")
    assert sum(b.avoided_fees_pln for b in benefits) == D("0.0567")
    assert abs(sum(b.discount_pln for b in benefits) - D("0.0916")) <= D("0.0001") * len(members)
    assert {b.discount_tier for b in benefits} == {1}
