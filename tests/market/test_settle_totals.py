"""`settle_totals` is each line's `total_pln` of `settle_interval`, to the digit (the
simulation reads no more of a settlement)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from market.reports.day_ahead_only import NoIntradayPrice
from market.settlement.settle import (
    GridFlow,
    IntervalInput,
    Position,
    settle_interval,
    settle_totals,
)

_NODES = ("N1", "N2", "N3")
_kwh = st.integers(min_value=0, max_value=40_000).map(lambda u: Decimal(u).scaleb(-3))
_price = st.integers(min_value=-5_000, max_value=20_000).map(lambda u: Decimal(u).scaleb(-4))
_zero_or_kwh = st.one_of(st.just(Decimal(0)), st.just(Decimal("0.000")), _kwh)


@st.composite
def _positions(draw: st.DrawFn) -> Position:
    metered = draw(st.booleans())
    return Position(
        f"PPE{draw(st.integers(0, 99))}",
        draw(st.sampled_from(_NODES)),
        draw(_zero_or_kwh),
        draw(_zero_or_kwh),
        draw(_zero_or_kwh) if metered else None,
        draw(_zero_or_kwh) if metered else None,
        draw(_zero_or_kwh),
        draw(_zero_or_kwh),
    )


@settings(max_examples=300)
@given(
    st.lists(_positions(), max_size=12),
    st.dictionaries(st.sampled_from(_NODES), _price, min_size=3, max_size=3),
    st.lists(st.tuples(_kwh, _kwh, _price, _price), max_size=2),
    _price,
    _price,
    st.booleans(),
)
def test_totals_are_the_lines_totals(
    positions: list[Position],
    prices: dict[str, Decimal],
    grid: list[tuple[Decimal, Decimal, Decimal, Decimal]],
    imp_ref: Decimal,
    exp_ref: Decimal,
    no_intraday: bool,
) -> None:
    data = IntervalInput(
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        NoIntradayPrice() if no_intraday else prices,
        positions,
        [GridFlow("N1", *g) for g in grid],
        imp_ref,
        exp_ref,
    )
    try:
        lines = settle_interval(data).lines
    except ValueError:  # a total the split cannot make (not in whole grosze): both raise
        try:
            settle_totals(data)
        except ValueError:
            return
        raise AssertionError("settle_totals did not raise") from None
    totals = settle_totals(data)
    assert [str(t) for t in totals] == [str(line.total_pln) for line in lines]
