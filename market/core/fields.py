"""Parsing input fields (form strings or JSON values) into typed values: each failure is a
`ValidationFailed` naming the field, with a message id and params (see `market.core.errors`).

The parsers of the input types (`market.network.inputs`, `market.members.inputs`,
`market.trading.parameters`) are built from these, so the pages and the API parse a value the
same way and give the same message for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from market.core.errors import Conflict, KlasterError, ValidationFailed
from market.core.money import decimal_places, read_decimal, read_int

E = TypeVar("E", bound=Enum)

#: The raw fields of a request: a form's strings or a JSON object's values.
Fields = Mapping[str, object]


class Unset(Enum):
    """A field a change leaves as it is (None may be a value: "clear it")."""

    UNSET = "unset"


UNSET = Unset.UNSET


def given(fields: Fields, key: str) -> bool:
    """The field was sent (JSON null counts as not sent)."""
    return fields.get(key) is not None


def blank(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def text(raw: object, field: str, *, max_len: int = 200, required: bool = True) -> str:
    if raw is not None and (isinstance(raw, bool) or not isinstance(raw, (str, int, Decimal))):
        raise ValidationFailed(field, "must be text")
    value = "" if raw is None else str(raw).strip()
    if required and not value:
        raise ValidationFailed(field, "required")
    if len(value) > max_len:
        raise ValidationFailed(field, "at most %(max_len)s characters", max_len=max_len)
    return value


def decimal(raw: object, field: str, *, unit: str = "") -> Decimal:
    """A finite Decimal from a str ('.' or ',' as the decimal mark), int or Decimal."""
    if blank(raw):
        raise ValidationFailed(field, "required")
    shown = str(raw).strip()[:50]
    try:
        value = read_decimal(raw)
    except ValueError:
        value = Decimal("NaN")
    if not value.is_finite():
        if unit:
            raise ValidationFailed(
                field, "must be a number in %(unit)s (got %(value)s)", unit=unit, value=shown
            )
        raise ValidationFailed(field, "must be a number (got %(value)s)", value=shown)
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
    """A Decimal with at most `places` decimals within the bounds; messages name the unit."""
    value = decimal(raw, field, unit=unit)
    if decimal_places(value) > places:
        raise ValidationFailed(field, "at most %(places)s decimals", places=places)
    if minimum is not None and exclusive_min and value <= minimum:
        if unit:
            raise ValidationFailed(
                field, "must be greater than %(bound)s %(unit)s", bound=minimum, unit=unit
            )
        raise ValidationFailed(field, "must be greater than %(bound)s", bound=minimum)
    if minimum is not None and value < minimum:
        if unit:
            raise ValidationFailed(
                field, "must be at least %(bound)s %(unit)s", bound=minimum, unit=unit
            )
        raise ValidationFailed(field, "must be at least %(bound)s", bound=minimum)
    if maximum is not None and value > maximum:
        if unit:
            raise ValidationFailed(
                field, "must be at most %(bound)s %(unit)s", bound=maximum, unit=unit
            )
        raise ValidationFailed(field, "must be at most %(bound)s", bound=maximum)
    return value


def price_pln_per_kwh(raw: object, field: str) -> Decimal:
    """A price in PLN/kWh: 4 decimals, within ±100."""
    return number(raw, field, places=4, minimum=Decimal(-100), maximum=Decimal(100),
                  unit="PLN/kWh")  # fmt: skip


def choice(raw: object, field: str, enum: type[E]) -> E:
    """The member of `enum` whose value is `raw` (case-insensitive)."""
    value = str(raw if raw is not None else "").strip().lower()
    for member in enum:
        if member.value == value:
            return member
    values = ", ".join(str(e.value) for e in enum)
    raise ValidationFailed(field, "must be one of: %(values)s", values=values)


def integer(raw: object, field: str, low: int, high: int) -> int:
    if isinstance(raw, bool):
        raise ValidationFailed(field, "must be a whole number")
    try:
        value = read_int(raw)
    except ValueError:
        raise ValidationFailed(field, "must be a whole number") from None
    if not low <= value <= high:
        raise ValidationFailed(field, "must be between %(low)s and %(high)s", low=low, high=high)
    return value


#: The years a date the market stores or reads may fall in: year 1 or 9999 would overflow
#: the arithmetic of local days and intervals (and mean a typing error anyway).
FIRST_YEAR = 2000
LAST_YEAR = 2099


def in_years(value: date, field: str) -> date:
    """`value`, when its year is within FIRST_YEAR…LAST_YEAR (`check_year`)."""
    check_year(value.year, field)
    return value


def check_year(year: int, field: str) -> None:
    """Refuse a date outside `FIRST_YEAR`…`LAST_YEAR`, naming the field."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValidationFailed(
            field, "the year must be between %(first)s and %(last)s", first=FIRST_YEAR,
            last=LAST_YEAR,
        )  # fmt: skip


def flag(raw: object, field: str) -> bool:
    """A yes/no value: a JSON boolean or a form's "on"/"true"/"1" (and their negatives)."""
    if isinstance(raw, bool):
        return raw
    value = str(raw if raw is not None else "").strip().lower()
    if value in ("on", "true", "1", "yes"):
        return True
    if value in ("off", "false", "0", "no", ""):
        return False
    raise ValidationFailed(field, "must be true or false")


async def add_unique(session: AsyncSession, row: object, conflict: Conflict) -> None:
    """Add `row` and insert it inside a savepoint: a uniqueness violation (a concurrent
    insert the service's own check could not see) raises `conflict`, the row is not added,
    and the caller's transaction stays usable (only the savepoint is rolled back)."""
    await session.flush()  # what the caller did before is not the savepoint's to undo
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        raise conflict from None


#: Values tried in place of a field the parser refused (`every_error`): a number, a code, a
#: yes, a long password, a PPE code with its check digit; a choice's first value is tried too
#: (its error names them).
STAND_INS: tuple[str, ...] = ("1", "0", "x-1", "on", "Stand-in-value-1234", "590543500000000018")


def every_error(
    parse: Callable[[Fields], object],
    fields: Fields,
    *,
    stand_ins: Mapping[str, Sequence[object]] | None = None,
) -> list[KlasterError]:
    """Every field's error of a parser that stops at the first one, so that a form shows them
    all at once: parse; on a sent field's error, put in its place a value the parser takes
    for that field (`stand_ins` for the field, then `STAND_INS`, then the first value of a
    choice) and parse again, until the parser passes or repeats itself. Only the errors are
    returned (a stand-in is never used for anything else); each field's first error, in the
    parser's order. A form-level error (no field, or a field not sent) ends the search."""
    work = dict(fields)
    found: dict[str, KlasterError] = {}
    for _ in range(len(fields) + 1):
        try:
            parse(work)
            break
        except KlasterError as error:
            if error.field in found or error.field not in fields:
                if not found:
                    found[error.field] = error
                break
            found[error.field] = error
            if not _stand_in(parse, work, error, (stand_ins or {}).get(error.field, ())):
                break
    return list(found.values())


def _stand_in(
    parse: Callable[[Fields], object],
    work: dict[str, object],
    error: KlasterError,
    preferred: Sequence[object],
) -> bool:
    """Put in `work` a value for the erring field that the parser takes (True if found)."""
    choices = str(error.params.get("values", "")).split(", ")[:1]
    for value in (*preferred, *STAND_INS, *[c for c in choices if c]):
        work[error.field] = value
        try:
            parse(work)
            return True
        except KlasterError as again:
            if again.field != error.field:
                return True
    return False
