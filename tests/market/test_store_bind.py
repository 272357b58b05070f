"""Storing a clearing result binds each `Dec` value as `Dec.process_bind_param` does: the
store's own rule (`clearing.store._dec_rule`, a Decimal's fast case first) is checked
against it value by value, on both dialects."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from market.clearing.store import _dec_rule
from market.db.base import Dec

DIALECTS = (sqlite.dialect(), postgresql.dialect())
TYPES = (Dec(14, 3), Dec(12, 4), Dec(14, 2))

values = st.one_of(
    st.none(),
    st.decimals(min_value=-(10**6), max_value=10**6, allow_nan=False, places=6),
    st.decimals(min_value=-(10**6), max_value=10**6, allow_nan=False, places=2),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.integers(min_value=-(10**6), max_value=10**6),
)


@given(st.lists(values, max_size=20))
def test_the_store_binds_dec_values_as_the_column_type_does(batch: list[object]) -> None:
    for dialect in DIALECTS:
        for column_type in TYPES:
            rule = _dec_rule(column_type, dialect)
            for value in batch:
                got, want = rule(value), column_type.process_bind_param(value, dialect)
                assert type(got) is type(want)
                if isinstance(want, Decimal):
                    assert got.as_tuple() == want.as_tuple()  # the same digits and exponent
                else:
                    assert got == want


def test_half_a_unit_rounds_as_the_column_type_rounds() -> None:
    # the context's rounding (half even), as `Dec.process_bind_param`'s quantize
    rule = _dec_rule(Dec(14, 3), sqlite.dialect())
    assert rule(Decimal("0.0005")) == 0.0 and rule(Decimal("0.0015")) == 0.002
    assert rule(Decimal("-2.0005")) == -2.0 and rule(Decimal("12.3456")) == 12.346
