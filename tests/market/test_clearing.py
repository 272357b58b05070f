"""Gate closure, clearing, exactly-once claims, crash recovery, catch-up and verification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anyio
import pytest
from sqlalchemy import func, select

from market.access.models import AuditEntry
from market.clearing.models import ClearingRun, LineFlow, NodePrice, Trade
from market.clearing.results import interval_result, latest_results, my_trades
from market.clearing.run import claim, verify_interval
from market.trading import orders
from market.trading.models import Interval, Order
from market.trading.order_input import parse_order
from tests.support.market import World, execute

pytestmark = pytest.mark.anyio


async def bid(
    world: World, actor: Any, mp: int, side: str, qty: str, price: str, interval_id: int
) -> int:
    order = parse_order(
        {"interval_id": interval_id, "metering_point_id": mp, "side": side,
         "quantity_kwh": qty, "price": price}
    )  # fmt: skip
    async with world.session() as s:
        done = await orders.place_order(s, actor, world.clock, order)
        await s.commit()
    return done.view.id


async def congested_case(world: World) -> Interval:
    """Alice (B) offers 15 kWh at 0.30, Bob (A) bids 12 kWh at 0.60; the line carries 10."""
    first = (await world.open_intervals())[0]
    await bid(world, world.alice, world.alice_mp, "sell", "15", "0.30", first.id)
    await bid(world, world.bob, world.bob_mp, "buy", "12", "0.60", first.id)
    return first


async def test_congested_line_gives_two_prices_and_exact_amounts(world: World) -> None:
    first = await congested_case(world)
    world.clock.set(first.gate_closure_utc)
    report = await world.scheduler().tick()
    assert report.closed == [first.id]
    assert [r.interval_id for r in report.cleared] == [first.id]
    async with world.session() as s:
        rows = {
            o.side: o for o in (await s.scalars(select(Order).where(Order.interval_id == first.id)))
        }
        result = await interval_result(s, first.id)
        trades = await my_trades(s, world.alice, first.id)
    sell, buy = rows["sell"], rows["buy"]
    assert (sell.accepted_kwh, sell.clearing_price, sell.amount_pln, sell.status) == (
        Decimal("10.000"),
        Decimal("0.3000"),
        Decimal("3.00"),
        "partly_filled",
    )
    assert (buy.accepted_kwh, buy.clearing_price, buy.amount_pln, buy.status) == (
        Decimal("10.000"),
        Decimal("0.6000"),
        Decimal("6.00"),
        "partly_filled",
    )
    assert {n.code: n.price for n in result.nodes} == {
        "A": Decimal("0.6000"),
        "B": Decimal("0.3000"),
    }
    (line,) = result.lines
    assert (line.flow_kwh, line.limit_kwh, line.congested) == (
        Decimal("-10.000"),
        Decimal("10.000"),
        True,
    )
    assert line.loading_pct == Decimal("100.0")
    assert result.congestion_rent_pln == Decimal("3.00")
    assert (result.summary.local_kwh, result.summary.import_kwh) == (
        Decimal("10.000"),
        Decimal("0.000"),
    )
    assert result.summary.price_min == Decimal("0.3000")
    assert [
        (t.side, t.quantity_kwh, t.price, t.counterparty_node, t.counterparty) for t in trades
    ] == [
        ("sell", Decimal("10.000"), Decimal("0.3000"), "A", "Bob"),  # Bob agreed to be named
    ]
    events = world.publisher.of("interval_cleared")
    assert events[-1]["prices"] == {"A": "0.6000", "B": "0.3000"}
    assert events[-1]["congested_lines"] == ["L-AB"]
    assert world.publisher.of("gate_closed")[-1]["orders"] == 2


async def test_network_change_applies_to_intervals_not_yet_closed(world: World) -> None:
    from market.network.inputs import LineChange
    from market.network.service import update_line

    first = await congested_case(world)
    async with world.session() as s:
        change = LineChange(capacity_kw=Decimal(100))  # 25 kWh now
        await update_line(s, world.carol, world.line_ab, change)
        await s.commit()
    world.clock.set(first.gate_closure_utc)
    await world.scheduler().tick()
    async with world.session() as s:
        result = await interval_result(s, first.id)
    # 12 kWh flow now fits: one price; Bob fully served, so Alice (partly filled) sets it.
    assert {n.price for n in result.nodes} == {Decimal("0.3000")}
    assert result.lines[0].flow_kwh == Decimal("-12.000") and not result.lines[0].congested


async def test_two_schedulers_clear_each_interval_exactly_once(world: World) -> None:
    opened = await world.open_intervals()
    for interval in opened:
        await bid(world, world.alice, world.alice_mp, "sell", "4", "0.25", interval.id)
        await bid(world, world.bob, world.bob_mp, "buy", "3", "0.55", interval.id)
    world.clock.advance(hours=2)
    reports: list[Any] = []

    async def run(name: str) -> None:
        reports.append(await world.scheduler(name).tick())

    async with anyio.create_task_group() as tg:
        for name in ("w1", "w2", "w3"):
            tg.start_soon(run, name)
    cleared = [r.interval_id for rep in reports for r in rep.cleared]
    assert sorted(cleared) == sorted(i.id for i in opened)  # each once, none twice
    async with world.session() as s:
        runs = (
            await s.execute(
                select(ClearingRun.interval_id, func.count()).group_by(ClearingRun.interval_id)
            )
        ).all()
        assert all(n == 1 for _, n in runs) and len(runs) == len(opened)
        audits = await s.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "clear")
        )
        assert audits == len(opened)


async def test_catch_up_clears_overdue_intervals_in_order(world: World) -> None:
    opened = await world.open_intervals()
    for interval in opened:
        await bid(world, world.alice, world.alice_mp, "sell", "2", "0.25", interval.id)
    world.clock.advance(hours=5)  # downtime: every gate passed long ago
    report = await world.scheduler().tick()
    assert report.closed == [i.id for i in opened]
    assert [r.interval_id for r in report.cleared] == [i.id for i in opened]
    assert len(report.created) == 4  # and new intervals are open again
    async with world.session() as s:
        cleared_at = (
            await s.execute(
                select(Interval.start_utc, Interval.cleared_at)
                .where(Interval.status == "cleared")
                .order_by(Interval.start_utc)
            )
        ).all()
        summaries = await latest_results(s)
    assert [c for _, c in cleared_at] == sorted(c for _, c in cleared_at)
    assert [x.interval_id for x in summaries] == [i.id for i in reversed(opened)]


async def test_half_cleared_interval_is_cleared_again_cleanly(world: World) -> None:
    first = await congested_case(world)
    world.clock.set(first.gate_closure_utc)
    sched = world.scheduler("survivor")
    assert await sched.close_gate(first.id)
    # A worker claimed it, wrote part of a result and died; its lease has run out.
    assert await claim(world.db.sessions, first.id, "dead-worker", timedelta(minutes=5))
    past = datetime.now(UTC) - timedelta(minutes=1)
    await execute(
        world.db, "UPDATE intervals SET claim_until = :t WHERE id = :i", t=past, i=first.id
    )
    await execute(
        world.db,
        "INSERT INTO clearing_runs (interval_id, input_hash, result_hash, problem_gz, solver,"
        " status, reason, order_count, welfare_pln, congestion_rent_pln, matched_kwh, local_kwh,"
        " import_kwh, export_kwh, timings, worker_id, started_at, finished_at) VALUES (:i, 'x',"
        " 'x', :blob, 'glop', 'optimal', '', 0, 0, 0, 0, 0, 0, 0, '{}', 'dead-worker', :t, :t)",
        i=first.id,
        t=past,
        blob=b"not even zlib",
    )
    await execute(
        world.db,
        "UPDATE orders SET status = 'filled', accepted_kwh = 99 WHERE interval_id = :i",
        i=first.id,
    )
    report = await sched.tick()
    assert [r.interval_id for r in report.cleared] == [first.id]
    async with world.session() as s:
        runs = (
            await s.scalars(select(ClearingRun).where(ClearingRun.interval_id == first.id))
        ).all()
        assert [r.worker_id for r in runs] == ["survivor"]
        accepted = sorted(
            (await s.scalars(select(Order.accepted_kwh).where(Order.interval_id == first.id))).all()
        )
        assert accepted == [Decimal("10.000"), Decimal("10.000")]
        assert await s.scalar(select(func.count()).select_from(NodePrice)) == 2
        assert await s.scalar(select(func.count()).select_from(LineFlow)) == 1
        assert await s.scalar(select(func.count()).select_from(Trade)) == 1
        status = await s.scalar(select(Interval.status).where(Interval.id == first.id))
    assert status == "cleared"


async def test_a_live_claim_is_not_taken_over(world: World) -> None:
    first = (await world.open_intervals())[0]
    world.clock.set(first.gate_closure_utc)
    sched = world.scheduler("other")
    assert await sched.close_gate(first.id)
    assert await claim(world.db.sessions, first.id, "busy-worker", timedelta(minutes=5))
    assert not await claim(world.db.sessions, first.id, "other", timedelta(minutes=5))
    report = await sched.tick()
    assert report.cleared == []


async def test_stored_clearing_verifies_and_tampering_is_detected(world: World) -> None:
    first = await congested_case(world)
    world.clock.set(first.gate_closure_utc)
    await world.scheduler().tick()
    async with world.session() as s:
        interval = await s.get(Interval, first.id)
        assert interval is not None
        check = await verify_interval(s, interval)
    assert check.ok and check.database_matches
    assert check.replay_result_hash == check.stored_result_hash
    await execute(world.db, "UPDATE clearing_runs SET result_hash = 'forged'")
    await execute(world.db, "UPDATE orders SET price = 0.5 WHERE side = 'buy'")
    async with world.session() as s:
        interval = await s.get(Interval, first.id)
        assert interval is not None
        check = await verify_interval(s, interval)
    assert not check.ok and not check.database_matches


async def test_clear_interval_command_verifies(world: World) -> None:
    from web.cli import main

    first = await congested_case(world)
    world.clock.set(first.gate_closure_utc)
    await world.scheduler().tick()
    start = first.start_utc.isoformat().replace("+00:00", "Z")
    argv = ["clear-interval", start, "--database-url", world.db.url]
    assert await anyio.to_thread.run_sync(main, argv) == 0
    await execute(world.db, "UPDATE clearing_runs SET result_hash = 'forged'")
    assert await anyio.to_thread.run_sync(main, argv) == 1
    bad = ["clear-interval", "2026-99-01", "--database-url", world.db.url]
    assert await anyio.to_thread.run_sync(main, bad) == 2


async def test_clear_interval_command_clears_a_closed_interval_once(world: World) -> None:
    from web.cli import main

    first = await congested_case(world)
    world.clock.set(first.gate_closure_utc)
    await world.scheduler().close_gate(first.id)
    start = first.start_utc.isoformat()
    argv = ["clear-interval", start, "--clear", "--database-url", world.db.url]
    assert await anyio.to_thread.run_sync(main, argv) == 0
    assert await anyio.to_thread.run_sync(main, argv) == 0  # second time: verify only
    async with world.session() as s:
        assert await s.scalar(select(func.count(ClearingRun.id))) == 1


async def test_a_node_no_line_reaches_yet_is_left_out_of_the_clearing(world: World) -> None:
    """A coordinator adds a node before the line to it (a line needs both ends): the market
    goes on clearing without the node, exactly as before it was added (the core refuses an
    unconnected node, so every interval used to fail until the line came)."""
    first = await congested_case(world)
    await execute(
        world.db, "INSERT INTO nodes (code, name, kind, active) VALUES ('X', 'x', 'lv', true)"
    )
    world.clock.set(first.gate_closure_utc)
    report = await world.scheduler().tick()
    assert [r.interval_id for r in report.cleared] == [first.id]
    async with world.session() as s:
        interval = await s.get(Interval, first.id)
        assert interval is not None and interval.status == "cleared"
        result = await interval_result(s, first.id)
        accepted = sorted(
            await s.scalars(select(Order.accepted_kwh).where(Order.interval_id == first.id))
        )
    assert accepted == [Decimal("10.000"), Decimal("10.000")]
    assert result is not None
    assert "X" not in {n.code for n in result.nodes}


async def test_unclearable_network_fails_the_interval_with_a_reason(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from market.clearing import run
    from matching.problem import ProblemError

    first = await congested_case(world)

    async def unclearable(*_args: Any, **_kw: Any) -> Any:
        raise ProblemError("network.nodes[0].id", "something the core cannot clear")

    monkeypatch.setattr(run, "build_problem", unclearable)
    world.clock.set(first.gate_closure_utc)
    report = await world.scheduler().tick()
    assert report.cleared == []
    async with world.session() as s:
        interval = await s.get(Interval, first.id)
        assert interval is not None
        assert interval.status == "failed" and "cannot clear" in (interval.reason or "")
        statuses = set(
            (await s.scalars(select(Order.status).where(Order.interval_id == first.id))).all()
        )
    assert statuses == {"unfilled"}


async def test_rounding_keeps_pro_rata_ties_balanced(world: World) -> None:
    """Three equal offers share 10 kWh: 3.334 + 3.333 + 3.333, amounts add up to the grosz."""
    first = (await world.open_intervals())[0]
    for _ in range(3):
        await bid(world, world.alice, world.alice_mp, "sell", "10", "0.30", first.id)
    await bid(world, world.bob, world.bob_mp, "buy", "12", "0.60", first.id)
    world.clock.set(first.gate_closure_utc)
    await world.scheduler().tick()
    async with world.session() as s:
        sells = (
            await s.scalars(select(Order).where(Order.side == "sell").order_by(Order.id))
        ).all()
    assert sorted(o.accepted_kwh for o in sells) == [
        Decimal("3.333"),
        Decimal("3.333"),
        Decimal("3.334"),
    ]
    assert sum(o.accepted_kwh for o in sells if o.accepted_kwh) == Decimal("10.000")
    assert sum(o.amount_pln for o in sells if o.amount_pln) == Decimal("3.00")
