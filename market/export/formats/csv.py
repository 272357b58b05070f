"""CSV: one table per file, in the Polish dialect (`;`, UTF-8 with BOM, optional decimal
comma) or the plain one (`,`, no BOM); see `market.export.writers.CsvEncoder`."""

from __future__ import annotations

from collections.abc import AsyncIterator

from market.export.formats.encoder import Document, Encoder
from market.export.writers import CsvEncoder


async def write_csv(document: Document) -> AsyncIterator[bytes]:
    (table,) = document.tables  # one table per file: the request was checked
    encoder = CsvEncoder(table, document.dialect)
    yield encoder.header()
    async for batch in document.batches(table):
        yield encoder.rows(batch)


ENCODER = Encoder(
    name="csv",
    label="CSV",
    media_type="text/csv; charset=utf-8",
    extension="csv",
    multi_table=False,
    write=write_csv,
)
