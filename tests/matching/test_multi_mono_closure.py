"""The storage price rule's monotone closure (`matching.multi.prices._mono_closure`)
evaluates only the constraints whose source moved in the previous sweep; it must give the
same numbers, bit for bit, as the plain Jacobi sweep over every constraint."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.multi.prices import (
    SWEEPS_MIN,
    SWEEPS_PER_VARIABLE,
    TOL,
    Monotone,
    _mono_closure,
)
from matching.problem import FloatArray


def every_constraint_every_sweep(start: FloatArray, cons: Monotone, upper: bool) -> FloatArray:
    x = start.copy()
    for _ in range(max(SWEEPS_MIN, SWEEPS_PER_VARIABLE * x.shape[0])):
        new = x.copy()
        with np.errstate(invalid="ignore"):
            if upper:
                np.minimum.at(new, cons.i, (cons.w + cons.b * x[cons.j]) / cons.a)
            else:
                np.maximum.at(new, cons.j, (cons.a * x[cons.i] - cons.w) / cons.b)
            close = np.isfinite(x) & (np.abs(new - x) <= TOL * np.maximum(1.0, np.abs(x)))
            changed = ~((new == x) | close)
        x = new
        if not changed.any():
            return x
    raise AssertionError("does not settle")


@st.composite
def systems(draw: st.DrawFn) -> tuple[FloatArray, Monotone, bool]:
    n = draw(st.integers(1, 8))
    k = draw(st.integers(1, 16))
    idx = st.lists(st.integers(0, n - 1), min_size=k, max_size=k)
    # gains ≥ 1 around every cycle would not settle; storage efficiencies give a/b ≥ 1
    # one way and the line constraints a = b = 1
    gain = st.sampled_from([1.0, 1.0, 0.9, 0.95, 0.97 * 0.93])
    fee = st.sampled_from([0.0, 0.0, 0.01, 0.25, -0.0])
    big = st.sampled_from([1e12, -1e12, 0.5, -0.3, 0.0, 2.0])
    i, j = np.array(draw(idx)), np.array(draw(idx))
    b = np.array(draw(st.lists(gain, min_size=k, max_size=k)))
    w = np.array(draw(st.lists(fee, min_size=k, max_size=k)))
    start = np.array(draw(st.lists(big, min_size=n, max_size=n)))
    return start, Monotone(i, j, np.ones(k), b, w), draw(st.booleans())


@settings(deadline=None)  # a cycle that settles slowly takes up to 2,000 sweeps
@given(systems())
def test_only_moved_sources_give_the_plain_sweeps_numbers(
    case: tuple[FloatArray, Monotone, bool],
) -> None:
    start, cons, upper = case
    try:
        want = every_constraint_every_sweep(start, cons, upper)
    except AssertionError:
        return
    got = _mono_closure(start, cons, upper)
    assert got.tobytes() == want.tobytes()
