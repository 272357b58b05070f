"""The coordinator's simulations page: queue a scenario (run in the background by
`klaster simulate-run`; here in the app's loop with a stand-in simulation), import a result
file, compare two stored runs side by side; bad input is refused naming the field."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from market.simulation.models import SimulationRun
from market.simulation.runs import execute_run
from tests.support.world import World, htmx_headers, run_in_app, sign_in

pytestmark = pytest.mark.anyio

URL = "/coordinator/simulations/"


def summary(scenario: str, household_benefit: str, imports: str, congested: int) -> dict[str, Any]:
    """A summary as `klaster simulate` writes it (the keys the page reads)."""
    kind = {"members": 2, "metering_points": 2, "consumption_kwh": "100.000",
            "fed_in_kwh": "40.000", "benefit_pln": household_benefit,
            "benefit_per_member_pln": str(float(household_benefit) / 2)}  # fmt: skip
    return {
        "scenario": scenario, "from": "2026-06-01", "to": "2026-06-02", "seed": 2026,
        "intervals": 192, "cleared": 192, "failed": 0, "metering_points": 4,
        "grid": {"import_kwh": imports, "export_kwh": "50", "local_kwh": "30"},
        "congestion": {"intervals_by_line": {"L-1": congested} if congested else {}, "lines": 3},
        "day_ahead": {"auctions": 2, "failed": 0, "bought_kwh": "10.000", "sold_kwh": "12.000",
                      "amount_pln": "-1.00"},
        "by_kind": {"household": kind, "business": kind | {"members": 1, "benefit_pln": "-3.00",
                                                           "benefit_per_member_pln": "-3.00"}},
        "statutory": {"exempt_kwh": "20", "avoided_fees_pln": "1.50", "discount_pln": "0",
                      "matched_kwh": "25", "renewable_fed_in_kwh": "40",
                      "conditions": [{"name": "renewable_share", "value": "0.9",
                                      "threshold": "0.3", "met": True, "draft": False}]},
    }  # fmt: skip


@pytest.fixture
def started(world: World) -> Iterator[list[tuple[int, str]]]:
    """The runs the page started (instead of `klaster simulate-run` processes)."""
    calls: list[tuple[int, str]] = []
    world.app.state.simulation_runner = lambda run_id, url: calls.append((run_id, url))
    yield calls
    del world.app.state["simulation_runner"]


def _post(client: Any, data: dict[str, str], file: tuple[str, bytes] | None = None) -> Any:
    files = {"file": file} if file else {"file": ("", b"", "application/octet-stream")}
    return client.post(URL, data=data, files=files, headers=htmx_headers(client))


async def _runs(world: World) -> list[SimulationRun]:
    from sqlalchemy import select

    async with world.db.session() as s:
        return list((await s.scalars(select(SimulationRun).order_by(SimulationRun.id))).all())


async def test_page_is_the_coordinators_and_polish(client: Any, world: World) -> None:
    sign_in(client, "alice")
    assert client.get(URL, follow_redirects=False).status_code in (302, 303, 401, 403)
    client.cookies.clear()
    sign_in(client, "coord")
    r = client.get(URL)
    assert r.status_code == 200
    assert "Symulacje" in r.text and "75 członków założycieli" in r.text
    assert 'name="scenario"' in r.text and 'type="file"' in r.text


async def test_bad_input_names_the_field_and_stores_nothing(
    client: Any, world: World, started: list[tuple[int, str]]
) -> None:
    sign_in(client, "coord")
    too_long = _post(client, {"scenario": "founding", "start": "2026-06-01", "end": "2026-08-01"})
    assert too_long.status_code == 422 and 'id="sim-to-err"' in too_long.text
    assert "31" in too_long.text
    no_day = _post(client, {"scenario": "founding", "start": "", "end": ""})
    assert no_day.status_code == 422 and 'id="sim-from-err"' in no_day.text
    bad_seed = _post(client, {"scenario": "founding", "start": "2026-06-01", "seed": "x"})
    assert bad_seed.status_code == 422 and 'id="sim-seed-err"' in bad_seed.text
    toml = b'name = "x"\n[[add_members]]\nkind = "household"\ncount = 0\n'
    bad_file = _post(client, {"start": "2026-06-01"}, ("mine.toml", toml, "text/plain"))
    assert bad_file.status_code == 422 and "add_members[0].count" in bad_file.text
    unknown = _post(client, {"scenario": "nope", "start": "2026-06-01"})
    assert unknown.status_code == 422 and 'id="sim-scenario-err"' in unknown.text
    assert await _runs(world) == [] and started == []


async def test_queue_run_import_and_compare(
    client: Any, world: World, started: list[tuple[int, str]]
) -> None:
    sign_in(client, "coord")
    toml = b'name = "plus-pv"\n[[add_members]]\nkind = "household"\ncount = 3\npv_kwp = 6\n'
    r = _post(client, {"start": "2026-06-01", "end": "2026-06-02", "seed": "7"},
              ("plus-pv.toml", toml, "text/plain"))  # fmt: skip
    assert r.status_code == 200, r.text
    assert 'id="sim-runs" hx-swap-oob="true"' in r.text and "w kolejce" in r.text
    assert 'hx-trigger="every 3s"' in r.text  # the list polls while a run is queued
    (run,) = await _runs(world)
    assert (run.name, run.source, run.seed, run.status) == ("plus-pv", "plus-pv.toml", 7, "queued")
    assert (run.first_day, run.last_day) == (date(2026, 6, 1), date(2026, 6, 2))
    assert started == [(run.id, started[0][1])]  # started after the response, once

    seen: list[Any] = []

    def simulate(scenario: Any, first: date, last: date, seed: int) -> dict[str, Any]:
        seen.append((scenario.name, first, last, seed))
        return summary("plus-pv", "120.00", "900", 5)

    from web.config import app_services

    sessions = app_services(world.app).session_factory
    status = run_in_app(client, execute_run, sessions, run.id, "test", simulate)
    assert status == "done" and seen == [("plus-pv", run.first_day, run.last_day, 7)]
    # a second executor finds nothing to do
    assert run_in_app(client, execute_run, sessions, run.id, "other", simulate) is None

    result = json.dumps(summary("founding", "80.00", "1000", 9)).encode()
    files = {"result": ("founding.json", result, "application/json")}
    imported = client.post(URL + "import", files=files, headers=htmx_headers(client))
    assert imported.status_code == 200 and "Zaimportowano jako przebieg" in imported.text
    bad = client.post(URL + "import", files={"result": ("x.json", b"{}", "application/json")},
                      headers=htmx_headers(client))  # fmt: skip
    assert bad.status_code == 422 and 'id="sim-result-err"' in bad.text
    runs = await _runs(world)
    assert [r.status for r in runs] == ["done", "done"]

    listing = client.get(URL + "runs", headers=htmx_headers(client)).text
    assert "every 3s" not in listing  # nothing left running: no polling
    assert 'name="a"' in listing and 'name="b"' in listing
    a, b = runs[1].id, runs[0].id
    page = client.get(URL + "compare", params={"a": a, "b": b})
    assert page.status_code == 200
    text = page.text
    assert "Oszczędności według rodzaju członka" in text and text.count("<svg") >= 3
    # per member: household 40,00 → 60,00 (+20,00); grid import 1 000 → 900; L-1 9 → 5
    assert "+20,00" in text and "−100" in text and "L-1" in text
    assert re.search(r"spełniony", text)
    fragment = client.get(URL + "compare", params={"a": a, "b": b}, headers=htmx_headers(client))
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="compare-head"' in fragment.text


async def test_compare_needs_two_finished_runs(client: Any, world: World, started: Any) -> None:
    sign_in(client, "coord")
    _post(client, {"scenario": "founding", "start": "2026-06-01"})
    (run,) = await _runs(world)
    r = client.get(URL + "compare", params={"a": run.id, "b": run.id}, headers=htmx_headers(client))
    assert r.status_code in (400, 422) and "a" in r.text
    missing = client.get(URL + "compare", params={"a": 999, "b": run.id})
    assert missing.status_code == 404


# ---------------------------------------------------------------- cancel, interrupted, run again


async def _set(world: World, run_id: int, **values: Any) -> None:
    from sqlalchemy import update

    async with world.db.session() as s:
        await s.execute(update(SimulationRun).where(SimulationRun.id == run_id).values(**values))
        await s.commit()


def _stand_in_process(run_id: int) -> Any:
    """A process whose command line names `simulate-run` and the run, as the page starts."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "simulate-run", str(run_id)]
    )
    # Popen returns as the child starts its exec: its command line is briefly empty.
    deadline = time.monotonic() + 10
    while b"simulate-run" not in Path(f"/proc/{process.pid}/cmdline").read_bytes():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return process


async def test_cancel_stops_the_runs_process_and_only_the_coordinator_may(
    client: Any, world: World, started: list[tuple[int, str]]
) -> None:
    import signal
    import socket
    from datetime import UTC, datetime, timedelta

    sign_in(client, "coord")
    assert _post(client, {"scenario": "founding", "start": "2026-06-01"}).status_code == 200
    (run,) = await _runs(world)
    process = _stand_in_process(run.id)
    try:
        await _set(world, run.id, status="running", claimed_by=f"simulate-run:"
                   f"{socket.gethostname()}:{process.pid}",
                   claim_until=datetime.now(UTC) + timedelta(minutes=1))  # fmt: skip
        listing = client.get(URL + "runs", headers=htmx_headers(client)).text
        assert f'hx-post="/coordinator/simulations/{run.id}/cancel"' in listing
        assert "every 3s" in listing and "Uruchom ponownie" not in listing
        # CSRF as every form: without the token nothing happens
        no_token = client.post(URL + f"{run.id}/cancel", headers={"HX-Request": "true"})
        assert no_token.status_code == 403
        client.cookies.clear()
        sign_in(client, "alice")
        member = client.post(URL + f"{run.id}/cancel", headers=htmx_headers(client),
                             follow_redirects=False)  # fmt: skip
        assert member.status_code in (302, 303, 401, 403)
        assert process.poll() is None and (await _runs(world))[0].status == "running"

        client.cookies.clear()
        sign_in(client, "coord")
        r = client.post(URL + f"{run.id}/cancel", headers=htmx_headers(client))
        assert r.status_code == 200, r.text
        assert 'id="sim-runs"' in r.text and "anulowane" in r.text
        assert "every 3s" not in r.text and f"/{run.id}/again" in r.text
        assert process.wait(timeout=10) == -signal.SIGTERM  # its process was stopped
        (cancelled,) = await _runs(world)
        assert (cancelled.status, cancelled.summary) == ("cancelled", None)
        assert cancelled.claim_until is None and cancelled.finished_at is not None
        again = client.post(URL + f"{run.id}/cancel", headers=htmx_headers(client))
        assert again.status_code == 422 and "nie czeka w kolejce" in again.text
        assert client.post(URL + "999/cancel", headers=htmx_headers(client)).status_code == 404
    finally:
        process.kill()
        process.wait()


async def test_a_pid_that_is_not_the_runs_process_is_left_alone(
    client: Any, world: World, started: list[tuple[int, str]]
) -> None:
    import socket
    import subprocess
    import sys

    from web.pages.simulations import stop_process

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    stand_in = _stand_in_process(41)
    try:
        host = socket.gethostname()
        assert not stop_process(f"simulate-run:{host}:{other.pid}", 41)  # not simulate-run
        assert not stop_process(f"simulate-run:{host}:{stand_in.pid}", 42)  # another run
        assert not stop_process(f"simulate-run:elsewhere:{stand_in.pid}", 41)  # another host
        assert not stop_process(None, 41) and not stop_process("worker:x", 41)
        assert other.poll() is None and stand_in.poll() is None
        assert stop_process(f"simulate-run:{host}:{stand_in.pid}", 41)
        assert stand_in.wait(timeout=10) != 0
    finally:
        for p in (other, stand_in):
            p.kill()
            p.wait()


async def test_a_cancelled_run_stores_nothing_even_if_its_simulation_finishes(
    client: Any, world: World, started: list[tuple[int, str]]
) -> None:
    """In-process: the run renews its lease while it simulates; the coordinator cancels; the
    next renewal finds the claim gone, asks the simulation to stop, and the summary it returns
    anyway is not stored."""
    import functools
    import threading
    from datetime import timedelta

    from web.config import app_services

    world.app.state.simulation_stopper = lambda holder, run_id: False
    try:
        sign_in(client, "coord")
        _post(client, {"scenario": "founding", "start": "2026-06-01"})
        (run,) = await _runs(world)
        stop, running = threading.Event(), threading.Event()

        def simulate(scenario: Any, first: date, last: date, seed: int) -> dict[str, Any]:
            running.set()
            assert stop.wait(timeout=20), "the lost lease did not stop the simulation"
            return summary("founding", "1.00", "1", 0)

        sessions = app_services(world.app).session_factory
        call = functools.partial(execute_run, sessions, run.id, "test", simulate, stop=stop,
                                 renew_every=timedelta(seconds=0.1))  # fmt: skip
        future = client.blocking_portal.start_task_soon(call)
        assert running.wait(timeout=20)
        assert (await _runs(world))[0].status == "running"
        r = client.post(URL + f"{run.id}/cancel", headers=htmx_headers(client))
        assert r.status_code == 200
        assert future.result(timeout=30) == "cancelled" and stop.is_set()
        (row,) = await _runs(world)
        assert (row.status, row.summary, row.claimed_by) == ("cancelled", None, "test")
    finally:
        del world.app.state["simulation_stopper"]


async def test_a_run_whose_process_died_shows_interrupted_and_runs_again(
    client: Any, world: World, started: list[tuple[int, str]]
) -> None:
    from datetime import UTC, datetime, timedelta

    sign_in(client, "coord")
    _post(client, {"start": "2026-06-01", "end": "2026-06-03", "seed": "9"},
          ("mine.toml", b'name = "mine"\nbase_points = 20\n', "text/plain"))  # fmt: skip
    (run,) = await _runs(world)
    # Its process renewed the lease last more than a lease ago (it was killed, say).
    await _set(world, run.id, status="running", claimed_by="simulate-run:gone:1",
               claim_until=datetime.now(UTC) - timedelta(seconds=1))  # fmt: skip
    listing = client.get(URL + "runs", headers=htmx_headers(client)).text
    assert "przerwane" in listing and "every 3s" not in listing
    assert f"/{run.id}/again" in listing and f"/{run.id}/cancel" in listing
    r = client.post(URL + f"{run.id}/again", headers=htmx_headers(client))
    assert r.status_code == 200, r.text
    old, new = await _runs(world)
    assert old.status == "failed" and old.reason.startswith("interrupted")
    assert (new.status, new.name, new.source, new.seed) == ("queued", "mine", "mine.toml", 9)
    assert (new.first_day, new.last_day, new.scenario) == (old.first_day, old.last_day,
                                                           old.scenario)  # fmt: skip
    assert started[-1][0] == new.id and "every 3s" in r.text
    assert "przerwane: proces przestał się zgłaszać" in r.text  # the stored reason, in Polish
    # a queued or finished run is not run again
    assert client.post(URL + f"{new.id}/again", headers=htmx_headers(client)).status_code == 422
    # and a lease still alive is not interrupted
    await _set(world, new.id, status="running", claimed_by="simulate-run:busy:2",
               claim_until=datetime.now(UTC) + timedelta(minutes=1))  # fmt: skip
    listing = client.get(URL + "runs", headers=htmx_headers(client)).text
    assert "every 3s" in listing and f"/{new.id}/again" not in listing
