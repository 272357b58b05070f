"""Hourly matching under the law: pure arithmetic on one local hour of the cluster.

For one hour (an hour of UTC is an hour of Polish local time: the offsets are whole hours,
so a DST day simply has 23 or 25 of them), with each metering point's energy taken from the
grid (`import_kwh`, its consumption) and fed into it (`export_kwh`):

- renewable fed in = Σ export of points whose technology the rule set counts as renewable;
  generation fed in = Σ export of generating technologies (storage is not generation);
- member consumption = Σ import of every member's point (storage charging included);
- matched = min(renewable fed in, member consumption);
- exempt = matched while the fee exemption is in force on the hour's local day, else 0;
- **allocation**: the exempt energy goes to the consuming points pro rata to their
  consumption in the hour, each share floored to the Wh and the Wh left over given to the
  largest remainders (ties: lower point id first) — so Σ shares = exempt exactly and no point
  gets more than it consumed;
- avoided fees = Σ share × (OZE fee + cogeneration fee + certificate rate) in force on the
  day for the point's tariff group, in PLN to 0.0001 (so months and years are exact sums);
- discount base = Σ consumption × (variable distribution rate + quality rate): what the
  distribution-fee discount is a share of (the month's tier decides the share).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum

from market.statutory.models import Fee
from market.statutory.rates import RateBook
from market.statutory.rules import RuleSet

ZERO = Decimal(0)
WH = Decimal("0.001")
PLN4 = Decimal("0.0001")


class DataSource(StrEnum):
    METER = "meter_data"
    CLEARED = "cleared_positions"
    MIXED = "mixed"


def combine(sources: set[DataSource]) -> DataSource | None:
    """One label for several figures: the common one, or `mixed`."""
    if not sources:
        return None
    if len(sources) == 1:
        return next(iter(sources))
    return DataSource.MIXED


@dataclass(frozen=True, slots=True)
class PointHour:
    """One metering point in one hour."""

    point_id: int
    technology: str
    tariff_group: str
    import_kwh: Decimal
    export_kwh: Decimal
    source: DataSource
    #: The energy fed in per 15-minute period, (start UTC, kWh), where asked for
    #: (`inputs.point_hours(quarters_of=…)`): net-billing values it per quarter-hour.
    export_by_start: tuple[tuple[datetime, Decimal], ...] = ()


@dataclass(frozen=True, slots=True)
class Allocation:
    point_id: int
    consumption_kwh: Decimal
    exempt_kwh: Decimal
    avoided_fees_pln: Decimal


@dataclass(frozen=True, slots=True)
class HourResult:
    start_utc: datetime
    local_day: date
    renewable_fed_in_kwh: Decimal
    generation_fed_in_kwh: Decimal
    member_consumption_kwh: Decimal
    matched_kwh: Decimal
    exempt_kwh: Decimal
    avoided_fees_pln: Decimal
    discount_base_pln: Decimal
    allocations: tuple[Allocation, ...]
    source: DataSource | None
    missing_rates: frozenset[str]


def allocate(total_kwh: Decimal, consumption: Sequence[tuple[int, Decimal]]) -> list[Decimal]:
    """Split `total_kwh` (whole Wh, ≤ Σ consumption) pro rata to `consumption`, in whole Wh,
    by the largest remainder; ties go to the earlier entry."""
    whole = sum((c for _, c in consumption), ZERO)
    if total_kwh <= 0 or whole <= 0:
        return [ZERO for _ in consumption]
    exact = [total_kwh * c / whole for _, c in consumption]
    floors = [x.quantize(WH, rounding=ROUND_FLOOR) for x in exact]
    missing = int(((total_kwh - sum(floors, ZERO)) / WH).to_integral_value(ROUND_HALF_UP))
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:missing]:
        floors[i] += WH
    return floors


_EXEMPT_FEES = (Fee.OZE, Fee.COGENERATION, Fee.CERTIFICATE)
#: Fees whose rate a cluster must set for the figures to be complete (certificate: optional).
_REQUIRED = (Fee.OZE, Fee.COGENERATION, Fee.QUALITY, Fee.DISTRIBUTION_VARIABLE)
_GRID_FEES = (Fee.DISTRIBUTION_VARIABLE, Fee.QUALITY)


def _rate_sum(
    rates: RateBook, fees: Sequence[Fee], day: date, group: str, missing: set[str]
) -> Decimal:
    total = ZERO
    for fee in fees:
        value = rates.rate(fee, day, group)
        if value is None:
            if fee in _REQUIRED:
                missing.add(fee.value)
            continue
        total += value
    return total


def match_hour(
    start_utc: datetime,
    local_day: date,
    points: Sequence[PointHour],
    rules: RuleSet,
    rates: RateBook,
) -> HourResult:
    """The statutory figures of one hour (see the module docstring)."""
    renewable = sum((p.export_kwh for p in points if rules.is_renewable(p.technology)), ZERO)
    generation = sum((p.export_kwh for p in points if rules.generates(p.technology)), ZERO)
    consumers = sorted(((p.point_id, p) for p in points if p.import_kwh > 0), key=lambda x: x[0])
    consumption = sum((p.import_kwh for _, p in consumers), ZERO)
    matched = min(renewable, consumption)
    exemption = rules.exemption_on(local_day)
    exempt = matched if exemption is not None else ZERO
    shares = allocate(exempt, [(pid, p.import_kwh) for pid, p in consumers])
    missing: set[str] = set()
    allocations = []
    avoided = base = ZERO
    # (fee rate, grid rate) per tariff group: the same for every point of a group in the
    # hour (and what a group misses is added to `missing` once, as often as it would be)
    group_rates: dict[str, tuple[Decimal, Decimal]] = {}
    for (pid, p), share in zip(consumers, shares, strict=True):
        both = group_rates.get(p.tariff_group)
        if both is None:
            fees = [Fee(x) for x in exemption.fees] if exemption is not None else list(_EXEMPT_FEES)
            both = group_rates[p.tariff_group] = (
                _rate_sum(rates, fees, local_day, p.tariff_group, missing),
                _rate_sum(rates, _GRID_FEES, local_day, p.tariff_group, missing),
            )
        fee_rate, grid_rate = both
        amount = (share * fee_rate).quantize(PLN4, rounding=ROUND_HALF_UP)
        avoided += amount
        base += (p.import_kwh * grid_rate).quantize(PLN4, rounding=ROUND_HALF_UP)
        allocations.append(Allocation(pid, p.import_kwh, share, amount))
    return HourResult(
        start_utc,
        local_day,
        renewable,
        generation,
        consumption,
        matched,
        exempt,
        avoided,
        base,
        tuple(allocations),
        combine({p.source for p in points}),
        frozenset(missing),
    )
