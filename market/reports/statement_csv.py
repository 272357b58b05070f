"""A member's monthly statement as a small Polish CSV, its cells written by the export's CSV
writer (`market.export.writers.csv_cell`), so a member name is neutralised like every other
text cell the product writes (no formula, no extra row)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from market.export.writers import CsvDialect, csv_cell
from market.settlement.settle import Statement

HEADER = ("member", "period", "item", "unit", "value")


def _number(value: Decimal, unit: str, decimal_comma: bool) -> str:
    shown = format(value, ".3f" if unit == "kWh" else ".2f")
    if shown.startswith("-") and not shown.strip("-0."):
        shown = shown[1:]  # no "-0.00"
    return shown.replace(".", ",") if decimal_comma else shown


def _same(text: str) -> str:
    return text


def statement_csv(
    statement: Statement,
    decimal_comma: bool = True,
    *,
    header: Sequence[str] = HEADER,
    item: Callable[[str], str] = _same,
    unit_label: Callable[[str], str] = _same,
    extra: Sequence[tuple[str, str, Decimal]] = (),
) -> bytes:
    """The statement as CSV in the Polish dialect (`;`, UTF-8 with BOM, CRLF). `header`,
    `item` and `unit_label` let a page write it in the reader's language (machine keys by
    default). `extra`: more (key, unit, value) rows after the statement's own (the benefits
    and the month without the cluster, `market.reports.benefits.benefit_rows`)."""
    dialect = CsvDialect.polish(decimal_comma)
    sep = dialect.separator
    lines = [sep.join(csv_cell(h, sep) for h in header)]
    for key, unit, value in [*statement.rows(), *extra]:
        cells = (statement.member, statement.period, item(key), unit_label(unit))
        # the value is a number written by us: its leading '-' is a sign, not a formula
        number = _number(value, unit, decimal_comma)
        lines.append(sep.join([*(csv_cell(c, sep) for c in cells), number]))
    return ("\ufeff" + dialect.newline.join(lines) + dialect.newline).encode("utf-8")
