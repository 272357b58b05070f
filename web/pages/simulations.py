"""The coordinator's what-if simulations: queue a scenario (shipped or uploaded) over a range,
run in a process of its own (`klaster simulate-run`), or import the result file of a longer
`klaster simulate -o` run; compare two stored runs side by side (docs/simulation.md)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from litestar import Controller, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template
from markupsafe import Markup

from market.core.errors import ValidationFailed
from market.simulation import runs as service
from market.simulation.compare import Comparison, compare
from market.simulation.models import RunStatus
from market.simulation.scenario import shipped_scenarios
from web.auth import requires_role
from web.config import app_services
from web.deps import CurrentActor, Db
from web.ui import formatting as fmt
from web.ui.benefit_charts import paired_bars_svg
from web.ui.i18n import N_, connection_locale, gettext
from web.ui.labels import LABELS
from web.ui.render import expect_form, page, render

RUN_FIELDS = ("scenario", "start", "end", "seed")
#: The shipped scenarios as the Staszów questions put them (market/demo/scenarios).
SCENARIO_TITLES = {
    "founding": N_("the 75 founding members"),
    "household-pv-500": N_("+500 household PV"),
    "battery-2mwh": N_("+ a 2 MWh battery"),
    "powiat-5000": N_("the whole powiat (5,000 metering points)"),
}


def spawn_run(run_id: int, database_url: str) -> None:
    """Start `klaster simulate-run ID` as a process of its own (it outlives the request;
    the run's row records how it ended). A daemon thread waits for it, so that it is reaped
    (no zombie) and its handle is kept while it runs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "simulate-run", str(run_id),
         "--database-url", database_url],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    threading.Thread(target=process.wait, name=f"simulate-run-{run_id}", daemon=True).start()


#: The reasons the service stores, as the reader reads them.
REASONS = {
    service.REASON_CANCELLED: N_("cancelled by the coordinator"),
    service.REASON_STOPPED: N_("interrupted: the process was stopped"),
    service.REASON_LEASE_LOST: N_("interrupted: its process stopped renewing its lease"),
}


def reason_text(reason: str, loc: str) -> str:
    known = REASONS.get(reason)
    return gettext(known, loc) if known else reason


def stop_process(worker_id: str | None, run_id: int) -> bool:
    """SIGTERM to the `klaster simulate-run` process that holds the run, if it runs on this
    machine: its worker id (`simulate-run:HOST:PID`) names it, and the PID's command line
    must name `simulate-run` and the run (a PID reused since is left alone). The process ends
    at the end of the day it simulates, storing nothing; a process elsewhere finds its lease
    gone at its next renewal and ends the same way. True if a signal was sent."""
    parts = (worker_id or "").split(":")
    if len(parts) != 3 or parts[0] != "simulate-run" or parts[1] != socket.gethostname():
        return False
    try:
        pid = int(parts[2])
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (ValueError, OSError):
        return False
    if b"simulate-run" not in args or str(run_id).encode() not in args:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True


def run_title(name: str, loc: str) -> str:
    """A run's name as the reader reads it: a shipped scenario's own name translated, any
    other (an uploaded file's) as written."""
    return gettext(name, loc) if name in SCENARIO_TITLES.values() else name


def _runner(request: HTMXRequest) -> Callable[[int, str], None]:
    """How a queued run is started: `spawn_run`, unless the app's state names another
    (tests run it in-process)."""
    runner: Callable[[int, str], None] = request.app.state.get("simulation_runner", spawn_run)
    return runner


def _stopper(request: HTMXRequest) -> Callable[[str, int], bool]:
    """How a cancelled run's process is stopped: `stop_process`, unless the app's state
    names another."""
    stopper: Callable[[str, int], bool] = request.app.state.get("simulation_stopper", stop_process)
    return stopper


async def _upload(form: Any, name: str) -> tuple[str, bytes] | None:
    value = form.get(name)
    if not isinstance(value, UploadFile) or not value.filename:
        return None
    content = await value.read(service.MAX_FILE_BYTES + 1)
    return value.filename, content


def _busy(shown: dict[int, str]) -> bool:
    """A run is queued or running (the list polls): not one whose process died."""
    return any(s in (RunStatus.QUEUED.value, RunStatus.RUNNING.value) for s in shown.values())


def comparison_charts(c: Comparison, loc: str) -> dict[str, Markup]:
    names = (str(c.a.get("scenario", "A")), str(c.b.get("scenario", "B")))

    def kind(k: str) -> str:
        text = LABELS.get(k)
        return gettext(text, loc) if text else k

    def f(v: Any) -> float | None:
        return None if v is None else float(v)

    money = lambda v: fmt.number(v, 0, loc) + " zł"  # noqa: E731
    energy = lambda v: fmt.number(v, 0, loc) + " kWh"  # noqa: E731
    grid_titles = {
        "import_kwh": gettext("Grid import", loc),
        "export_kwh": gettext("Grid export", loc),
        "local_kwh": gettext("Traded locally", loc),
    }
    return {
        "per_member": Markup(
            paired_bars_svg(
                [(kind(k.kind), f(k.per_member.a), f(k.per_member.b)) for k in c.kinds],
                names=names,
                title=gettext("Benefit per member by kind", loc),
                empty_label=gettext("No members in either scenario.", loc),
                fmt_value=money,
            )
        ),
        "grid": Markup(
            paired_bars_svg(
                [(grid_titles[p.key], f(p.a), f(p.b)) for p in c.grid],
                names=names,
                title=gettext("Energy exchanged with the grid and traded locally", loc),
                empty_label=gettext("No energy in either scenario.", loc),
                fmt_value=energy,
            )
        ),
        "congestion": Markup(
            paired_bars_svg(
                [(line, float(a), float(b)) for line, a, b in c.congestion[:8]],
                names=names,
                title=gettext("Congested intervals per line", loc),
                empty_label=gettext("No line was congested in either scenario.", loc),
                fmt_value=lambda v: fmt.number(v, 0, loc),
            )
        ),
    }


class SimulationsController(Controller):
    path = "/coordinator/simulations"
    guards = [requires_role("coordinator")]  # noqa: RUF012 - Litestar's declaration style

    async def _context(self, request: HTMXRequest, db: Db, actor: CurrentActor) -> dict[str, Any]:
        loc = connection_locale(request)
        rows = await service.list_runs(db, actor)
        now = datetime.now(UTC)
        shown = {r.id: service.shown_status(r, now) for r in rows}
        return {
            "runs": rows,
            "titles": {r.id: run_title(r.name, loc) for r in rows},
            "headlines": {r.id: service.headline(r) for r in rows},
            "shown": shown,
            "reasons": {r.id: reason_text(r.reason, loc) for r in rows},
            "busy": _busy(shown),
            "done": [r for r in rows if r.status == RunStatus.DONE.value],
            "shipped": shipped_scenarios(),
            "scenario_titles": SCENARIO_TITLES,
            "max_days": service.MAX_RUN_DAYS,
            "run_a": None,
            "run_b": None,
        }

    @get("/")
    async def index(self, request: HTMXRequest, db: Db, actor: CurrentActor) -> Template:
        return page(
            request,
            "simulations/index.html",
            section="coordinator",
            form={"scenario": "founding", "seed": "2026"},
            **await self._context(request, db, actor),
        )

    @get("/runs")
    async def runs(self, request: HTMXRequest, db: Db, actor: CurrentActor) -> Template:
        """The list of runs (polled while one is queued or running)."""
        return render(
            request,
            "simulations/_runs.html",
            **await self._context(request, db, actor),
        )

    @post("/")
    async def queue(self, request: HTMXRequest, db: Db, actor: CurrentActor) -> Template:
        form = await request.form()
        fields = {name: str(form.get(name, "") or "").strip() for name in RUN_FIELDS}
        context: dict[str, Any] = {"form": fields, "shipped": shipped_scenarios(),
                                   "scenario_titles": SCENARIO_TITLES,
                                   "max_days": service.MAX_RUN_DAYS}  # fmt: skip
        expect_form(request, "simulations/_run_form.html", **context)
        asked = service.parse_run_request(
            shipped=fields["scenario"] or None,
            upload=await _upload(form, "file"),
            start=fields["start"],
            end=fields["end"],
            seed=fields["seed"],
        )
        run = await service.queue_run(db, actor, asked)
        url = app_services(request.app).settings.database_url
        rendered = render(
            request,
            "simulations/_run_form.html",
            **(await self._context(request, db, actor) | context | {"queued": run, "oob": True}),
        )
        # after the response: the request's unit of work has committed the queued run
        rendered.background = BackgroundTask(_runner(request), run.id, url)
        return rendered

    @post("/{run_id:int}/cancel")
    async def cancel(
        self, request: HTMXRequest, db: Db, actor: CurrentActor, run_id: FromPath[int]
    ) -> Template:
        """Stop a queued or running run: cancelled in this request's transaction, then its
        process (on this machine) is signalled after the response."""
        holder = await service.cancel_run(db, actor, run_id)
        rendered = render(request, "simulations/_runs.html",
                          **await self._context(request, db, actor))  # fmt: skip
        if holder is not None:
            rendered.background = BackgroundTask(_stopper(request), holder, run_id)
        return rendered

    @post("/{run_id:int}/again")
    async def again(
        self, request: HTMXRequest, db: Db, actor: CurrentActor, run_id: FromPath[int]
    ) -> Template:
        """A failed, cancelled or interrupted run queued again (as a new run), and started."""
        run = await service.rerun(db, actor, run_id)
        url = app_services(request.app).settings.database_url
        rendered = render(request, "simulations/_runs.html",
                          **await self._context(request, db, actor))  # fmt: skip
        rendered.background = BackgroundTask(_runner(request), run.id, url)
        return rendered

    @post("/import")
    async def import_result(self, request: HTMXRequest, db: Db, actor: CurrentActor) -> Template:
        form = await request.form()
        expect_form(request, "simulations/_import_form.html")
        upload = await _upload(form, "result")
        if upload is None:
            raise ValidationFailed("result", "choose a result file (JSON)")
        run = await service.import_result(db, actor, *upload)
        return render(
            request,
            "simulations/_import_form.html",
            imported=run,
            oob=True,
            **await self._context(request, db, actor),
        )

    @get("/compare")
    async def compare(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        a: FromQuery[int],
        b: FromQuery[int],
    ) -> Template:
        run_a, run_b = await service.finished_pair(db, actor, a, b)
        assert run_a.summary is not None and run_b.summary is not None
        loc = connection_locale(request)
        doc_a = {**run_a.summary, "scenario": f"#{run_a.id} {run_title(run_a.name, loc)}"}
        doc_b = {**run_b.summary, "scenario": f"#{run_b.id} {run_title(run_b.name, loc)}"}
        c = compare(doc_a, doc_b)
        return page(
            request,
            "simulations/compare.html",
            "simulations/_compare.html",
            section="coordinator",
            **(
                await self._context(request, db, actor)
                | {
                    "c": c,
                    "run_a": run_a,
                    "run_b": run_b,
                    "charts": comparison_charts(c, connection_locale(request)),
                }
            ),
        )


HANDLERS: list[Any] = [SimulationsController]
