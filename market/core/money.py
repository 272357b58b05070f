"""Decimal scales for stored quantities and the rounding that keeps totals balanced.

- energy: kWh with 3 decimals (to the Wh) — `ENERGY`
- prices: PLN/kWh with 4 decimals — `PRICE`
- amounts: PLN with 2 decimals (to the grosz) — `AMOUNT`

Floats exist only inside the solver. Converting its floats back uses largest-remainder
rounding within a group (see `largest_remainder`), so each group's rounded parts add up to the
group's rounded total.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np

ENERGY_PLACES = 3
PRICE_PLACES = 4
AMOUNT_PLACES = 2
ENERGY = Decimal("0.001")
PRICE = Decimal("0.0001")
AMOUNT = Decimal("0.01")


#: 10**-places for the usual places (a hot path: building it each time cost more than the
#: rounding).
_QUANTA = {p: Decimal(1).scaleb(-p) for p in range(9)}


def quantize(value: Decimal | float, places: int) -> Decimal:
    if isinstance(value, float):
        value = Decimal(repr(value))
    quantum = _QUANTA.get(places) or Decimal(1).scaleb(-places)
    return value.quantize(quantum, rounding=ROUND_HALF_EVEN)


def energy(value: Decimal | float) -> Decimal:
    return quantize(value, ENERGY_PLACES)


def price(value: Decimal | float) -> Decimal:
    return quantize(value, PRICE_PLACES)


def amount(value: Decimal | float) -> Decimal:
    return quantize(value, AMOUNT_PLACES)


#: A number as people and programs write it: ASCII digits only (`Decimal` would also take
#: Arabic-Indic or full-width digits), an optional sign, decimals and a short exponent.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?", re.ASCII)
#: Longest number text accepted, and the largest magnitude (10**15): beyond any quantity,
#: price or capacity of the market, and far inside what `quantize` and the database hold.
MAX_NUMBER_TEXT = 40
MAX_ADJUSTED_EXPONENT = 15


def read_decimal(raw: object) -> Decimal:
    """A finite Decimal of sane magnitude from user input: a str ('.' or ',' as the decimal
    mark, spaces as thousands separators), an int, a float or a Decimal. Raises ValueError
    ("not a number") for anything else: NaN, infinities, `1e999999999`, non-ASCII digits, an
    object. Tiny values (`1e-999999999`) pass: the caller's "at most N decimals" refuses them
    before they could round to 0."""
    if isinstance(raw, bool) or raw is None:
        raise ValueError("not a number")
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise ValueError("not a number")
        raw = repr(raw)
    if isinstance(raw, int):
        raw = str(raw)
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, str):
        shown = raw.strip().replace(",", ".").replace(" ", "").replace("\u00a0", "")
        if len(shown) > MAX_NUMBER_TEXT or not _NUMBER.fullmatch(shown):
            raise ValueError("not a number")
        value = Decimal(shown)
    else:
        raise ValueError("not a number")
    if not value.is_finite() or (value and value.adjusted() > MAX_ADJUSTED_EXPONENT):
        raise ValueError("not a number")
    if value and value.adjusted() < -100:
        # as tiny as 1e-999999999: keep the digits the caller's decimal check counts
        return Decimal((value.as_tuple().sign and -1) or 1).scaleb(-101)
    return value


_INTEGER = re.compile(r"[+-]?\d{1,18}", re.ASCII)
#: Database ids are 32-bit integers (PostgreSQL `integer`): a larger one names no row.
MAX_ID = 2**31 - 1


def read_int(raw: object) -> int:
    """A whole number from user input: an int, or a str of at most 18 ASCII digits (Python's
    `int` also takes Arabic-Indic and full-width digits). Raises ValueError otherwise."""
    if isinstance(raw, bool):
        raise ValueError("not a whole number")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and _INTEGER.fullmatch(raw.strip()):
        return int(raw.strip())
    raise ValueError("not a whole number")


def read_id(raw: object) -> int:
    """A database id (1 … `MAX_ID`) from user input; ValueError otherwise."""
    value = read_int(raw)
    if not 1 <= value <= MAX_ID:
        raise ValueError("not an id")
    return value


def id_or_none(raw: object) -> int | None:
    """`read_id`, or None for anything that is not an id (a query parameter a page may
    ignore; `"²".isdigit()` is true but `int("²")` fails)."""
    try:
        return read_id(raw)
    except ValueError:
        return None


def parse_decimal(raw: object, field: str) -> Decimal:
    """A finite Decimal from user input (see `read_decimal`); raises ValueError with a
    message for the field."""
    if isinstance(raw, str) and not raw.strip():
        raise ValueError("required")
    try:
        return read_decimal(raw)
    except ValueError:
        raise ValueError(f"must be a number (got {raw!r})") from None


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
    if len(values) == 1:  # the common case (one order at a price step): the same rule, inline
        one = max(0.0, float(values[0])) * unit
        floor, target = math.floor(one + 1e-9), round(one)
        if target > floor:
            floor += 1
        elif target < floor and floor > 0:
            floor -= 1
        return [Decimal(floor).scaleb(-places)]
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


def largest_remainder_units(values: np.ndarray, places: int) -> list[int]:
    """`largest_remainder([v], places)` of each value on its own, in units of 10**-places
    (ints), for a whole array at once: the same float operations as its one-value rule
    (`np.rint` rounds half to even, as `round` does; `np.floor` is `math.floor`)."""
    one = np.maximum(0.0, values.astype(np.float64)) * (10**places)
    floor = np.floor(one + 1e-9)
    target = np.rint(one)
    floor = np.where(
        target > floor, floor + 1, np.where((target < floor) & (floor > 0), floor - 1, floor)
    )
    return [int(f) for f in floor.tolist()]


def allocate_rounded(values: Sequence[Decimal], places: int) -> list[Decimal]:
    """Decimal largest-remainder rounding: each value rounded down to `places`, then the
    units missing to reach the rounded exact total go to the largest remainders."""
    if not values:
        return []
    quantum = Decimal(1).scaleb(-places)
    floors = [v.quantize(quantum, rounding="ROUND_FLOOR") for v in values]
    target = sum(values, Decimal(0)).quantize(quantum, rounding=ROUND_HALF_EVEN)
    missing = int((target - sum(floors, Decimal(0))) / quantum)
    if missing > 0:
        # the `missing` first of the (remainder descending, index) order: a strict order, so
        # `nsmallest` picks what a full sort's head would (a side has ~240,000 orders a day
        # at 5,000 points; a few units are missing)
        for i in heapq.nsmallest(
            missing, range(len(values)), key=lambda i: (-(values[i] - floors[i]), i)
        ):
            floors[i] += quantum
    return floors
