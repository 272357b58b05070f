"""`clear(problem, memo)`: a problem whose data was cleared before gets the result it gets
without the memo, to the last bit, whatever its order ids (they order the trades among
identical orders) and its interval's start; anything that differs in the data misses."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import orjson
from clearing_strategies import problems
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import (
    ClearingProblem,
    GridConnection,
    Interval,
    Memo,
    Network,
    Node,
    Order,
    OrderBook,
    Side,
    clear,
)
from matching.jsonio import result_to_dict
from tests.support.problems import random_problem


def _bytes(problem: ClearingProblem, memo: Memo | None = None) -> bytes:
    return orjson.dumps(result_to_dict(problem, clear(problem, memo), timings=False))


def _renamed(problem: ClearingProblem, rnd: random.Random) -> ClearingProblem:
    """The same data with other order ids (sorting differently) and another start."""
    book = problem.orders
    ids = tuple(f"{rnd.choice('abcxyz')}{rnd.randrange(10**6)}-{k}" for k in range(len(book)))
    return replace(
        problem,
        interval=Interval(datetime(2031, 3, 4, 5, 15, tzinfo=UTC), problem.interval.minutes),
        orders=OrderBook(ids, book.node, book.is_buy, book.quantity_kwh, book.price),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_nodes=6, max_orders=12), st.integers(0, 10**6))
def test_a_repeat_gets_the_result_cleared_without_the_memo(
    problem: ClearingProblem, seed: int
) -> None:
    memo = Memo()
    assert _bytes(problem, memo) == _bytes(problem)
    other = _renamed(problem, random.Random(seed))
    assert _bytes(other, memo) == _bytes(other)
    assert (memo.hits, memo.misses) == (1, 1)


def test_a_repeat_on_a_feeder_with_congestion_is_the_same_bits() -> None:
    problem = random_problem(300, 40, seed=7)
    memo = Memo()
    clear(problem, memo)
    other = _renamed(problem, random.Random(1))
    assert _bytes(other, memo) == _bytes(other)
    assert memo.hits == 1


def test_identical_orders_are_ordered_by_the_repeats_own_ids() -> None:
    """Two identical sell orders share a buyer: their trades follow their ids, which the
    repeat spells the other way round."""
    network = Network((Node("A"),), grid_connections=(GridConnection("A", 1.0, 0.1, 0.0, 0.0),))
    at = Interval(datetime(2026, 1, 1, tzinfo=UTC), 15)

    def problem(first: str, second: str) -> ClearingProblem:
        return ClearingProblem.build(
            at,
            network,
            [
                Order(first, "A", Side.SELL, 1.0, 0.2),
                Order(second, "A", Side.SELL, 1.0, 0.2),
                Order("buyer", "A", Side.BUY, 1.5, 0.8),
            ],
        )

    memo = Memo()
    one, two = problem("s1", "s2"), problem("s2", "s1")
    assert _bytes(one, memo) == _bytes(one)
    assert _bytes(two, memo) == _bytes(two)
    assert memo.hits == 1
    sellers = clear(two, memo).trades.seller.tolist()
    assert [two.orders.ids[s] for s in sellers] == ["s1", "s2"]


def test_other_data_misses() -> None:
    problem = random_problem(60, 8, seed=3)
    memo = Memo()
    clear(problem, memo)
    book = problem.orders
    nudged = book.quantity_kwh.copy()
    nudged[0] = np.nextafter(nudged[0], np.inf)  # one ulp
    other_book = OrderBook(book.ids, book.node, book.is_buy, nudged, book.price)
    conn = problem.network.grid_connections[0]
    other_net = replace(
        problem.network, grid_connections=(replace(conn, import_limit_kw=conn.import_limit_kw + 1),)
    )
    for other in (
        replace(problem, orders=other_book),
        replace(problem, network=other_net),
        replace(problem, interval=Interval(problem.interval.start, 60)),
    ):
        assert _bytes(other, memo) == _bytes(other)
    assert (memo.hits, memo.misses) == (0, 4)


def test_time_limited_and_large_problems_are_not_memoised() -> None:
    problem = random_problem(60, 8, seed=3)
    limited = replace(problem, time_limit_s=30.0)
    memo = Memo(max_orders=59)
    clear(problem, memo)
    clear(problem, memo)
    clear(limited, Memo())
    assert len(memo) == 0 and memo.hits == 0
    memo = Memo()
    clear(limited, memo)
    assert len(memo) == 0


def test_the_oldest_entries_are_forgotten() -> None:
    memo = Memo(max_held_orders=40)
    ps = [random_problem(20, 4, seed=s) for s in range(3)]
    assert all(len(p.orders) == 20 for p in ps)
    for p in ps:
        clear(p, memo)
    assert len(memo) == 2
    clear(ps[0], memo)  # forgotten: cleared again
    clear(ps[2], memo)
    assert (memo.hits, memo.misses) == (1, 4)
