"""Hours rolled up to months and years, with the self-consumption ratio, the discount tier
and the support conditions in force on each period's first day.

- self-consumption ratio = matched ÷ renewable fed in (the rule set's basis; None without
  renewable feed-in);
- the distribution-fee discount is settled per **month**: the month's ratio picks the tier,
  and discount = discount base × (1 − pay share); a year's discount is the sum of its months'
  (its tier is shown for information); an hour carries its own ratio and tier, no discount;
- energies and avoided fees of a month are the exact sums of its hours, a year's of its
  months.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from market.statutory.hourly import PLN4, ZERO, DataSource, HourResult, combine
from market.statutory.rules import ConditionName, RuleSet

RATIO = Decimal("0.0001")


class Granularity(StrEnum):
    HOUR = "hour"
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True, slots=True)
class Capacity:
    """The cluster's installed capacity (active points), kW."""

    generation_kw: Decimal
    storage_kw: Decimal


@dataclass(frozen=True, slots=True)
class ConditionResult:
    name: str
    value: Decimal | None
    threshold: Decimal
    valid_from: date
    met: bool | None
    draft: bool


@dataclass(slots=True)
class Sums:
    renewable_fed_in_kwh: Decimal = ZERO
    generation_fed_in_kwh: Decimal = ZERO
    member_consumption_kwh: Decimal = ZERO
    matched_kwh: Decimal = ZERO
    exempt_kwh: Decimal = ZERO
    avoided_fees_pln: Decimal = ZERO
    discount_base_pln: Decimal = ZERO
    discount_pln: Decimal | None = None
    hours: int = 0
    sources: set[DataSource] = field(default_factory=set)
    missing_rates: set[str] = field(default_factory=set)

    def add_hour(self, h: HourResult) -> None:
        self.renewable_fed_in_kwh += h.renewable_fed_in_kwh
        self.generation_fed_in_kwh += h.generation_fed_in_kwh
        self.member_consumption_kwh += h.member_consumption_kwh
        self.matched_kwh += h.matched_kwh
        self.exempt_kwh += h.exempt_kwh
        self.avoided_fees_pln += h.avoided_fees_pln
        self.discount_base_pln += h.discount_base_pln
        self.hours += 1
        if h.source is not None:
            self.sources.add(h.source)
        self.missing_rates |= h.missing_rates

    def add(self, other: Sums) -> None:
        for name in (
            "renewable_fed_in_kwh", "generation_fed_in_kwh", "member_consumption_kwh",
            "matched_kwh", "exempt_kwh", "avoided_fees_pln", "discount_base_pln", "hours",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.discount_pln is not None:
            self.discount_pln = (self.discount_pln or ZERO) + other.discount_pln
        self.sources |= other.sources
        self.missing_rates |= other.missing_rates


@dataclass(frozen=True, slots=True)
class Period:
    granularity: Granularity
    start: datetime  # local, with its offset
    sums: Sums
    self_consumption_ratio: Decimal | None
    discount_tier: int
    discount_pay_share: Decimal | None
    renewable_share: Decimal | None
    conditions: tuple[ConditionResult, ...]

    @property
    def source(self) -> str | None:
        label = combine(self.sums.sources)
        return label.value if label else None


def ratio(part: Decimal, whole: Decimal) -> Decimal | None:
    if whole <= 0:
        return None
    return (part / whole).quantize(RATIO, rounding=ROUND_HALF_UP)


def conditions(
    sums: Sums, capacity: Capacity, day: date, rules: RuleSet
) -> tuple[ConditionResult, ...]:
    """Each support condition in force on `day`, with this period's value."""
    values = {
        ConditionName.RENEWABLE_SHARE: ratio(sums.renewable_fed_in_kwh, sums.generation_fed_in_kwh),
        ConditionName.DEMAND_COVERAGE: ratio(
            sums.generation_fed_in_kwh, sums.member_consumption_kwh
        ),
        ConditionName.INSTALLED_CAPACITY_MW: (capacity.generation_kw / 1000).quantize(
            Decimal("0.001")
        ),
        ConditionName.STORAGE_SHARE: ratio(capacity.storage_kw, capacity.generation_kw),
    }
    out = []
    for name, value in values.items():
        rule = rules.condition_on(name, day)
        if rule is None:
            continue
        met = None if value is None else rule.met(value)
        out.append(
            ConditionResult(
                name.value, value, rule.threshold, rule.valid_from, met, rule.source.draft
            )
        )
    return tuple(out)


def _period(
    granularity: Granularity, start: datetime, sums: Sums, capacity: Capacity, rules: RuleSet
) -> Period:
    day = start.date()
    scr = ratio(sums.matched_kwh, sums.renewable_fed_in_kwh)
    tier = rules.tier_for(scr, day)
    tiers = sorted((t for t in rules.tiers if t.on(day)), key=lambda t: t.above)
    number = tiers.index(tier) + 1 if tier is not None else 0
    if granularity is Granularity.MONTH:
        share = tier.pay_share if tier is not None else Decimal(1)
        sums.discount_pln = (sums.discount_base_pln * (1 - share)).quantize(
            PLN4, rounding=ROUND_HALF_UP
        )
    return Period(
        granularity,
        start,
        sums,
        scr,
        number,
        tier.pay_share if tier is not None else None,
        ratio(sums.renewable_fed_in_kwh, sums.generation_fed_in_kwh),
        conditions(sums, capacity, day, rules),
    )


def roll_up(
    hours: Iterable[HourResult],
    granularity: Granularity,
    tz: str,
    capacity: Capacity,
    rules: RuleSet,
) -> Iterator[Period]:
    """Periods in time order; hours must come in time order (a generator: memory is one
    month's sums)."""
    zone = ZoneInfo(tz)
    month_key: tuple[int, int] | None = None
    month = Sums()
    year = Sums()
    year_key: int | None = None

    def local_start(key: tuple[int, int]) -> datetime:
        return datetime(key[0], key[1], 1, tzinfo=zone)

    for h in hours:
        local = h.start_utc.astimezone(zone)
        if granularity is Granularity.HOUR:
            one = Sums()
            one.add_hour(h)
            yield _period(Granularity.HOUR, local, one, capacity, rules)
            continue
        key = (local.year, local.month)
        if month_key is not None and key != month_key:
            done = _period(Granularity.MONTH, local_start(month_key), month, capacity, rules)
            if granularity is Granularity.MONTH:
                yield done
            year.add(done.sums)
            if key[0] != year_key and granularity is Granularity.YEAR:
                yield _period(
                    Granularity.YEAR, local_start((month_key[0], 1)), year, capacity, rules
                )
            if key[0] != year_key:
                year = Sums()
            month = Sums()
        month_key, year_key = key, key[0]
        month.add_hour(h)
    if month_key is None:
        return
    done = _period(Granularity.MONTH, local_start(month_key), month, capacity, rules)
    if granularity is Granularity.MONTH:
        yield done
    year.add(done.sums)
    if granularity is Granularity.YEAR:
        yield _period(Granularity.YEAR, local_start((month_key[0], 1)), year, capacity, rules)
