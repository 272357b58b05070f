"""A column bound at once (`clearing.store._bind_column`: each distinct value processed once)
is the column bound value by value, sign of zero, digits and exponent included, on both
dialects."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from market.clearing.store import _bind_column, _bind_rule, _dec_rule
from market.db.base import Dec, UTCDateTime

DIALECTS = (sqlite.dialect(), postgresql.dialect())
TYPES = (Dec(14, 3), Dec(12, 4), Dec(14, 2))

decimals = st.one_of(
    st.sampled_from(
        [Decimal("0"), Decimal("0.000"), Decimal("-0.00"), Decimal("-0"), Decimal("0E-7")]
    ),
    st.decimals(min_value=-100, max_value=100, allow_nan=False, places=6),
    st.decimals(min_value=-100, max_value=100, allow_nan=False, places=2),
    st.integers(min_value=-50, max_value=50).map(lambda u: Decimal(u).scaleb(-3)),
)
values = st.one_of(decimals, st.none(), st.floats(-1e3, 1e3), st.integers(-100, 100))


def _same(got: list[object], want: list[object]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert type(g) is type(w)
        if isinstance(w, Decimal):
            assert isinstance(g, Decimal) and g.as_tuple() == w.as_tuple()
        elif isinstance(w, float):
            assert isinstance(g, float) and math.copysign(1, g) == math.copysign(1, w) and g == w
        else:
            assert g == w


@given(st.one_of(st.lists(decimals, max_size=40), st.lists(values, max_size=40)))
def test_a_column_binds_as_its_values_do(column: list[object]) -> None:
    for dialect in DIALECTS:
        for column_type in TYPES:
            want = list(map(_dec_rule(column_type, dialect), column))
            _same(_bind_column(_dec_rule(column_type, dialect), column), want)


@given(st.lists(st.integers(0, 5), max_size=30))
def test_a_timestamp_column_binds_as_its_values_do(offsets: list[int]) -> None:
    base = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
    column = [base + timedelta(minutes=15 * k) for k in offsets]
    for dialect in DIALECTS:
        rule = _bind_rule(UTCDateTime(), dialect)
        if rule is None:
            continue
        want = [UTCDateTime()._cached_bind_processor(dialect)(v) for v in column]
        assert _bind_column(rule, column) == want
