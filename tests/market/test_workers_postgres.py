"""Several `klaster worker` processes against one PostgreSQL clear every due interval once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import func, select

from market.access.models import AuditEntry
from market.clearing.models import ClearingRun
from market.db.engine import unit_of_work
from market.trading import orders
from market.trading import parameters as market_parameters
from market.trading.models import Interval
from market.trading.order_input import parse_order
from tests.support.market import build_world

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4


def _run_workers(url: str) -> list[subprocess.CompletedProcess[str]]:
    code = "import sys; from web.cli import main; raise SystemExit(main(sys.argv[1:]))"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                code,
                "worker",
                "--once",
                "--no-create",
                "--no-migrate",
                "--database-url",
                url,
                "--worker-id",
                f"proc-{k}",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(WORKERS)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        results.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return results


async def test_concurrent_worker_processes_clear_each_interval_exactly_once(pg_db: Any) -> None:
    world = await build_world(pg_db)
    async with unit_of_work(world.db.sessions) as s:
        update = market_parameters.ParametersUpdate(horizon_intervals=12)
        await market_parameters.update_parameters(s, world.carol, update)
    await world.scheduler().tick()
    opened = await world.open_intervals()
    assert len(opened) == 12
    for interval in opened:
        for actor, mp, side, price in (
            (world.alice, world.alice_mp, "sell", "0.30"),
            (world.bob, world.bob_mp, "buy", "0.60"),
        ):
            order = parse_order(
                {"interval_id": interval.id, "metering_point_id": mp, "side": side,
                 "quantity_kwh": "5", "price": price}
            )  # fmt: skip
            async with world.session() as s:
                await orders.place_order(s, actor, world.clock, order)
                await s.commit()
    # The intervals lie in the (real) past: every worker sees all twelve gates overdue.
    results = await anyio.to_thread.run_sync(_run_workers, pg_db.url)
    for r in results:
        assert r.returncode == 0, r.stderr[-2000:]
    async with world.session() as s:
        statuses = (
            await s.scalars(select(Interval.status).where(Interval.id.in_([i.id for i in opened])))
        ).all()
        runs = (
            await s.execute(
                select(ClearingRun.interval_id, func.count()).group_by(ClearingRun.interval_id)
            )
        ).all()
        clears = (
            await s.execute(
                select(AuditEntry.entity_id, func.count())
                .where(AuditEntry.action == "clear")
                .group_by(AuditEntry.entity_id)
            )
        ).all()
        gates = await s.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "gate_closed")
        )
        workers = set((await s.scalars(select(ClearingRun.worker_id))).all())
    assert set(statuses) == {"cleared"}
    assert sorted(i for i, _ in runs) == sorted(i.id for i in opened)
    assert all(n == 1 for _, n in runs)
    assert len(clears) == 12 and all(n == 1 for _, n in clears)
    assert gates == 12
    assert workers <= {f"proc-{k}" for k in range(WORKERS)}
    cleared_total = 0
    for r in results:
        line = r.stdout.strip().splitlines()[-1]
        cleared_total += int(line.split("cleared ")[1].split()[0])
    assert cleared_total == 12  # the workers' own counts add up: nobody cleared twice
