"""Writing many rows at once without SQLAlchemy's per-row parameter processing.

SQLAlchemy's executemany runs every parameter of every row through its column types (`Dec`,
`UTCDateTime`) and its statement machinery: at a day-ahead day's ~500,000 rows that is most
of the time spent writing. Here each column's value is converted once by the column type's
own rule (`Dec` quantises, and sends a float to SQLite; `UTCDateTime` sends UTC, as
SQLAlchemy's text on SQLite), rows travel as plain tuples, and:

- PostgreSQL: binary COPY (asyncpg `copy_records_to_table`) in the session's transaction;
  new ids are taken from the table's sequence first (`nextval`), so they are known in order;
- SQLite: one executemany of the driver (`exec_driver_sql`); new ids are read as
  `market.db.engine.insert_returning_ids` reads them (the write lock is held, ids are
  consecutive, and that is checked).

Errors come from the driver as they are (a COPY's unique violation is asyncpg's, not
SQLAlchemy's `IntegrityError`): use this where no conflict is expected or handled. `update_from`
updates a table from such rows through a temporary table and one `UPDATE ... FROM` (SQLite ≥
3.33 and PostgreSQL alike). Nothing here commits.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from itertools import chain
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from market.db.base import Dec, UTCDateTime
from market.db.engine import dialect_name

Convert = Callable[[Any], Any]
#: SQLite: rows per INSERT statement (multi-row VALUES). ~500 rows measured best (100: most of
#: the gain; 2,000: no more).
ROWS_PER_INSERT = 500
#: SQLite: fewer rows than this are written by executemany.
MANY_ROWS_FROM = 8
#: SQLite's default bound parameters per statement (`SQLITE_MAX_VARIABLE_NUMBER`: 999 before
#: 3.32).
SQLITE_VARIABLES = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999


def _same(value: Any) -> Any:
    return value


def converter(column_type: Any, sqlite: bool, *, quantised: bool = False) -> Convert:
    """The bind rule of a column type, as one plain function. `quantised`: the `Dec` values
    are `Decimal`s at their column's scale already (or None)."""
    if isinstance(column_type, Dec):
        quantum = Decimal(1).scaleb(-column_type.scale)
        if quantised:
            return _float_or_none if sqlite else _same

        # A batch's quantities and prices repeat (a day's ~480,000 standing orders hold a few
        # thousand distinct values): each non-zero `Decimal` is converted once per batch.
        # (Zero is not remembered: -0 and 0 are equal keys and would share a sign.)
        known: dict[Decimal, Any] = {}
        decimal = Decimal

        def dec(value: Any) -> Any:
            if value.__class__ is decimal and value:
                out = known.get(value, known)
                if out is known:
                    out = known[value] = (
                        float(value.quantize(quantum)) if sqlite else value.quantize(quantum)
                    )
                return out
            if value is None:
                return None
            if not isinstance(value, Decimal):
                value = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
            value = value.quantize(quantum)
            return float(value) if sqlite else value

        return dec
    if isinstance(column_type, UTCDateTime):
        seen: dict[Any, Any] = {}  # rows written together mostly share their times

        def when(value: Any) -> Any:
            if value is None:
                return None
            if value in seen:
                return seen[value]
            utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
            # SQLAlchemy's SQLite DATETIME text, so that stored values compare alike
            seen[value] = out = utc.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else utc
            return out

        return when
    return _same


def _float_or_none(value: Any) -> Any:
    return None if value is None else float(value)


def _converters(
    session: AsyncSession, table: Table, columns: Sequence[str], quantised: bool
) -> list[Convert]:
    sqlite = dialect_name(session) == "sqlite"
    convert: list[Convert] = []
    for name in columns:
        column = table.c[name]
        rule = converter(column.type, sqlite, quantised=quantised)
        convert.append(float if rule is _float_or_none and not column.nullable else rule)
    return convert


def driver_rows(
    session: AsyncSession,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    quantised: bool = False,
) -> list[tuple[Any, ...]]:
    """The rows as the driver takes them (converted column by column: `map` of one function
    over a column is much cheaper than a generator per row)."""
    convert = _converters(session, table, columns, quantised)
    if all(c is _same for c in convert):
        return [tuple(r) for r in rows]
    return _zipped(convert, list(zip(*rows, strict=True)))


def driver_columns(
    session: AsyncSession,
    table: Table,
    columns: Sequence[str],
    values: Sequence[Sequence[Any]],
    *,
    quantised: bool = False,
) -> list[tuple[Any, ...]]:
    """`driver_rows` of values given column by column (`values[j]` is column `j`'s): a caller
    holding its rows as dicts takes each column out once (`map(itemgetter)`), and the rows
    are transposed only once, into the driver's tuples."""
    return _zipped(_converters(session, table, columns, quantised), values)


def _zipped(convert: list[Convert], by_column: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    return list(
        zip(
            *(_column(c, col) for c, col in zip(convert, by_column, strict=True)),
            strict=True,
        )
    )


def _column(convert: Convert, values: Sequence[Any]) -> Sequence[Any]:
    """A column's values converted. Times written together are mostly one (a batch's
    `created_at`): one equal to all the others is converted once (equal times are one instant,
    and `UTCDateTime` writes an instant alike)."""
    if convert is _same:
        return values
    if values and values[0].__class__ is datetime and values.count(values[0]) == len(values):
        return [convert(values[0])] * len(values)
    return list(map(convert, values))


async def _write(
    session: AsyncSession, name: str, columns: Sequence[str], values: list[tuple[Any, ...]]
) -> None:
    conn = await session.connection()
    if dialect_name(session) == "postgresql":
        raw = await conn.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            name, records=values, columns=list(columns)
        )
        return
    # Many rows a statement (multi-row VALUES): the statement's once-only work is then done
    # once for many rows, not for each (the ephemeral table of a CHECK's `IN (...)` list of 3
    # or more values is built once per execution: `orders.status` cost ~3 µs a row by
    # executemany). `ROWS_PER_INSERT` rows a statement, the rest in statements of powers of
    # two (few statement texts to prepare), the last few rows by executemany.
    insert = f"INSERT INTO {name} ({', '.join(columns)}) VALUES "
    row = f"({', '.join('?' for _ in columns)})"
    per = max(1, min(ROWS_PER_INSERT, SQLITE_VARIABLES // len(columns)))
    start, n = 0, len(values)
    while n - start >= MANY_ROWS_FROM:
        size = min(per, 1 << ((n - start).bit_length() - 1))
        await conn.exec_driver_sql(
            insert + ", ".join([row] * size),
            tuple(chain.from_iterable(values[start : start + size])),
        )
        start += size
    if start < n:
        await conn.exec_driver_sql(insert + row, values[start:])  # type: ignore[arg-type]


async def insert_rows(
    session: AsyncSession,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    quantised: bool = False,
) -> None:
    """Insert plain tuples (values in `columns`' order, Python values) into `table`."""
    if rows:
        values = driver_rows(session, table, columns, rows, quantised=quantised)
        await _write(session, table.name, columns, values)


async def insert_driver_rows(
    session: AsyncSession, table: Table, columns: Sequence[str], values: list[tuple[Any, ...]]
) -> None:
    """Insert rows already in the driver's form (what `driver_rows` returns: on SQLite a
    `Dec` column's value is a float and a `UTCDateTime`'s is text)."""
    if values:
        await _write(session, table.name, columns, values)


async def insert_returning_ids(
    session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    """`market.db.engine.insert_returning_ids` in bulk: insert `rows` (dicts with the same
    keys) into `table` (integer primary key `id`) and return their new ids in order."""
    if not rows:
        return []
    columns = list(rows[0])
    n = len(rows)
    conn = await session.connection()
    by_column = [list(map(itemgetter(c), rows)) for c in columns]
    if dialect_name(session) == "postgresql":
        ids = list(
            (
                await conn.exec_driver_sql(
                    f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
                    f"FROM generate_series(1, {int(n)})"
                )
            ).scalars()
        )
        values = driver_columns(session, table, ["id", *columns], [ids, *by_column])
        await _write(session, table.name, ["id", *columns], values)
        return [int(i) for i in ids]
    values = driver_columns(session, table, columns, by_column)
    await _write(session, table.name, columns, values)
    found = await conn.exec_driver_sql(
        f"SELECT last_insert_rowid(), max(id), count(*) FROM {table.name} "
        f"WHERE id > last_insert_rowid() - {int(n)}"
    )
    last, top, count = tuple(found.one())
    if top != last or count != n:
        raise RuntimeError(f"{table.name}: the ids of a bulk insert are not consecutive")
    return list(range(last - n + 1, last + 1))


async def update_from(
    session: AsyncSession,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    assignments: str,
    *,
    quantised: bool = False,
    driver_ready: bool = False,
    integers: Sequence[str] = (),
) -> None:
    """`UPDATE table SET assignments FROM (rows) AS r WHERE table.id = r.id`: `columns` are
    the table's columns the rows hold (one is `id`); `assignments` may refer to
    `r.<column>` and to the table's own columns. `driver_ready`: the rows are in the
    driver's form already (as `insert_driver_rows` takes them). `integers`: columns of the
    rows that are not the table's, 64-bit integers (e.g. a decimal in units of its last
    place, scaled in `assignments`: binary COPY sends an integer far cheaper than a
    `Decimal`)."""
    if not rows:
        return
    conn = await session.connection()
    temp = f"bulk_{table.name}"
    extra = set(integers)
    selected = [f"CAST(NULL AS BIGINT) AS {c}" if c in extra else c for c in columns]
    shape = f"AS SELECT {', '.join(selected)} FROM {table.name} LIMIT 0"
    if dialect_name(session) == "postgresql":
        await conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {temp} ON COMMIT DROP {shape}")
    else:
        await conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{temp}")
        await conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {temp} {shape}")
    values = (
        cast(list[tuple[Any, ...]], rows)
        if driver_ready
        else driver_rows(session, table, columns, rows, quantised=quantised)
    )
    await _write(session, temp, columns, values)
    if dialect_name(session) == "postgresql":
        # No ANALYZE of the new temporary table (0.1-0.4 s for a day's ~480,000 rows): never
        # analysed, its size is estimated from its pages (337,605 rows for 479,390), and the
        # plan is the same hash join (da13d, docs/benchmarks.md).
        # The join's hash of a day's ~480,000 ids needs ~27 MB: with the default 4 MB it
        # spills to disk in 4 batches (for this transaction only).
        await conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
    await conn.exec_driver_sql(
        f"UPDATE {table.name} SET {assignments} FROM {temp} AS r WHERE {table.name}.id = r.id"
    )
    await conn.exec_driver_sql(f"DROP TABLE {temp}")
