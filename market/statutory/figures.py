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


def sums_figures(sums: Sums) -> dict[str, object]:
    """A day's (or any) sums as JSON-ready values, decimals as strings (exact)."""
    return {
        **{name: str(getattr(sums, name)) for name in _SUMMED},
        "hours": sums.hours,
        "sources": sorted(s.value for s in sums.sources),
        "missing_rates": sorted(sums.missing_rates),
    }


def sums_from(figures: dict[str, object]) -> Sums:
    """`sums_figures` read back."""
    sums = Sums()
    for name in _SUMMED:
        setattr(sums, name, Decimal(str(figures[name])))
    sums.hours = int(str(figures["hours"]))
    sums.sources = {DataSource(s) for s in figures["sources"]}  # type: ignore[attr-defined]
    sums.missing_rates = set(figures["missing_rates"])  # type: ignore[call-overload]
    return sums


_SUMMED = (
    "renewable_fed_in_kwh",
    "generation_fed_in_kwh",
    "member_consumption_kwh",
    "matched_kwh",
    "exempt_kwh",
    "avoided_fees_pln",
    "discount_base_pln",
)


def roll_up_days(
    days: Iterable[tuple[date, Sums]],
    granularity: Granularity,
    tz: str,
    capacity: Capacity,
    rules: RuleSet,
) -> Iterator[Period]:
    """As `roll_up` for months and years, from the sums of whole local days (each the exact
    sum of its hours, `market.statutory.stored`), in day order: the same periods."""
    if granularity is Granularity.HOUR:
        raise ValueError("hours are not rolled up from days")
    zone = ZoneInfo(tz)
    months: dict[tuple[int, int], Sums] = {}
    for day, sums in days:
        if sums.hours == 0:
            continue
        months.setdefault((day.year, day.month), Sums()).add(sums)
    year: Sums | None = None
    year_key: int | None = None
    for key, sums in months.items():
        done = _period(Granularity.MONTH, datetime(key[0], key[1], 1, tzinfo=zone), sums,
                       capacity, rules)  # fmt: skip
        if granularity is Granularity.MONTH:
            yield done
            continue
        if year is not None and key[0] != year_key:
            assert year_key is not None
            yield _period(Granularity.YEAR, datetime(year_key, 1, 1, tzinfo=zone), year,
                          capacity, rules)  # fmt: skip
            year = None
        if year is None:
            year = Sums()
        year_key = key[0]
        year.add(done.sums)
    if year is not None and year_key is not None:
        yield _period(Granularity.YEAR, datetime(year_key, 1, 1, tzinfo=zone), year, capacity,
                      rules)  # fmt: skip
