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


def test_workers_default_to_the_cores_for_two_weeks_or_more_on_a_temporary_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from market.commands import simulate

    monkeypatch.setattr(simulate.os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3})
    assert simulate.default_workers(365, temporary=True) == 4
    assert simulate.default_workers(14, temporary=True) == 2  # a week each at least
    assert simulate.default_workers(13, temporary=True) == 1
    assert simulate.default_workers(365, temporary=False) == 1  # --database/--keep-meter-data
