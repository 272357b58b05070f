"""XLSX: an `export` sheet with the metadata, then one sheet per table (continued on
`name (2)`, … past a sheet's rows); see `market.export.writers.XlsxBuilder`.

A workbook is a zip that xlsxwriter can only finish in a file, so it is written to a
temporary file (in `constant_memory` mode: memory stays flat) and then read out in chunks.
A web download is limited to one sheet of rows: xlsxwriter writes ~3,000 rows/s.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator

from market.export.formats.encoder import Document, Encoder
from market.export.writers import XLSX_MAX_ROWS, XlsxBuilder

CHUNK_BYTES = 1 << 16


async def write_xlsx(document: Document) -> AsyncIterator[bytes]:
    with tempfile.NamedTemporaryFile(prefix="klaster-", suffix=".xlsx") as tmp:
        book = XlsxBuilder(tmp.name, document.meta)
        for table in document.tables:
            book.table_begin(table)
            async for batch in document.batches(table):
                book.rows(batch)
        book.close()
        with open(tmp.name, "rb") as done:
            while chunk := done.read(CHUNK_BYTES):
                yield chunk


ENCODER = Encoder(
    name="xlsx",
    label="XLSX",
    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    extension="xlsx",
    multi_table=True,
    write=write_xlsx,
    web_max_rows=XLSX_MAX_ROWS,
)
