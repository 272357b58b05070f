"""Day-ahead orders: a day's profile of simple orders, storage orders and exclusive block
groups, parsed once at the boundary (the same parser for a form, an upload and the API) and
placed in the caller's transaction (services never commit).

- **Simple day-ahead orders** are ordinary `Order` rows with `market = 'da'`: a profile (one
  value per interval of the local day, 92/96/100 for 15 minutes, or one per local hour) is
  placed through the one order pipeline (`market.trading.pipeline.place`) as one order per
  interval with a quantity above zero; the pipeline checks the day-ahead gate instead of the
  interval's. A profile is placed whole or not at all.
- **Storage orders** schedule a storage unit (`StorageUnit`, the technical data of a metering
  point of technology `storage`) on one day, or every day (`daily`: placed into each day's
  auction when it is created and again at its gate).
- **Block groups**: "run 2 h at 400 kW starting at any full hour between 10:00 and 16:00"
  becomes one group of blocks, at most one of which is accepted; `daily` groups likewise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select, update
from sqlalchemy import insert as sql_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from market.access import audit
from market.access.actor import Actor
from market.cluster.models import Cluster
from market.cluster.service import get_cluster
from market.core.clock import Clock
from market.core.errors import Conflict, KlasterError, NotFound, OrderRejected, ValidationFailed
from market.core.fields import check_year, flag, number
from market.core.money import read_int
from market.core.timegrid import intervals_per_local_day, label
from market.db import sqlite_driver
from market.db.engine import dialect_name
from market.network.models import MeteringPoint, Technology
from market.network.storage_models import StorageUnit
from market.trading.day_ahead_gate import _check_gate_ahead as check_gate_ahead
from market.trading.day_ahead_gate import (
    auctions_still_open,
    check_auction_closing,
    check_auction_open,
    ensure_day,
    open_auction,
)
from market.trading.day_ahead_models import (
    AuctionStatus,
    BlockGroup,
    BlockOrder,
    DayAheadAuction,
    Market,
    StorageOrder,
)
from market.trading.halt import check_trading
from market.trading.intervals import DayInterval, day_intervals
from market.trading.models import Interval, Side
from market.trading.order_input import OrderInput
from market.trading.pipeline import Locked, Placement, Submission, place, resolve_points
from market.trading.rules import (
    check_own_point,
    check_price_band,
    parse_client_order_id,
    parse_price_value,
    parse_side,
    point_key,
)
from market.trading.standing import materialise

#: The longest client order id a profile may carry (":<interval number>" is appended).
PROFILE_ID_MAX = 58
ONE = Decimal(1)


# ---------------------------------------------------------------- parsing


def parse_day(raw: object, field: str = "local_day") -> date:
    if isinstance(raw, date):
        value = raw
    else:
        text = "" if raw is None else str(raw).strip()
        if not text:
            raise ValidationFailed(field, "required")
        try:
            value = date.fromisoformat(text)
        except ValueError:
            raise ValidationFailed(field, "must be a date (YYYY-MM-DD)") from None
    check_year(value.year, field)
    return value


def _given(raw: object) -> bool:
    return raw is not None and str(raw).strip() != ""


def parse_values(raw: object, field: str) -> list[object]:
    """A list of values from a JSON array, a JSON document with `field`, or CSV text (one
    value per line, the last column of each line; a header line is skipped; one line of
    values separated by semicolons or commas is read as a row)."""
    if isinstance(raw, (list, tuple)):
        return list(raw)
    text = "" if raw is None else str(raw).strip().lstrip("\ufeff")
    if not text:
        raise ValidationFailed(field, "required")
    if text[0] in "[{":
        try:
            doc = json.loads(text)
        except ValueError:
            raise ValidationFailed(field, "not valid JSON") from None
        if isinstance(doc, dict):
            doc = next((doc[k] for k in (field, "quantities_kwh", "values") if k in doc), None)
        if not isinstance(doc, list):
            raise ValidationFailed(field, "must be a list of numbers")
        return list(doc)
    lines = [ln.strip() for ln in text.replace("\r", "\n").split("\n") if ln.strip()]
    if len(lines) == 1:
        sep = ";" if ";" in lines[0] else ("\t" if "\t" in lines[0] else ",")
        return [v.strip() for v in lines[0].split(sep)]
    values: list[object] = []
    for k, line in enumerate(lines):
        last = line.replace("\t", ";").split(";")[-1].strip()
        if "," in last and "." not in last and last.count(",") > 1:
            last = last.split(",")[-1].strip()
        if k == 0 and not any(ch.isdigit() for ch in last):
            continue  # a header
        values.append(last)
    return values


@dataclass(frozen=True, slots=True)
class ProfileInput:
    """A day's simple day-ahead orders: one quantity per interval (0: no order then)."""

    local_day: date
    metering_point_id: int
    side: Side
    price: Decimal
    quantities_kwh: tuple[Decimal, ...]
    client_order_id: str | None = None


def parse_profile(raw: Mapping[str, object], *, minutes: int, tz: str) -> ProfileInput:
    """A `ProfileInput` from `quantities_kwh` (one kWh value per interval of the day: 92, 96
    or 100 for 15 minutes) or `hourly_kw` (one kW value per local hour: 23, 24 or 25)."""
    day = parse_day(raw.get("local_day"))
    point = point_key(raw.get("metering_point_id"))
    side = parse_side(raw.get("side"))
    price = parse_price_value(raw.get("price"))
    cid = parse_client_order_id(raw.get("client_order_id"))
    if cid is not None and len(cid) > PROFILE_ID_MAX:
        raise OrderRejected(
            "client_order_id", "at most %(max_len)s characters for a profile", max_len=58
        )
    count = intervals_per_local_day(day, minutes, tz)
    if _given(raw.get("hourly_kw")) and not _given(raw.get("quantities_kwh")):
        field = "hourly_kw"
        hourly = parse_values(raw.get("hourly_kw"), field)
        per_hour = 60 // minutes
        hours = count // per_hour
        if len(hourly) != hours:
            raise OrderRejected(
                field,
                "%(day)s has %(expected)s hours; the curve has %(given)s values",
                day=day,
                expected=hours,
                given=len(hourly),
            )
        kw = [_value(v, f"{field}[{k}]", "kW") for k, v in enumerate(hourly)]
        quantities = [
            (p * minutes / 60).quantize(Decimal("0.001")) for p in kw for _ in range(per_hour)
        ]
    else:
        field = "quantities_kwh"
        values = parse_values(raw.get(field), field)
        if len(values) != count:
            raise OrderRejected(
                field,
                "%(day)s has %(expected)s intervals of %(minutes)s min; the profile has "
                "%(given)s values",
                day=day,
                expected=count,
                minutes=minutes,
                given=len(values),
            )
        quantities = [_value(v, f"{field}[{k}]", "kWh") for k, v in enumerate(values)]
    if not any(q > 0 for q in quantities):
        raise OrderRejected(field, "the profile has no quantity above 0")
    return ProfileInput(day, point, side, price, tuple(quantities), cid)


def _value(raw: object, field: str, unit: str) -> Decimal:
    return number(raw, field, places=3, minimum=Decimal(0), unit=unit)


@dataclass(frozen=True, slots=True)
class StorageUnitInput:
    energy_kwh: Decimal
    charge_kw: Decimal
    discharge_kw: Decimal
    efficiency_charge: Decimal
    efficiency_discharge: Decimal
    soc_min_kwh: Decimal = Decimal(0)
    soc_final_min_kwh: Decimal | None = None


def _efficiency(raw: object, field: str) -> Decimal:
    value = number(raw, field, places=4, minimum=Decimal(0), maximum=ONE, exclusive_min=True)
    return value


def parse_storage_unit(raw: Mapping[str, object]) -> StorageUnitInput:
    """A storage unit's technical data; inconsistent values name the field."""
    energy = number(raw.get("energy_kwh"), "energy_kwh", places=3, minimum=Decimal(0),
                    exclusive_min=True, unit="kWh")  # fmt: skip
    charge = number(raw.get("charge_kw"), "charge_kw", places=3, unit="kW")
    discharge = number(raw.get("discharge_kw"), "discharge_kw", places=3, unit="kW")
    if charge == 0 and discharge == 0:
        raise ValidationFailed("charge_kw", "a storage unit needs charge or discharge power")
    eff_c = _efficiency(raw.get("efficiency_charge", "1"), "efficiency_charge")
    eff_d = _efficiency(raw.get("efficiency_discharge", "1"), "efficiency_discharge")
    soc_min = Decimal(0)
    if _given(raw.get("soc_min_kwh")):
        soc_min = number(raw.get("soc_min_kwh"), "soc_min_kwh", places=3, unit="kWh")
    if soc_min > energy:
        raise ValidationFailed(
            "soc_min_kwh", "must not exceed energy_kwh (%(energy)s)", energy=energy
        )
    final: Decimal | None = None
    if _given(raw.get("soc_final_min_kwh")):
        final = number(raw.get("soc_final_min_kwh"), "soc_final_min_kwh", places=3, unit="kWh")
        if final > energy:
            raise ValidationFailed(
                "soc_final_min_kwh", "must not exceed energy_kwh (%(energy)s)", energy=energy
            )
        if final < soc_min:
            raise ValidationFailed(
                "soc_final_min_kwh", "must not be below soc_min_kwh (%(soc_min)s)",
                soc_min=soc_min,
            )  # fmt: skip
    return StorageUnitInput(energy, charge, discharge, eff_c, eff_d, soc_min, final)


@dataclass(frozen=True, slots=True)
class StorageOrderInput:
    metering_point_id: int
    soc_initial_kwh: Decimal
    cost_per_kwh: Decimal
    #: None with `daily`: every day.
    local_day: date | None
    daily: bool = False


def parse_storage_order(raw: Mapping[str, object]) -> StorageOrderInput:
    point = point_key(raw.get("metering_point_id"))
    daily = flag(raw.get("daily"), "daily") if _given(raw.get("daily")) else False
    day = None if daily else parse_day(raw.get("local_day"))
    soc = number(raw.get("soc_initial_kwh"), "soc_initial_kwh", places=3, unit="kWh")
    cost = Decimal(0)
    if _given(raw.get("cost_per_kwh")):
        cost = number(raw.get("cost_per_kwh"), "cost_per_kwh", places=4, maximum=Decimal(100),
                      unit="PLN/kWh")  # fmt: skip
    return StorageOrderInput(point, soc, cost, day, daily)


@dataclass(frozen=True, slots=True)
class BlockGroupInput:
    metering_point_id: int
    side: Side
    power_kw: Decimal
    duration_minutes: int
    #: Earliest and latest start, local minutes after midnight.
    start_from: int
    start_to: int
    start_step_minutes: int
    price: Decimal
    min_acceptance_ratio: Decimal
    local_day: date | None
    daily: bool = False
    name: str = ""


def _clock_minutes(raw: object, field: str) -> int:
    """'10:00', '10' or 10 as minutes after local midnight."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        raise ValidationFailed(field, "required")
    try:
        if ":" in text:
            hh, mm = text.split(":", 1)
            value = int(hh) * 60 + int(mm)
            if not 0 <= int(mm) < 60:
                raise ValueError
        else:
            value = read_int(text) * 60
    except ValueError:
        raise ValidationFailed(field, "must be a time of day (HH:MM)") from None
    if not 0 <= value <= 24 * 60:
        raise ValidationFailed(field, "must be a time of day (HH:MM)")
    return value


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_block_group(raw: Mapping[str, object], *, interval_minutes: int) -> BlockGroupInput:
    """A block group from one form: power, duration, the window of starts, price."""
    point = point_key(raw.get("metering_point_id"))
    side = parse_side(raw.get("side"))
    daily = flag(raw.get("daily"), "daily") if _given(raw.get("daily")) else False
    day = None if daily else parse_day(raw.get("local_day"))
    power = number(raw.get("power_kw"), "power_kw", places=3, minimum=Decimal(0),
                   exclusive_min=True, unit="kW")  # fmt: skip
    if _given(raw.get("duration_hours")) and not _given(raw.get("duration_minutes")):
        hours = number(raw.get("duration_hours"), "duration_hours", places=2, minimum=Decimal(0),
                       exclusive_min=True, maximum=Decimal(24), unit="h")  # fmt: skip
        duration, duration_field = int(hours * 60), "duration_hours"
    else:
        duration_field = "duration_minutes"
        try:
            duration = read_int(raw.get("duration_minutes"))
        except ValueError:
            raise ValidationFailed(duration_field, "must be a whole number") from None
    if duration <= 0 or duration % interval_minutes:
        raise ValidationFailed(
            duration_field,
            "must be a positive multiple of the interval length (%(minutes)s min)",
            minutes=interval_minutes,
        )
    start_from = _clock_minutes(raw.get("start_from"), "start_from")
    start_to = (
        _clock_minutes(raw.get("start_to"), "start_to")
        if _given(raw.get("start_to"))
        else start_from
    )
    step = 60
    if _given(raw.get("start_step_minutes")):
        try:
            step = read_int(raw.get("start_step_minutes"))
        except ValueError:
            raise ValidationFailed("start_step_minutes", "must be a whole number") from None
    if step <= 0 or step % interval_minutes:
        raise ValidationFailed(
            "start_step_minutes",
            "must be a positive multiple of the interval length (%(minutes)s min)",
            minutes=interval_minutes,
        )
    for value, field in ((start_from, "start_from"), (start_to, "start_to")):
        if value % interval_minutes:
            raise ValidationFailed(
                field, "must fall on an interval start (every %(minutes)s min)",
                minutes=interval_minutes,
            )  # fmt: skip
    if start_to < start_from:
        raise ValidationFailed("start_to", "must not be before start_from")
    if start_to + duration > 24 * 60:
        raise ValidationFailed(
            "start_to",
            "a block starting at %(start)s runs %(minutes)s min, past the end of the day",
            start=_hhmm(start_to),
            minutes=duration,
        )
    price = parse_price_value(raw.get("price"))
    ratio = ONE
    if _given(raw.get("min_acceptance_ratio")):
        ratio = number(raw.get("min_acceptance_ratio"), "min_acceptance_ratio", places=4,
                       minimum=Decimal(0), exclusive_min=True, maximum=ONE)  # fmt: skip
    name = str(raw.get("name") or "").strip()[:100]
    return BlockGroupInput(
        point, side, power, duration, start_from, start_to, step, price, ratio, day, daily, name
    )


@dataclass(frozen=True, slots=True)
class BlockSpec:
    """A block of a day's group: its first interval number and kWh per interval."""

    first_number: int
    quantities_kwh: tuple[Decimal, ...]


def blocks_for_day(
    group: BlockGroupInput | BlockGroup, day: date, *, minutes: int, tz: str
) -> list[BlockSpec]:
    """The group's blocks on `day`: one per start in the window (a start the clock skips on
    the spring DST day is left out; the autumn day's repeated hour starts at its first
    occurrence). Raises naming `start_to` if a block runs past the day's last interval."""
    zone = ZoneInfo(tz)
    count = intervals_per_local_day(day, minutes, tz)
    length = group.duration_minutes // minutes
    kwh = (group.power_kw * minutes / 60).quantize(Decimal("0.001"))
    blocks: list[BlockSpec] = []
    seen: set[int] = set()
    for start in range(group.start_from, group.start_to + 1, group.start_step_minutes):
        if start >= 24 * 60:
            break
        local = datetime.combine(day, time(start // 60, start % 60), tzinfo=zone)
        utc = local.astimezone(UTC)
        if utc.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
            continue  # a local time the spring DST change skips
        number_ = label(utc, minutes, tz).number
        if number_ in seen:
            continue
        if number_ - 1 + length > count:
            raise ValidationFailed(
                "start_to",
                "a block starting at %(start)s runs %(minutes)s min, past the end of the day",
                start=_hhmm(start),
                minutes=group.duration_minutes,
            )
        seen.add(number_)
        blocks.append(BlockSpec(number_, (kwh,) * length))
    if not blocks:
        raise ValidationFailed("start_from", "no start time in the window exists on %(day)s",
                               day=day)  # fmt: skip
    return blocks


# ---------------------------------------------------------------- services


@dataclass(frozen=True, slots=True)
class StorageUnitView:
    metering_point_id: int
    energy_kwh: Decimal
    charge_kw: Decimal
    discharge_kw: Decimal
    efficiency_charge: Decimal
    efficiency_discharge: Decimal
    soc_min_kwh: Decimal
    soc_final_min_kwh: Decimal | None


def storage_unit_view(u: StorageUnit) -> StorageUnitView:
    return StorageUnitView(
        u.metering_point_id,
        u.energy_kwh,
        u.charge_kw,
        u.discharge_kw,
        u.efficiency_charge,
        u.efficiency_discharge,
        u.soc_min_kwh,
        u.soc_final_min_kwh,
    )


async def _own_point(session: AsyncSession, actor: Actor, point_id: int) -> MeteringPoint:
    return check_own_point(await session.get(MeteringPoint, point_id), point_id, actor)


def _storage_point(point: MeteringPoint) -> None:
    if point.technology != Technology.STORAGE.value:
        raise ValidationFailed(
            "metering_point_id", "%(ppe)s is not a storage metering point", ppe=point.ppe_code
        )


async def set_storage_unit(
    session: AsyncSession, actor: Actor, point_id: int, inp: StorageUnitInput
) -> StorageUnitView:
    """Set the technical data of my storage metering point."""
    point = await _own_point(session, actor, point_id)
    return await write_storage_unit(session, actor, point, inp)


async def write_storage_unit(
    session: AsyncSession, actor: Actor, point: MeteringPoint, inp: StorageUnitInput
) -> StorageUnitView:
    """Store a storage point's technical data (the caller checked who may): power within the
    contracted power."""
    _storage_point(point)
    limit = point.contracted_power_kw
    for value, field in ((inp.charge_kw, "charge_kw"), (inp.discharge_kw, "discharge_kw")):
        if value > limit:
            raise ValidationFailed(
                field, "must not exceed the contracted power (%(power)s kW)", power=limit
            )
    unit = await storage_unit(session, point.id)
    if unit is None:
        unit = StorageUnit(metering_point_id=point.id)
        session.add(unit)
    unit.energy_kwh = inp.energy_kwh
    unit.charge_kw = inp.charge_kw
    unit.discharge_kw = inp.discharge_kw
    unit.efficiency_charge = inp.efficiency_charge
    unit.efficiency_discharge = inp.efficiency_discharge
    unit.soc_min_kwh = inp.soc_min_kwh
    unit.soc_final_min_kwh = inp.soc_final_min_kwh
    await session.flush()
    audit.record(session, actor, "update", "storage_unit", unit.id, metering_point=point.ppe_code,
                 energy_kwh=str(inp.energy_kwh))  # fmt: skip
    return storage_unit_view(unit)


async def storage_unit(session: AsyncSession, point_id: int) -> StorageUnit | None:
    return await session.scalar(
        select(StorageUnit).where(StorageUnit.metering_point_id == point_id)
    )


def check_soc(unit: StorageUnit, soc_initial: Decimal, *, day_hours: float = 24.0) -> None:
    """The initial state within the unit's bounds, and its final minimum reachable."""
    if not unit.soc_min_kwh <= soc_initial <= unit.energy_kwh:
        raise ValidationFailed(
            "soc_initial_kwh",
            "must be between %(low)s and %(high)s kWh (the unit's minimum state and energy)",
            low=unit.soc_min_kwh,
            high=unit.energy_kwh,
        )
    final = unit.soc_final_min_kwh
    if final is not None:
        reach = soc_initial + unit.charge_kw * unit.efficiency_charge * Decimal(str(day_hours))
        if final > reach:
            raise ValidationFailed(
                "soc_initial_kwh",
                "the unit cannot charge from %(initial)s to its final minimum %(final)s kWh "
                "in a day",
                initial=soc_initial,
                final=final,
            )


@dataclass(frozen=True, slots=True)
class StorageOrderView:
    id: int
    metering_point_id: int
    ppe_code: str
    local_day: date | None
    daily: bool
    soc_initial_kwh: Decimal
    cost_per_kwh: Decimal
    cancelled: bool


def _storage_view(row: StorageOrder, point: MeteringPoint) -> StorageOrderView:
    return StorageOrderView(
        row.id,
        row.metering_point_id,
        point.ppe_code,
        row.local_day,
        row.daily,
        row.soc_initial_kwh,
        row.cost_per_kwh,
        row.cancelled,
    )


async def place_storage_order(
    session: AsyncSession, actor: Actor, clock: Clock, inp: StorageOrderInput
) -> StorageOrderView:
    """Schedule my storage unit on a day (before its day-ahead gate), or every day."""
    cluster = await get_cluster(session)
    check_trading(cluster)
    point = await _own_point(session, actor, inp.metering_point_id)
    _storage_point(point)
    unit = await storage_unit(session, point.id)
    if unit is None:
        raise ValidationFailed(
            "metering_point_id",
            "%(ppe)s has no storage data yet; enter its energy and power first",
            ppe=point.ppe_code,
        )
    check_soc(unit, inp.soc_initial_kwh)
    now = clock.now()
    auction: DayAheadAuction | None = None
    if inp.local_day is not None:
        auction = await open_auction(session, cluster, inp.local_day, now)
        taken = await session.scalar(
            select(StorageOrder.id).where(
                StorageOrder.metering_point_id == point.id,
                StorageOrder.local_day == inp.local_day,
                StorageOrder.cancelled.is_(False),
            )
        )
        if taken is not None:
            raise Conflict(
                "local_day",
                "%(ppe)s already has a storage order for %(day)s; cancel it first",
                ppe=point.ppe_code,
                day=inp.local_day,
            )
        await _drop_cancelled_storage(session, point.id, inp.local_day)
    row = StorageOrder(
        member_id=actor.member_id,
        metering_point_id=point.id,
        local_day=inp.local_day,
        daily=inp.daily,
        soc_initial_kwh=inp.soc_initial_kwh,
        cost_per_kwh=inp.cost_per_kwh,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    if auction is not None:
        await auctions_still_open(session, [auction])
    audit.record(session, actor, "place", "storage_order", row.id, metering_point=point.ppe_code,
                 local_day=str(inp.local_day or "daily"),
                 soc_initial_kwh=str(inp.soc_initial_kwh))  # fmt: skip
    if inp.daily:
        await _materialise_open(session, cluster, now)
    return _storage_view(row, point)


async def _drop_cancelled_storage(session: AsyncSession, point_id: int, day: date) -> None:
    """A cancelled order of the day makes way for a new one (unique point and day)."""
    old = await session.scalar(
        select(StorageOrder).where(
            StorageOrder.metering_point_id == point_id,
            StorageOrder.local_day == day,
            StorageOrder.cancelled.is_(True),
        )
    )
    if old is not None:
        old.local_day = None
        old.daily = True
        old.standing_id = None
        await session.flush()


@dataclass(frozen=True, slots=True)
class BlockGroupView:
    id: int
    metering_point_id: int
    ppe_code: str
    name: str
    local_day: date | None
    daily: bool
    side: str
    power_kw: Decimal
    duration_minutes: int
    start_from: str
    start_to: str
    price: Decimal
    min_acceptance_ratio: Decimal
    blocks: int
    cancelled: bool


def _group_view(row: BlockGroup, point: MeteringPoint, blocks: int) -> BlockGroupView:
    return BlockGroupView(
        row.id,
        row.metering_point_id,
        point.ppe_code,
        row.name,
        row.local_day,
        row.daily,
        row.side,
        row.power_kw,
        row.duration_minutes,
        _hhmm(row.start_from),
        _hhmm(row.start_to),
        row.price,
        row.min_acceptance_ratio,
        blocks,
        row.cancelled,
    )


def _group_row(inp: BlockGroupInput, member_id: int, now: datetime) -> dict[str, object]:
    return {
        "member_id": member_id,
        "metering_point_id": inp.metering_point_id,
        "local_day": inp.local_day,
        "daily": inp.daily,
        "name": inp.name,
        "side": inp.side.value,
        "power_kw": inp.power_kw,
        "duration_minutes": inp.duration_minutes,
        "start_from": inp.start_from,
        "start_to": inp.start_to,
        "start_step_minutes": inp.start_step_minutes,
        "price": inp.price,
        "min_acceptance_ratio": inp.min_acceptance_ratio,
        "created_at": now,
    }


async def place_block_group(
    session: AsyncSession, actor: Actor, clock: Clock, inp: BlockGroupInput
) -> BlockGroupView:
    """Place an exclusive group of blocks for a day (before its gate), or every day."""
    cluster = await get_cluster(session)
    check_trading(cluster)
    check_price_band(inp.price, cluster)
    point = await _own_point(session, actor, inp.metering_point_id)
    minutes = cluster.interval_minutes
    _check_power(inp.power_kw, point)
    now = clock.now()
    blocks: list[BlockSpec] = []
    auction: DayAheadAuction | None = None
    if inp.local_day is not None:
        blocks = blocks_for_day(inp, inp.local_day, minutes=minutes, tz=cluster.timezone)
        auction = await open_auction(session, cluster, inp.local_day, now)
    row = BlockGroup(**_group_row(inp, actor.member_id, now))
    session.add(row)
    await session.flush()
    await _insert_blocks(session, row.id, blocks)
    if auction is not None:
        await auctions_still_open(session, [auction])
    audit.record(session, actor, "place", "block_group", row.id, metering_point=point.ppe_code,
                 local_day=str(inp.local_day or "daily"), blocks=len(blocks))  # fmt: skip
    if inp.daily:
        await _materialise_open(session, cluster, now)
    return _group_view(row, point, len(blocks))


def _check_power(power_kw: Decimal, point: MeteringPoint) -> None:
    if power_kw > point.contracted_power_kw:
        raise OrderRejected(
            "power_kw",
            "must not exceed the contracted power of %(ppe)s (%(power)s kW)",
            ppe=point.ppe_code,
            power=point.contracted_power_kw,
        )


async def _insert_blocks(session: AsyncSession, group_id: int, blocks: Sequence[BlockSpec]) -> None:
    """A group's blocks in one INSERT of plain rows (in order, as the unit of work inserted
    them: the same ids), not ORM objects flushed (nothing reads them back as objects)."""
    if not blocks:
        return
    await session.execute(
        sql_insert(BlockOrder),
        [
            {
                "group_id": group_id,
                "first_number": spec.first_number,
                "quantities_kwh": [str(q) for q in spec.quantities_kwh],
            }
            for spec in blocks
        ],
    )


@dataclass(frozen=True, slots=True)
class _OpenAuction:
    """What the pipeline reads of a day's auction (`check_auction_open`,
    `auctions_still_open`), read without the ORM with the day's intervals."""

    id: int
    local_day: date
    status: str
    gate_closure_utc: datetime


def _day_for_share(day: date) -> Select[int, str, datetime, int, datetime, int, int]:
    """The auction of `day` joined with its intervals (id order), FOR SHARE: the rows of both
    tables, as `day_ahead_gate.open_auction_day` locks them; columns, not ORM objects (a
    day's 96 intervals and the auction once per row cost the ORM ~2 ms a profile)."""
    return (
        select(
            DayAheadAuction.id.label("auction_id"),
            DayAheadAuction.status,
            DayAheadAuction.gate_closure_utc,
            Interval.id,
            Interval.start_utc,
            Interval.minutes,
            Interval.number,
        )
        .join_from(DayAheadAuction, Interval, Interval.local_day == DayAheadAuction.local_day)
        .where(DayAheadAuction.local_day == day)
        .order_by(Interval.id)
        .with_for_update(read=True)
    )


async def _open_day(
    session: AsyncSession, cluster: Cluster, day: date, now: datetime
) -> tuple[_OpenAuction, list[DayInterval]]:
    """`day_ahead_gate.open_auction_day` (the same checks, statements and locks), as plain
    values: the auction (created with its intervals if missing) if it takes orders at `now`,
    and its intervals."""
    check_gate_ahead(cluster, day, now)
    rows = (await session.execute(_day_for_share(day))).all()
    if not rows:
        await ensure_day(session, cluster, day, now)
        rows = (await session.execute(_day_for_share(day))).all()
    auction = _OpenAuction(rows[0][0], day, rows[0][1], rows[0][2]) if rows else None
    check_auction_open(cast(DayAheadAuction | None, auction), day, now)
    assert auction is not None
    return auction, day_intervals((r[3], r[4], r[5], day, r[6]) for r in rows)


async def place_profile(
    session: AsyncSession, actor: Actor, clock: Clock, inp: ProfileInput
) -> Placement:
    """A day's simple day-ahead orders, one per interval with a quantity above zero, through
    the one order pipeline; all or nothing (the first refused interval's error is raised)."""
    # SQLite: the statements on the event loop's thread, not one thread trip each
    # (`sqlite_driver.inline`: each is short, and one that finds the database locked waits
    # on the thread after all); the caller's commit still goes to the thread, where it may
    # checkpoint the WAL. Under load a trip waits for a turn of the loop and the GIL: the
    # profile's slowest placements were those waits.
    with sqlite_driver.inline():
        return await _place_profile(session, actor, clock, inp)


async def _place_profile(
    session: AsyncSession, actor: Actor, clock: Clock, inp: ProfileInput
) -> Placement:
    # The cluster with the point and its node (as the pipeline reads them), then the auction
    # with the day's intervals, FOR SHARE as the pipeline would lock them: handed to it
    # (`Locked`), so none is read again.
    resolved = await resolve_points(session, [inp.metering_point_id])
    cluster = resolved.cluster
    check_trading(cluster)
    now = clock.now()
    auction, day = await _open_day(session, cluster, inp.local_day, now)
    ids = {iv.number: iv.id for iv in day}
    submissions = []
    for number_, quantity in enumerate(inp.quantities_kwh, start=1):
        if quantity <= 0:
            continue
        cid = None if inp.client_order_id is None else f"{inp.client_order_id}:{number_}"
        order = OrderInput(
            interval_id=ids[number_],
            metering_point_id=inp.metering_point_id,
            side=inp.side,
            quantity_kwh=quantity,
            price=inp.price,
            client_order_id=cid,
            market=Market.DAY_AHEAD,
        )
        submissions.append(Submission(actor, order))
    # (`DayInterval` and `_OpenAuction` have what the pipeline reads of an `Interval` and a
    # `DayAheadAuction`.)
    intervals = cast(dict[int, Interval], {iv.id: iv for iv in day})
    auctions = cast(dict[date, DayAheadAuction], {inp.local_day: auction})
    placement = await place(session, clock, submissions,
                            locked=Locked(intervals, auctions, resolved))  # fmt: skip
    for outcome in placement.results:
        if isinstance(outcome, KlasterError):
            if outcome.field in ("quantity_kwh",):
                outcome.field = "quantities_kwh"
            raise outcome
    return placement


async def _cancellable(session: AsyncSession, clock: Clock, local_day: date | None) -> datetime:
    """The market trades, and a day's order is still before its day-ahead gate (GateClosed
    naming `local_day` otherwise); a daily order may be cancelled any time."""
    cluster = await get_cluster(session)
    check_trading(cluster)
    now = clock.now()
    if local_day is not None:
        await open_auction(session, cluster, local_day, now)
    return now


async def _open_days(session: AsyncSession, now: datetime) -> list[date]:
    """Days whose day-ahead gate is still ahead (their copies of a daily order go with it)."""
    days = (
        await session.scalars(
            select(DayAheadAuction.local_day).where(
                DayAheadAuction.status == AuctionStatus.OPEN.value,
                DayAheadAuction.gate_closure_utc > now,
            )
        )
    ).all()
    return list(days)


#: What a member cancels together with its daily copies.
_Cancellable = TypeVar("_Cancellable", StorageOrder, BlockGroup)


async def _cancel_with_copies(
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    model: type[_Cancellable],
    row_id: int,
    missing: NotFound,
    entity: str,
) -> int:
    """Cancel one of my storage orders or block groups before its day's gate; a daily one
    stops, and its copies in days still before their gate are cancelled with it (days past
    the gate stay firm). Returns how many rows were cancelled."""
    row = await session.get(model, row_id)
    if row is None or row.member_id != actor.member_id or row.cancelled:
        raise missing
    now = await _cancellable(session, clock, row.local_day)
    row.cancelled = True
    cancelled = 1
    if row.daily and row.local_day is None:
        days = await _open_days(session, now)
        if days:
            result = await session.execute(
                update(model)
                .where(
                    model.standing_id == row.id,
                    model.local_day.in_(days),
                    model.cancelled.is_(False),
                )
                .values(cancelled=True)
            )
            cancelled += int(getattr(result, "rowcount", 0) or 0)
    audit.record(session, actor, "cancel", entity, row.id, cancelled=cancelled)
    await session.flush()
    return cancelled


async def cancel_storage_order(
    session: AsyncSession, actor: Actor, clock: Clock, order_id: int
) -> int:
    """Cancel my storage order (and a daily one's open copies); see `_cancel_with_copies`."""
    missing = NotFound("storage_order_id", "no storage order %(id)s", id=order_id)
    return await _cancel_with_copies(
        session, actor, clock, StorageOrder, order_id, missing, "storage_order"
    )


async def cancel_block_group(
    session: AsyncSession, actor: Actor, clock: Clock, group_id: int
) -> int:
    """Cancel my block group (and a daily one's open copies); see `_cancel_with_copies`."""
    missing = NotFound("block_group_id", "no block group %(id)s", id=group_id)
    return await _cancel_with_copies(
        session, actor, clock, BlockGroup, group_id, missing, "block_group"
    )


async def my_storage_orders(session: AsyncSession, actor: Actor) -> list[StorageOrderView]:
    rows = await session.execute(
        select(StorageOrder, MeteringPoint)
        .join(MeteringPoint, MeteringPoint.id == StorageOrder.metering_point_id)
        .where(StorageOrder.member_id == actor.member_id, StorageOrder.cancelled.is_(False))
        .order_by(StorageOrder.local_day.desc(), StorageOrder.id.desc())
        .limit(50)
    )
    return [_storage_view(o, p) for o, p in rows.all()]


async def my_block_groups(session: AsyncSession, actor: Actor) -> list[BlockGroupView]:
    rows = (
        await session.execute(
            select(BlockGroup, MeteringPoint)
            .join(MeteringPoint, MeteringPoint.id == BlockGroup.metering_point_id)
            .where(BlockGroup.member_id == actor.member_id, BlockGroup.cancelled.is_(False))
            .order_by(BlockGroup.local_day.desc(), BlockGroup.id.desc())
            .limit(50)
        )
    ).all()
    counts: dict[int, int] = {}
    for gid in [g.id for g, _ in rows]:
        counts[gid] = len(
            (await session.scalars(select(BlockOrder.id).where(BlockOrder.group_id == gid))).all()
        )
    return [_group_view(g, p, counts[g.id]) for g, p in rows]


# ---------------------------------------------------------------- standing (every day)


async def _materialise_open(session: AsyncSession, cluster: Cluster, now: datetime) -> None:
    """Place the daily orders into every auction still open (after a daily order is made)."""
    days = (
        await session.scalars(
            select(DayAheadAuction.local_day).where(
                DayAheadAuction.status == AuctionStatus.OPEN.value,
                DayAheadAuction.gate_closure_utc > now,
            )
        )
    ).all()
    for day in days:
        await materialise_day(session, cluster, day, now)


async def materialise_day(
    session: AsyncSession, cluster: Cluster, day: date, now: datetime, *, at_gate: bool = False
) -> int:
    """Place the day-ahead standing orders (`StandingOrder.market = 'da'`, through
    `standing.materialise`), daily storage orders and block groups into `day`'s auction
    (idempotent: the unique (standing_order_id, interval_id) and (standing_id, local_day)
    pairs). A daily order that does not fit the day (a block
    past the end, a unit's state out of bounds since its data changed) is skipped for that day.
    `at_gate` (the gate closing): forecast-mode standing orders placed when the day opened
    are replaced by the current forecast where it changed (docs/clearing.md). Returns how
    many day orders were placed."""
    auction = await session.scalar(select(DayAheadAuction).where(DayAheadAuction.local_day == day))
    check_auction_closing(auction, day)
    intervals = (
        await session.scalars(
            select(Interval).where(Interval.local_day == day).order_by(Interval.start_utc)
        )
    ).all()
    simple = await materialise(
        session, cluster, list(intervals), market=Market.DAY_AHEAD, refresh_forecast=at_gate
    )
    placed = simple.placed
    insert = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    standing_storage = (
        await session.scalars(
            select(StorageOrder).where(
                StorageOrder.daily.is_(True),
                StorageOrder.cancelled.is_(False),
                StorageOrder.standing_id.is_(None),
            )
        )
    ).all()
    taken = set(
        (
            await session.scalars(
                select(StorageOrder.metering_point_id).where(
                    StorageOrder.local_day == day, StorageOrder.cancelled.is_(False)
                )
            )
        ).all()
    )
    for rule in standing_storage:
        if rule.metering_point_id in taken or rule.created_at.date() > day:
            continue
        unit = await storage_unit(session, rule.metering_point_id)
        if unit is None:
            continue
        try:
            check_soc(unit, rule.soc_initial_kwh)
        except ValidationFailed:
            continue
        result = await session.execute(
            insert(StorageOrder)
            .values(
                member_id=rule.member_id,
                metering_point_id=rule.metering_point_id,
                local_day=day,
                daily=False,
                soc_initial_kwh=rule.soc_initial_kwh,
                cost_per_kwh=rule.cost_per_kwh,
                standing_id=rule.id,
                cancelled=False,
                created_at=now,
            )
            .on_conflict_do_nothing()
        )
        placed += int(getattr(result, "rowcount", 0) or 0)
        taken.add(rule.metering_point_id)
    standing_groups = (
        await session.scalars(
            select(BlockGroup).where(
                BlockGroup.daily.is_(True),
                BlockGroup.cancelled.is_(False),
                BlockGroup.standing_id.is_(None),
            )
        )
    ).all()
    done = set(
        (
            await session.scalars(select(BlockGroup.standing_id).where(BlockGroup.local_day == day))
        ).all()
    )
    for group_rule in standing_groups:
        if group_rule.id in done or group_rule.created_at.date() > day:
            continue
        try:
            blocks = blocks_for_day(
                group_rule, day, minutes=cluster.interval_minutes, tz=cluster.timezone
            )
        except ValidationFailed:
            continue
        group = BlockGroup(
            member_id=group_rule.member_id,
            metering_point_id=group_rule.metering_point_id,
            local_day=day,
            daily=False,
            name=group_rule.name,
            side=group_rule.side,
            power_kw=group_rule.power_kw,
            duration_minutes=group_rule.duration_minutes,
            start_from=group_rule.start_from,
            start_to=group_rule.start_to,
            start_step_minutes=group_rule.start_step_minutes,
            price=group_rule.price,
            min_acceptance_ratio=group_rule.min_acceptance_ratio,
            standing_id=group_rule.id,
            created_at=now,
        )
        session.add(group)
        await session.flush()
        await _insert_blocks(session, group.id, blocks)
        placed += 1
    return placed
