"""Converting a day-ahead result in integer units (da13c) gives exactly the decimals the
per-order `Decimal` code gave: each float's decimal text rounded half-even, a position's
amount the exact sum rounded once."""

from __future__ import annotations

import hashlib
import zlib
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from market.clearing.day_ahead import DayProblem
from market.clearing.day_ahead_convert import (
    ScaledColumn,
    convert_day,
    problem_record,
    round_units,
    units,
)


def _decimal_units(value: float, places: int) -> int:
    q = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-places), ROUND_HALF_EVEN)
    return int(q.scaleb(places))


TIES = [0.0005, 0.0015, 0.0025, 1.0005, 2.0015, -0.0005, -2.0015, 0.50005, 0.12345, 1e-9, 0.0]


def test_units_round_ties_half_even_like_decimal() -> None:
    for places in (2, 3, 4):
        assert units(TIES, places).tolist() == [_decimal_units(v, places) for v in TIES]
    assert units([0.0005, 0.0015, 0.0025], 3).tolist() == [0, 2, 2]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.floats(min_value=-1e7, max_value=1e7, allow_nan=False),
            st.integers(min_value=-(10**9), max_value=10**9).map(lambda n: n / 10**6),
            st.integers(min_value=-(10**7), max_value=10**7).map(lambda n: n / 10**4 + 5e-5),
            st.floats(min_value=1e6, max_value=1e12),
        ),
        max_size=20,
    ),
    st.sampled_from([2, 3, 4]),
)
def test_units_equal_decimal_quantize(values: list[float], places: int) -> None:
    assert units(values, places).tolist() == [_decimal_units(v, places) for v in values]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=-(10**12), max_value=10**12), max_size=20))
def test_round_units_is_decimal_half_even(values: list[int]) -> None:
    expected = [
        int((Decimal(v).scaleb(-7)).quantize(Decimal("0.01"), ROUND_HALF_EVEN).scaleb(2))
        for v in values
    ]
    assert round_units(np.array(values, dtype=np.int64), 5).tolist() == expected
    assert round_units(np.array([50_000, 150_000, -50_000, -150_000]), 5).tolist() == [0, 2, 0, -2]


def test_scaled_column_for_each_driver() -> None:
    column = ScaledColumn(
        np.array([1234, 0, -5], dtype=np.int64), 3, np.array([False, False, True])
    )
    assert column.driver(sqlite=False) == [Decimal("1.234"), Decimal("0.000"), None]
    assert [str(d) for d in column.driver(sqlite=False)[:2]] == ["1.234", "0.000"]
    assert column.driver(sqlite=True) == [1.234, 0.0, None]


def _problem() -> DayProblem:
    # Two intervals, nodes A and B; orders o1 (buy, A, t0, point 11), o2 (sell, A, t0,
    # point 12), o3 (buy, B, t1, point 13), o4 (buy, A, t1, point 11); storage s1 at B
    # (point 13, minimum 0.5 kWh); block b1 (buy at A, point 12, t0–t1, 1 kWh each).
    return DayProblem(
        doc={"intervals": [], "orders": []},
        interval_ids=[101, 102],
        node_ids={"A": 1, "B": 2},
        line_ids={"L": 7},
        order_keys=["o1", "o2", "o3", "o4"],
        order_ids=[1, 2, 3, 4],
        order_point=np.array([11, 12, 13, 11]),
        order_node=np.array([0, 0, 1, 0]),
        order_buy=np.array([True, False, True, True]),
        order_interval=np.array([0, 0, 1, 1]),
        storage={"s1": (31, 13, "B", Decimal("0.500"))},
        blocks={"b1": (41, 12, "A", True, 0, [Decimal("1.000"), Decimal("1.000")])},
        excluded_order_ids=[9],
    )


def _result() -> dict[str, object]:
    return {
        "status": "optimal",
        "welfare": 12.345,
        "orders": [
            {"id": "o1", "accepted_kwh": 1.0005},  # a tie: 1.000
            {"id": "o2", "accepted_kwh": 2.0015},  # a tie: 2.002
            {"id": "o3", "accepted_kwh": 1.5},  # node B has no price in t1
            {"id": "o4", "accepted_kwh": 0.0},
        ],
        "storage": [
            {
                "id": "s1",
                "charge_kwh": [0.25, 0.0],
                "discharge_kwh": [0.0, 0.1234],
                "soc_kwh": [0.2375, 0.1076],
            }
        ],
        "blocks": [{"id": "b1", "accepted_ratio": 0.5, "surplus": 0.125}],
        "intervals": [
            {
                "nodes": [{"id": "A", "price": 0.50005}, {"id": "B", "price": 0.1234}],
                "lines": [{"id": "L", "flow_kwh": -0.0015}],
                "grid_connections": [{"node": "A", "import_kwh": 3.0, "export_kwh": None}],
            },
            {"nodes": [{"id": "A", "price": 0.3}], "lines": [], "grid_connections": []},
        ],
    }


def test_a_hand_day_converts_to_the_expected_rows() -> None:
    converted = convert_day(_problem(), _result(), ("h", b""))
    D = Decimal
    assert converted.order_rows.dicts() == [
        {"id": 1, "accepted_kwh": D("1.000"), "clearing_price": D("0.5000"),
         "amount_pln": D("0.50"), "status": "filled"},
        # 2.002 × 0.5 = 1.001 → 1.00 (half-even)
        {"id": 2, "accepted_kwh": D("2.002"), "clearing_price": D("0.5000"),
         "amount_pln": D("1.00"), "status": "filled"},
        {"id": 3, "accepted_kwh": D("1.500"), "clearing_price": None,
         "amount_pln": D("0.00"), "status": "filled"},
        {"id": 4, "accepted_kwh": D("0.000"), "clearing_price": D("0.3000"),
         "amount_pln": D("0.00"), "status": "unfilled"},
        {"id": 9, "accepted_kwh": D("0.000"), "clearing_price": None,
         "amount_pln": D("0.00"), "status": "unfilled"},
    ]  # fmt: skip
    assert converted.price_rows.dicts() == [
        {"interval_id": 101, "node_id": 1, "price": D("0.5000")},
        {"interval_id": 101, "node_id": 2, "price": D("0.1234")},
        {"interval_id": 102, "node_id": 1, "price": D("0.3000")},
    ]
    assert converted.flow_rows.dicts() == [
        {"interval_id": 101, "line_id": 7, "flow_kwh": D("-0.002")}
    ]
    assert converted.grid_rows.dicts() == [
        {"interval_id": 101, "node_id": 1, "import_kwh": D("3.000"), "export_kwh": D("0.000")}
    ]
    assert converted.storage_rows.dicts() == [
        {"storage_order_id": 31, "interval_id": 101, "charge_kwh": D("0.250"),
         "discharge_kwh": D("0.000"), "soc_kwh": D("0.738")},  # 0.2375 → 0.238, + 0.5
        {"storage_order_id": 31, "interval_id": 102, "charge_kwh": D("0.000"),
         "discharge_kwh": D("0.123"), "soc_kwh": D("0.608")},
    ]  # fmt: skip
    # Positions: t0 point 11 buys 1.000 at 0.5; t0 point 12 sells 2.002 and buys the block's
    # 0.500 at 0.5 (−1.001 + 0.25 = −0.751 → −0.75); t0 point 13 charges 0.250 at B's 0.1234
    # (0.03085 → 0.03); t1 point 12 the block's 0.500 at 0.3; t1 point 13 buys 1.5 and
    # discharges 0.123 where B has no price (amount 0).
    assert converted.position_rows.dicts() == [
        {"interval_id": 101, "metering_point_id": 11, "import_kwh": D("1.000"),
         "export_kwh": D("0.000"), "amount_pln": D("0.50")},
        {"interval_id": 101, "metering_point_id": 12, "import_kwh": D("0.500"),
         "export_kwh": D("2.002"), "amount_pln": D("-0.75")},
        {"interval_id": 101, "metering_point_id": 13, "import_kwh": D("0.250"),
         "export_kwh": D("0.000"), "amount_pln": D("0.03")},
        {"interval_id": 102, "metering_point_id": 12, "import_kwh": D("0.500"),
         "export_kwh": D("0.000"), "amount_pln": D("0.15")},
        {"interval_id": 102, "metering_point_id": 13, "import_kwh": D("1.500"),
         "export_kwh": D("0.123"), "amount_pln": D("0.00")},
    ]  # fmt: skip
    assert converted.block_rows == [
        {"id": 41, "accepted_ratio": D("0.5"), "surplus_pln": D("0.12"),
         "paradoxically_rejected": False}
    ]  # fmt: skip
    assert converted.summary["prices_min"] == "0.1234"
    assert converted.summary["prices_max"] == "0.5000"
    assert converted.run["welfare_pln"] == D("12.35")


def test_a_failed_day_stores_no_prices_and_nothing_accepted() -> None:
    converted = convert_day(_problem(), {"status": "error", "reason": "x"}, ("h", b""))
    rows = converted.order_rows.dicts()
    assert [r["clearing_price"] for r in rows] == [None] * 5
    assert {r["status"] for r in rows} == {"unfilled"}
    assert len(converted.position_rows) == 0 and len(converted.price_rows) == 0
    assert converted.summary["prices_min"] == "0"


def test_the_stored_problem_is_what_its_hash_covers() -> None:
    doc = {"orders": [{"id": "o1", "price": 0.5, "node": "Staszów"}], "intervals": []}
    input_hash, blob = problem_record(doc)
    assert hashlib.sha256(zlib.decompress(blob)).hexdigest() == input_hash
    text = '{"intervals":[],"orders":[{"id":"o1","node":"Staszów","price":0.5}]}'
    assert zlib.decompress(blob) == text.encode()


_DOC_NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(-(10**6), 10**6).map(float),  # whole floats: written as integers
    st.sampled_from([0.0, -0.0, 1.0, 0.5, 2.0**53, 1e15, 0.001]),
)


@given(st.lists(_DOC_NUMBERS, max_size=60))
def test_a_columns_numbers_are_written_as_each_alone(values: list[float]) -> None:
    """`_numbers` (numpy's whole floats, da13d) gives the document exactly `_number`'s
    values and types, so the problem's hash does not change."""
    from market.clearing.day_ahead import _number, _numbers

    got = _numbers(tuple(values))
    want = [_number(v) for v in values]
    assert got == want
    assert [type(v) for v in got] == [type(v) for v in want]


def test_a_column_with_other_numbers_takes_the_value_by_value_rule() -> None:
    from market.clearing.day_ahead import _numbers

    assert _numbers((1.0, Decimal("2.50"), 3)) == [1, 2.5, 3]
    assert [type(v) for v in _numbers((1.0, Decimal("2.00")))] == [int, int]
