"""Aggregation of orders into price steps, and pro-rata allocation back to orders.

A simplex solver fills tied orders arbitrarily, so orders with the same (node, side, price)
become one step before solving; each step's accepted energy is then split among its orders
pro rata to their quantities. This also shrinks the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching.problem import BoolArray, FloatArray, IntArray, OrderBook


@dataclass(frozen=True, slots=True, eq=False)
class Steps:
    """Orders grouped by (node, side, price), in canonical order (node, side, price).

    `order_step[k]` is the step of order k; `canonical` lists order indices sorted by
    (node, side, price, id), the order used wherever a sequence must not depend on how the
    input happened to list the orders.
    """

    node: IntArray
    is_buy: BoolArray
    price: FloatArray
    quantity_kwh: FloatArray
    order_step: IntArray
    canonical: IntArray


def aggregate(book: OrderBook, *, by_position: bool = False) -> Steps:
    """Group orders into steps. `by_position`: the book is written canonically
    (`matching.labelling`: sorted by node, side with sells first, price, quantity), so
    positions order equal-priced orders instead of ids, and no sort is needed.

    Σ quantities per step are summed smallest first, so the step totals do not depend on
    the input order or the ids of the orders (float addition is not associative).
    """
    n = len(book)
    if n == 0:
        e_i = np.zeros(0, dtype=np.int64)
        return Steps(e_i, np.zeros(0, dtype=np.bool_), np.zeros(0), np.zeros(0), e_i, e_i)
    # buy first (is_buy True sorts last with plain keys, so use ~is_buy); lexsort is
    # stable, so with `by_position` equal keys keep their (canonical) positions
    if by_position:
        # written canonically: sorted by (node, side with sells first, price, quantity), so
        # moving each node's buys before its sells keeps everything else in order
        canonical = np.argsort(book.node * 2 + ~book.is_buy, kind="stable")
    else:
        id_rank = np.argsort(np.asarray(book.ids), kind="stable")
        rank = np.empty(n, dtype=np.int64)
        rank[id_rank] = np.arange(n)
        canonical = np.lexsort((rank, book.price, ~book.is_buy, book.node))
    node_s = book.node[canonical]
    buy_s = book.is_buy[canonical]
    price_s = book.price[canonical]
    new = np.ones(n, dtype=np.bool_)
    new[1:] = (
        (node_s[1:] != node_s[:-1]) | (buy_s[1:] != buy_s[:-1]) | (price_s[1:] != price_s[:-1])
    )
    starts = np.flatnonzero(new)
    step_of_sorted = np.cumsum(new) - 1
    order_step = np.empty(n, dtype=np.int64)
    order_step[canonical] = step_of_sorted
    # summed smallest first within each step (not in id order): the total is the same
    # bits however the ids are spelled
    by_size = (
        canonical
        if by_position
        else np.lexsort((book.quantity_kwh, book.price, ~book.is_buy, book.node))
    )
    qty = np.add.reduceat(book.quantity_kwh[by_size], starts)
    return Steps(
        node=node_s[starts],
        is_buy=buy_s[starts],
        price=price_s[starts],
        quantity_kwh=qty,
        order_step=order_step,
        canonical=canonical,
    )


def allocate_pro_rata(book: OrderBook, steps: Steps, step_accepted: FloatArray) -> FloatArray:
    """Split each step's accepted energy among its orders in proportion to their quantities.

    A fully accepted step gives each order exactly its quantity, a rejected one exactly 0.
    """
    if len(book) == 0:
        return np.zeros(0)
    q_step = steps.quantity_kwh
    share = np.divide(step_accepted, q_step, out=np.zeros_like(q_step), where=q_step > 0)
    share = np.clip(share, 0.0, 1.0)
    accepted = book.quantity_kwh * share[steps.order_step]
    full = share[steps.order_step] >= 1.0
    accepted[full] = book.quantity_kwh[full]
    return accepted
