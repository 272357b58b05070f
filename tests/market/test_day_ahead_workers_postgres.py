"""Several `klaster day-ahead clear` processes against one PostgreSQL database clear the day
exactly once; a process killed while clearing leaves a claim that the next one takes over
once its lease has run out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import func, select, update

from market.clearing import day_ahead as da_clearing
from market.clearing.day_ahead_models import DayAheadRun
from market.db.engine import unit_of_work
from market.trading.day_ahead_models import AuctionStatus, DayAheadAuction

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.postgres,
    pytest.mark.skipif(not da_clearing.core_available(), reason="needs the several-interval core"),
]
ROOT = Path(__file__).resolve().parents[2]
CODE = "import sys; from web.cli import main; raise SystemExit(main(sys.argv[1:]))"
#: The process to kill: its core takes forever, so it is surely killed while clearing.
STUCK = (
    "import sys, time; import market.clearing.day_ahead as d; "
    "d.clear_document = lambda doc: time.sleep(3600); " + CODE
)
DAY = "2026-12-01"


def _start(url: str, worker: str, code: str = CODE) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, "day-ahead", "clear", DAY, "--database-url", url,
         "--worker-id", worker],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def _run_three(url: str) -> list[tuple[int, str, str]]:
    procs = [_start(url, f"proc-{k}") for k in range(3)]
    out = []
    for p in procs:
        o, e = p.communicate(timeout=240)
        out.append((p.returncode, o, e))
    return out


async def _runs(db: Any) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count(DayAheadRun.id))) or 0)


async def test_processes_clear_a_day_once_and_take_over_a_killed_one(pg_db: Any) -> None:
    from web.cli import main

    assert (
        await anyio.to_thread.run_sync(main, ["seed", "--demo", "--database-url", pg_db.url]) == 0
    )
    # A process killed while clearing: SIGKILL once it holds the claim.
    victim = _start(pg_db.url, "victim", STUCK)
    deadline = time.monotonic() + 200
    claimed = False
    while time.monotonic() < deadline and not claimed:
        await anyio.sleep(0.2)
        async with pg_db.session() as s:
            status = await s.scalar(
                select(DayAheadAuction.status).where(
                    DayAheadAuction.local_day == date.fromisoformat(DAY)
                )
            )
        claimed = status == AuctionStatus.CLEARING.value
    if not claimed:
        victim.kill()
        victim.communicate(timeout=30)
    assert claimed, "the first process never claimed the day"
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    assert await _runs(pg_db) == 0
    # Its lease is still running: the others do not steal it (exit 1, nothing stored).
    blocked = await anyio.to_thread.run_sync(_run_three, pg_db.url)
    assert [rc for rc, _, _ in blocked] == [1, 1, 1], blocked
    assert await _runs(pg_db) == 0
    # The lease runs out (here: set into the past): exactly one of three takes it over.
    async with unit_of_work(pg_db.sessions) as s:
        await s.execute(update(DayAheadAuction).values(claim_until=DayAheadAuction.created_at))
    results = await anyio.to_thread.run_sync(_run_three, pg_db.url)
    assert sum("optimal (version 1)" in o for _, o, _ in results) == 1, results
    for rc, out, err in results:  # the others: done already, or still being cleared
        assert (rc, "optimal" in out or "already cleared" in out) == (0, True) or (
            rc == 1 and "being cleared by another worker" in err
        ), (rc, out, err)
    assert await _runs(pg_db) == 1
