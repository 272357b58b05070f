"""The distributor export's statutory table: per metering point and local hour, on the report
tests' cluster (tests/statutory/test_report_cli.py): hour 00Z (02:00+02:00, the first of the
repeated hours, number 3) from meter data, hour 01Z (02:00+01:00, number 4) from cleared
positions; B takes the whole exempt energy of each hour (3 kWh, then 2.5 kWh)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from tests.statutory.test_report_cli import cli_db, klaster
from tests.support.exports import PPE_A, PPE_B, PPE_C

__all__ = ["cli_db"]

pytestmark = pytest.mark.anyio


async def test_statutory_table_per_point_and_hour(cli_db: Any, tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    argv = ("export", "--from", "2026-10-25", "--table", "statutory", "--format", "csv")
    assert await klaster(*argv, "--plain", "--quiet", "-o", str(out)) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8"))))
    first = {r["ppe"]: r for r in rows if r["local_start"].endswith("+02:00")}
    second = {r["ppe"]: r for r in rows if r["local_start"].endswith("+01:00")}
    assert set(first) == {PPE_A, PPE_B, PPE_C} and set(second) == {PPE_A, PPE_B}
    b1, b2 = first[PPE_B], second[PPE_B]
    assert (b1["hour_no"], b2["hour_no"]) == ("3", "4")
    assert b1["hour_start_utc"] == "2026-10-25T00:00:00Z" and b1["source"] == "meter_data"
    assert D(b1["exempt_kwh"]) == 3 and D(b1["avoided_fees_pln"]) == D("0.0309")
    assert D(b2["exempt_kwh"]) == D("2.5") and b2["source"] == "cleared_positions"
    assert D(first[PPE_A]["fed_in_kwh"]) == 4 and D(first[PPE_A]["exempt_kwh"]) == 0
    assert first[PPE_C]["renewable"] in ("1", "true", "True")
    # Σ over points = the cluster's exempt energy and avoided fees (the report's 5.5, 0.0567)
    assert sum(D(r["exempt_kwh"]) for r in rows) == D("5.5")
    assert sum(D(r["avoided_fees_pln"]) for r in rows) == D("0.0567")
    assert all(r["rules_version"] and r["version"] for r in rows)
