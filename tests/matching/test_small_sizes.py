"""Helpers of the single-interval clearing that take a shorter road on small inputs give the
same bits as the road they shortcut (issue 14: a year of the 75-point demo, ~67 orders an
interval, where fixed per-call costs of numpy dominate):

- `trades._cumsum_by_group` in plain Python (≤ `_PLAIN` values) against its padded table;
- `labelling._mix` on 0-d array constants against splitmix64's finaliser as first written
  (numpy scalars under `errstate`) and against plain Python integers mod 2**64.

Whole clearings are covered by the scipy-reference and invariance tests, which run through
these paths on every small problem."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import trades
from matching.labelling import _mix

_FLOATS = st.one_of(
    st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1e-12, 5e-324, 0.1, 0.2, 0.3, 1e6 + 0.1]),
)


@st.composite
def _groups(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    sizes = draw(st.lists(st.integers(1, 80), min_size=1, max_size=12))
    ids = sorted(
        draw(st.lists(st.integers(0, 10**6), min_size=len(sizes), max_size=len(sizes), unique=True))
    )
    group = np.repeat(np.array(ids, dtype=np.int64), sizes)
    values = np.array(draw(st.lists(_FLOATS, min_size=group.shape[0], max_size=group.shape[0])))
    return group, values


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_groups())
def test_plain_running_sums_are_the_tables_bits(case: tuple[np.ndarray, np.ndarray]) -> None:
    group, values = case
    plain = trades._cumsum_by_group_plain(group, values)
    table = trades._cumsum_by_group_table(group, values)
    assert plain.dtype == table.dtype == np.float64
    assert plain.tobytes() == table.tobytes()  # bit for bit, −0.0 included
    if values.shape[0] <= trades._PLAIN:
        assert trades._cumsum_by_group(group, values).tobytes() == table.tobytes()


def test_plain_running_sums_restart_per_group() -> None:
    group = np.array([3, 3, 3, 7, 9, 9], dtype=np.int64)
    values = np.array([0.1, 0.2, 0.3, -0.0, 1e16, 1.0])
    out = trades._cumsum_by_group_plain(group, values)
    assert out.tolist() == [0.1, 0.1 + 0.2, (0.1 + 0.2) + 0.3, -0.0, 1e16, 1e16 + 1.0]
    assert np.signbit(out[3])


_C1, _C2, _C3 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_M = (1 << 64) - 1


def _mix_scalars(x: np.ndarray) -> np.ndarray:
    """`_mix` as it was first written (numpy scalar constants, under `errstate`)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(_C1)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(_C2)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(_C3)
    out: np.ndarray = z ^ (z >> np.uint64(31))
    return out


def _mix_ints(v: int) -> int:
    z = (v + _C1) & _M
    z = ((z ^ (z >> 30)) * _C2) & _M
    z = ((z ^ (z >> 27)) * _C3) & _M
    return z ^ (z >> 31)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, _M), min_size=0, max_size=40), st.booleans())
def test_mix_is_splitmix64(values: list[int], two_d: bool) -> None:
    x = np.array(values, dtype=np.uint64)
    if two_d and len(values) % 2 == 0:
        x = x.reshape(2, -1)
    got = _mix(x)
    assert got.dtype == np.uint64 and got.shape == x.shape
    assert got.tobytes() == _mix_scalars(x).tobytes()
    assert got.ravel().tolist() == [_mix_ints(v) for v in values]
    assert x.ravel().tolist() == values  # the input is left alone


def test_mix_of_a_zero_d_array() -> None:
    assert int(_mix(np.array(5, dtype=np.uint64))) == _mix_ints(5)
