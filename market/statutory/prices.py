"""Market prices for net-billing: the RCE of each 15- or 60-minute period imported from a CSV
(`klaster import-prices`), and the monthly RCEm table as the fallback.

What a prosumer outside a cluster gets for energy fed in is the market price: the RCE of the
period (since mid-2024) or its monthly average RCEm. The counterfactual in the members'
statements values a point's energy fed in during an hour at the hour's RCE when prices were
imported for it (the mean of its quarter-hours when the file was 15-minute), else at the
month's RCEm from `RCEM_PLN_PER_MWH` (see docs/statutory.md).

The file: a header naming a time column (`interval_start`, `start`, `start_utc`) and a price
column (`price_pln_per_mwh`, `rce_pln`, `rce`), `;` or `,` separated, decimal comma allowed
with `;`. Times are ISO 8601 with an offset or `Z`, or local (Europe/Warsaw) times that are
unambiguous. All rows are checked first; any bad row and nothing is stored. A re-import of a
period replaces its price (idempotent).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from market.access.actor import Actor, require_role
from market.access.models import Role
from market.core.errors import ValidationFailed
from market.core.money import decimal_places, read_decimal
from market.core.timegrid import as_utc
from market.metering.parse import RowError, parse_start
from market.prices.models import MarketPrice

MWH = Decimal(1000)
ZERO_PRICE = Decimal(0)
#: A price outside this band (PLN/MWh) is a typo (RCE may be negative; the harmonised
#: clearing limits are about ±4,000 EUR/MWh).
PRICE_LIMIT = Decimal(50_000)
MAX_REPORTED_ERRORS = 200
MAX_HEADER = 10_000
BATCH = 1000

TIME_COLUMNS = ("interval_start", "start", "start_utc")
PRICE_COLUMNS = ("price_pln_per_mwh", "rce_pln", "rce")


@dataclass(frozen=True, slots=True)
class MonthlyPrice:
    price_pln_per_mwh: Decimal
    #: True where the month's figure is an estimate inside the published range.
    estimate: bool


#: RCEm 2025 in PLN/MWh by month (PSE, as gathered in DOMAIN.md: January, February, March,
#: April, June, November and December published; the other months estimates inside the
#: published 150–350 range, the same as the demo's export reference). Used for any year
#: without imported prices (the latest known year's month).
RCEM_SOURCE = "PSE S.A., RCEm 2025 (rynkowa miesięczna cena energii); months marked estimate"
RCEM_PLN_PER_MWH: dict[int, MonthlyPrice] = {
    1: MonthlyPrice(Decimal("480.01"), False),
    2: MonthlyPrice(Decimal("442.02"), False),
    3: MonthlyPrice(Decimal("182.96"), False),
    4: MonthlyPrice(Decimal("163.19"), False),
    5: MonthlyPrice(Decimal("200.00"), True),
    6: MonthlyPrice(Decimal("136.30"), False),
    7: MonthlyPrice(Decimal("200.00"), True),
    8: MonthlyPrice(Decimal("220.00"), True),
    9: MonthlyPrice(Decimal("270.00"), True),
    10: MonthlyPrice(Decimal("330.00"), True),
    11: MonthlyPrice(Decimal("382.88"), False),
    12: MonthlyPrice(Decimal("466.08"), False),
}


def rcem_pln_per_kwh(month: int) -> Decimal:
    return RCEM_PLN_PER_MWH[month].price_pln_per_mwh / MWH


@dataclass(frozen=True, slots=True)
class PriceRow:
    line: int
    start_utc: datetime
    price_pln_per_mwh: Decimal


@dataclass(slots=True)
class PriceReport:
    """What checking (and storing) a price file found; `errors` holds at most the first 200."""

    rows: int = 0
    resolution_minutes: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    first_start: datetime | None = None
    last_start: datetime | None = None
    stored: int = 0

    def add_error(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)

    @property
    def ok(self) -> bool:
        return self.error_count == 0


def _columns(header: list[str]) -> tuple[int, int]:
    names = [h.strip().lower() for h in header]
    time = next((names.index(c) for c in TIME_COLUMNS if c in names), None)
    price = next((names.index(c) for c in PRICE_COLUMNS if c in names), None)
    if time is None or price is None:
        raise ValidationFailed(
            "header",
            "the header needs a time column (interval_start) and a price column "
            "(price_pln_per_mwh)",
        )
    return time, price


def _price(raw: str, decimal_comma: bool) -> Decimal:
    text = raw.strip().replace("\u00a0", "").replace(" ", "")
    if decimal_comma:
        text = text.replace(",", ".")
    try:
        value = read_decimal(text)
    except ValueError:
        raise ValidationFailed(
            "price_pln_per_mwh", "not a number (%(value)s)", value=raw[:50]
        ) from None
    if abs(value) > PRICE_LIMIT:
        raise ValidationFailed(
            "price_pln_per_mwh",
            "price %(value)s PLN/MWh is outside ±%(limit)s; give the price in PLN/MWh",
            value=value,
            limit=PRICE_LIMIT,
        )
    if decimal_places(value) > 2:
        raise ValidationFailed(
            "price_pln_per_mwh",
            "more than 2 decimals (%(value)s); RCE is PLN/MWh to the grosz",
            value=raw.strip()[:50],
        )
    return value.quantize(Decimal("0.01"))


def _rows(stream: IO[str]) -> tuple[list[str], Iterator[tuple[int, list[str]]], str]:
    header_line = stream.readline(MAX_HEADER).lstrip("\ufeff")
    if not header_line.strip():
        raise ValidationFailed("file", "empty file: the first line must name the columns")
    separator = ";" if header_line.count(";") >= header_line.count(",") else ","
    header = next(csv.reader([header_line], delimiter=separator))
    reader = csv.reader(stream, delimiter=separator)

    def numbered() -> Iterator[tuple[int, list[str]]]:
        line = 2
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                raise ValidationFailed(
                    "file",
                    "line %(line)s cannot be read as CSV (a field too long or a binary byte)",
                    line=line,
                ) from None
            yield line, row
            line += 1

    return header, numbered(), separator


def _detect(starts: list[datetime]) -> int:
    gaps = {int((b - a).total_seconds() // 60) for a, b in pairwise(starts)}
    gaps.discard(0)
    return 15 if 15 in gaps or not gaps or min(gaps) < 60 else 60


def parse_prices(
    stream: IO[str], zone: str, resolution_minutes: int | None = None
) -> tuple[list[PriceRow], PriceReport]:
    """Every row of the file checked; the rows (sorted by start) and the report. A file is a
    year at most (35,136 quarter-hours), so it is read whole."""
    report = PriceReport()
    tz = ZoneInfo(zone)
    header, rows, separator = _rows(stream)
    time_col, price_col = _columns(header)
    decimal_comma = separator == ";"
    parsed: list[PriceRow] = []
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        report.rows += 1
        if len(row) <= max(time_col, price_col):
            report.add_error(
                RowError(
                    line,
                    "file",
                    "%(found)s columns, the header has %(expected)s",
                    {"found": len(row), "expected": len(header)},
                )
            )
            continue
        try:
            start = parse_start(row[time_col], tz, "interval_start")
            price = _price(row[price_col], decimal_comma)
        except ValidationFailed as exc:
            report.add_error(RowError(line, exc.field, exc.message_id, dict(exc.params)))
            continue
        parsed.append(PriceRow(line, start, price))
    if report.rows == 0 and report.ok:
        raise ValidationFailed("file", "the file has no data rows")
    parsed.sort(key=lambda r: (r.start_utc, r.line))
    minutes = resolution_minutes or _detect(sorted({r.start_utc for r in parsed}))
    report.resolution_minutes = minutes
    previous: PriceRow | None = None
    for r in parsed:
        if (r.start_utc.minute % minutes) or r.start_utc.second or r.start_utc.microsecond:
            report.add_error(
                RowError(
                    r.line,
                    "interval_start",
                    "%(value)s is not the start of a %(minutes)s-minute period",
                    {"value": r.start_utc, "minutes": minutes},
                )
            )
        if previous is not None and previous.start_utc == r.start_utc:
            report.add_error(
                RowError(
                    r.line,
                    "interval_start",
                    "the period starting %(value)s is already on line %(other)s",
                    {"value": r.start_utc, "other": previous.line},
                )
            )
        previous = r
    if parsed:
        report.first_start, report.last_start = parsed[0].start_utc, parsed[-1].start_utc
    return parsed, report


async def _upsert(session: AsyncSession, values: list[dict[str, Any]]) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(MarketPrice).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["start_utc", "resolution_minutes"],
        set_={
            "price_pln_per_mwh": stmt.excluded.price_pln_per_mwh,
            "source": stmt.excluded.source,
            "imported_at": stmt.excluded.imported_at,
        },
    )
    await session.execute(stmt)


async def import_prices(
    session: AsyncSession,
    actor: Actor | None,
    stream: IO[str],
    *,
    filename: str,
    zone: str,
    resolution_minutes: int | None = None,
) -> PriceReport:
    """Check the whole file; store it (replacing the prices of the same periods) only when
    every row is good. `actor` None: the trusted command line; else the coordinator."""
    if actor is not None:
        require_role(actor, Role.COORDINATOR)
    rows, report = parse_prices(stream, zone, resolution_minutes)
    if not report.ok:
        return report
    now = datetime.now(UTC)
    source = f"RCE {filename}"[:200]
    for k in range(0, len(rows), BATCH):
        await _upsert(
            session,
            [
                {
                    "start_utc": r.start_utc,
                    "resolution_minutes": report.resolution_minutes,
                    "price_pln_per_mwh": r.price_pln_per_mwh,
                    "source": source,
                    "imported_at": now,
                }
                for r in rows[k : k + BATCH]
            ],
        )
    report.stored = len(rows)
    return report


class PriceSource:
    RCE = "rce"
    RCEM = "rcem"
    MIXED = "mixed"


#: From this local day a prosumer's feed-in is valued per 15-minute period at that period's
#: RCE; before it per hour (the RCE of the hour, published as the mean of its quarter-hours).
#: DOMAIN.md: the net-billing price is "the market price RCE (15-minute)"; the Polish
#: day-ahead market settles per 15 minutes since 2025-10-01 (DOMAIN.md, "Time"). The
#: switch date itself is not verified against the act (docs/statutory.md, "Net-billing").
QUARTER_HOUR_RCE_FROM = date(2025, 10, 1)


@dataclass(frozen=True, slots=True)
class PriceBook:
    """Net-billing prices (PLN/kWh): each imported 15-minute RCE (`quarters`), each hour's
    RCE (`hourly`: an hourly row, or the mean of the hour's quarter-hours), else RCEm."""

    hourly: dict[datetime, Decimal]
    quarters: dict[datetime, Decimal] = field(default_factory=dict)

    def price(self, hour_utc: datetime, local_day: date) -> tuple[Decimal, str]:
        """The hour's price: its RCE where imported, else the month's RCEm."""
        rce = self.hourly.get(hour_utc)
        if rce is not None:
            return rce, PriceSource.RCE
        return rcem_pln_per_kwh(local_day.month), PriceSource.RCEM

    def quarter_price(self, start_utc: datetime, local_day: date) -> Decimal | None:
        """The 15-minute RCE of the period starting `start_utc` when feed-in is valued per
        quarter-hour on `local_day` and the price was imported at 15 minutes, else None."""
        if local_day < QUARTER_HOUR_RCE_FROM:
            return None
        return self.quarters.get(start_utc)

    def export_value(
        self,
        hour_utc: datetime,
        local_day: date,
        export_kwh: Decimal,
        by_start: Iterable[tuple[datetime, Decimal]] = (),
    ) -> tuple[Decimal, str]:
        """What `export_kwh` fed in during the hour is worth under net-billing (exact, PLN)
        and which prices valued it (`rce`, `rcem`, `mixed`). `by_start`: the energy per
        15-minute period (its start, kWh) where known. From `QUARTER_HOUR_RCE_FROM` each
        quarter-hour with an imported 15-minute RCE is valued at it; the rest of the hour's
        energy at the hour's price (`price`)."""
        value = Decimal(0)
        rest = export_kwh
        quarter_priced = False
        for start, kwh in by_start:
            if not kwh:
                continue
            q = self.quarter_price(start, local_day)
            if q is not None:
                value += kwh * q
                rest -= kwh
                quarter_priced = True
        if not rest:
            return value, PriceSource.RCE
        hour_price, kind = self.price(hour_utc, local_day)
        if quarter_priced and kind != PriceSource.RCE:
            kind = PriceSource.MIXED
        return value + rest * hour_price, kind


def net_billing_price(price: Decimal) -> Decimal:
    """The price net-billing values energy fed in at: a negative RCE counts as zero (a
    prosumer's deposit is never charged for feeding in; see docs/statutory.md)."""
    return price if price > 0 else ZERO_PRICE


def hourly_means(rows: Iterable[tuple[datetime, int, Decimal]]) -> dict[datetime, Decimal]:
    """Hour start (UTC) → PLN/kWh: an hourly price as it is, else the mean of the hour's
    quarter-hours (an hourly row wins when both were imported); a negative price counts as
    zero, also inside the mean (`net_billing_price`)."""
    hourly: dict[datetime, Decimal] = {}
    quarters: dict[datetime, list[Decimal]] = defaultdict(list)
    for start, minutes, price in rows:
        hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        price = net_billing_price(price)
        if minutes == 60:
            hourly[hour] = price / MWH
        else:
            quarters[hour].append(price)
    for hour, prices in quarters.items():
        if hour not in hourly:
            hourly[hour] = sum(prices, Decimal(0)) / len(prices) / MWH
    return hourly


def quarter_prices(rows: Iterable[tuple[datetime, int, Decimal]]) -> dict[datetime, Decimal]:
    """Start (UTC) → PLN/kWh of every 15-minute price (a negative one as zero)."""
    return {
        start.astimezone(UTC): net_billing_price(price) / MWH
        for start, minutes, price in rows
        if minutes == 15
    }


async def load_price_book(session: AsyncSession, start: datetime, end: datetime) -> PriceBook:
    rows = [
        (as_utc(s), m, p)
        for s, m, p in await session.execute(
            select(
                MarketPrice.start_utc,
                MarketPrice.resolution_minutes,
                MarketPrice.price_pln_per_mwh,
            ).where(
                MarketPrice.start_utc >= start - timedelta(hours=1), MarketPrice.start_utc < end
            )
        )
    ]
    return PriceBook(hourly_means(rows), quarter_prices(rows))
