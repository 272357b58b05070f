"""`klaster simulate --database URL --keep-meter-data`: the simulated database is a real one;
`klaster report statutory` on it gives the simulation's own statutory figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from web.cli import main


@pytest.mark.slow
def test_kept_database_reports_the_same_statutory_figures(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/kept.db"
    sim, report = tmp_path / "sim.json", tmp_path / "report.json"
    argv = ["simulate", "--from", "2026-06-01", "--database", url, "--keep-meter-data"]
    assert main([*argv, "--interval-minutes", "60", "--no-progress", "-o", str(sim)]) == 0
    ours = json.loads(sim.read_text("utf-8"))["statutory"]
    assert (
        main(
            [
                "report",
                "statutory",
                "--from",
                "2026-06-01",
                "--database",
                url,
                "--format",
                "json",
                "-o",
                str(report),
            ]
        )
        == 0
    )
    (row,) = json.loads(report.read_text("utf-8"))["rows"]
    assert row["source"] == "meter_data"
    for key in ("exempt_kwh", "avoided_fees_pln", "matched_kwh", "renewable_fed_in_kwh"):
        assert row[key] == ours[key]
    assert float(ours["exempt_kwh"]) > 0
    # the range now has intervals: a second run over it is refused, naming the field
    assert main([*argv, "--no-progress", "-o", str(sim)]) == 2
