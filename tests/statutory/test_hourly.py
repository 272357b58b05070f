"""Hourly matching, the allocation, the tiers and the roll-up, computed by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from market.statutory.figures import Capacity, Granularity, roll_up
from market.statutory.hourly import DataSource, PointHour, allocate, match_hour
from market.statutory.rates import DEMO_RATES_2026, RateBook
from market.statutory.rules import RULES, ConditionName

RATES = RateBook(DEMO_RATES_2026)
CAPACITY = Capacity(D(2000), D(100))
METER, CLEARED = DataSource.METER, DataSource.CLEARED


def ph(pid: int, tech: str, group: str, imp: str, exp: str, src: DataSource = METER) -> PointHour:
    return PointHour(pid, tech, group, D(imp), D(exp), src)


NOON = datetime(2026, 6, 1, 10, tzinfo=UTC)  # 12:00 in Warsaw
HOUR = [
    ph(1, "pv", "G11", "0", "10.000"),
    ph(2, "none", "G11", "4.000", "0"),
    ph(3, "none", "C11", "8.000", "0"),
    ph(4, "gas_chp", "C21", "0", "5.000"),
    ph(5, "storage", "B21", "0", "3.000"),
]


def test_one_hour_by_hand() -> None:
    h = match_hour(NOON, date(2026, 6, 1), HOUR, RULES, RATES)
    assert h.renewable_fed_in_kwh == D("10.000")  # PV only: gas CHP and storage are not
    assert h.generation_fed_in_kwh == D("15.000")  # storage is not generation
    assert h.member_consumption_kwh == D("12.000")
    assert h.matched_kwh == h.exempt_kwh == D("10.000")
    # 10 × 4/12 = 3.3333…, 10 × 8/12 = 6.6666…: floors 3.333 + 6.666, the last Wh to 6.666…
    assert [(a.point_id, a.exempt_kwh) for a in h.allocations] == [
        (2, D("3.333")),
        (3, D("6.667")),
    ]
    # (OZE 0.0035 + cogeneration 0.0068) × share: 0.03433 → 0.0343, 0.06867 → 0.0687
    assert [a.avoided_fees_pln for a in h.allocations] == [D("0.0343"), D("0.0687")]
    assert h.avoided_fees_pln == D("0.1030")
    # 4 × (0.35 + 0.0331) + 8 × (0.30 + 0.0331) = 1.5324 + 2.6648
    assert h.discount_base_pln == D("4.1972")
    assert h.source is METER and not h.missing_rates


def test_more_renewable_than_consumption_matches_the_consumption() -> None:
    points = [ph(1, "pv", "G11", "0", "20"), ph(2, "none", "G11", "5", "0", CLEARED)]
    h = match_hour(NOON, date(2026, 6, 1), points, RULES, RATES)
    assert (h.matched_kwh, h.exempt_kwh) == (D(5), D(5))
    assert h.allocations[0].exempt_kwh == D("5.000")
    assert h.source is DataSource.MIXED


def test_landfill_gas_counts_as_renewable_and_the_battery_does_not() -> None:
    assert RULES.is_renewable("landfill_gas") and not RULES.is_renewable("storage")
    points = [ph(1, "landfill_gas", "C21", "0", "3"), ph(2, "none", "G11", "5", "0")]
    assert match_hour(NOON, date(2026, 6, 1), points, RULES, RATES).matched_kwh == D(3)
    points = [ph(1, "storage", "B21", "0", "3"), ph(2, "none", "G11", "5", "0")]
    assert match_hour(NOON, date(2026, 6, 1), points, RULES, RATES).matched_kwh == D(0)


def test_no_exemption_outside_its_period() -> None:
    for day in (date(2024, 7, 1), date(2030, 1, 1)):
        h = match_hour(NOON, day, HOUR, RULES, RATES)
        assert h.matched_kwh == D(10) and h.exempt_kwh == 0 and h.avoided_fees_pln == 0
    assert RULES.exemption_on(date(2024, 7, 2)) and RULES.exemption_on(date(2029, 12, 31))


def test_missing_rates_are_named() -> None:
    h = match_hour(NOON, date(2025, 6, 1), HOUR, RULES, RATES)  # the demo rates start in 2026
    assert h.exempt_kwh == D(10) and h.avoided_fees_pln == 0
    assert h.missing_rates == {"oze", "cogeneration", "quality", "distribution_variable"}


def test_tiers_and_thresholds_by_date() -> None:
    day = date(2026, 6, 1)
    assert RULES.tier_for(D("0.60"), day) is None  # strictly above 60 %
    assert RULES.tier_for(D("0.6001"), day).pay_share == D("0.95")  # type: ignore[union-attr]
    assert RULES.tier_for(D("0.75"), day).pay_share == D("0.90")  # type: ignore[union-attr]
    assert RULES.tier_for(D("0.85"), day).pay_share == D("0.85")  # type: ignore[union-attr]
    assert RULES.tier_for(D("0.95"), day).pay_share == D("0.80")  # type: ignore[union-attr]
    assert RULES.tier_for(D("0.95"), date(2024, 7, 1)) is None
    share = ConditionName.RENEWABLE_SHARE
    assert RULES.condition_on(share, date(2026, 12, 31)).threshold == D("0.30")  # type: ignore[union-attr]
    assert RULES.condition_on(share, date(2027, 1, 1)).threshold == D("0.50")  # type: ignore[union-attr]


def _hour(start: datetime, renewable: str, consumption: str) -> object:
    points = [ph(1, "pv", "G11", "0", renewable), ph(2, "none", "G11", consumption, "0")]
    return match_hour(start, start.date(), points, RULES, RATES)


def test_month_discount_from_the_months_ratio() -> None:
    # hour 1: 10 renewable, 12 consumed → 10 matched; hour 2: 10 renewable, 5 consumed → 5
    hours = [_hour(NOON, "10", "12"), _hour(NOON + timedelta(hours=1), "10", "5")]
    (month,) = roll_up(hours, Granularity.MONTH, "Europe/Warsaw", CAPACITY, RULES)  # type: ignore[arg-type]
    assert month.start.isoformat() == "2026-06-01T00:00:00+02:00"
    assert month.sums.matched_kwh == D(15) and month.self_consumption_ratio == D("0.7500")
    assert (month.discount_tier, month.discount_pay_share) == (2, D("0.90"))
    # base: 17 kWh × (0.35 + 0.0331) = 6.5127; discount 10 % of it
    assert month.sums.discount_base_pln == D("6.5127")
    assert month.sums.discount_pln == D("0.6513")
    conditions = {c.name: c for c in month.conditions}
    assert conditions["renewable_share"].value == D(1) and conditions["renewable_share"].met
    assert conditions["demand_coverage"].value == D("1.1765")  # 20 / 17
    assert conditions["installed_capacity_mw"].value == D("2.000")
    assert conditions["installed_capacity_mw"].met
    assert conditions["storage_share"].value == D("0.0500") and conditions["storage_share"].met


def test_at_sixty_percent_there_is_no_discount() -> None:
    hours = [_hour(NOON, "10", "6")]
    (month,) = roll_up(hours, Granularity.MONTH, "Europe/Warsaw", CAPACITY, RULES)  # type: ignore[arg-type]
    assert month.self_consumption_ratio == D("0.6000") and month.discount_tier == 0
    assert month.sums.discount_pln == 0


def test_autumn_dst_day_has_25_hours_and_two_two_oclocks() -> None:
    first = datetime(2026, 10, 24, 22, tzinfo=UTC)  # 2026-10-25 00:00+02:00
    hours = [_hour(first + timedelta(hours=k), "1", "2") for k in range(25)]
    periods = list(roll_up(hours, Granularity.HOUR, "Europe/Warsaw", CAPACITY, RULES))  # type: ignore[arg-type]
    starts = [p.start.isoformat() for p in periods]
    assert len(starts) == 25 and starts[-1] == "2026-10-25T23:00:00+01:00"
    assert "2026-10-25T02:00:00+02:00" in starts and "2026-10-25T02:00:00+01:00" in starts
    (month,) = roll_up(hours, Granularity.MONTH, "Europe/Warsaw", CAPACITY, RULES)  # type: ignore[arg-type]
    assert month.sums.hours == 25 and month.sums.matched_kwh == D(25)


def test_allocation_gives_whole_watt_hours_by_largest_remainder() -> None:
    assert allocate(D("1.000"), [(1, D(1)), (2, D(1)), (3, D(1))]) == [
        D("0.334"),
        D("0.333"),
        D("0.333"),
    ]
    assert allocate(D(0), [(1, D(1))]) == [D(0)]


energy = st.integers(min_value=0, max_value=50_000).map(lambda wh: D(wh) / 1000)
tech = st.sampled_from(["pv", "wind", "landfill_gas", "gas_chp", "storage", "none"])
point = st.tuples(tech, energy, energy)
hour_points = st.lists(point, min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(st.lists(hour_points, min_size=1, max_size=80), st.integers(0, 24 * 60))
def test_exempt_never_exceeds_matched_and_totals_reconcile(
    hours_points: list[list[tuple[str, D, D]]], offset_hours: int
) -> None:
    start = datetime(2026, 11, 20, tzinfo=UTC) + timedelta(hours=offset_hours)
    hours = []
    for k, pts in enumerate(hours_points):
        at = start + timedelta(hours=k * 7)  # spans months and the year's end
        points = [ph(i, t, "G11", str(i_), str(e)) for i, (t, i_, e) in enumerate(pts)]
        h = match_hour(at, at.date(), points, RULES, RATES)
        assert 0 <= h.exempt_kwh <= h.matched_kwh <= h.member_consumption_kwh
        assert h.matched_kwh <= h.renewable_fed_in_kwh
        assert sum(a.exempt_kwh for a in h.allocations) == h.exempt_kwh
        assert all(0 <= a.exempt_kwh <= a.consumption_kwh for a in h.allocations)
        hours.append(h)
    tz, cap = "Europe/Warsaw", CAPACITY
    by_hour = list(roll_up(hours, Granularity.HOUR, tz, cap, RULES))
    months = list(roll_up(hours, Granularity.MONTH, tz, cap, RULES))
    years = list(roll_up(hours, Granularity.YEAR, tz, cap, RULES))
    for name in ("renewable_fed_in_kwh", "member_consumption_kwh", "matched_kwh", "exempt_kwh",
                 "avoided_fees_pln", "discount_base_pln"):  # fmt: skip
        total = sum(getattr(p.sums, name) for p in by_hour)
        assert sum(getattr(p.sums, name) for p in months) == total
        assert sum(getattr(p.sums, name) for p in years) == total
    assert sum(p.sums.discount_pln or 0 for p in months) == sum(
        p.sums.discount_pln or 0 for p in years
    )
    assert sum(p.sums.hours for p in years) == len(hours)
    assert [p.start.month for p in years] == [1] * len(years)
