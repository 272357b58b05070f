"""Storing a clearing result: solver floats to stored decimals (largest-remainder rounding,
see docs/data-model.md), the run and everything it decided, in the caller's transaction."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache, partial
from itertools import compress
from operator import itemgetter, not_
from typing import Any, cast

import numpy as np
from sqlalchemy import Insert, Table, Update, bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.access import audit
from market.access.models import AuditEntry
from market.clearing.input import ProblemInput, compress_problem, input_hash, result_hash
from market.clearing.models import ClearingRun, GridExchange, LineFlow, NodePrice, Trade
from market.core.money import (
    AMOUNT,
    AMOUNT_PLACES,
    ENERGY,
    PRICE,
    allocate_rounded,
    largest_remainder,
    largest_remainder_units,
)
from market.db.base import Base, Dec, UTCDateTime
from market.db.engine import insert_returning_ids
from market.trading.models import Interval, Order, OrderStatus
from matching.result import GRID, ClearingResult

PRICE_LIMIT = Decimal("999999")
#: Rows per statement when storing: small enough that the event loop gets a turn often
#: (parameter processing runs on the loop), large enough to keep round trips few.
CHUNK = 1000


_PRICE_LIMIT_F = float(PRICE_LIMIT)
_UNFILLED, _FILLED, _PARTLY = (
    OrderStatus.UNFILLED.value,
    OrderStatus.FILLED.value,
    OrderStatus.PARTLY_FILLED.value,
)
#: `money.price`/`money.energy` of a float written out (a hot path: ~100 a clearing):
#: `Decimal(repr(x)).quantize(quantum, ROUND_HALF_EVEN)`, what `money.quantize` does.
_dec = Decimal


def _written(value: float, quantum: Decimal) -> Decimal:
    return _dec(repr(value)).quantize(quantum, ROUND_HALF_EVEN)


# `_written` of a price or an energy, remembered per value: a simulation's intervals repeat
# their quantities and prices (hourly profiles, a few node prices), so most are looked up,
# not written out again (a `Decimal` is immutable: one object can stand in every row). One
# cache per quantum (equal quanta of other exponents must not share one); zero is not
# remembered: 0.0 and −0.0 are equal keys and would share a sign.
_price_nonzero = lru_cache(maxsize=1 << 12, typed=True)(partial(_written, quantum=PRICE))
_energy_nonzero = lru_cache(maxsize=1 << 14, typed=True)(partial(_written, quantum=ENERGY))


def forget_written_values() -> None:
    """Empty the written-value caches (a long simulation does it at each day's end, so that
    what it keeps does not grow with the days)."""
    _price_nonzero.cache_clear()
    _energy_nonzero.cache_clear()
    _cores.clear()
    _cores_held[0] = 0


def _price(value: float) -> Decimal:
    return _price_nonzero(value) if value else _written(value, PRICE)


def _energy(value: float) -> Decimal:
    return _energy_nonzero(value) if value else _written(value, ENERGY)


def _bound(value: float) -> Decimal | None:
    if not math.isfinite(value) or abs(value) >= _PRICE_LIMIT_F:
        return None
    return _price_nonzero(value) if value else _written(value, PRICE)


_ZERO_KWH, _ZERO_PLN, _ZERO_PRICE = Decimal("0.000"), Decimal("0.00"), Decimal("0.0000")
_is_signed = Decimal.is_signed
#: What `defaultdict(Decimal)` gives a node that bought (or sold) nothing.
_NO_KWH = Decimal()


def _status_of(accepted: Decimal, quantity: Decimal) -> str:
    if accepted <= 0:
        return _UNFILLED
    if accepted >= quantity:
        return _FILLED
    return _PARTLY


@dataclass(frozen=True, slots=True)
class StoredRun:
    interval_id: int
    run_id: int
    status: str
    reason: str
    input_hash: str
    result_hash: str
    prices: dict[str, str]
    local_kwh: Decimal
    import_kwh: Decimal
    export_kwh: Decimal
    welfare_pln: Decimal
    congested_lines: list[str]


@dataclass(frozen=True, slots=True)
class Converted:
    """A result turned into stored decimals and rows (everything but the run id)."""

    run: dict[str, Any]
    node_rows: list[dict[str, Any]]
    line_rows: list[dict[str, Any]]
    grid_rows: list[dict[str, Any]]
    trade_rows: list[dict[str, Any]]
    order_rows: list[dict[str, Any]]
    prices: dict[str, str]
    congested_lines: list[str]


_Core = tuple[
    list[Decimal],
    list[Decimal],
    list[int],
    list[bool],
    list[Decimal],
    list[Decimal],
    list[Decimal],
    list[Decimal],
    dict[int, Decimal],
    dict[int, Decimal],
]
#: `_core` by the bytes of the arrays it reads, of problems up to `_CORE_MAX_ORDERS` orders
#: (larger ones do not repeat): emptied with the written values (at a simulated day's end),
#: and whenever the orders it holds (`_cores_held`) would exceed `_CORES_HELD_ORDERS`
#: (≈ 0.5 kB an order: a live worker's, which never forgets, stays within ≈ 25 MB).
_cores: dict[tuple[Any, ...], _Core] = {}
_cores_held = [0]
_CORES_HELD_ORDERS = 50_000
_CORE_MAX_ORDERS = 2000


def _raw(a: np.ndarray) -> tuple[str, tuple[int, ...], bytes]:
    return a.dtype.str, a.shape, a.tobytes()


def _core(book: Any, result: ClearingResult, ok: bool, n_orders: int) -> _Core:
    """`convert`'s decimals of the nodes and orders: node prices, quantities, nodes, sides,
    accepted energy, amounts, grid import and export, bought and sold per node. Reads only
    the arrays `convert` keys it by."""
    accepted_f = result.accepted_kwh if ok else np.zeros(n_orders)
    # `_price` and `_energy` written out (one call less per value)
    node_price = (
        [_price_nonzero(p) if p else _written(p, PRICE) for p in result.price.tolist()]
        if ok
        else [_ZERO_PRICE] * len(result.price)
    )
    # `energy` written out over Python floats (one per order: ~480,000 a day at 5,000 points)
    quantity = [
        _energy_nonzero(q) if q else _written(q, ENERGY) for q in book.quantity_kwh.tolist()
    ]
    nodes = book.node.tolist()
    buys = book.is_buy.tolist()

    steps: dict[tuple[int, bool, float], list[int]] = defaultdict(list)
    for k, key in enumerate(zip(nodes, buys, book.price.tolist(), strict=True)):
        steps[key].append(k)
    # Most price steps hold one order: each order rounded on its own first (the one-value
    # rule of `largest_remainder`, for the whole array at once), then the steps of several
    # orders by `largest_remainder` itself.
    # (`min(a, q)` is a unless q < a; each distinct unit count made a Decimal once)
    units = largest_remainder_units(accepted_f, 3)
    milli = {u: Decimal(u).scaleb(-3) for u in set(units)}
    accepted = [
        q if q < a else a for a, q in zip(map(milli.__getitem__, units), quantity, strict=True)
    ]
    for members in steps.values():
        if len(members) > 1:
            rounded = largest_remainder([float(accepted_f[k]) for k in members], 3)
            for k, q in zip(members, rounded, strict=True):
                accepted[k] = min(q, quantity[k])
    amounts = [_ZERO_PLN] * n_orders
    for side in (True, False):
        ks = [k for k in range(n_orders) if buys[k] is side]
        exact = [accepted[k] * node_price[nodes[k]] for k in ks]
        for k, a in zip(ks, allocate_rounded(exact, AMOUNT_PLACES), strict=True):
            amounts[k] = a

    import_kwh = [
        (_energy_nonzero(v) if v else _written(v, ENERGY)) if ok else _ZERO_KWH
        for v in result.import_kwh.tolist()
    ]
    export_kwh = [
        (_energy_nonzero(v) if v else _written(v, ENERGY)) if ok else _ZERO_KWH
        for v in result.export_kwh.tolist()
    ]
    bought: dict[int, Decimal] = defaultdict(Decimal)
    sold: dict[int, Decimal] = defaultdict(Decimal)
    for k in range(n_orders):
        (bought if buys[k] else sold)[nodes[k]] += accepted[k]
    return (
        node_price,
        quantity,
        nodes,
        buys,
        accepted,
        amounts,
        import_kwh,
        export_kwh,
        dict(bought),
        dict(sold),
    )


def convert(inp: ProblemInput, result: ClearingResult, *, audited: bool = True) -> Converted:
    """Pure and CPU-bound (run it in a worker thread): solver floats to stored decimals with
    largest-remainder rounding per price step (energy), per side (amounts) and per buyer
    order (trades). `audited=False` (simulated runs) leaves out the input and result hashes
    and the compressed problem (empty: such a run cannot be re-verified); every figure is
    the same."""
    problem = inp.problem
    book = problem.orders
    ok = result.ok
    n_orders = len(book)
    # the orders' and nodes' decimals: a pure function of the arrays they are made of,
    # remembered by their bytes (a repeated problem's clearing repeats them: `_core`)
    key = (
        ok,
        n_orders,
        _raw(result.price),
        _raw(book.node),
        _raw(book.is_buy),
        _raw(book.quantity_kwh),
        _raw(book.price),
        _raw(result.accepted_kwh) if ok else None,
        _raw(result.import_kwh),
        _raw(result.export_kwh),
    )
    core = _cores.get(key)
    if core is None:
        core = _core(book, result, ok, n_orders)
        if n_orders <= _CORE_MAX_ORDERS:
            if _cores_held[0] + n_orders > _CORES_HELD_ORDERS:
                _cores.clear()
                _cores_held[0] = 0
            _cores[key] = core
            _cores_held[0] += n_orders
    node_price, quantity, nodes, buys, accepted, amounts, import_kwh, export_kwh = core[:8]
    bought, sold = core[8], core[9]
    tr = result.trades
    trade_q = [Decimal("0.000")] * len(tr)
    sellers, buyers = tr.seller.tolist(), tr.buyer.tolist()
    if ok and len(tr):
        groups: dict[tuple[str, int], list[int]] = defaultdict(list)
        for t in range(len(tr)):
            groups[("b", buyers[t]) if buyers[t] != GRID else ("s", sellers[t])].append(t)
        for members in groups.values():
            rounded = largest_remainder([float(tr.quantity_kwh[t]) for t in members], 3)
            for t, q in zip(members, rounded, strict=True):
                trade_q[t] = q
    local = sum(
        (q for t, q in enumerate(trade_q) if buyers[t] != GRID and sellers[t] != GRID),
        Decimal("0.000"),
    )
    timings = result.timings
    run = {
        "input_hash": input_hash(problem) if audited else "",
        "result_hash": result_hash(problem, result) if audited else "",
        "problem_gz": compress_problem(problem) if audited else b"",
        "solver": result.solver,
        "status": result.status.value,
        "reason": result.reason,
        "order_count": n_orders,
        "welfare_pln": Decimal(repr(round(result.welfare, 2))) if ok else Decimal("0.00"),
        "congestion_rent_pln": (
            Decimal(repr(round(result.congestion_rent, 2))) if ok else Decimal("0.00")
        ),
        "matched_kwh": sum(compress(accepted, buys), Decimal("0.000")),
        "local_kwh": local,
        "import_kwh": sum(import_kwh, Decimal("0.000")),
        "export_kwh": sum(export_kwh, Decimal("0.000")),
        "timings": {
            "build_ms": timings.build_ms,
            "solve_ms": timings.solve_ms,
            "prices_ms": timings.prices_ms,
            "allocation_ms": timings.allocation_ms,
            "trades_ms": timings.trades_ms,
            "total_ms": timings.total_ms,
        },
    }
    node_rows, line_rows, grid_rows, trade_rows = [], [], [], []
    if ok:
        lows, highs = result.price_low.tolist(), result.price_high.tolist()
        node_rows = [
            {
                "node_id": inp.node_ids[n],
                "price": node_price[n],
                "price_low": _bound(lows[n]),
                "price_high": _bound(highs[n]),
                "bought_kwh": bought.get(n, _NO_KWH),
                "sold_kwh": sold.get(n, _NO_KWH),
            }
            for n in range(len(inp.node_ids))
        ]
        flows, limits = result.flow_kwh.tolist(), result.line_limit_kwh.tolist()
        congested = result.line_congested.tolist()
        line_rows = [
            {
                "line_id": line_id,
                "flow_kwh": _energy_nonzero(flow) if flow else _written(flow, ENERGY),
                "limit_kwh": _energy_nonzero(limit) if limit else _written(limit, ENERGY),
                "congested": bool(c),
            }
            for line_id, flow, limit, c in zip(inp.line_ids, flows, limits, congested, strict=True)
        ]
        grid_rows = [
            {
                "node_id": inp.grid_node_ids[g],
                "import_kwh": import_kwh[g],
                "export_kwh": export_kwh[g],
                "import_price": inp.grid_prices[g][0],
                "export_price": inp.grid_prices[g][1],
                "import_amount_pln": (import_kwh[g] * inp.grid_prices[g][0]).quantize(AMOUNT),
                "export_amount_pln": (export_kwh[g] * inp.grid_prices[g][1]).quantize(AMOUNT),
            }
            for g in range(len(inp.grid_node_ids))
        ]
        seller_nodes, buyer_nodes = tr.seller_node.tolist(), tr.buyer_node.tolist()
        trade_rows = [
            {
                "seller_order_id": None if sellers[t] == GRID else inp.order_ids[sellers[t]],
                "buyer_order_id": None if buyers[t] == GRID else inp.order_ids[buyers[t]],
                "seller_node_id": inp.node_ids[seller_nodes[t]],
                "buyer_node_id": inp.node_ids[buyer_nodes[t]],
                "quantity_kwh": trade_q[t],
                "seller_price": node_price[seller_nodes[t]],
                "buyer_price": node_price[buyer_nodes[t]],
            }
            for t in range(len(tr))
            if trade_q[t] > 0
        ]
    # (`_status_of` written out: unfilled at ≤ 0, filled at ≥ the quantity, else partly)
    order_rows: list[dict[str, Any]] = [
        {
            "id": order_id,
            "accepted_kwh": a,
            "clearing_price": node_price[n],
            "amount_pln": amount,
            "status": _UNFILLED if a <= _ZERO_KWH else _FILLED if a >= q else _PARTLY,
        }
        for order_id, a, n, amount, q in zip(
            inp.order_ids[:n_orders], accepted, nodes, amounts, quantity, strict=True
        )
    ]
    order_rows += [
        {
            "id": oid,
            "accepted_kwh": Decimal("0.000"),
            "clearing_price": None,
            "amount_pln": Decimal("0.00"),
            "status": OrderStatus.UNFILLED.value,
        }
        for oid in inp.excluded_order_ids
    ]
    return Converted(
        run=run,
        node_rows=node_rows,
        line_rows=line_rows,
        grid_rows=grid_rows,
        trade_rows=trade_rows,
        order_rows=order_rows,
        prices={problem.network.nodes[n].id: str(node_price[n]) for n in range(len(node_price))}
        if ok
        else {},
        congested_lines=[
            problem.network.lines[m].id
            for m in range(len(inp.line_ids))
            if ok and result.line_congested[m]
        ],
    )


async def _executemany(
    session: AsyncSession, statement: Insert | Update, rows: Sequence[dict[str, Any]]
) -> None:
    """Core executemany of tuples: the statement compiled once for the rows' keys, each
    value passed through its column's bind processor (what SQLAlchemy would do), in chunks
    of `CHUNK` rows. SQLAlchemy's per-row parameter building — most of the cost of storing
    a day's results — is skipped. Every column the statement sets must be in the rows (no
    Python-side defaults are applied)."""
    if rows:
        await _executemany_columns(
            session, statement, {n: list(map(itemgetter(n), rows)) for n in rows[0]}
        )


async def _executemany_columns(
    session: AsyncSession, statement: Insert | Update, columns: dict[str, Sequence[Any]]
) -> None:
    """`_executemany` of rows given column by column (equal lengths): a caller that has its
    values as columns builds no dict per row (a day's order outcomes: ~480,000 rows)."""
    count = len(next(iter(columns.values()), ()))
    if not count:
        return
    connection = await session.connection()
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect, column_keys=list(columns))
    names = compiled.positiontup
    assert names is not None, "a positional paramstyle (SQLite, asyncpg)"
    processors = [_bind_rule(compiled.binds[name].type, dialect) for name in names]
    # column by column (`_bind_column`: each distinct value processed once), then into rows
    bound = [
        columns[n] if p is None else _bind_column(p, columns[n])
        for n, p in zip(names, processors, strict=True)
    ]
    for k in range(0, count, CHUNK):
        params = list(zip(*(column[k : k + CHUNK] for column in bound), strict=True))
        await connection.exec_driver_sql(compiled.string, params)


def _bind_column(rule: Callable[[Any], Any], values: Sequence[Any]) -> list[Any]:
    """`list(map(rule, values))`; by the rule's `column` where it has one (`_dec_rule`, a
    timestamp's): each distinct value processed once, the column mapped through the table
    (a C call per value, not a Python one: a day's order outcomes repeat a few hundred
    values over their rows)."""
    whole = getattr(rule, "column", None)
    return list(map(rule, values)) if whole is None else cast(list[Any], whole(values))


def _bind_rule(column_type: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """The column type's bind processing as one plain function: `Dec`'s own rule called
    directly (after it SQLAlchemy only applies `float` to its float on SQLite, nothing on
    PostgreSQL), a timestamp's processed text remembered per value (a batch's rows share a
    few), anything else SQLAlchemy's processor: the same values SQLAlchemy sends."""
    if isinstance(column_type, Dec):
        return _dec_rule(column_type, dialect)
    processor = column_type._cached_bind_processor(dialect)
    if processor is None or not isinstance(column_type, UTCDateTime):
        return cast(Callable[[Any], Any] | None, processor)
    seen: dict[Any, Any] = {}

    def when(value: Any) -> Any:
        out = seen.get(value, seen)
        if out is seen:
            out = seen[value] = processor(value)
        return out

    def column(values: Sequence[Any]) -> list[Any]:
        """`when` of each value (equal values: one processed text, as `seen` gives)."""
        table = {v: when(v) for v in set(values)}
        return list(map(table.__getitem__, values))

    when.column = column  # type: ignore[attr-defined]
    return when


def _dec_rule(column_type: Dec, dialect: Any) -> Callable[[Any], Any]:
    """`Dec.process_bind_param` for this dialect, with its common case (a `Decimal`, as
    `convert` writes every amount) first: the same quantize and the same float on SQLite,
    without a call through `partial` and the dialect's name per value (≈ 2,000,000 values a
    day at 5,000 points)."""
    quantum, sqlite = column_type._quantum, dialect.name == "sqlite"
    general = partial(column_type.process_bind_param, dialect=dialect)
    decimal = Decimal
    # A day's outcomes repeat their values (prices per node, small quantities): each
    # non-zero value is converted once per statement (zero is not remembered: -0 and 0 are
    # equal keys and would share a sign).
    seen: dict[Decimal, Any] = {}

    def rule(value: Any) -> Any:
        if value.__class__ is decimal:
            if not value:
                return float(value.quantize(quantum)) if sqlite else value.quantize(quantum)
            out = seen.get(value, seen)
            if out is seen:
                out = seen[value] = (
                    float(value.quantize(quantum)) if sqlite else value.quantize(quantum)
                )
            return out
        return general(value)  # None, a float, an int, a Decimal subclass

    def column(values: Sequence[Any]) -> list[Any]:
        """`rule` of each value, each distinct one converted once: where every value is a
        `Decimal` and the zeros among them (equal keys whatever their sign) have one sign
        (equal non-zero values convert alike, as `seen` assumes); else value by value."""
        distinct = set(values)
        if any(v.__class__ is not decimal for v in distinct) or (
            # the zeros' signs (`filter` and `map` of C functions: no Python step per value)
            not all(distinct) and len(set(map(_is_signed, filter(not_, values)))) > 1
        ):
            return list(map(rule, values))
        table = {v: float(v.quantize(quantum)) if sqlite else v.quantize(quantum) for v in distinct}
        return list(map(table.__getitem__, values))

    rule.column = column  # type: ignore[attr-defined]
    return rule


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


async def store_result(
    session: AsyncSession,
    interval: Interval,
    converted: Converted,
    *,
    worker_id: str,
    started_at: datetime,
) -> StoredRun:
    """Write the run and everything it decided (the caller commits: all or nothing)."""
    stored = await store_results(
        session, [(interval, converted)], worker_id=worker_id, started_at=started_at
    )
    return stored[0]


async def store_results(
    session: AsyncSession,
    cleared: Sequence[tuple[Interval, Converted]],
    *,
    worker_id: str,
    started_at: datetime,
) -> list[StoredRun]:
    """`store_result` of several intervals (e.g. a simulated day) in a few bulk statements:
    one INSERT … RETURNING of the runs, one executemany per result table, one UPDATE
    executemany of the orders' outcomes and one INSERT of the audit entries (Core
    statements: no ORM objects). The caller commits."""
    if not cleared:
        return []
    now = datetime.now(UTC)
    runs = [
        {
            "interval_id": interval.id,
            "worker_id": worker_id,
            "started_at": started_at,
            "finished_at": now,
            **converted.run,
        }
        for interval, converted in cleared
    ]
    run_ids = await insert_returning_ids(session, _table(ClearingRun), runs)
    for model, attr in (
        (NodePrice, "node_rows"),
        (LineFlow, "line_rows"),
        (GridExchange, "grid_rows"),
        (Trade, "trade_rows"),
    ):
        # the rows' columns and their run's id (no merged dict per row)
        parts = [
            (run_id, getattr(converted, attr))
            for run_id, (_i, converted) in zip(run_ids, cleared, strict=True)
        ]
        rows = [row for _r, part in parts for row in part]
        if rows:
            columns: dict[str, Sequence[Any]] = {
                n: list(map(itemgetter(n), rows)) for n in rows[0] if n != "run_id"
            }
            columns["run_id"] = [run_id for run_id, part in parts for _row in part]
            await _executemany_columns(session, insert(_table(model)), columns)
    orders = _table(Order)
    outcome = (
        update(orders)
        .where(orders.c.id == bindparam("order_id"))
        .values(
            accepted_kwh=bindparam("accepted_kwh"),
            clearing_price=bindparam("clearing_price"),
            amount_pln=bindparam("amount_pln"),
            status=bindparam("status"),
            updated_at=bindparam("updated_at"),
        )
    )
    order_rows = [row for _i, converted in cleared for row in converted.order_rows]
    await _executemany_columns(
        session,
        outcome,
        {
            # (`map` of an itemgetter: a column out of ~480,000 dicts a day, in C)
            "order_id": list(map(itemgetter("id"), order_rows)),
            "accepted_kwh": list(map(itemgetter("accepted_kwh"), order_rows)),
            "clearing_price": list(map(itemgetter("clearing_price"), order_rows)),
            "amount_pln": list(map(itemgetter("amount_pln"), order_rows)),
            "status": list(map(itemgetter("status"), order_rows)),
            "updated_at": [now] * len(order_rows),
        },
    )
    await _executemany(
        session,
        insert(_table(AuditEntry)),
        [
            {"at": now}
            | audit.row(
                None,
                "clear",
                "interval",
                interval.id,
                interval_id=interval.id,
                status=run["status"],
                reason=run["reason"],
                orders=run["order_count"],
                input_hash=run["input_hash"],
                result_hash=run["result_hash"],
                worker=worker_id,
            )
            for (interval, _c), run in zip(cleared, runs, strict=True)
        ],
    )
    return [
        StoredRun(
            interval_id=interval.id,
            run_id=run_id,
            status=run["status"],
            reason=run["reason"],
            input_hash=run["input_hash"],
            result_hash=run["result_hash"],
            prices=converted.prices,
            local_kwh=run["local_kwh"],
            import_kwh=run["import_kwh"],
            export_kwh=run["export_kwh"],
            welfare_pln=run["welfare_pln"],
            congested_lines=converted.congested_lines,
        )
        for (interval, converted), run_id, run in zip(cleared, run_ids, runs, strict=True)
    ]
