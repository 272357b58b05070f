"""Streaming writers: CSV (Polish and plain), JSON and XLSX.

Over 400 lines on purpose: the three writers share the value formatters and their caches (the
hot path of a 14-million-row export, measured in `bench/export.py`, which drives them
directly). How each format assembles a document is in `market.export.formats`.

Every writer consumes an iterator of row tuples and produces output incrementally, so memory
stays flat however many rows pass through (a month × 5,000 metering points is ~14 million).
CSV and JSON are generators of byte chunks (for HTTP streaming) with `write_*` wrappers for
files; XLSX goes through xlsxwriter's `constant_memory` mode into a file.

Output is a pure function of the rows and the metadata: no wall clock, no random ids, so the
same data exports to the same bytes (xlsxwriter's document timestamp is set from the
metadata's `generated_at`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from operator import call
from typing import IO, Any

from market.export.tables import Column, Kind, TableSpec

Formatter = Callable[[Any], str]
Row = Sequence[Any]

#: Flush to the output about every this many rows.
CHUNK_ROWS = 512
#: Rows per XLSX sheet (Excel's limit is 1,048,576 including the header).
XLSX_MAX_ROWS = 1_048_575

#: Characters that make a spreadsheet treat a text cell as a formula (CSV injection), and
#: their full-width forms, which some spreadsheets fold to the ASCII ones.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralise(text: str) -> str:
    """A text cell a spreadsheet shows as text: one starting like a formula gets a `'`.

    Every CSV the product writes passes its text through this (`csv_cell`), so does XLSX
    (whose text cells are also written as strings, never formulas)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_cell(value: object, separator: str) -> str:
    """One CSV text cell: neutralised, and quoted when it holds the separator, a quote or a
    line break (so a line break in a name stays inside its cell, not a new row)."""
    text = neutralise(str(value))
    if separator in text or any(c in text for c in '"\n\r'):
        text = '"' + text.replace('"', '""') + '"'
    return text


@dataclass(frozen=True, slots=True)
class CsvDialect:
    """`polish()` opens correctly in a Polish spreadsheet, `plain()` in any other tool."""

    separator: str = ";"
    decimal_comma: bool = False
    bom: bool = True
    newline: str = "\r\n"

    def __post_init__(self) -> None:
        if self.decimal_comma and self.separator == ",":
            raise ValueError("a decimal comma needs the ';' separator (the Polish dialect)")

    @classmethod
    def polish(cls, decimal_comma: bool = False) -> CsvDialect:
        return cls(separator=";", decimal_comma=decimal_comma, bom=True)

    @classmethod
    def plain(cls) -> CsvDialect:
        return cls(separator=",", decimal_comma=False, bom=False)


def utc_text(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`: 2026-03-29T00:15:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_text(moment: datetime) -> str:
    """ISO 8601 with the offset: 2026-03-29T01:15:00+01:00."""
    return moment.isoformat(timespec="seconds")


def _memo(fn: Formatter) -> Formatter:
    """Remember the last value: consecutive rows share an interval's timestamp objects.

    Identity only: equal local times can differ in `fold` during the repeated autumn hour.
    """
    last: list[Any] = [object(), ""]

    def f(value: Any) -> str:
        if value is last[0]:
            return str(last[1])
        text = fn(value)
        last[0], last[1] = value, text
        return text

    return f


#: Formatted values are cached per column (energy values, codes and names repeat a lot);
#: a cache is dropped when it reaches this size, so memory stays bounded.
CACHE_SIZE = 50_000


def _decimal_formatter(scale: int, comma: bool) -> Formatter:
    spec = f".{scale}f"
    negative_zero = "-" + format(Decimal(0), spec)
    cache: dict[Any, str] = {None: ""}

    def f(value: Decimal | int | None) -> str:
        text = cache.get(value)
        if text is not None:
            return text
        text = format(value, spec)
        if text == negative_zero:
            text = text[1:]
        if comma:
            text = text.replace(".", ",")
        if len(cache) >= CACHE_SIZE:
            cache.clear()
            cache[None] = ""
        cache[value] = text
        return text

    return f


def _csv_text_formatter(separator: str) -> Formatter:
    specials = re.compile("[" + re.escape(separator) + '"\n\r]')
    cache: dict[Any, str] = {None: ""}

    def f(value: str | None) -> str:
        text = cache.get(value)
        if text is not None:
            return text
        text = neutralise(str(value))
        if specials.search(text):
            text = '"' + text.replace('"', '""') + '"'
        if len(cache) >= CACHE_SIZE:
            cache.clear()
            cache[None] = ""
        cache[value] = text
        return text

    return f


def _cached(fn: Formatter) -> Formatter:
    cache: dict[Any, str] = {}

    def f(value: Any) -> str:
        text = cache.get(value)
        if text is None:
            if len(cache) >= CACHE_SIZE:
                cache.clear()
            text = cache[value] = fn(value)
        return text

    return f


def _plain_formatter(column: Column, comma: bool) -> Formatter:
    """Formatter for everything but text, shared by CSV (and JSON, unquoted parts)."""
    if column.kind is Kind.DECIMAL:
        return _decimal_formatter(column.scale, comma)
    if column.kind is Kind.INT:
        return lambda v: "" if v is None else str(int(v))
    if column.kind is Kind.BOOL:
        return lambda v: "" if v is None else ("1" if v else "0")
    if column.kind is Kind.UTC:  # equal instants have equal UTC text: a value cache is safe
        return _cached(lambda v: "" if v is None else utc_text(v))
    if column.kind is Kind.LOCAL:
        return _memo(lambda v: "" if v is None else local_text(v))
    if column.kind is Kind.DATE:
        return _cached(lambda v: "" if v is None else v.isoformat())
    raise ValueError(f"no formatter for {column.kind}")


def csv_formatters(table: TableSpec, dialect: CsvDialect) -> list[Formatter]:
    text = _csv_text_formatter(dialect.separator)
    return [
        text if c.kind is Kind.TEXT else _plain_formatter(c, dialect.decimal_comma)
        for c in table.columns
    ]


def batched(rows: Iterable[Row], size: int = CHUNK_ROWS) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class CsvEncoder:
    """Encodes one table: `header()` once, then `rows(batch)` for each batch of rows."""

    def __init__(self, table: TableSpec, dialect: CsvDialect | None = None) -> None:
        self.table = table
        self.dialect = dialect or CsvDialect.polish()
        self._fmts = csv_formatters(table, self.dialect)
        self.count = 0

    def header(self) -> bytes:
        d = self.dialect
        text = d.separator.join(self.table.header) + d.newline
        return (("\ufeff" if d.bom else "") + text).encode("utf-8")

    def rows(self, rows: Iterable[Row]) -> bytes:
        sep, nl, fmts = self.dialect.separator, self.dialect.newline, self._fmts
        width = len(fmts)
        lines = []
        for row in rows:
            if len(row) != width:
                raise ValueError(f"{self.table.name}: a row has {len(row)} values, not {width}")
            lines.append(sep.join(map(call, fmts, row)))
        self.count += len(lines)
        return (nl.join(lines) + nl).encode("utf-8") if lines else b""


def iter_csv(
    table: TableSpec, rows: Iterable[Row], dialect: CsvDialect | None = None
) -> Iterator[bytes]:
    """The table as CSV byte chunks: optional BOM, header, one line per row."""
    enc = CsvEncoder(table, dialect)
    yield enc.header()
    for batch in batched(rows):
        yield enc.rows(batch)


def _json_formatter(column: Column) -> Formatter:
    key = json.dumps(column.name) + ":"
    null = key + "null"
    if column.kind is Kind.TEXT:

        def text(v: Any) -> str:
            return null if v is None else key + json.dumps(v, ensure_ascii=False)

        return text
    if column.kind is Kind.BOOL:

        def boolean(v: Any) -> str:
            return null if v is None else key + ("true" if v else "false")

        return boolean
    plain = _plain_formatter(column, comma=False)
    if column.kind in (Kind.DECIMAL, Kind.INT):

        def number(v: Any) -> str:
            return null if v is None else key + plain(v)

        return number

    def quoted(v: Any) -> str:
        return null if v is None else key + '"' + plain(v) + '"'

    return quoted


def _json_formatters(table: TableSpec) -> list[Formatter]:
    return [
        _json_formatter(c)
        if c.kind in (Kind.UTC, Kind.LOCAL, Kind.DATE)
        else _cached(_json_formatter(c))
        for c in table.columns
    ]


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value


class JsonEncoder:
    """One JSON object: the metadata's keys, then per table `<name>_units` and `<name>` (an
    array of row objects). Call `begin`, then per table `table_begin`, `rows(batch)`…,
    `table_end`, and finally `end`. Numbers keep their fixed scale (`1.250`), so they parse
    to exact decimals."""

    def __init__(self) -> None:
        self._fmts: list[Formatter] = []
        self._first = True
        self._keys = False
        self.count = 0

    def begin(self, meta: Mapping[str, Any]) -> bytes:
        head = {k: _json_value(v) for k, v in meta.items()}
        self._keys = bool(head)
        return json.dumps(head, ensure_ascii=False)[:-1].encode("utf-8")

    def table_begin(self, table: TableSpec) -> bytes:
        self._fmts = _json_formatters(table)
        self._first = True
        units = {c.name: c.unit for c in table.columns if c.unit}
        comma, self._keys = ("," if self._keys else ""), True
        return (
            f'{comma}"{table.name}_units":'
            + json.dumps(units, ensure_ascii=False)
            + f',"{table.name}":['
        ).encode("utf-8")

    def rows(self, rows: Iterable[Row]) -> bytes:
        fmts = self._fmts
        width = len(fmts)
        objs = []
        for row in rows:
            if len(row) != width:
                raise ValueError(f"a row has {len(row)} values, not {width}")
            objs.append("{" + ",".join(map(call, fmts, row)) + "}")
        if not objs:
            return b""
        self.count += len(objs)
        text = ("" if self._first else ",\n") + ",\n".join(objs)
        self._first = False
        return text.encode("utf-8")

    def table_end(self) -> bytes:
        return b"]"

    def end(self) -> bytes:
        return b"}\n"


def iter_json(
    meta: Mapping[str, Any], tables: Iterable[tuple[TableSpec, Iterable[Row]]]
) -> Iterator[bytes]:
    """The whole JSON document as byte chunks, written piece by piece, never in memory."""
    enc = JsonEncoder()
    yield enc.begin(meta)
    for table, rows in tables:
        yield enc.table_begin(table)
        for batch in batched(rows):
            yield enc.rows(batch)
        yield enc.table_end()
    yield enc.end()


def write_chunks(out: IO[bytes], chunks: Iterable[bytes]) -> int:
    """Write byte chunks to a file; return the number of bytes."""
    size = 0
    for chunk in chunks:
        out.write(chunk)
        size += len(chunk)
    return size


def _xlsx_writers(table: TableSpec, formats: Mapping[int, Any]) -> list[Callable[..., Any]]:
    """Per column: (sheet, row, col, value) → cell, with the right xlsxwriter call."""
    out: list[Callable[..., Any]] = []
    for c in table.columns:
        if c.kind is Kind.DECIMAL:
            fmt = formats[c.scale]
            out.append(
                lambda ws, r, k, v, fmt=fmt: (
                    None if v is None else ws.write_number(r, k, float(v), fmt)
                )
            )
        elif c.kind is Kind.INT:
            out.append(lambda ws, r, k, v: None if v is None else ws.write_number(r, k, int(v)))
        elif c.kind is Kind.BOOL:
            out.append(lambda ws, r, k, v: None if v is None else ws.write_boolean(r, k, bool(v)))
        elif c.kind is Kind.TEXT:
            out.append(
                lambda ws, r, k, v: None if v is None else ws.write_string(r, k, neutralise(str(v)))
            )
        else:
            plain = _plain_formatter(c, comma=False)
            out.append(
                lambda ws, r, k, v, p=plain: None if v is None else ws.write_string(r, k, p(v))
            )
    return out


class XlsxBuilder:
    """An XLSX workbook written incrementally: an `export` sheet with the metadata, then one
    sheet per table. A table longer than a sheet continues on `name (2)`, `name (3)`, …
    Memory stays flat (xlsxwriter `constant_memory`: a row goes to a temporary file once
    complete). The document's creation time is the metadata's `generated_at`, so the same
    data gives the same bytes."""

    def __init__(
        self,
        target: str | IO[bytes],
        meta: Mapping[str, Any],
        *,
        max_rows_per_sheet: int = XLSX_MAX_ROWS,
    ) -> None:
        import xlsxwriter  # imported here: only XLSX exports pay for it

        created = meta.get("generated_at")
        if not isinstance(created, datetime):
            created = datetime(2000, 1, 1, tzinfo=UTC)
        self._wb = xlsxwriter.Workbook(
            target, {"constant_memory": True, "strings_to_numbers": False, "strings_to_urls": False}
        )
        self._wb.set_properties(
            {
                "title": str(meta.get("title", "Klaster export")),
                "created": created.astimezone(UTC).replace(tzinfo=None),
            }
        )
        self._formats = {s: self._wb.add_format({"num_format": "0." + "0" * s}) for s in (2, 3, 4)}
        self._bold = self._wb.add_format({"bold": True})
        self._max = max_rows_per_sheet
        info = self._wb.add_worksheet("export")
        for r, (key, value) in enumerate(meta.items()):
            info.write_string(r, 0, str(key), self._bold)
            shown = json.dumps(_json_value(value), ensure_ascii=False).strip('"')
            info.write_string(r, 1, neutralise(shown))
        self.counts: dict[str, int] = {}
        self._table: TableSpec | None = None
        self._sheet: Any = None
        self._part = 0
        self._row = 0
        self._writers: list[Callable[..., Any]] = []

    def _new_sheet(self) -> None:
        assert self._table is not None
        self._part += 1
        name = self._table.name if self._part == 1 else f"{self._table.name} ({self._part})"
        self._sheet = self._wb.add_worksheet(name)
        self._sheet.write_row(0, 0, self._table.header, self._bold)
        self._sheet.freeze_panes(1, 0)
        self._row = 1

    def table_begin(self, table: TableSpec) -> None:
        self._table = table
        self._part = 0
        self._writers = _xlsx_writers(table, self._formats)
        self.counts[table.name] = 0
        self._new_sheet()

    def rows(self, rows: Iterable[Row]) -> None:
        assert self._table is not None
        writers, name = self._writers, self._table.name
        for row in rows:
            if self._row > self._max:
                self._new_sheet()
            sheet, r = self._sheet, self._row
            for k, (w, v) in enumerate(zip(writers, row, strict=True)):
                w(sheet, r, k, v)
            self._row += 1
            self.counts[name] += 1

    def close(self) -> dict[str, int]:
        self._wb.close()
        return self.counts


def write_xlsx(
    target: str | IO[bytes],
    meta: Mapping[str, Any],
    tables: Iterable[tuple[TableSpec, Iterable[Row]]],
    *,
    max_rows_per_sheet: int = XLSX_MAX_ROWS,
) -> dict[str, int]:
    """Write a whole workbook from row iterators; returns the rows written per table."""
    book = XlsxBuilder(target, meta, max_rows_per_sheet=max_rows_per_sheet)
    for table, rows in tables:
        book.table_begin(table)
        for batch in batched(rows):
            book.rows(batch)
    return book.close()
