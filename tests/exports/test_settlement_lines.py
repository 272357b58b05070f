"""`settle_interval`'s per-line residual and grid-only amounts, written out in one pass, are
those of the per-line rules as first written (`_residual`, `_grid_only` below): the same
Decimals, digits and exponent, and the same residual totals."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

from market.settlement.settle import (
    GridFlow,
    IntervalInput,
    Position,
    settle_interval,
)

ZERO, GROSZ_ZERO = Decimal(0), Decimal("0.00")


def to_grosz(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _residual(
    p: Position, import_ref: Decimal, export_ref: Decimal
) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    if p.metered_import_kwh is None or p.metered_export_kwh is None:
        return None, None, None
    deviation = (p.metered_import_kwh - p.metered_export_kwh) - (
        p.matched_import_kwh + p.firm_import_kwh - p.matched_export_kwh - p.firm_export_kwh
    )
    if deviation >= 0:
        return deviation, ZERO, to_grosz(deviation * import_ref)
    return ZERO, -deviation, -to_grosz(-deviation * export_ref)


def _grid_only(p: Position, import_ref: Decimal, export_ref: Decimal) -> Decimal:
    if p.metered_import_kwh is not None and p.metered_export_kwh is not None:
        net = p.metered_import_kwh - p.metered_export_kwh
    else:
        net = p.matched_import_kwh + p.firm_import_kwh - p.matched_export_kwh - p.firm_export_kwh
    if not net:
        return GROSZ_ZERO
    return to_grosz(net * import_ref) if net > 0 else -to_grosz(-net * export_ref)


kwh = st.one_of(
    st.just(Decimal("0.000")),
    st.decimals(0, 50, places=3, allow_nan=False, allow_infinity=False),
)
price = st.decimals(0, 2, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def positions(draw: st.DrawFn) -> Position:
    metered = draw(st.booleans())
    return Position(
        "PL" + str(draw(st.integers(0, 999))),
        draw(st.sampled_from(["A", "B"])),
        draw(kwh),
        draw(kwh),
        draw(kwh) if metered else None,
        draw(kwh) if metered else None,
        draw(kwh),
        draw(kwh),
    )


def _key(x: Decimal | None) -> object:
    return None if x is None else x.as_tuple()


@given(st.lists(positions(), min_size=1, max_size=12), price, price, price, price)
def test_lines_carry_the_per_line_rules_residuals(
    ps: list[Position], p_a: Decimal, p_b: Decimal, imp_ref: Decimal, exp_ref: Decimal
) -> None:
    grid = [GridFlow("A", Decimal("1.000"), ZERO, Decimal("0.8"), Decimal("0.2"))]
    data = IntervalInput(
        datetime(2026, 6, 1, tzinfo=UTC), {"A": p_a, "B": p_b}, ps, grid, imp_ref, exp_ref
    )
    settled = settle_interval(data)
    res_import = res_export = ZERO
    for p, line in zip(ps, settled.lines, strict=True):
        grid_in, grid_out, amount = _residual(p, imp_ref, exp_ref)
        assert (_key(line.grid_import_kwh), _key(line.grid_export_kwh)) == (
            _key(grid_in),
            _key(grid_out),
        )
        assert _key(line.grid_amount_pln) == _key(amount)
        assert _key(line.grid_only_amount_pln) == _key(_grid_only(p, imp_ref, exp_ref))
        if amount is not None:
            if amount >= 0:
                res_import += amount
            else:
                res_export -= amount
    assert _key(settled.residual_import_cost_pln) == _key(res_import)
    assert _key(settled.residual_export_revenue_pln) == _key(res_export)
