"""A member's month with and without the cluster: the statement's local trades and grid
residuals, the statutory benefits (fee exemption, distribution discount) and the
counterfactual without the cluster, and the total benefit (docs/statutory.md).

- with the cluster = the statement's total (local purchases − local sales + grid residual
  cost − grid residual revenue) − avoided fees − distribution discount;
- without the cluster = grid import × the member's tariff − energy fed in × the market price
  (net-billing: RCE of the hour where imported, else RCEm);
- total benefit = without − with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from market.access.actor import Actor
from market.core.errors import NotFound
from market.reports.service import member_statement
from market.settlement.settle import ZERO, Statement
from market.statutory.points import MemberBenefit, member_benefit
from market.statutory.report import parse_statutory_request


@dataclass(frozen=True, slots=True)
class MemberBenefits:
    statement: Statement | None
    statutory: MemberBenefit

    @property
    def market_pln(self) -> Decimal:
        return self.statement.total_pln if self.statement is not None else ZERO

    @property
    def with_cluster_pln(self) -> Decimal:
        """What the member paid in the cluster, less the statutory benefits."""
        s = self.statutory
        return self.market_pln - s.avoided_fees_pln - s.discount_pln

    @property
    def without_cluster_pln(self) -> Decimal:
        return self.statutory.counterfactual_pln

    @property
    def total_benefit_pln(self) -> Decimal:
        return self.without_cluster_pln - self.with_cluster_pln


async def member_benefits(
    session: AsyncSession, actor: Actor, month: date, member_id: int | None = None
) -> MemberBenefits:
    """The member's month (`month`: its first day) with and without the cluster. Members see
    their own; the coordinator and the distributor anyone's."""
    target = actor.member_id if member_id is None else member_id
    statutory = await member_benefit(
        session, actor, target, parse_statutory_request(month.strftime("%Y-%m"), None, "month")
    )
    try:
        statement: Statement | None = await member_statement(session, actor, month, target)
    except NotFound as error:
        if error.field != "from":  # nothing cleared in the month
            raise
        statement = None
    return MemberBenefits(statement, statutory)


def benefit_rows(both: MemberBenefits) -> list[tuple[str, str, Decimal]]:
    """(key, unit, value) rows of the statutory benefits and the month without the cluster,
    for the statement's CSV after `Statement.rows` (same signs: positive is paid)."""
    s = both.statutory
    return [
        ("exempt", "kWh", s.exempt_kwh),
        ("avoided_fees", "PLN", s.avoided_fees_pln),
        ("distribution_discount", "PLN", s.discount_pln),
        ("with_cluster", "PLN", both.with_cluster_pln),
        ("without_cluster_import", "kWh", s.consumption_kwh),
        ("without_cluster_import_cost", "PLN", s.counterfactual_import_pln),
        ("without_cluster_export", "kWh", s.export_kwh),
        ("without_cluster_export_revenue", "PLN", s.counterfactual_export_pln),
        ("without_cluster", "PLN", both.without_cluster_pln),
        ("total_benefit", "PLN", both.total_benefit_pln),
    ]
