"""Closed vocabularies stored as short strings (checked in Python and by CHECK constraints)."""

from __future__ import annotations

from enum import StrEnum


class NodeKind(StrEnum):
    GPZ = "gpz"  # 110/15 kV main supply point
    FEEDER = "feeder"  # 15 kV feeder section
    STATION = "station"  # 15/0.4 kV MV/LV station
    LV = "lv"  # low-voltage circuit


class MemberKind(StrEnum):
    HOUSEHOLD = "household"
    BUSINESS = "business"
    MUNICIPAL = "municipal"
    UTILITY = "utility"
    GENERATOR = "generator"
    STORAGE = "storage"
    OPERATOR = "operator"  # coordinator's or distributor's own account


class Role(StrEnum):
    MEMBER = "member"
    COORDINATOR = "coordinator"
    DISTRIBUTOR = "distributor"


class LoadProfile(StrEnum):
    HOUSEHOLD = "household"
    BUSINESS = "business"
    MUNICIPAL = "municipal"
    FLAT = "flat"  # pumps, treatment plants: near-constant
    STREET_LIGHTING = "street_lighting"
    NONE = "none"


class IntervalStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    CLEARING = "clearing"
    CLEARED = "cleared"
    FAILED = "failed"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderStatus(StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"
    FILLED = "filled"
    PARTLY_FILLED = "partly_filled"
    UNFILLED = "unfilled"


class StandingMode(StrEnum):
    FIXED = "fixed"  # the same quantity every matching interval
    FORECAST = "forecast"  # my forecast surplus (sell) or deficit (buy) for the interval


def check_in(column: str, enum: type[StrEnum]) -> str:
    values = ", ".join(f"'{v.value}'" for v in enum)
    return f"{column} IN ({values})"
