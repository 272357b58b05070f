"""Run the same simulation in two source trees and compare the results byte for byte: the
summary (without its timing block) and every table of the database (rows sorted; the
wall-clock stamps `now()` writes and the solver's timings left out, as are password hashes,
whose salts are random).

    python bench/sim_equal.py BASE_TREE BRANCH_TREE 2026-03-28:2026-04-03 2026-10-24:2026-10-27

Each run is `klaster simulate --keep-meter-data --workers 1` on a fresh SQLite database, the demo
seeded at the first day, meter data kept, stored results, one process, run from the tree's
own directory with PYTHONPATH set to it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

#: Columns that hold the wall clock, a solver's timing or a random salt.
VOLATILE = {
    "created_at",
    "updated_at",
    "solve_ms",
    "solve_seconds",
    "timings",
    "password_hash",
    "started_at",
    "finished_at",
}

_RUN = r"""
import anyio, json, sys
from datetime import date
from market.db.engine import migrate
from market.simulation.runs import simulate_into
from market.simulation.scenario import BASELINE
url, first, last, out = sys.argv[1:5]
migrate(url)
async def main():
    return await simulate_into(url, BASELINE, date.fromisoformat(first),
                               date.fromisoformat(last), seed=2026, keep_meter_data=True,
                               workers=1)
doc = anyio.run(main)
doc.pop("timing", None)
open(out, "w").write(json.dumps(doc, sort_keys=True, default=str))
"""


def run(tree: str, first: str, last: str, tmp: str) -> tuple[str, str]:
    db, out = os.path.join(tmp, "sim.db"), os.path.join(tmp, "summary.json")
    env = dict(os.environ, PYTHONPATH=tree)
    subprocess.run(
        [sys.executable, "-c", _RUN, f"sqlite+aiosqlite:///{db}", first, last, out],
        cwd=tree,
        env=env,
        check=True,
    )
    return db, out


def dump(db: str) -> dict[str, list[str]]:
    con = sqlite3.connect(db)
    tables = [
        r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
    ]
    out = {}
    for t in tables:
        cols = [r[1] for r in con.execute(f"PRAGMA table_info('{t}')")]
        keep = [c for c in cols if c not in VOLATILE and not c.endswith("_ms")]
        rows = con.execute(f"SELECT {', '.join(repr(c) for c in keep)} FROM '{t}'").fetchall()
        out[t] = sorted(repr(r) for r in rows)
    con.close()
    return out


def main(argv: list[str]) -> int:
    base, branch, *ranges = argv
    failed = 0
    for rng in ranges:
        first, last = rng.split(":")
        with tempfile.TemporaryDirectory() as ta, tempfile.TemporaryDirectory() as tb:
            db_a, sum_a = run(base, first, last, ta)
            db_b, sum_b = run(branch, first, last, tb)
            with open(sum_a, "rb") as fa, open(sum_b, "rb") as fb:
                a, b = fa.read(), fb.read()
            same_summary = a == b
            tables_a, tables_b = dump(db_a), dump(db_b)
            differ = [
                t
                for t in sorted(set(tables_a) | set(tables_b))
                if tables_a.get(t) != tables_b.get(t)
            ]
            rows = sum(len(v) for v in tables_a.values())
            digest = hashlib.sha256(json.dumps(tables_a).encode()).hexdigest()[:16]
            print(
                f"{rng}: summary {'same' if same_summary else 'DIFFERS'} "
                f"({len(a)} bytes), tables {len(tables_a)} ({rows} rows, {digest}): "
                f"{'same' if not differ else 'DIFFER: ' + ', '.join(differ)}"
            )
            failed += (not same_summary) + bool(differ)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
