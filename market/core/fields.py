"""Parsing coordinator form fields: each failure names the field and the rule."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from market.core.errors import Conflict, ValidationFailed
from market.core.money import decimal_places, parse_decimal


def text(raw: object, field: str, *, max_len: int = 200, required: bool = True) -> str:
    value = "" if raw is None else str(raw).strip()
    if required and not value:
        raise ValidationFailed(field, "required")
    if len(value) > max_len:
        raise ValidationFailed(field, f"at most {max_len} characters")
    return value


def number(
    raw: object,
    field: str,
    *,
    places: int,
    minimum: Decimal | None = Decimal(0),
    maximum: Decimal | None = None,
    exclusive_min: bool = False,
    unit: str = "",
) -> Decimal:
    try:
        value = parse_decimal(raw, field)
    except ValueError as exc:
        raise ValidationFailed(field, f"{exc}{f' ({unit})' if unit else ''}") from None
    if decimal_places(value) > places:
        raise ValidationFailed(field, f"at most {places} decimals")
    if minimum is not None and (value <= minimum if exclusive_min else value < minimum):
        rule = "greater than" if exclusive_min else "at least"
        raise ValidationFailed(field, f"must be {rule} {minimum} {unit}".rstrip())
    if maximum is not None and value > maximum:
        raise ValidationFailed(field, f"must be at most {maximum} {unit}".rstrip())
    return value


def choice(raw: object, field: str, enum: Any) -> str:
    try:
        return str(enum(str(raw).strip().lower()).value)
    except ValueError:
        values = ", ".join(e.value for e in enum)
        raise ValidationFailed(field, f"must be one of: {values}") from None


def integer(raw: object, field: str, lo: int, hi: int) -> int:
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValidationFailed(field, "must be a whole number") from None
    if not lo <= value <= hi:
        raise ValidationFailed(field, f"must be between {lo} and {hi}")
    return value


async def commit(session: AsyncSession, field: str, what: str) -> None:
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(field, f"{what} already exists") from None
