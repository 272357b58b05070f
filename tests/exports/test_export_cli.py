"""`klaster export` and `klaster import-meter`: files, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.support.exports import PPE_A, PPE_B, STARTS, build_cluster
from web.cli import main

pytestmark = pytest.mark.anyio


@pytest.fixture
async def cli_db(db: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from market.core.settings import get_settings

    async with db.session() as s:
        await build_cluster(s, STARTS)
    monkeypatch.setenv("DATABASE_URL", db.url)
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


async def klaster(*argv: str) -> int:
    # Imported here, not at collection: then `tests/` is first on sys.path and `web` would
    # be the tests' package `tests/web`, not the app.

    return int(await anyio.to_thread.run_sync(main, list(argv)))


async def test_export_files_and_errors(cli_db: Any, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "day.csv"
    assert await klaster("export", "--from", "2026-10-25", "--decimal-comma", "-o", str(out)) == 0
    text = out.read_bytes().decode("utf-8-sig")
    assert text.count("\r\n") == 7 and ";-0,55;" in text
    assert "6 rows, 2 intervals, version" in capsys.readouterr().err
    assert (
        await klaster(
            "export", "--from", "2026-10-25", "--format", "json", "-o", str(tmp_path / "d.json")
        )
        == 0
    )
    doc = json.loads((tmp_path / "d.json").read_text("utf-8"))
    assert {k: len(v) for k, v in doc.items() if isinstance(v, list)} == {
        "metering": 6,
        "trades": 4,
        "nodes": 6,
        "lines": 4,
        "grid": 2,
        "storage": 0,
        "statutory": 4,  # per point and hour with data (no meter data: cleared positions)
    }
    assert (
        await klaster(
            "export", "--from", "2026-10-25", "--table", "all", "-o", str(tmp_path / "all.csv")
        )
        == 0
    )
    assert sorted(p.name for p in tmp_path.glob("all.*.csv")) == [
        "all.grid.csv",
        "all.lines.csv",
        "all.metering.csv",
        "all.nodes.csv",
        "all.statutory.csv",
        "all.storage.csv",
        "all.trades.csv",
    ]
    capsys.readouterr()
    assert await klaster("export", "--from", "2026-06", "-o", str(tmp_path / "x.csv")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no cleared intervals" in err and "Traceback" not in err
    assert await klaster("export", "--from", "2026-13", "-o", str(tmp_path / "x.csv")) == 2
    assert "not a date or time" in capsys.readouterr().err


async def test_import_meter_exit_codes(cli_db: Any, tmp_path: Path, capsys: Any) -> None:
    f = tmp_path / "meter.csv"
    f.write_text(
        "ppe;interval_start;import_kwh;export_kwh;quality;resolution\n"
        f"{PPE_A};2026-10-25T00:00:00Z;0;2,8;measured;PT15M\n"
        f"{PPE_B};2026-10-25T00:00:00Z;-1;0;measured;PT15M\n",
        encoding="utf-8-sig",
    )
    assert await klaster("import-meter", str(f)) == 2
    err = capsys.readouterr().err
    assert "line 3: import_kwh: negative energy" in err and "nothing imported" in err
    assert await klaster("import-meter", str(f), "--skip-bad-rows") == 0
    assert "imported 1 readings" in capsys.readouterr().out
    assert await klaster("import-meter", str(tmp_path / "missing.csv")) == 2
