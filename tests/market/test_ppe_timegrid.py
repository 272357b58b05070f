from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from market.core.errors import ValidationFailed
from market.core.timegrid import (
    floor_interval,
    interval_start,
    intervals_in_local_day,
    intervals_per_local_day,
    label,
)
from market.members.ppe import check_digit, is_valid_ppe, make_ppe, operator_of, validate_ppe


@pytest.mark.parametrize(
    "code",
    ["590543500000000018", "590543500000000025", "590543500001234566", "590243833012754918"],
)
def test_domain_examples_are_valid(code: str) -> None:
    assert validate_ppe(code) == code


def test_spaces_are_tolerated() -> None:
    assert validate_ppe("5905 4350 0000 0000 18") == "590543500000000018"


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("590543500000000019", "check digit: the last digit should be 8"),
        ("59054350000000001", "exactly 18 digits (got 17)"),
        ("59054350000000001X", "digits only"),
        ("", "required"),
    ],
)
def test_invalid_codes_name_field_and_rule(code: str, rule: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        validate_ppe(code, field="ppe")
    assert err.value.field == "ppe"
    assert rule in err.value.message


@given(st.integers(0, 10**10 - 1), st.integers(1, 9))
def test_made_codes_validate_and_any_single_digit_change_is_caught(serial: int, delta: int) -> None:
    code = make_ppe("5905435", serial)
    assert is_valid_ppe(code)
    assert operator_of(code) == "PGE Dystrybucja"
    broken = code[:17] + str((int(code[17]) + delta) % 10)
    assert not is_valid_ppe(broken)


def test_check_digit_weights_start_at_rightmost() -> None:
    # 17 digits "00000000000000001": the rightmost digit has weight 3 -> (10-3)%10 = 7
    assert check_digit("00000000000000001") == 7
    assert check_digit("00000000000000010") == 9


@pytest.mark.parametrize(
    ("day", "count"), [(date(2026, 3, 29), 92), (date(2026, 3, 30), 96), (date(2026, 10, 25), 100)]
)
def test_local_day_interval_counts(day: date, count: int) -> None:
    starts = intervals_in_local_day(day)
    assert len(starts) == count == intervals_per_local_day(day)
    assert [label(s).number for s in starts] == list(range(1, count + 1))
    assert all(label(s).local_day == day for s in starts)
    assert intervals_per_local_day(day, 60) == count // 4


def test_autumn_repeated_hour_is_numbered_twice_with_offsets() -> None:
    starts = intervals_in_local_day(date(2026, 10, 25))
    # 02:00 local at +02:00 is 00:00 UTC (interval 9), 02:00 at +01:00 is 01:00 UTC (interval 13)
    first, second = label(starts[8]), label(starts[12])
    assert first.local_start.hour == second.local_start.hour == 2
    assert first.local_start.utcoffset() != second.local_start.utcoffset()
    assert first.start_utc == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    assert (first.number, second.number) == (9, 13)


def test_spring_day_skips_local_two_oclock() -> None:
    starts = intervals_in_local_day(date(2026, 3, 29))
    assert all(label(s).local_start.hour != 2 for s in starts)
    assert label(starts[-1]).local_end.hour == 0


def test_interval_start_inverts_label() -> None:
    for day in (date(2026, 3, 29), date(2026, 10, 25), date(2026, 6, 1)):
        for n in (1, 9, 13, intervals_per_local_day(day)):
            assert label(interval_start(day, n)).number == n
    with pytest.raises(ValueError, match="1…92"):
        interval_start(date(2026, 3, 29), 93)


def test_floor_interval_and_off_grid_label() -> None:
    t = datetime(2026, 6, 1, 10, 7, 30, tzinfo=UTC)
    assert floor_interval(t) == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    assert floor_interval(t, 60) == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="grid"):
        label(t)
    assert label(datetime(2026, 6, 1, 10, 0, tzinfo=UTC)).resolution == "PT15M"
