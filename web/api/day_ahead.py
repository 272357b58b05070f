"""/api/v1 day-ahead: a day's profile of simple orders, storage data and orders, block groups,
and a day's result (prices, storage schedules, blocks) with my own positions. Errors as in
the rest of the API (`web.api.responses`): 422 names the field (a profile of the wrong length
for a DST day, a block past the day's end, inconsistent storage data), 409 when the day's
day-ahead gate has closed, 404 for another member's point."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from litestar import Response, delete, get, post, put
from litestar.params import FromPath, JSONBody

from market.clearing.day_ahead_results import DayAheadView, MyPosition, my_day_positions
from market.clearing.day_ahead_results import day_ahead_result as read_result
from market.cluster.service import get_cluster
from market.core.errors import NotFound
from market.trading import day_ahead, storage_data
from web.api.intake import publish_later
from web.auth import requires_role
from web.deps import ClockDep, CurrentActor, Db, PublisherDep
from web.ratelimit import rate_limited

member_only = [requires_role("member")]
signed_in = [requires_role("member", "coordinator", "distributor")]


@dataclass
class NewProfile:
    local_day: date
    metering_point_id: int
    side: str
    price: str
    #: One kWh value per interval of the day (92, 96 or 100 for 15 minutes), or CSV text.
    quantities_kwh: list[str] | str | None = None
    #: Or one kW value per local hour (23, 24 or 25).
    hourly_kw: list[str] | str | None = None
    client_order_id: str | None = None


@dataclass
class Placed:
    placed: int
    order_ids: list[int] = field(default_factory=list)


@dataclass
class StorageData:
    energy_kwh: str
    charge_kw: str
    discharge_kw: str
    efficiency_charge: str = "1"
    efficiency_discharge: str = "1"
    soc_min_kwh: str | None = None
    soc_final_min_kwh: str | None = None
    #: The coordinator only: make the point a storage point (technology `storage`) first.
    make_storage: bool = False


@dataclass
class NewStorageOrder:
    metering_point_id: int
    soc_initial_kwh: str
    local_day: date | None = None
    daily: bool = False
    cost_per_kwh: str | None = None


@dataclass
class NewBlockGroup:
    metering_point_id: int
    side: str
    power_kw: str
    duration_minutes: int
    start_from: str
    price: str
    start_to: str | None = None
    start_step_minutes: int = 60
    min_acceptance_ratio: str | None = None
    local_day: date | None = None
    daily: bool = False
    name: str = ""


def _raw(data: Any) -> dict[str, Any]:
    return {k: v for k, v in asdict(data).items() if v is not None}


@post(
    "/day-ahead/profiles",
    guards=member_only,
    middleware=[rate_limited("order_limit")],
    status_code=201,
)
async def place_profile(
    db: Db,
    actor: CurrentActor,
    clock: ClockDep,
    publisher: PublisherDep,
    data: JSONBody[NewProfile],
) -> Response[Placed]:
    """A day's simple day-ahead orders: one order per interval with a quantity above zero,
    placed whole or not at all before the day's day-ahead gate."""
    cluster = await get_cluster(db)
    raw = _raw(data)
    raw["local_day"] = data.local_day.isoformat()
    inp = day_ahead.parse_profile(raw, minutes=cluster.interval_minutes, tz=cluster.timezone)
    placement = await day_ahead.place_profile(db, actor, clock, inp)
    return Response(
        Placed(placement.placed, placement.order_ids),
        status_code=201,
        background=publish_later(publisher, placement.events),
    )


@put("/metering-points/{point_id:int}/storage", guards=[requires_role("member", "coordinator")])
async def set_storage(
    db: Db, actor: CurrentActor, point_id: FromPath[int], data: JSONBody[StorageData]
) -> day_ahead.StorageUnitView:
    """The technical data of a storage metering point (technology `storage`): the owner's
    own, or any point's for the coordinator, who may also make it a storage point
    (`make_storage`). Another member's point answers 404 naming `metering_point_id`."""
    raw = {k: v for k, v in _raw(data).items() if k != "make_storage"}
    inp = day_ahead.parse_storage_unit(raw)
    saved = await storage_data.save_storage_data(
        db, actor, point_id, inp, make_storage=data.make_storage
    )
    assert saved.unit is not None  # just stored
    return saved.unit


@post("/day-ahead/storage-orders", guards=member_only, status_code=201)
async def place_storage(
    db: Db, actor: CurrentActor, clock: ClockDep, data: JSONBody[NewStorageOrder]
) -> day_ahead.StorageOrderView:
    """Schedule my storage unit on a day (its initial state, wear cost), or every day."""
    raw = _raw(data)
    if data.local_day is not None:
        raw["local_day"] = data.local_day.isoformat()
    return await day_ahead.place_storage_order(db, actor, clock, day_ahead.parse_storage_order(raw))


@post("/day-ahead/block-groups", guards=member_only, status_code=201)
async def place_block_group(
    db: Db, actor: CurrentActor, clock: ClockDep, data: JSONBody[NewBlockGroup]
) -> day_ahead.BlockGroupView:
    """An exclusive group of blocks: `power_kw` for `duration_minutes`, starting at any step
    from `start_from` to `start_to` (local HH:MM); at most one is accepted."""
    cluster = await get_cluster(db)
    raw = _raw(data)
    if data.local_day is not None:
        raw["local_day"] = data.local_day.isoformat()
    group = day_ahead.parse_block_group(raw, interval_minutes=cluster.interval_minutes)
    return await day_ahead.place_block_group(db, actor, clock, group)


@delete("/day-ahead/storage-orders/{order_id:int}", guards=member_only, status_code=204)
async def cancel_storage(
    db: Db, actor: CurrentActor, clock: ClockDep, order_id: FromPath[int]
) -> None:
    """Cancel my storage order before its day's day-ahead gate (409 naming `local_day`
    after it); a daily order stops, with its copies in days still before their gate. Another
    member's order answers 404 naming `storage_order_id`, as an unused id does."""
    await day_ahead.cancel_storage_order(db, actor, clock, order_id)


@delete("/day-ahead/block-groups/{group_id:int}", guards=member_only, status_code=204)
async def cancel_block_group(
    db: Db, actor: CurrentActor, clock: ClockDep, group_id: FromPath[int]
) -> None:
    """Cancel my block group before its day's day-ahead gate (409 naming `local_day` after
    it); a daily group stops, with its copies in days still before their gate. Another
    member's group answers 404 naming `block_group_id`."""
    await day_ahead.cancel_block_group(db, actor, clock, group_id)


@get("/day-ahead/{day:date}", guards=signed_in)
async def day_result(db: Db, day: FromPath[date]) -> DayAheadView:
    """A day's day-ahead auction: status, version, prices per interval and node, volumes,
    storage schedules and blocks with the reason for a rejection."""
    view = await read_result(db, day)
    if view is None:
        raise NotFound("day", "no day-ahead auction for %(day)s", day=day)
    return view


@get("/day-ahead/{day:date}/positions", guards=member_only)
async def my_positions(db: Db, actor: CurrentActor, day: FromPath[date]) -> list[MyPosition]:
    """My firm day-ahead positions of the day, per metering point and interval."""
    return await my_day_positions(db, actor, day)


HANDLERS: list[Any] = [
    place_profile,
    set_storage,
    place_storage,
    place_block_group,
    cancel_storage,
    cancel_block_group,
    day_result,
    my_positions,
]
