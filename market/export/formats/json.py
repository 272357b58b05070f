"""JSON: one object with the metadata, then `<table>_units` and `<table>` for each table;
see `market.export.writers.JsonEncoder`."""

from __future__ import annotations

from collections.abc import AsyncIterator

from market.export.formats.encoder import Document, Encoder
from market.export.writers import JsonEncoder


async def write_json(document: Document) -> AsyncIterator[bytes]:
    encoder = JsonEncoder()
    yield encoder.begin(document.meta)
    for table in document.tables:
        yield encoder.table_begin(table)
        async for batch in document.batches(table):
            yield encoder.rows(batch)
        yield encoder.table_end()
    yield encoder.end()


ENCODER = Encoder(
    name="json",
    label="JSON",
    media_type="application/json",
    extension="json",
    multi_table=True,
    write=write_json,
)
