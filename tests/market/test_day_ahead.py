"""The day-ahead auction: orders (profiles, storage, block groups) with their bad input, the
gate, clearing a day exactly once (also with a worker killed mid-clearing), storing per
interval, the intraday auction seeing the day-ahead flows, and `klaster day-ahead clear`.

Market time is 2026-06-15 12:00 local (10:00 UTC): the day-ahead gate for 16 June closes
right now, 17 June's is a day ahead. Storing and exactly-once run with a stand-in core
(`tests/support/day_ahead.py`); what the core decides is tested with the real one."""

from __future__ import annotations

import gc
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import pytest
from sqlalchemy import event, func, select

from market.access.models import AuditEntry
from market.clearing import day_ahead as da_clearing
from market.clearing.day_ahead_models import (
    DayAheadFlow,
    DayAheadPosition,
    DayAheadPrice,
    DayAheadRun,
    StorageSchedule,
)
from market.clearing.input import build_problem
from market.core.errors import GateClosed, KlasterError, ValidationFailed
from market.core.events import DAY_AHEAD
from market.db.engine import unit_of_work
from market.trading import day_ahead
from market.trading.day_ahead_models import (
    AuctionStatus,
    BlockGroup,
    BlockOrder,
    DayAheadAuction,
    StorageOrder,
)
from market.trading.models import Interval, Order
from tests.support.day_ahead import fake_core
from tests.support.market import World, execute, snapshot

pytestmark = pytest.mark.anyio
__all__ = ["fake_core"]

DAY = date(2026, 6, 17)
TZ = "Europe/Warsaw"


def _profile(world: World, day: date = DAY, values: list[Any] | None = None, **extra: Any) -> Any:
    raw = {
        "local_day": day.isoformat(),
        "metering_point_id": world.alice_mp,
        "side": "sell",
        "price": "0.40",
        "quantities_kwh": values if values is not None else ["0"] * 40 + ["2.5"] * 16 + ["0"] * 40,
    } | extra
    return day_ahead.parse_profile(raw, minutes=15, tz=TZ)


async def _day_intervals(world: World) -> list[Interval]:
    async with world.session() as s:
        return list((await s.scalars(select(Interval).where(Interval.local_day == DAY))).all())


async def _make_storage(world: World) -> None:
    await execute(
        world.db,
        "UPDATE metering_points SET technology = 'storage' WHERE id = :id",
        id=world.bob_mp,
    )
    unit = day_ahead.parse_storage_unit(
        {"energy_kwh": "200", "charge_kw": "50", "discharge_kw": "50",
         "efficiency_charge": "0.95", "efficiency_discharge": "0.95", "soc_min_kwh": "20"}
    )  # fmt: skip
    async with unit_of_work(world.db.sessions) as s:
        await day_ahead.set_storage_unit(s, world.bob, world.bob_mp, unit)


async def test_the_worker_waits_for_the_core_when_it_is_missing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    auction_id = await _day_with_orders(world)
    monkeypatch.setattr(da_clearing, "core_available", lambda: False)
    report = await world.scheduler(day_ahead=True).tick()
    assert report.day_ahead == []
    async with world.session() as s:
        auction = await s.get(DayAheadAuction, auction_id)
        assert auction is not None and auction.status == AuctionStatus.CLOSED.value


async def test_a_profile_places_one_day_ahead_order_per_interval(world: World) -> None:
    async with unit_of_work(world.db.sessions) as s:
        placement = await day_ahead.place_profile(s, world.alice, world.clock, _profile(world))
    assert placement.placed == 16
    async with world.session() as s:
        rows = (
            await s.execute(
                select(Interval.number, Order.quantity_kwh, Order.market)
                .join(Interval, Interval.id == Order.interval_id)
                .where(Order.member_id == world.alice.member_id)
                .order_by(Interval.number)
            )
        ).all()
        assert [r[0] for r in rows] == list(range(41, 57))
        assert {r[2] for r in rows} == {"da"} and rows[0][1] == Decimal("2.500")
        # The day exists with all its intervals and its auction, gate D-1 12:00 local.
        count = await s.scalar(select(func.count(Interval.id)).where(Interval.local_day == DAY))
        auction = await s.scalar(select(DayAheadAuction).where(DayAheadAuction.local_day == DAY))
    assert count == 96 and auction is not None
    assert auction.gate_closure_utc.isoformat() == "2026-06-16T10:00:00+00:00"
    # The intraday auction of those intervals does not see them.
    async with world.session() as s:
        interval = await s.scalar(
            select(Interval).where(Interval.local_day == DAY, Interval.number == 41)
        )
        assert interval is not None
        assert len((await build_problem(s, interval)).order_ids) == 0


async def test_a_profile_reads_its_day_once_and_writes_orders_and_audit_in_one_go(
    world: World,
) -> None:
    """Issue 13: a profile's placement is a few round trips. The auction and the day's
    intervals are read once (one statement, both FOR SHARE), the orders are one INSERT and
    their 16 audit entries one more (not one execution per row), and each entry names its
    order."""
    async with unit_of_work(world.db.sessions) as s:  # creates the day
        await day_ahead.place_profile(s, world.alice, world.clock, _profile(world))
    statements: list[tuple[str, bool]] = []

    def seen(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        statements.append((" ".join(statement.split()), many))

    engine = world.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        async with unit_of_work(world.db.sessions) as s:
            placement = await day_ahead.place_profile(
                s, world.alice, world.clock, _profile(world, side="buy")
            )
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert placement.placed == 16
    # (SQLite re-checks the auction's status after the insert: `auctions_still_open`.)
    reads_day = [t for t, _ in statements if "FROM day_ahead_auctions" in t and ".id IN" not in t]
    reads_intervals = [t for t, _ in statements if "FROM intervals" in t or "JOIN intervals" in t]
    assert len(reads_day) == 1 and reads_intervals == reads_day
    orders = [(t, many) for t, many in statements if t.startswith("INSERT INTO orders")]
    audit = [(t, many) for t, many in statements if t.startswith("INSERT INTO audit_log")]
    assert len(orders) == 1 and len(audit) == 1
    if world.db.backend == "postgresql":
        # One execution carrying every row (one array a column), not asyncpg's executemany
        # of one row each.
        assert not orders[0][1] and not audit[0][1]
        assert "unnest(" in orders[0][0] and "unnest(" in audit[0][0]
    async with world.session() as s:
        ids = {o.order_id for o in placement.results if not isinstance(o, KlasterError)}
        logged = (
            await s.scalars(
                select(AuditEntry).where(
                    AuditEntry.entity == "order", AuditEntry.entity_id.in_([str(i) for i in ids])
                )
            )
        ).all()
        stored = {o.id: o for o in (await s.scalars(select(Order).where(Order.id.in_(ids)))).all()}
    assert sorted(int(e.entity_id or 0) for e in logged) == sorted(ids) and len(ids) == 16
    # Each order's row and its audit entry hold what was placed, for the order the id names
    # (ids matched to rows in order: interval 41 got the first id).
    intervals = {iv.id: iv.number for iv in await _day_intervals(world)}
    for entry in logged:
        order = stored[int(entry.entity_id or 0)]
        assert (order.side, order.quantity_kwh, order.price) == ("buy", Decimal("2.500"),
                                                                 Decimal("0.4000"))  # fmt: skip
        assert (order.market, order.status, order.client_order_id) == ("da", "open", None)
        assert order.created_at == order.updated_at == world.clock.now()
        assert entry.interval_id == order.interval_id and entry.actor_id == world.alice.member_id
        assert entry.details == {"side": "buy", "quantity_kwh": "2.5", "price": "0.40",
                                 "metering_point": entry.details["metering_point"],
                                 "client_order_id": None}  # fmt: skip
        assert entry.at.tzinfo is not None and entry.action == "place"
    assert sorted(stored) == [
        o.id for o in sorted(stored.values(), key=lambda o: intervals[o.interval_id])
    ]


async def test_an_hourly_curve_becomes_quarter_hour_quantities(world: World) -> None:
    curve = ["0"] * 10 + ["8"] * 4 + ["0"] * 10
    inp = day_ahead.parse_profile(
        {"local_day": "2026-06-17", "metering_point_id": world.alice_mp, "side": "sell",
         "price": "0.4", "hourly_kw": ";".join(curve)}, minutes=15, tz=TZ,
    )  # fmt: skip
    assert len(inp.quantities_kwh) == 96 and inp.quantities_kwh[40] == Decimal("2.000")
    assert sum(inp.quantities_kwh) == Decimal(32)


@pytest.mark.parametrize(
    ("day", "count", "expected"),
    [(date(2026, 3, 29), 96, 92), (date(2026, 10, 25), 96, 100), (DAY, 100, 96)],
)
async def test_a_profile_of_the_wrong_length_for_the_day_is_refused(
    world: World, day: date, count: int, expected: int
) -> None:
    with pytest.raises(ValidationFailed) as err:
        _profile(world, day, ["1"] * count)
    assert err.value.field == "quantities_kwh"
    assert err.value.params["expected"] == expected and err.value.params["given"] == count
    # The right length for the DST day is accepted.
    assert len(_profile(world, day, ["1"] * expected).quantities_kwh) == expected


async def test_uploaded_csv_and_json_values_are_read(world: World) -> None:
    csv = "interval;kwh\n" + "\n".join(f"{k + 1};{'1,5' if k == 3 else '0'}" for k in range(96))
    assert day_ahead.parse_values(csv, "quantities_kwh")[3] == "1,5"
    inp = _profile(world, values=day_ahead.parse_values(csv, "quantities_kwh"))
    assert inp.quantities_kwh[3] == Decimal("1.5")
    doc = '{"quantities_kwh": [' + ",".join(["0"] * 95 + ["2"]) + "]}"
    assert _profile(world, values=day_ahead.parse_values(doc, "x")).quantities_kwh[95] == 2
    with pytest.raises(ValidationFailed) as err:
        _profile(world, values=["1"] * 95 + ["abc"])
    assert err.value.field == "quantities_kwh[95]"


async def test_an_order_for_a_day_whose_gate_has_closed_is_refused(world: World) -> None:
    before = await snapshot(world.db)
    for day in (date(2026, 6, 16), date(2026, 6, 15)):
        with pytest.raises(GateClosed) as err:
            async with unit_of_work(world.db.sessions) as s:
                await day_ahead.place_profile(s, world.alice, world.clock, _profile(world, day))
        assert err.value.field == "local_day"
    assert await snapshot(world.db) == before


async def test_block_groups_make_one_block_per_start_and_refuse_running_past_the_day(
    world: World,
) -> None:
    raw = {"metering_point_id": world.bob_mp, "side": "buy", "power_kw": "40",
           "duration_hours": "2", "start_from": "10:00", "start_to": "16:00", "price": "0.7",
           "local_day": DAY.isoformat()}  # fmt: skip
    group = day_ahead.parse_block_group(raw, interval_minutes=15)
    async with unit_of_work(world.db.sessions) as s:
        view = await day_ahead.place_block_group(s, world.bob, world.clock, group)
    assert view.blocks == 7
    async with world.session() as s:
        blocks = (await s.scalars(select(BlockOrder).order_by(BlockOrder.first_number))).all()
    assert [b.first_number for b in blocks] == [41, 45, 49, 53, 57, 61, 65]
    assert blocks[0].quantities_kwh == ["10.000"] * 8
    for bad, field in (
        ({"start_to": "23:00"}, "start_to"),
        ({"duration_hours": "", "duration_minutes": "50"}, "duration_minutes"),
        ({"start_from": "17:00"}, "start_to"),
        ({"min_acceptance_ratio": "0"}, "min_acceptance_ratio"),
        ({"start_from": "10:07"}, "start_from"),
    ):
        with pytest.raises(ValidationFailed) as err:
            day_ahead.parse_block_group(raw | bad, interval_minutes=15)
        assert err.value.field == field
    # On the spring DST day a start the clock skips (02:00) is left out.
    spring = day_ahead.blocks_for_day(
        day_ahead.parse_block_group(raw | {"start_from": "01:00", "start_to": "03:00"},
                                    interval_minutes=15),
        date(2026, 3, 29), minutes=15, tz=TZ,
    )  # fmt: skip
    assert [b.first_number for b in spring] == [5, 9]


async def test_storage_data_and_orders_are_checked(world: World) -> None:
    before = await snapshot(world.db)
    for bad, field in (
        ({"soc_min_kwh": "300"}, "soc_min_kwh"),
        ({"efficiency_charge": "1.2"}, "efficiency_charge"),
        ({"soc_final_min_kwh": "10"}, "soc_final_min_kwh"),
        ({"energy_kwh": "0"}, "energy_kwh"),
    ):
        raw = {"energy_kwh": "200", "charge_kw": "50", "discharge_kw": "50",
               "soc_min_kwh": "20"} | bad  # fmt: skip
        with pytest.raises(ValidationFailed) as err:
            day_ahead.parse_storage_unit(raw)
        assert err.value.field == field
    # Not a storage point.
    unit = day_ahead.parse_storage_unit({"energy_kwh": "200", "charge_kw": "50",
                                         "discharge_kw": "50"})  # fmt: skip
    with pytest.raises(KlasterError) as err2:
        async with unit_of_work(world.db.sessions) as s:
            await day_ahead.set_storage_unit(s, world.bob, world.bob_mp, unit)
    assert err2.value.field == "metering_point_id"
    assert await snapshot(world.db) == before
    await _make_storage(world)
    order = day_ahead.parse_storage_order(
        {"metering_point_id": world.bob_mp, "local_day": DAY.isoformat(),
         "soc_initial_kwh": "250"}
    )  # fmt: skip
    with pytest.raises(ValidationFailed) as err3:
        async with unit_of_work(world.db.sessions) as s:
            await day_ahead.place_storage_order(s, world.bob, world.clock, order)
    assert err3.value.field == "soc_initial_kwh"


async def _day_with_orders(world: World) -> int:
    """DAY with Alice's profile, Bob's storage (daily) and a block group; gate closed."""
    await _make_storage(world)
    async with unit_of_work(world.db.sessions) as s:
        await day_ahead.place_profile(s, world.alice, world.clock, _profile(world))
        await day_ahead.place_storage_order(
            s, world.bob, world.clock,
            day_ahead.parse_storage_order({"metering_point_id": world.bob_mp, "daily": "on",
                                           "soc_initial_kwh": "100", "cost_per_kwh": "0.01"}),
        )  # fmt: skip
        await day_ahead.place_block_group(
            s, world.bob, world.clock,
            day_ahead.parse_block_group(
                {"metering_point_id": world.bob_mp, "side": "buy", "power_kw": "20",
                 "duration_minutes": "60", "start_from": "11:00", "start_to": "13:00",
                 "price": "0.7", "local_day": DAY.isoformat()}, interval_minutes=15),
        )  # fmt: skip
        auction = await s.scalar(select(DayAheadAuction).where(DayAheadAuction.local_day == DAY))
        assert auction is not None
        auction_id = auction.id
    world.clock.advance(hours=24)  # to the gate (16 June 12:00 local)
    return auction_id


async def test_the_gate_places_daily_orders_and_a_day_clears_exactly_once(
    world: World, fake_core: list[dict[str, Any]]
) -> None:
    auction_id = await _day_with_orders(world)
    report = await world.scheduler(day_ahead=True).tick()
    assert [d.local_day for d in report.day_ahead] == [DAY]
    assert report.day_ahead[0].status == "optimal" and report.day_ahead[0].version == 1
    doc = fake_core[0]
    assert len(doc["intervals"]) == 96 and len(doc["orders"]) == 16
    assert doc["storage"][0]["energy_kwh"] == 180  # 200 less the 20 kept
    assert doc["storage"][0]["soc_initial_kwh"] == 80
    assert [b["first_interval"] for b in doc["blocks"]] == [44, 48, 52]
    assert len({b["group"] for b in doc["blocks"]}) == 1
    # A second pass, a second worker: nothing more.
    assert (await world.scheduler("other", day_ahead=True).tick()).day_ahead == []
    async with world.session() as s:
        assert await s.scalar(select(func.count(DayAheadRun.id))) == 1
        assert await s.scalar(select(func.count(DayAheadPrice.run_id))) == 96 * 2
        assert await s.scalar(select(func.count(StorageSchedule.run_id))) == 96
        soc = await s.scalar(select(func.max(StorageSchedule.soc_kwh)))
        assert soc == Decimal("100.000")  # the 20 kept added back
        orders = (await s.scalars(select(Order).where(Order.market == "da"))).all()
        assert {o.status for o in orders} == {"filled"}
        assert orders[0].amount_pln == (orders[0].accepted_kwh * orders[0].clearing_price).quantize(
            Decimal("0.01")
        )
        blocks = (await s.scalars(select(BlockOrder).order_by(BlockOrder.id))).all()
        assert [b.accepted_ratio for b in blocks] == [Decimal(1), Decimal(0), Decimal(0)]
        # Positions per metering point and interval: Alice sells, Bob's block buys.
        alice = (
            await s.scalars(
                select(DayAheadPosition).where(DayAheadPosition.metering_point_id == world.alice_mp)
            )
        ).all()
        assert len(alice) == 16 and all(p.export_kwh == Decimal("2.500") for p in alice)
        assert sum(p.amount_pln for p in alice) < 0  # received
        bob_import = await s.scalar(
            select(func.sum(DayAheadPosition.import_kwh)).where(
                DayAheadPosition.metering_point_id == world.bob_mp
            )
        )
        assert bob_import == Decimal("20.000")
        storage = await s.scalar(
            select(func.count(StorageOrder.id)).where(StorageOrder.local_day == DAY)
        )
        assert storage == 1
        auction = await s.get(DayAheadAuction, auction_id)
        assert auction is not None and auction.status == AuctionStatus.CLEARED.value
    events = world.publisher.of(DAY_AHEAD)
    assert [e["type"] for e in events] == ["day_ahead_gate_closed", "day_ahead_cleared"]


async def test_a_worker_killed_while_clearing_a_day_is_taken_over(
    world: World, fake_core: list[dict[str, Any]]
) -> None:
    auction_id = await _day_with_orders(world)
    sessions = world.db.sessions
    await da_clearing.close_gate(sessions, auction_id, "dead", world.publisher, world.clock.now())
    # The dead worker claimed it and died: its lease runs out (here: at once) and the next
    # worker takes the auction over; a live claim is not taken.
    assert await da_clearing.claim_day(sessions, auction_id, "dead", timedelta(seconds=-1))
    assert await da_clearing.claim_day(sessions, auction_id, "heir", timedelta(minutes=5))
    assert not await da_clearing.claim_day(sessions, auction_id, "late", timedelta(minutes=5))
    stored = await da_clearing.clear_claimed_day(sessions, auction_id, "heir", world.publisher)
    assert stored is not None and stored.version == 1
    assert (
        await da_clearing.clear_claimed_day(sessions, auction_id, "dead", world.publisher) is None
    )
    async with world.session() as s:
        assert await s.scalar(select(func.count(DayAheadRun.id))) == 1


async def test_a_result_that_cannot_be_converted_is_stored_as_a_crashed_solve(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store writes the orders while the rest of the result is converted (da13f): a
    result whose rest fails to convert stores a failed run in place of the half-written one
    (the orders as unfilled, no positions), as a solver crash did before; and the cyclic
    collector is off while the core runs and on again after."""
    from tests.support.day_ahead import fake_clear_document

    collector_on: list[bool] = []

    def short_storage(doc: dict[str, Any]) -> dict[str, Any]:
        collector_on.append(gc.isenabled())
        result = fake_clear_document(doc)
        result["storage"][0]["soc_kwh"] = result["storage"][0]["soc_kwh"][:10]
        return result

    monkeypatch.setattr(da_clearing, "clear_document", short_storage)
    auction_id = await _day_with_orders(world)
    sessions = world.db.sessions
    await da_clearing.close_gate(sessions, auction_id, "w", world.publisher, world.clock.now())
    assert await da_clearing.claim_day(sessions, auction_id, "w", timedelta(minutes=5))
    assert gc.isenabled()
    stored = await da_clearing.clear_claimed_day(sessions, auction_id, "w", world.publisher)
    assert collector_on == [False] and gc.isenabled()
    assert stored is not None and stored.status == "error"
    assert (
        stored.reason.startswith("solver crashed: ValueError(") and "fewer values" in stored.reason
    )
    async with world.session() as s:
        auction = await s.get(DayAheadAuction, auction_id)
        assert auction is not None and auction.status == AuctionStatus.FAILED.value
        assert await s.scalar(select(func.count(DayAheadRun.id))) == 1
        assert await s.scalar(select(func.count(DayAheadPosition.run_id))) == 0
        orders = (await s.scalars(select(Order).where(Order.market == "da"))).all()
        assert orders and {(o.status, o.accepted_kwh, o.clearing_price) for o in orders} == {
            ("unfilled", Decimal("0.000"), None)
        }


async def test_read_ahead_yields_every_partition_in_order_and_the_readers_error() -> None:
    async def parts(fail: bool) -> Any:
        for k in range(5):
            await anyio.sleep(0)
            yield [k]
        if fail:
            raise RuntimeError("the database went away")

    assert [p async for p in da_clearing._read_ahead(parts(False))] == [[k] for k in range(5)]
    seen: list[Any] = []
    with pytest.raises(RuntimeError, match="went away"):
        async for p in da_clearing._read_ahead(parts(True)):
            seen.append(p)
    assert seen == [[k] for k in range(5)]


async def test_concurrent_claims_store_one_run(
    world: World, fake_core: list[dict[str, Any]]
) -> None:
    auction_id = await _day_with_orders(world)
    sessions = world.db.sessions
    await da_clearing.close_gate(sessions, auction_id, "w", world.publisher, world.clock.now())
    wins: list[str] = []

    async def contender(name: str) -> None:
        if await da_clearing.claim_day(sessions, auction_id, name, timedelta(minutes=5)):
            wins.append(name)
            await da_clearing.clear_claimed_day(sessions, auction_id, name, world.publisher)

    async with anyio.create_task_group() as tg:
        for k in range(4):
            tg.start_soon(contender, f"w{k}")
    assert len(wins) == 1
    async with world.session() as s:
        assert await s.scalar(select(func.count(DayAheadRun.id))) == 1


async def test_intraday_clearing_sees_the_day_ahead_flows_as_used_capacity(
    world: World, fake_core: list[dict[str, Any]]
) -> None:
    await _day_with_orders(world)
    await world.scheduler(day_ahead=True).tick()
    async with world.session() as s:
        interval = await s.scalar(
            select(Interval).where(Interval.local_day == DAY, Interval.number == 41)
        )
        assert interval is not None
        flow = await s.scalar(
            select(DayAheadFlow.flow_kwh).where(DayAheadFlow.interval_id == interval.id)
        )
        assert flow == Decimal("4.000")  # the stand-in's flow: 16 kW of the line's 40
        problem = (await build_problem(s, interval)).problem
    assert problem.network.lines[0].capacity_kw == 24.0
    assert problem.network.grid_connections[0].import_limit_kw < 1000


async def test_reclear_stores_the_next_version(
    world: World, fake_core: list[dict[str, Any]]
) -> None:
    await _day_with_orders(world)
    sessions = world.db.sessions
    kwargs: dict[str, Any] = {"worker_id": "cli", "publisher": world.publisher,
                              "now": world.clock.now()}  # fmt: skip
    first = await da_clearing.clear_day(sessions, DAY, **kwargs)
    assert first.stored is not None and first.version == 1
    again = await da_clearing.clear_day(sessions, DAY, **kwargs)
    assert again.already and again.version == 1
    redo = await da_clearing.clear_day(sessions, DAY, reclear=True, **kwargs)
    assert redo.stored is not None and redo.version == 2
    async with world.session() as s:
        versions = (
            await s.scalars(select(DayAheadRun.version).order_by(DayAheadRun.version))
        ).all()
        groups = await s.scalar(select(func.count(BlockGroup.id)))
    assert list(versions) == [1, 2] and groups == 1


def _tomorrow() -> str:
    """The next local day: the seed's daily storage and block orders hold from the day it
    runs (by the real clock), so a fixed date turns into a day before them once past."""
    from datetime import datetime

    return (datetime.now(ZoneInfo(TZ)).date() + timedelta(days=1)).isoformat()


def _quarters(day: str) -> int:
    """A local day's quarter-hours: 92, 96 or 100 (DST)."""
    from datetime import UTC, datetime

    first = date.fromisoformat(day)
    start, end = (
        datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(TZ)).astimezone(UTC)
        for d in (first, first + timedelta(days=1))
    )
    return int((end - start).total_seconds()) // 900


def _cli(*argv: str) -> int:
    from web.cli import main

    return main(list(argv))


async def test_cli_clears_a_freshly_seeded_day_once(
    db: Any, fake_core: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert await anyio.to_thread.run_sync(_cli, "seed", "--demo", "--database-url", db.url) == 0
    capsys.readouterr()
    day = _tomorrow()
    assert (
        await anyio.to_thread.run_sync(_cli, "day-ahead", "clear", day, "--database-url", db.url)
        == 0
    )
    out = capsys.readouterr().out
    assert "optimal (version 1)" in out and "1 storage unit(s)" in out
    doc = fake_core[-1]
    assert len(doc["intervals"]) == _quarters(day) and doc["storage"] and doc["blocks"]
    assert len(doc["orders"]) > 96  # the large points' forecasts, placed day-ahead
    assert (
        await anyio.to_thread.run_sync(_cli, "day-ahead", "clear", day, "--database-url", db.url)
        == 0
    )
    assert "already cleared (version 1)" in capsys.readouterr().out
    assert len(fake_core) == 1
    assert (
        await anyio.to_thread.run_sync(
            _cli, "day-ahead", "clear", "2026-02-30", "--database-url", db.url
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "DATE" in err


@pytest.mark.skipif(not da_clearing.core_available(), reason="needs the several-interval core")
async def test_demo_battery_charges_on_cheap_noon_and_discharges_in_the_evening(db: Any) -> None:
    """The real core on the Staszów demo: the battery's day-ahead schedule buys cheap (noon
    PV) and sells dear (evening), and the stored positions add up."""
    assert await anyio.to_thread.run_sync(_cli, "seed", "--demo", "--database-url", db.url) == 0
    day = _tomorrow()
    assert (
        await anyio.to_thread.run_sync(_cli, "day-ahead", "clear", day, "--database-url", db.url)
        == 0
    )
    from market.network.models import MeteringPoint

    async with db.session() as s:
        rows = (
            await s.execute(
                select(Interval.start_utc, StorageSchedule.charge_kwh,
                       StorageSchedule.discharge_kwh, DayAheadPrice.price)
                .join(Interval, Interval.id == StorageSchedule.interval_id)
                .join(StorageOrder, StorageOrder.id == StorageSchedule.storage_order_id)
                .join(MeteringPoint, MeteringPoint.id == StorageOrder.metering_point_id)
                .join(DayAheadPrice, (DayAheadPrice.run_id == StorageSchedule.run_id)
                      & (DayAheadPrice.interval_id == StorageSchedule.interval_id)
                      & (DayAheadPrice.node_id == MeteringPoint.node_id))
                .order_by(Interval.start_utc)
            )
        ).all()  # fmt: skip
        groups = (await s.scalars(select(BlockOrder.accepted_ratio))).all()
    assert len(rows) == _quarters(day)
    charged = sum(r[1] for r in rows)
    discharged = sum(r[2] for r in rows)
    assert charged > 100 and discharged > 100
    bought_at = sum(r[1] * r[3] for r in rows) / charged
    sold_at = sum(r[2] * r[3] for r in rows) / discharged
    assert bought_at < sold_at
    local_hours = {r[0].astimezone(ZoneInfo(TZ)).hour for r in rows if r[1] > 0}
    assert local_hours <= set(range(7, 17))  # daylight
    evening = {r[0].astimezone(ZoneInfo(TZ)).hour for r in rows if r[2] > 0}
    assert evening & {17, 18, 19, 20}
    # The pumps' exclusive group: exactly one block accepted.
    assert sum(1 for g in groups if g and g > 0) == 1
    # What storage changed, on the same day: less energy over the grid connection.
    from market.reports.storage_effect import storage_effect

    async with db.session() as s:
        effect = await storage_effect(s, date.fromisoformat(day))
    w, wo = effect.with_storage, effect.without_storage
    assert effect.storage_units == 1 and w.status == wo.status == "optimal"
    assert w.grid_import_kwh + w.grid_export_kwh < wo.grid_import_kwh + wo.grid_export_kwh


@pytest.mark.skipif(not da_clearing.core_available(), reason="needs the several-interval core")
@pytest.mark.parametrize("in_worker_process", [False, True], ids=["here", "worker-process"])
async def test_a_fresh_demo_clears_its_first_day_ahead_auction_within_minutes(
    db: Any, in_worker_process: bool
) -> None:
    """`klaster demo` moves the day-ahead gate to 45 market minutes after seeding: the
    scheduler (as in the app) opens the next day's auction, closes its gate on the demo
    clock and clears it with the battery and the pumps' block group; the same with the
    day's steps in a worker process (the app's setting), events published by the scheduler."""
    from datetime import UTC, datetime

    from market.clearing.scheduler import Scheduler
    from market.core.clock import ManualClock
    from market.core.events import RecordingPublisher
    from market.db.offload import ProcessOffload
    from market.demo.seed import seed_demo
    from web.commands.demo import demo_day_ahead_gate

    now = datetime(2026, 12, 1, 9, 7, tzinfo=UTC)
    clock = ManualClock(now)
    async with unit_of_work(db.sessions) as s:
        await seed_demo(s, now=now)
        await demo_day_ahead_gate(s, now)
    offload = ProcessOffload() if in_worker_process else None
    publisher = RecordingPublisher()
    scheduler = Scheduler(
        db.sessions, clock, publisher, worker_id="demo", day_ahead=True, offload=offload
    )
    first = await scheduler.tick()
    assert first.day_ahead == []
    async with db.session() as s:
        auction = await s.scalar(select(DayAheadAuction))
        assert auction is not None and auction.local_day == date(2026, 12, 2)
        assert auction.gate_closure_utc == datetime(2026, 12, 1, 9, 52, tzinfo=UTC)
    clock.advance(minutes=46)
    try:
        second = await scheduler.tick()
    finally:
        if offload is not None:
            offload.shutdown()
    assert [d.status for d in second.day_ahead] == ["optimal"]
    assert second.day_ahead[0].summary["storage_units"] == 1
    assert second.day_ahead[0].summary["blocks_accepted"] == 1
    kinds = [e["type"] for channel, e in publisher.events if channel == DAY_AHEAD]
    assert kinds == [da_clearing.DAY_AHEAD_GATE_CLOSED, da_clearing.DAY_AHEAD_CLEARED]
    if in_worker_process:
        assert offload is not None and offload.last_cpu_s > 0
    async with db.session() as s:
        placed = await s.scalar(
            select(func.count(Order.id)).where(Order.market == "da", Order.accepted_kwh > 0)
        )
        assert placed and placed > 0


@pytest.mark.skipif(not da_clearing.core_available(), reason="needs the several-interval core")
async def test_the_running_scheduler_keeps_ticking_while_its_worker_clears_a_day(db: Any) -> None:
    """`Scheduler.run` with a worker process (the app's setting): the day-ahead step runs
    beside the ticks, so intraday gates do not wait for a day's clearing."""
    import asyncio
    from datetime import UTC, datetime

    from market.clearing.scheduler import Scheduler
    from market.core.clock import ManualClock
    from market.db.offload import ProcessOffload
    from market.demo.seed import seed_demo
    from web.commands.demo import demo_day_ahead_gate

    now = datetime(2026, 12, 1, 9, 7, tzinfo=UTC)
    async with unit_of_work(db.sessions) as s:
        await seed_demo(s, now=now)
        await demo_day_ahead_gate(s, now)
    clock = ManualClock(now)
    scheduler = Scheduler(
        db.sessions, clock, worker_id="demo", day_ahead=True, tick_seconds=0.05,
        offload=ProcessOffload(),
    )  # fmt: skip
    ticks: list[int] = []
    tick = scheduler.tick

    async def counted() -> Any:
        report = await tick()
        ticks.append(len(ticks))
        return report

    async def auction_status() -> str | None:
        async with db.session() as s:
            return await s.scalar(
                select(DayAheadAuction.status).where(DayAheadAuction.local_day == date(2026, 12, 2))
            )

    scheduler.tick = counted  # type: ignore[method-assign]
    running = asyncio.ensure_future(scheduler.run())
    try:
        with anyio.fail_after(120):
            while await auction_status() != AuctionStatus.OPEN.value:
                await anyio.sleep(0.1)  # the worker opens the next day
            clock.advance(minutes=46)
            before = len(ticks)
            while await auction_status() != AuctionStatus.CLEARED.value:
                await anyio.sleep(0.1)  # the worker closes its gate and clears it
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    # The ticks went on while the worker closed the gate and cleared the day.
    assert len(ticks) - before > 5
