"""Decimal scales for stored quantities and the rounding that keeps totals balanced.

- energy: kWh with 3 decimals (to the Wh) — `ENERGY`
- prices: PLN/kWh with 4 decimals — `PRICE`
- amounts: PLN with 2 decimals (to the grosz) — `AMOUNT`

Floats exist only inside the solver. Converting its floats back uses largest-remainder
rounding within a group (see `largest_remainder`), so each group's rounded parts add up to the
group's rounded total.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

ENERGY_PLACES = 3
PRICE_PLACES = 4
AMOUNT_PLACES = 2
ENERGY = Decimal("0.001")
PRICE = Decimal("0.0001")
AMOUNT = Decimal("0.01")


def quantize(value: Decimal | float, places: int) -> Decimal:
    if isinstance(value, float):
        value = Decimal(repr(value))
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def energy(value: Decimal | float) -> Decimal:
    return quantize(value, ENERGY_PLACES)


def price(value: Decimal | float) -> Decimal:
    return quantize(value, PRICE_PLACES)


def amount(value: Decimal | float) -> Decimal:
    return quantize(value, AMOUNT_PLACES)


def parse_decimal(raw: object, field: str) -> Decimal:
    """A finite Decimal from user input (str with '.' or ',', int, Decimal); raises ValueError
    with a message for the field."""
    if isinstance(raw, bool):
        raise ValueError("must be a number")
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise ValueError("must be a finite number")
        raw = repr(raw)
    if isinstance(raw, str):
        raw = raw.strip().replace(",", ".").replace(" ", "").replace("\u00a0", "")
        if not raw:
            raise ValueError("required")
    try:
        value = Decimal(raw)  # type: ignore[arg-type]
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"must be a number (got {raw!r})") from None
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


def decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def largest_remainder(values: Sequence[float], places: int) -> list[Decimal]:
    """Round non-negative floats to `places` decimals so that they sum to their rounded total.

    Each value is floored to the unit; the units still missing to reach round(sum) go to the
    largest remainders (ties: the earlier value first, so the rule is deterministic).
    """
    if not values:
        return []
    unit = 10**places
    scaled = [max(0.0, float(v)) * unit for v in values]
    floors = [math.floor(s + 1e-9) for s in scaled]
    target = round(math.fsum(scaled))
    missing = target - sum(floors)
    if missing > 0:
        order = sorted(range(len(scaled)), key=lambda i: (-(scaled[i] - floors[i]), i))
        for i in order[:missing]:
            floors[i] += 1
    elif missing < 0:
        order = sorted(range(len(scaled)), key=lambda i: (scaled[i] - floors[i], i))
        for i in order:
            if missing == 0:
                break
            if floors[i] > 0:
                floors[i] -= 1
                missing += 1
    return [Decimal(f).scaleb(-places) for f in floors]


def allocate_rounded(values: Sequence[Decimal], places: int) -> list[Decimal]:
    """Decimal largest-remainder rounding: each value rounded down to `places`, then the
    units missing to reach the rounded exact total go to the largest remainders."""
    if not values:
        return []
    quantum = Decimal(1).scaleb(-places)
    floors = [v.quantize(quantum, rounding="ROUND_FLOOR") for v in values]
    target = sum(values, Decimal(0)).quantize(quantum, rounding=ROUND_HALF_EVEN)
    missing = int((target - sum(floors, Decimal(0))) / quantum)
    order = sorted(range(len(values)), key=lambda i: (-(values[i] - floors[i]), i))
    for i in order[: max(0, missing)]:
        floors[i] += quantum
    return floors
