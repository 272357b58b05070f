"""The market parameters (interval length, gate closure, horizon, price band, the day-ahead
gate and its grid prices), set by the coordinator. New values apply to intervals created from
now on; the price band applies to every order placed or changed from now on."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.access import audit
from market.access.actor import WRITE, Actor, require_role
from market.cluster.models import Cluster
from market.cluster.service import get_cluster
from market.core.errors import ValidationFailed
from market.core.fields import UNSET, Fields, Unset, choice, integer, price_pln_per_kwh, text
from market.prices.grid import GridPrices
from market.trading.models import Interval


@dataclass(frozen=True, slots=True)
class ParametersUpdate:
    """The parameters to change; fields left UNSET stay as they are (a registry number of
    None clears it)."""

    name: str | Unset = UNSET
    registry_number: str | Unset | None = UNSET
    coordinator_name: str | Unset = UNSET
    interval_minutes: int | Unset = UNSET
    gate_closure_minutes: int | Unset = UNSET
    horizon_intervals: int | Unset = UNSET
    price_floor: Decimal | Unset = UNSET
    price_cap: Decimal | Unset = UNSET
    profile_seed: int | Unset = UNSET
    grid_prices: str | Unset = UNSET
    #: The day-ahead gate as minutes after local midnight on D−1; None turns the auction off.
    day_ahead_gate: int | Unset | None = UNSET


def _interval_minutes(raw: object, field: str) -> int:
    value = integer(raw, field, 15, 60)
    if value not in (15, 60):
        raise ValidationFailed(field, "must be 15 or 60")
    return value


def _day_ahead_gate(raw: object, field: str) -> int | None:
    """ "HH:MM" local time on the day before delivery (e.g. "12:00"), or "off" / an empty
    field for a cluster without a day-ahead auction."""
    if not isinstance(raw, str):
        raise ValidationFailed(field, "give a time as HH:MM, or off")
    value = raw.strip().lower()
    if value in ("", "off"):
        return None
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value)
    if match is None:
        raise ValidationFailed(field, "give a time as HH:MM, or off")
    return int(match.group(1)) * 60 + int(match.group(2))


def gate_text(minute: int | None) -> str:
    """The day-ahead gate as the parameters show it: "12:00", or "off"."""
    return "off" if minute is None else f"{minute // 60:02d}:{minute % 60:02d}"


#: How each parameter is parsed from a form string or a JSON value.
_PARSERS: dict[str, Callable[[object, str], object]] = {
    "name": lambda raw, key: text(raw, key),
    "registry_number": lambda raw, key: text(raw, key, max_len=60, required=False) or None,
    "coordinator_name": lambda raw, key: text(raw, key),
    "interval_minutes": _interval_minutes,
    # at least a minute: a gate closing at the delivery's start leaves no time to clear it
    "gate_closure_minutes": lambda raw, key: integer(raw, key, 1, 24 * 60),
    "horizon_intervals": lambda raw, key: integer(raw, key, 1, 4 * 96),
    "price_floor": price_pln_per_kwh,
    "price_cap": price_pln_per_kwh,
    "profile_seed": lambda raw, key: integer(raw, key, 0, 2**31 - 1),
    "grid_prices": lambda raw, key: choice(raw, key, GridPrices).value,
    "day_ahead_gate": _day_ahead_gate,
}

#: Parameters stored under another column name than the one users send.
_COLUMNS = {"day_ahead_gate": "day_ahead_gate_minute"}


def parse_parameters(fields: Fields) -> ParametersUpdate:
    """The sent parameters (JSON null: not sent); an unknown name is refused."""
    sent = {key: raw for key, raw in fields.items() if raw is not None}
    if not sent:
        raise ValidationFailed("", "send at least one parameter")
    values: dict[str, Any] = {}
    for key, raw in sent.items():
        parse = _PARSERS.get(key)
        if parse is None:
            raise ValidationFailed(key, "not a market parameter")
        values[key] = parse(raw, key)
    return ParametersUpdate(**values)


@dataclass(frozen=True, slots=True)
class ParametersView:
    name: str
    registry_number: str | None
    coordinator_name: str
    timezone: str
    interval_minutes: int
    gate_closure_minutes: int
    horizon_intervals: int
    price_floor: Decimal
    price_cap: Decimal
    profile_seed: int
    #: "fixed" or "market": the day-ahead problem's grid prices (`market.prices.grid`).
    grid_prices: str = GridPrices.FIXED.value
    #: The day-ahead gate on D−1 in local time ("12:00"), or "off" (no day-ahead auction).
    day_ahead_gate: str = "12:00"


def _params(c: Cluster) -> ParametersView:
    return ParametersView(
        c.name,
        c.registry_number,
        c.coordinator_name,
        c.timezone,
        c.interval_minutes,
        c.gate_closure_minutes,
        c.horizon_intervals,
        c.price_floor,
        c.price_cap,
        c.profile_seed,
        c.grid_prices,
        gate_text(c.day_ahead_gate_minute),
    )


async def get_parameters(session: AsyncSession) -> ParametersView:
    return _params(await get_cluster(session))


async def update_parameters(
    session: AsyncSession, actor: Actor, update: ParametersUpdate
) -> ParametersView:
    """Change the parameters given. interval_minutes changes only before the first interval
    exists; new values apply to intervals created from now on; the price band applies to
    every order placed or changed from now on."""
    require_role(actor, *WRITE)
    cluster = await get_cluster(session)
    changes: dict[str, Any] = {}
    for key in _PARSERS:
        value = getattr(update, key)
        if value is UNSET:
            continue
        if (
            key == "interval_minutes"
            and value != cluster.interval_minutes
            and await session.scalar(select(Interval.id).limit(1))
        ):
            raise ValidationFailed(key, "can only change before the first interval")
        setattr(cluster, _COLUMNS.get(key, key), value)
        changes[key] = gate_text(value) if key == "day_ahead_gate" else str(value)
    if cluster.price_floor >= cluster.price_cap:
        # name the bound that was sent (the cap when only the cap moved)
        if update.price_cap is not UNSET and update.price_floor is UNSET:
            raise ValidationFailed("price_cap", "must be above the price floor")
        raise ValidationFailed("price_floor", "must be below the price cap")
    audit.record(session, actor, "update", "parameters", cluster.id, details=changes)
    await session.flush()
    return _params(cluster)
