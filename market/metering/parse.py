"""Meter data from the distributor: parse and validate a CSV file, line by line.

Columns (header row required, any order, case-insensitive; Polish names accepted):
`ppe`, `interval_start`, `import_kwh`, `export_kwh`, `quality`, optional `resolution`
(`PT15M`/`PT60M`). Separator `;` or `,` (from the header); with `;` a decimal comma is
accepted. `interval_start` is ISO 8601: with `Z` or an offset it is exact; without an offset
it is local time in the cluster's zone, refused when it does not exist (spring change) or is
ambiguous (the repeated autumn hour) — give the offset then.

One resolution per file: the `resolution` column of the first row, or (without the column) the
`--resolution` given, or else detected from the first rows (15-minute when any start is off
the full hour or one PPE has starts 15 minutes apart). Other rows must agree.

Putting the readings on the cluster's interval grid (hourly data split into quarter-hours,
quarter-hours summed per hour) is `market.metering.grid`; decoding the file's bytes is
`market.metering.textfile`. What stays here is one reader — columns, rows and the resolution
rule depend on each other — which is why it runs past 400 lines.

Validation keeps flat memory: duplicates are found with one bitmap per PPE.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import IO
from zoneinfo import ZoneInfo

from market.core.errors import Param, ValidationFailed, render_message
from market.core.fields import check_year
from market.core.money import decimal_places, read_decimal
from market.core.settings import DEFAULT_TIMEZONE
from market.members.ppe import validate_ppe

WH = Decimal("0.001")
#: Longest header line read (a binary file may have no line break at all).
MAX_HEADER = 10_000
MAX_REPORTED_ERRORS = 200


class Quality(StrEnum):
    MEASURED = "measured"
    ESTIMATED = "estimated"
    SUBSTITUTED = "substituted"


_QUALITY_ALIASES = {
    "measured": Quality.MEASURED,
    "m": Quality.MEASURED,
    "rzeczywisty": Quality.MEASURED,
    "pomiar": Quality.MEASURED,
    "estimated": Quality.ESTIMATED,
    "e": Quality.ESTIMATED,
    "szacowany": Quality.ESTIMATED,
    "substituted": Quality.SUBSTITUTED,
    "s": Quality.SUBSTITUTED,
    "zastepczy": Quality.SUBSTITUTED,
    "zastępczy": Quality.SUBSTITUTED,
}

_COLUMN_ALIASES = {
    "ppe": "ppe",
    "kod_ppe": "ppe",
    "ppe_code": "ppe",
    "interval_start": "interval_start",
    "start": "interval_start",
    "data_od": "interval_start",
    "poczatek": "interval_start",
    "import_kwh": "import_kwh",
    "pobor_kwh": "import_kwh",
    "energia_pobrana_kwh": "import_kwh",
    "export_kwh": "export_kwh",
    "oddanie_kwh": "export_kwh",
    "energia_oddana_kwh": "export_kwh",
    "quality": "quality",
    "jakosc": "quality",
    "status": "quality",
    "resolution": "resolution",
    "rozdzielczosc": "resolution",
}
REQUIRED = ("ppe", "interval_start", "import_kwh", "export_kwh", "quality")
RESOLUTIONS = {"PT15M": 15, "PT60M": 60, "PT1H": 60}


@dataclass(frozen=True, slots=True)
class Reading:
    """Metered energy of one metering point over one interval (source resolution)."""

    line: int
    ppe: str
    start_utc: datetime
    minutes: int
    import_kwh: Decimal
    export_kwh: Decimal
    quality: Quality


@dataclass(frozen=True, slots=True)
class RowError:
    """A bad row: its line, the column, and a message id with params (as market errors carry
    them, so the page shows it in the reader's language)."""

    line: int
    field: str
    message_id: str
    params: Mapping[str, Param]

    @property
    def message(self) -> str:
        """The English text (the CLI, logs)."""
        return render_message(self.message_id, self.params)

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass(slots=True)
class ImportReport:
    """What a validation or import pass found. `errors` holds at most the first 200."""

    resolution_minutes: int = 0
    rows: int = 0
    valid_rows: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    ppes: set[str] = field(default_factory=set)
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

    def summary(self) -> str:
        head = (
            f"{self.rows} rows, {self.valid_rows} valid, {self.error_count} with errors, "
            f"{len(self.ppes)} metering points, resolution PT{self.resolution_minutes}M"
        )
        return head if self.ok else head + "\n" + "\n".join(str(e) for e in self.errors)


class _SeenIntervals:
    """Per PPE, a growable bitmap of slots already given (flat memory for millions of rows)."""

    def __init__(self, slot_minutes: int) -> None:
        self._slot = slot_minutes * 60
        self._maps: dict[str, tuple[int, bytearray]] = {}

    def add(self, ppe: str, start: datetime, minutes: int) -> bool:
        """Mark the slots of [start, start+minutes); False when one was already taken."""
        first = int(start.timestamp()) // self._slot
        count = max(1, minutes * 60 // self._slot)
        base, bits = self._maps.get(ppe, (first, bytearray()))
        if first < base:  # grow to the left
            shift_bytes = (base - first + 7) // 8
            bits = bytearray(shift_bytes) + bits
            base -= shift_bytes * 8
        end = first - base + count
        if end > len(bits) * 8:
            bits.extend(bytearray((end - len(bits) * 8 + 7) // 8 + 64))
        taken = False
        for k in range(first - base, end):
            byte, bit = divmod(k, 8)
            if bits[byte] >> bit & 1:
                taken = True
            bits[byte] |= 1 << bit
        self._maps[ppe] = (base, bits)
        return not taken


def parse_start(raw: str, zone: ZoneInfo, field: str = "interval_start") -> datetime:
    """An interval start as aware UTC; local times without offset must be unambiguous.
    Raises `ValidationFailed` naming `field`."""
    text = raw.strip().replace(" ", "T", 1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
        check_year(moment.year, field)
        if moment.tzinfo is not None:
            return moment.astimezone(UTC)
    except ValidationFailed:
        raise
    except (ValueError, OverflowError):
        raise ValidationFailed(
            field,
            "not an ISO 8601 time (%(value)s); use e.g. 2026-03-29T00:15:00Z "
            "or 2026-03-29T01:15:00+01:00",
            value=raw,
        ) from None
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    early = moment.replace(tzinfo=zone, fold=0)
    late = moment.replace(tzinfo=zone, fold=1)
    if early.utcoffset() != late.utcoffset():
        gap = early.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment
        if gap:
            raise ValidationFailed(
                field,
                "local time %(value)s does not exist (clocks go forward); give the UTC time",
                value=raw,
            )
        raise ValidationFailed(
            field,
            "local time %(value)s is ambiguous (the repeated autumn hour); "
            "add the offset (+02:00 for the first, +01:00 for the second)",
            value=raw,
        )
    if early.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
        raise ValidationFailed(
            field, "local time %(value)s does not exist (clocks go forward)", value=raw
        )
    return early.astimezone(UTC)


def parse_energy(raw: str, decimal_comma: bool, field: str = "import_kwh") -> Decimal:
    """Energy in kWh to the Wh, ≥ 0; raises `ValidationFailed` naming `field`."""
    text = raw.strip().replace("\u00a0", "").replace(" ", "")
    if decimal_comma:
        text = text.replace(",", ".")
    try:
        value = read_decimal(text)
    except ValueError:
        raise ValidationFailed(field, "not a number (%(value)s)", value=raw[:50]) from None
    if value < 0:
        raise ValidationFailed(
            field,
            "negative energy (%(value)s); give import and export as ≥ 0",
            value=raw.strip(),
        )
    if decimal_places(value) > 3:
        raise ValidationFailed(
            field,
            "more than 3 decimals (%(value)s); energy is kWh to the Wh",
            value=raw.strip()[:50],
        )
    return value.quantize(WH)


def _resolution(raw: str) -> int:
    minutes = RESOLUTIONS.get(raw.strip().upper())
    if minutes is None:
        raise ValidationFailed(
            "resolution", "unknown resolution %(value)s; use PT15M or PT60M", value=raw
        )
    return minutes


def _open_rows(stream: IO[str]) -> tuple[dict[str, int], Iterator[tuple[int, list[str]]], str]:
    header_line = stream.readline(MAX_HEADER).lstrip("\ufeff")
    if not header_line.strip():
        raise ValidationFailed("file", "empty file: the first line must name the columns")
    separator = ";" if header_line.count(";") >= header_line.count(",") else ","
    names = next(csv.reader([header_line], delimiter=separator))
    columns: dict[str, int] = {}
    for k, name in enumerate(names):
        key = _COLUMN_ALIASES.get(name.strip().lower())
        if key and key not in columns:
            columns[key] = k
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ValidationFailed(
            "header",
            "missing column(s) %(columns)s; the header needs "
            "ppe;interval_start;import_kwh;export_kwh;quality[;resolution]",
            columns=", ".join(missing),
        )
    reader = csv.reader(stream, delimiter=separator)
    return columns, _numbered(reader), separator


def _numbered(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """(line, row) from line 2 on; a row the csv module cannot read (a field over its
    128 KiB limit, a NUL byte) refuses the file, naming the line."""
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


#: The file says nothing of its resolution and its first rows cannot tell it. The command
#: line's words; the web form names its own field (`web.pages.distributor`).
UNDETECTED_RESOLUTION = (
    "cannot tell 15- from 60-minute data from the first rows; add a resolution column "
    "(PT15M or PT60M) or give the resolution (--resolution 15|60)"
)


def _detect_resolution(stream: IO[str], zone: ZoneInfo, sample: int = 2000) -> int:
    """From the first rows: 15 when a start is off the full hour or one PPE has starts less
    than an hour apart; 60 when a PPE has starts exactly an hour apart and none closer.
    Without such evidence the file is refused: guessing would misplace energy."""
    pos = stream.tell()
    try:
        columns, rows, _sep = _open_rows(stream)
        last: dict[str, datetime] = {}
        hourly = False
        for _line, row in rows:
            if sample <= 0:
                break
            sample -= 1
            try:
                if "resolution" in columns:
                    return _resolution(row[columns["resolution"]])
                start = parse_start(row[columns["interval_start"]], zone)
            except (ValidationFailed, IndexError):
                continue
            if start.minute % 60:
                return 15
            ppe = row[columns["ppe"]].strip()
            prev = last.get(ppe)
            if prev is not None:
                gap = abs(start - prev)
                if gap < timedelta(hours=1):
                    return 15
                hourly = hourly or gap == timedelta(hours=1)
            last[ppe] = start
        if hourly:
            return 60
        raise ValidationFailed("resolution", UNDETECTED_RESOLUTION)
    finally:
        stream.seek(pos)


def read_meter_csv(
    stream: IO[str],
    *,
    is_known_ppe: Callable[[str], bool],
    zone: str = DEFAULT_TIMEZONE,
    resolution_minutes: int | None = None,
    report: ImportReport | None = None,
) -> Iterator[Reading]:
    """Yield the valid readings of a seekable text stream; record bad rows in `report`.

    Nothing is stored here: the caller decides (a file with errors imports nothing unless
    bad rows are to be skipped). Raises `ValidationFailed` for a bad header.
    """
    tz = ZoneInfo(zone)
    report = report if report is not None else ImportReport()
    if resolution_minutes is None:
        resolution_minutes = _detect_resolution(stream, tz)
    report.resolution_minutes = resolution_minutes
    columns, rows, separator = _open_rows(stream)
    seen = _SeenIntervals(15)
    step = resolution_minutes * 60
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        report.rows += 1

        def bad(
            field_name: str, message_id: str, params: Mapping[str, Param], line: int = line
        ) -> None:
            report.add_error(RowError(line, field_name, message_id, params))

        if len(row) < len(columns) or max(columns.values()) >= len(row):
            expected = max(columns.values()) + 1
            bad("row", "expected %(expected)s fields, got %(got)s",
                {"expected": expected, "got": len(row)})  # fmt: skip
            continue
        try:
            ppe = validate_ppe(row[columns["ppe"]], "ppe")
            if not is_known_ppe(ppe):
                raise ValidationFailed(
                    "ppe", "unknown metering point %(ppe)s; register it in the cluster first",
                    ppe=ppe,
                )  # fmt: skip
            if "resolution" in columns:
                minutes = _resolution(row[columns["resolution"]])
                if minutes != resolution_minutes:
                    raise ValidationFailed(
                        "resolution",
                        "mixed resolutions: PT%(minutes)sM in a PT%(file_minutes)sM file; "
                        "send 15- and 60-minute data in separate files",
                        minutes=minutes, file_minutes=resolution_minutes,
                    )  # fmt: skip
            start = parse_start(row[columns["interval_start"]], tz)
            if int(start.timestamp()) % step:
                raise ValidationFailed(
                    "interval_start",
                    "mixed resolutions: %(start)s is not on the %(file_minutes)s-minute grid "
                    "of this file",
                    start=start, file_minutes=resolution_minutes,
                )  # fmt: skip
            values = [
                parse_energy(row[columns[name]], separator == ";", name)
                for name in ("import_kwh", "export_kwh")
            ]
            quality = _QUALITY_ALIASES.get(row[columns["quality"]].strip().lower())
            if quality is None:
                raise ValidationFailed(
                    "quality", "unknown quality flag; use measured, estimated or substituted"
                )
            if not seen.add(ppe, start, resolution_minutes):
                raise ValidationFailed(
                    "interval_start", "duplicate interval %(start)s for %(ppe)s",
                    start=start, ppe=ppe,
                )  # fmt: skip
        except ValidationFailed as exc:
            bad(exc.field, exc.message_id, exc.params)
            continue
        report.valid_rows += 1
        report.ppes.add(ppe)
        if report.first_start is None or start < report.first_start:
            report.first_start = start
        if report.last_start is None or start > report.last_start:
            report.last_start = start
        yield Reading(line, ppe, start, resolution_minutes, values[0], values[1], quality)


def validate_text(text: str, **kwargs: object) -> tuple[list[Reading], ImportReport]:
    """Convenience for small inputs (tests, uploads already in memory)."""
    report = ImportReport()
    readings = list(read_meter_csv(io.StringIO(text), report=report, **kwargs))  # type: ignore[arg-type]
    return readings, report
