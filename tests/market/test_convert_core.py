"""`clearing.store.convert` remembers its orders' and nodes' decimals by the bytes of the
arrays they come from: a repeat of a problem's data (other order ids, another interval)
converts to what a first conversion gives, and other data to its own."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from market.clearing.input import ProblemInput
from market.clearing.store import Converted, _cores, convert, forget_written_values
from matching import clear
from matching.problem import ClearingProblem, GridConnection, Line, Network, Node, OrderBook
from matching.problem import Interval as ProblemInterval


def _input(start_hour: int, first_id: int, quantities: list[float]) -> ProblemInput:
    n = len(quantities)
    network = Network(
        nodes=(Node("A"), Node("B")),
        lines=(Line("L", "A", "B", 2.0, None),),
        grid_connections=(GridConnection("A", 0.9, 0.3, 100.0, 100.0),),
    )
    book = OrderBook(
        tuple(str(first_id + k) for k in range(n)),
        np.array([k % 2 for k in range(n)], dtype=np.int64),
        np.array([k % 3 == 0 for k in range(n)], dtype=np.bool_),
        np.array(quantities, dtype=np.float64),
        np.array([0.5 + 0.05 * (k % 4) for k in range(n)], dtype=np.float64),
    )
    problem = ClearingProblem(
        ProblemInterval(datetime(2026, 3, 29, start_hour, tzinfo=UTC), 15), network, book
    ).validated()
    return ProblemInput(
        problem=problem,
        order_ids=[first_id + k for k in range(n)],
        node_ids=[1, 2],
        line_ids=[7],
        grid_node_ids=[1],
        grid_prices=[(Decimal("0.9000"), Decimal("0.3000"))],
        excluded_order_ids=[],
        order_points=tuple(range(n)),
    )


def _rows(c: Converted) -> str:
    return repr(
        (
            {k: v for k, v in c.run.items() if k != "timings"},
            c.node_rows,
            c.line_rows,
            c.grid_rows,
            c.trade_rows,
            c.order_rows,
            c.prices,
            c.congested_lines,
        )
    )


def test_a_repeated_problem_converts_as_a_first_one() -> None:
    quantities = [0.7, 1.25, 0.333, 2.0, 0.5, 0.125, 1.0, 0.9]
    first, repeat = _input(1, 100, quantities), _input(2, 500, quantities)
    other = _input(3, 900, [q * 1.5 for q in quantities])
    forget_written_values()
    fresh = {name: _rows(convert(i, clear(i.problem), audited=False)) for name, i in
             (("repeat", repeat), ("other", other))}  # fmt: skip
    forget_written_values()
    convert(first, clear(first.problem), audited=False)
    assert _cores  # remembered
    assert _rows(convert(repeat, clear(repeat.problem), audited=False)) == fresh["repeat"]
    assert _rows(convert(other, clear(other.problem), audited=False)) == fresh["other"]
    forget_written_values()
    assert not _cores
