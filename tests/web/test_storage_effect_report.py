"""The report page's "what storage changed" section (`/reports/storage`): a cleared day's
grid exchange, demand and self-sufficiency with and without storage, with their source; an
empty range says so. The day is cleared by the stand-in core (tests/support/day_ahead.py),
which imports 1 kWh per interval at each grid connection whatever the storage does."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import text as sql

from market.clearing import day_ahead as da_clearing
from market.core.events import NullPublisher
from tests.support.day_ahead import fake_core
from tests.support.world import World, htmx_headers, run_in_app, sign_in

pytestmark = pytest.mark.anyio
__all__ = ["fake_core"]
DAY = "2026-06-17"


async def _clear_a_day_with_storage(client: Any, world: World) -> None:
    """Bob's point made a storage unit with a storage order for DAY, and DAY cleared."""
    async with world.db.engine.begin() as conn:
        await conn.execute(sql("UPDATE metering_points SET technology = 'storage' WHERE id = :i"),
                           {"i": world.ids["bob_point"]})  # fmt: skip
    sign_in(client, "bob")
    unit = {"metering_point_id": str(world.ids["bob_point"]), "energy_kwh": "100",
            "charge_kw": "20", "discharge_kw": "20", "efficiency_charge": "0,9",
            "efficiency_discharge": "0,9"}  # fmt: skip
    assert client.post("/day-ahead/storage-unit", data=unit,
                       headers=htmx_headers(client)).status_code == 200  # fmt: skip
    order = {"metering_point_id": str(world.ids["bob_point"]), "local_day": DAY,
             "soc_initial_kwh": "50"}  # fmt: skip
    assert client.post("/day-ahead/storage", data=order,
                       headers=htmx_headers(client)).status_code == 200  # fmt: skip
    world.clock.advance(hours=24)

    async def clear() -> Any:
        sessions = client.app.state.services.session_factory
        return await da_clearing.clear_day(
            sessions, date.fromisoformat(DAY), worker_id="t", publisher=NullPublisher(),
            now=world.clock.now(),
        )  # fmt: skip

    assert run_in_app(client, clear).stored is not None


async def test_report_shows_the_storage_effect_of_a_cleared_day(
    client: Any, world: World, fake_core: list[dict[str, Any]]
) -> None:
    await _clear_a_day_with_storage(client, world)
    client.cookies.clear()
    sign_in(client, "coord")
    page = client.get("/reports?start=2026-06").text
    assert 'hx-get="/reports/storage?start=2026-06' in page
    section = client.get("/reports/storage?start=2026-06", headers=htmx_headers(client)).text
    assert 'id="storage-effect"' in section and "17 czerwca 2026" in section
    # 96 quarter-hours × 1 kWh at the one grid connection, with and without: no change.
    assert section.count(">96,0\u00a0kWh<") == 2 and "Z magazynem" in section, section
    assert "wersja 1" in section and "z 1 magazynem energii" in section
    # Both clearings ran on the stored problem: with its storage unit and without.
    assert len(fake_core) == 3 and "storage" in fake_core[1] and "storage" not in fake_core[2]

    # A second view reads the kept figures: nothing is cleared again.
    again = client.get("/reports/storage?start=2026-06", headers=htmx_headers(client)).text
    assert len(fake_core) == 3 and again == section
    async with world.db.engine.connect() as conn:
        kept = (await conn.execute(sql("SELECT COUNT(*) FROM storage_effects"))).scalar_one()
    assert kept == 1

    # Re-clearing the day (version 2) makes the kept figures stale: the next view computes.
    async def reclear() -> Any:
        sessions = client.app.state.services.session_factory
        return await da_clearing.clear_day(
            sessions, date.fromisoformat(DAY), worker_id="t", publisher=NullPublisher(),
            now=world.clock.now(), reclear=True,
        )  # fmt: skip

    assert run_in_app(client, reclear).stored.version == 2
    assert len(fake_core) == 4
    fresh = client.get("/reports/storage?start=2026-06", headers=htmx_headers(client)).text
    assert "wersja 2" in fresh and len(fake_core) == 6
    assert client.get("/reports/storage?start=2026-06", headers=htmx_headers(client)).text == fresh
    assert len(fake_core) == 6


async def test_a_range_without_a_cleared_day_says_so(client: Any, world: World) -> None:
    sign_in(client, "coord")
    section = client.get("/reports/storage?start=2020-01", headers=htmx_headers(client))
    assert section.status_code == 200
    assert "nie ma rozliczonej aukcji dnia następnego" in section.text
    assert client.get("/reports/storage?day=2020-13-01").status_code == 422


async def test_a_large_day_is_computed_in_the_background_and_appears(
    client: Any, world: World, fake_core: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A day with more orders than `INLINE_ORDERS` (a 5,000-point cluster's: ~35 s) is not
    cleared twice while the request waits: the section says it is being computed and asks
    again; a worker process (the real core) computes and keeps the figures."""
    import time

    from market.reports import storage_effect as effect_module

    await _clear_a_day_with_storage(client, world)
    monkeypatch.setattr(effect_module, "INLINE_ORDERS", 0)
    client.cookies.clear()
    sign_in(client, "coord")
    url = f"/reports/storage?day={DAY}"
    first = client.get(url, headers=htmx_headers(client)).text
    assert "data-pending" in first and "wyniki pojawią się tutaj same" in first
    assert f'hx-get="{url}"' in first and "Z magazynem" not in first
    assert len(fake_core) == 1  # only the day's own clearing ran here
    deadline = time.monotonic() + 90
    section = first
    while "data-pending" in section and time.monotonic() < deadline:
        time.sleep(0.5)
        section = client.get(url, headers=htmx_headers(client)).text
    assert "Z magazynem" in section and "z 1 magazynem energii" in section, section
    async with world.db.engine.connect() as conn:
        kept = (await conn.execute(sql("SELECT COUNT(*) FROM storage_effects"))).scalar_one()
    assert kept == 1 and len(fake_core) == 1  # computed in the worker, with the real core
