"""Clearing an interval from the database: build the problem, solve it off the event loop,
store the result in one transaction, and verify a stored clearing.

Exactly once: an interval is claimed by a conditional UPDATE (closed → clearing, or a
clearing claim whose lease ran out), and the result is stored only if the same UPDATE-guard
still holds (`status = 'clearing' AND claimed_by = me`) in the storing transaction; the
unique `clearing_runs.interval_id` is the last line of defence. A process that dies while
clearing leaves the interval in `clearing` with a lease that expires; the next worker takes it
over, removes any stale partial result and clears it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anyio
import numpy as np
from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market import audit
from market.events import INTERVAL_CLEARED, Publisher, publish_safely
from market.models import (
    ClearingRun,
    GridConnection,
    GridExchange,
    Interval,
    IntervalStatus,
    Line,
    LineFlow,
    MeteringPoint,
    Node,
    NodePrice,
    Order,
    OrderStatus,
    Trade,
)
from market.money import AMOUNT_PLACES, allocate_rounded, energy, largest_remainder
from market.money import price as round_price
from matching.problem import ClearingProblem, ProblemError
from matching.problem import GridConnection as GridConn
from matching.problem import Interval as ProblemInterval
from matching.problem import Line as ProblemLine
from matching.problem import Network as ProblemNetwork
from matching.problem import Node as ProblemNode
from matching.problem import Order as ProblemOrder
from matching.problem import Side as ProblemSide
from matching.result import GRID, ClearingResult, Status

log = logging.getLogger("klaster.clearing")
PRICE_LIMIT = Decimal("999999")


@dataclass(frozen=True, slots=True)
class ProblemInput:
    """A clearing problem plus the database ids its positions stand for."""

    problem: ClearingProblem
    order_ids: list[int]
    node_ids: list[int]
    line_ids: list[int]
    grid_node_ids: list[int]
    grid_prices: list[tuple[Decimal, Decimal]]
    #: Orders left out (their metering point's node is inactive).
    excluded_order_ids: list[int]


async def build_problem(session: AsyncSession, interval: Interval) -> ProblemInput:
    """The interval's clearing problem from the network as it is now and the interval's
    orders (limits in kW as stored; the solver turns them into kWh per interval)."""
    nodes = (await session.scalars(select(Node).where(Node.active).order_by(Node.id))).all()
    node_code = {n.id: n.code for n in nodes}
    lines = [
        ln
        for ln in (await session.scalars(select(Line).where(Line.active).order_by(Line.id))).all()
        if ln.from_node_id in node_code and ln.to_node_id in node_code
    ]
    conns = [
        g
        for g in (await session.scalars(select(GridConnection).order_by(GridConnection.id))).all()
        if g.node_id in node_code
    ]
    rows = (
        await session.execute(
            select(Order, MeteringPoint.node_id)
            .join(MeteringPoint, Order.metering_point_id == MeteringPoint.id)
            .where(
                Order.interval_id == interval.id,
                Order.status != OrderStatus.CANCELLED.value,
            )
            .order_by(Order.id)
        )
    ).all()
    orders, order_ids, excluded = [], [], []
    for order, node_id in rows:
        if node_id not in node_code:
            excluded.append(order.id)
            continue
        order_ids.append(order.id)
        orders.append(
            ProblemOrder(
                id=str(order.id),
                node=node_code[node_id],
                side=ProblemSide(order.side),
                quantity_kwh=float(order.quantity_kwh),
                price=float(order.price),
            )
        )
    network = ProblemNetwork(
        nodes=tuple(ProblemNode(n.code) for n in nodes),
        lines=tuple(
            ProblemLine(
                id=ln.code,
                from_node=node_code[ln.from_node_id],
                to_node=node_code[ln.to_node_id],
                capacity_kw=float(ln.capacity_kw),
                reactance=None if ln.reactance is None else float(ln.reactance),
            )
            for ln in lines
        ),
        grid_connections=tuple(
            GridConn(
                node=node_code[g.node_id],
                import_price=float(g.import_price),
                export_price=float(g.export_price),
                import_limit_kw=float(g.import_limit_kw),
                export_limit_kw=float(g.export_limit_kw),
            )
            for g in conns
        ),
    )
    problem = ClearingProblem.build(
        ProblemInterval(interval.start_utc, interval.minutes), network, orders
    )
    return ProblemInput(
        problem=problem,
        order_ids=order_ids,
        node_ids=[n.id for n in nodes],
        line_ids=[ln.id for ln in lines],
        grid_node_ids=[g.node_id for g in conns],
        grid_prices=[(g.import_price, g.export_price) for g in conns],
        excluded_order_ids=excluded,
    )


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def problem_json(problem: ClearingProblem) -> str:
    from matching.jsonio import problem_to_dict

    return canonical_json(problem_to_dict(problem))


def input_hash(problem: ClearingProblem) -> str:
    from matching.jsonio import problem_digest

    return problem_digest(problem)


def result_hash(problem: ClearingProblem, result: ClearingResult) -> str:
    """sha256 of the result's canonical JSON without timings (identical on a re-run)."""
    from matching.jsonio import result_to_dict

    blob = canonical_json(result_to_dict(problem, result, timings=False))
    return hashlib.sha256(blob.encode()).hexdigest()


def solve(problem: ClearingProblem) -> ClearingResult:
    from matching import clear

    return clear(problem)


def _bound(value: float) -> Decimal | None:
    if not math.isfinite(value) or abs(value) >= float(PRICE_LIMIT):
        return None
    return round_price(value)


def _status_of(accepted: Decimal, quantity: Decimal) -> str:
    if accepted <= 0:
        return OrderStatus.UNFILLED.value
    if accepted >= quantity:
        return OrderStatus.FILLED.value
    return OrderStatus.PARTLY_FILLED.value


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


async def store_result(
    session: AsyncSession,
    interval: Interval,
    inp: ProblemInput,
    result: ClearingResult,
    *,
    worker_id: str,
    started_at: datetime,
) -> StoredRun:
    """Write the run and everything it decided (the caller commits: all or nothing)."""
    problem = inp.problem
    book = problem.orders
    ok = result.ok
    n_orders = len(book)
    accepted_f = result.accepted_kwh if ok else np.zeros(n_orders)
    node_price = [round_price(float(p)) if ok else Decimal("0.0000") for p in result.price]

    # Energy: largest remainder within each (node, side, price) step.
    accepted = [Decimal("0.000")] * n_orders
    steps: dict[tuple[int, bool, float], list[int]] = defaultdict(list)
    for k in range(n_orders):
        steps[(int(book.node[k]), bool(book.is_buy[k]), float(book.price[k]))].append(k)
    for members in steps.values():
        for k, q in zip(
            members, largest_remainder([accepted_f[k] for k in members], 3), strict=True
        ):
            accepted[k] = min(q, energy(float(book.quantity_kwh[k])))
    # Amounts: largest remainder per side over the interval.
    amounts = [Decimal("0.00")] * n_orders
    for is_buy in (True, False):
        ks = [k for k in range(n_orders) if bool(book.is_buy[k]) is is_buy]
        exact = [accepted[k] * node_price[int(book.node[k])] for k in ks]
        for k, a in zip(ks, allocate_rounded(exact, AMOUNT_PLACES), strict=True):
            amounts[k] = a

    timings = result.timings
    import_kwh = [energy(float(v)) if ok else Decimal("0.000") for v in result.import_kwh]
    export_kwh = [energy(float(v)) if ok else Decimal("0.000") for v in result.export_kwh]
    tr = result.trades
    trade_q = [Decimal("0.000")] * len(tr)
    if ok and len(tr):
        groups: dict[tuple[str, int], list[int]] = defaultdict(list)
        for t in range(len(tr)):
            buyer, seller = int(tr.buyer[t]), int(tr.seller[t])
            groups[("b", buyer) if buyer != GRID else ("s", seller)].append(t)
        for members in groups.values():
            rounded = largest_remainder([float(tr.quantity_kwh[t]) for t in members], 3)
            for t, q in zip(members, rounded, strict=True):
                trade_q[t] = q
    local = sum(
        (q for t, q in enumerate(trade_q) if tr.buyer[t] != GRID and tr.seller[t] != GRID),
        Decimal("0.000"),
    )
    run = ClearingRun(
        interval_id=interval.id,
        input_hash=input_hash(problem),
        result_hash=result_hash(problem, result),
        problem_json=problem_json(problem),
        solver=result.solver,
        status=result.status.value,
        reason=result.reason,
        order_count=n_orders,
        welfare_pln=Decimal(repr(round(result.welfare, 2))) if ok else Decimal("0.00"),
        congestion_rent_pln=(
            Decimal(repr(round(result.congestion_rent, 2))) if ok else Decimal("0.00")
        ),
        matched_kwh=sum((accepted[k] for k in range(n_orders) if book.is_buy[k]), Decimal(0)),
        local_kwh=local,
        import_kwh=sum(import_kwh, Decimal(0)),
        export_kwh=sum(export_kwh, Decimal(0)),
        timings={
            "build_ms": timings.build_ms,
            "solve_ms": timings.solve_ms,
            "prices_ms": timings.prices_ms,
            "allocation_ms": timings.allocation_ms,
            "trades_ms": timings.trades_ms,
            "total_ms": timings.total_ms,
        },
        worker_id=worker_id,
        started_at=started_at,
        finished_at=datetime.now(UTC),
    )
    session.add(run)
    await session.flush()

    bought: dict[int, Decimal] = defaultdict(Decimal)
    sold: dict[int, Decimal] = defaultdict(Decimal)
    for k in range(n_orders):
        (bought if book.is_buy[k] else sold)[int(book.node[k])] += accepted[k]
    if ok:
        session.add_all(
            NodePrice(
                run_id=run.id,
                node_id=inp.node_ids[n],
                price=node_price[n],
                price_low=_bound(float(result.price_low[n])),
                price_high=_bound(float(result.price_high[n])),
                bought_kwh=bought[n],
                sold_kwh=sold[n],
            )
            for n in range(len(inp.node_ids))
        )
        session.add_all(
            LineFlow(
                run_id=run.id,
                line_id=inp.line_ids[m],
                flow_kwh=energy(float(result.flow_kwh[m])),
                limit_kwh=energy(float(result.line_limit_kwh[m])),
                congested=bool(result.line_congested[m]),
            )
            for m in range(len(inp.line_ids))
        )
        session.add_all(
            GridExchange(
                run_id=run.id,
                node_id=inp.grid_node_ids[g],
                import_kwh=import_kwh[g],
                export_kwh=export_kwh[g],
                import_price=inp.grid_prices[g][0],
                export_price=inp.grid_prices[g][1],
                import_amount_pln=(import_kwh[g] * inp.grid_prices[g][0]).quantize(Decimal("0.01")),
                export_amount_pln=(export_kwh[g] * inp.grid_prices[g][1]).quantize(Decimal("0.01")),
            )
            for g in range(len(inp.grid_node_ids))
        )
        trade_rows = []
        for t in range(len(tr)):
            if trade_q[t] <= 0:
                continue
            s, b = int(tr.seller[t]), int(tr.buyer[t])
            sn, bn = int(tr.seller_node[t]), int(tr.buyer_node[t])
            trade_rows.append(
                {
                    "run_id": run.id,
                    "seller_order_id": None if s == GRID else inp.order_ids[s],
                    "buyer_order_id": None if b == GRID else inp.order_ids[b],
                    "seller_node_id": inp.node_ids[sn],
                    "buyer_node_id": inp.node_ids[bn],
                    "quantity_kwh": trade_q[t],
                    "seller_price": node_price[sn],
                    "buyer_price": node_price[bn],
                }
            )
        for k in range(0, len(trade_rows), 5000):
            await session.execute(insert(Trade), trade_rows[k : k + 5000])

    now = datetime.now(UTC)
    order_rows: list[dict[str, Any]] = [
        {
            "id": inp.order_ids[k],
            "accepted_kwh": accepted[k],
            "clearing_price": node_price[int(book.node[k])],
            "amount_pln": amounts[k],
            "status": _status_of(accepted[k], energy(float(book.quantity_kwh[k]))),
            "updated_at": now,
        }
        for k in range(n_orders)
    ]
    order_rows += [
        {
            "id": oid,
            "accepted_kwh": Decimal("0.000"),
            "clearing_price": None,
            "amount_pln": Decimal("0.00"),
            "status": OrderStatus.UNFILLED.value,
            "updated_at": now,
        }
        for oid in inp.excluded_order_ids
    ]
    for k in range(0, len(order_rows), 5000):
        await session.execute(update(Order), order_rows[k : k + 5000])

    congested = [
        problem.network.lines[m].id
        for m in range(len(inp.line_ids))
        if ok and result.line_congested[m]
    ]
    audit.record(
        session,
        None,
        "clear",
        "interval",
        interval.id,
        interval_id=interval.id,
        status=result.status.value,
        reason=result.reason,
        orders=n_orders,
        input_hash=run.input_hash,
        result_hash=run.result_hash,
        worker=worker_id,
    )
    return StoredRun(
        interval_id=interval.id,
        run_id=run.id,
        status=result.status.value,
        reason=result.reason,
        input_hash=run.input_hash,
        result_hash=run.result_hash,
        prices={problem.network.nodes[n].id: str(node_price[n]) for n in range(len(node_price))}
        if ok
        else {},
        local_kwh=local,
        import_kwh=run.import_kwh,
        export_kwh=run.export_kwh,
        welfare_pln=run.welfare_pln,
        congested_lines=congested,
    )


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    interval_id: int,
    worker_id: str,
    lease: timedelta,
) -> bool:
    """Take the interval for clearing; True for exactly one contender."""
    now = datetime.now(UTC)
    async with sessions() as session:
        result = await session.execute(
            update(Interval)
            .where(
                Interval.id == interval_id,
                or_(
                    Interval.status == IntervalStatus.CLOSED.value,
                    and_(
                        Interval.status == IntervalStatus.CLEARING.value,
                        Interval.claim_until < now,
                    ),
                ),
            )
            .values(
                status=IntervalStatus.CLEARING.value, claimed_by=worker_id, claim_until=now + lease
            )
            .execution_options(synchronize_session=False)
        )
        await session.commit()
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def _finish(
    session: AsyncSession, interval_id: int, worker_id: str, status: IntervalStatus, reason: str
) -> bool:
    """Set the final status if this worker still holds the claim (locks the row)."""
    result = await session.execute(
        update(Interval)
        .where(
            Interval.id == interval_id,
            Interval.status == IntervalStatus.CLEARING.value,
            Interval.claimed_by == worker_id,
        )
        .values(
            status=status.value,
            reason=reason or None,
            cleared_at=datetime.now(UTC),
            claim_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def clear_claimed(
    sessions: async_sessionmaker[AsyncSession],
    interval_id: int,
    worker_id: str,
    publisher: Publisher,
) -> StoredRun | None:
    """Clear an interval this worker has claimed; None if the claim was lost meanwhile."""
    started = datetime.now(UTC)
    async with sessions() as session:
        interval = await session.get(Interval, interval_id)
        assert interval is not None
        try:
            inp = await build_problem(session, interval)
        except ProblemError as exc:
            await session.rollback()
            await _fail(sessions, interval_id, worker_id, f"bad network or orders: {exc}")
            return None
        await session.rollback()  # release the read snapshot while solving
        try:
            result = await anyio.to_thread.run_sync(solve, inp.problem)
        except Exception as exc:
            log.exception("clearing interval %s crashed", interval_id)
            await _fail(sessions, interval_id, worker_id, f"solver crashed: {exc!r}")
            return None
        try:
            final = IntervalStatus.CLEARED if result.ok else IntervalStatus.FAILED
            if not await _finish(session, interval_id, worker_id, final, result.reason):
                await session.rollback()
                return None
            await session.execute(delete(ClearingRun).where(ClearingRun.interval_id == interval_id))
            interval = await session.get(Interval, interval_id)
            assert interval is not None
            stored = await store_result(
                session, interval, inp, result, worker_id=worker_id, started_at=started
            )
            await session.commit()
        except IntegrityError:
            await session.rollback()
            log.info("interval %s was stored by another worker", interval_id)
            return None
        except BaseException:
            await session.rollback()
            raise
    await publish_safely(publisher, INTERVAL_CLEARED, cleared_event(interval, stored))
    return stored


async def _fail(
    sessions: async_sessionmaker[AsyncSession], interval_id: int, worker_id: str, reason: str
) -> None:
    async with sessions() as session:
        if await _finish(session, interval_id, worker_id, IntervalStatus.FAILED, reason):
            await session.execute(
                update(Order)
                .where(
                    Order.interval_id == interval_id,
                    Order.status != OrderStatus.CANCELLED.value,
                )
                .values(
                    status=OrderStatus.UNFILLED.value,
                    accepted_kwh=Decimal("0.000"),
                    amount_pln=Decimal("0.00"),
                )
            )
            audit.record(
                session,
                None,
                "fail",
                "interval",
                interval_id,
                interval_id=interval_id,
                reason=reason,
                worker=worker_id,
            )
            await session.commit()


def cleared_event(interval: Interval, stored: StoredRun) -> dict[str, Any]:
    return {
        "type": INTERVAL_CLEARED,
        "interval_id": interval.id,
        "interval_start": interval.start_utc.isoformat(),
        "status": stored.status,
        "reason": stored.reason,
        "prices": stored.prices,
        "local_kwh": str(stored.local_kwh),
        "import_kwh": str(stored.import_kwh),
        "export_kwh": str(stored.export_kwh),
        "welfare_pln": str(stored.welfare_pln),
        "congested_lines": stored.congested_lines,
    }


@dataclass(frozen=True, slots=True)
class Verification:
    interval_id: int
    start_utc: datetime
    stored_input_hash: str
    stored_result_hash: str
    #: Hash of the stored problem JSON (must equal the stored input hash).
    replay_input_hash: str
    #: Hash of re-clearing the stored problem (must equal the stored result hash).
    replay_result_hash: str
    #: Hash of the problem rebuilt from today's database rows (differs if data changed).
    database_input_hash: str | None

    @property
    def ok(self) -> bool:
        return (
            self.stored_input_hash == self.replay_input_hash
            and self.stored_result_hash == self.replay_result_hash
        )

    @property
    def database_matches(self) -> bool:
        return self.database_input_hash == self.stored_input_hash


async def verify_interval(session: AsyncSession, interval: Interval) -> Verification:
    """Re-clear the stored input of an interval and compare hashes (the audit check)."""
    from market.errors import NotFound
    from matching.jsonio import problem_from_dict

    run = await session.scalar(select(ClearingRun).where(ClearingRun.interval_id == interval.id))
    if run is None:
        raise NotFound("start", f"interval {interval.start_utc.isoformat()} has no stored clearing")
    problem = problem_from_dict(json.loads(run.problem_json))
    result = await anyio.to_thread.run_sync(solve, problem)
    try:
        db_hash: str | None = input_hash((await build_problem(session, interval)).problem)
    except ProblemError:
        db_hash = None
    return Verification(
        interval_id=interval.id,
        start_utc=interval.start_utc,
        stored_input_hash=run.input_hash,
        stored_result_hash=run.result_hash,
        replay_input_hash=input_hash(problem),
        replay_result_hash=result_hash(problem, result),
        database_input_hash=db_hash,
    )


def is_failure(status: str) -> bool:
    return status != Status.OPTIMAL.value
