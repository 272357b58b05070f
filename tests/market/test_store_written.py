"""`clearing.store._price` / `_energy` (floats written out as stored decimals, remembered
per value) give what `Decimal(repr(x)).quantize(quantum, ROUND_HALF_EVEN)` gives, sign of
zero included, however often a value comes back."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from market.clearing.store import _energy, _price
from market.core.money import ENERGY, PRICE


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), max_size=20))
def test_written_is_repr_quantized(values: list[float]) -> None:
    for write, quantum in ((_energy, ENERGY), (_price, PRICE)):
        for v in values + values:  # the second time from the cache
            want = Decimal(repr(v)).quantize(quantum, ROUND_HALF_EVEN)
            assert str(write(v)) == str(want)  # digits, exponent and sign


def test_zero_keeps_its_sign_and_each_quantum_its_own_entry() -> None:
    assert str(_energy(0.0)) == "0.000"
    assert str(_energy(-0.0)) == "-0.000"
    assert str(_energy(0.0)) == "0.000"
    assert str(_energy(1.0)) == "1.000"
    assert str(_price(1.0)) == "1.0000"
    assert str(_price(0.12345)) == "0.1234"
    assert str(_energy(2.0015)) == "2.002"  # half to even on the shortest digits (repr)
    assert str(_energy(2.0005)) == "2.000"
