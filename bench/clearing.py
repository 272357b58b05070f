"""Clearing benchmark: problem object in → result object out, growing the input.

Prints, per size, the median over --repeat runs of the whole `matching.clear` call and of
its steps (build, solve, prices, allocation, trades), scipy's HiGHS on the same LP for
comparison, and the `klaster clear` process time (JSON file in, JSON file out).

    python -m bench clearing [--repeat 5] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from matching import clear
from matching.jsonio import problem_to_dict
from matching.model import build_model
from matching.network import build_topology
from matching.steps import aggregate
from tests.support.problems import random_problem

CASES = [
    # (label, orders, nodes, meshed); the first is the size of a demo cluster's interval
    ("radial", 60, 17, False),
    ("radial", 1_000, 100, False),
    ("radial", 10_000, 500, False),
    ("radial", 100_000, 2_000, False),
    ("meshed-dc", 10_000, 500, True),
    ("meshed-dc", 100_000, 2_000, True),
]


def highs_seconds(problem, repeat: int) -> float:
    from scipy.optimize import linprog

    topo = build_topology(problem)
    model = build_model(problem, aggregate(problem.orders), topo)
    matrix = model.matrix.to_scipy() if hasattr(model.matrix, "to_scipy") else model.matrix
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = linprog(
            -model.objective,
            A_eq=matrix,
            b_eq=model.row_lower,
            bounds=np.column_stack([model.lower, model.upper]),
            method="highs",
        )
        times.append(time.perf_counter() - t0)
        assert res.status == 0, res.message
    return statistics.median(times)


def cli_seconds(problem, repeat: int) -> float:
    klaster = Path(sys.executable).with_name("klaster")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "problem.json"
        src.write_text(json.dumps(problem_to_dict(problem)))
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            subprocess.run(
                [str(klaster), "clear", str(src), "-o", str(Path(tmp) / "out.json")], check=True
            )
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench clearing")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument("--no-cli", action="store_true")
    args = parser.parse_args(argv)
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
        f"median of {args.repeat} runs; times in ms"
    )
    head = (
        f"{'case':10} {'orders':>7} {'nodes':>5} {'steps':>6} {'total':>7} {'build':>6} "
        f"{'solve':>6} {'prices':>6} {'alloc':>6} {'trades':>6} {'highs':>7} {'ratio':>5}"
        f" {'cpu':>7} {'cli':>7}"
    )
    print(head)
    for label, n_orders, n_nodes, meshed in CASES:
        if args.quick and n_orders > 10_000:
            continue
        problem = random_problem(n_orders, n_nodes, seed=7, meshed=meshed)
        clear(problem)  # warm-up
        runs = []
        cpu_runs = []
        # a small problem clears in ~2 ms: more runs for a stable median
        for _ in range(args.repeat * (40 if n_orders < 1_000 else 1)):
            t0, c0 = time.perf_counter(), time.process_time()
            result = clear(problem)
            runs.append((time.perf_counter() - t0, result.timings))
            cpu_runs.append(time.process_time() - c0)
            assert result.ok, result.reason
        total = statistics.median(r[0] for r in runs) * 1000
        cpu = statistics.median(cpu_runs) * 1000
        med = {
            k: statistics.median(getattr(r[1], k) for r in runs)
            for k in ("build_ms", "solve_ms", "prices_ms", "allocation_ms", "trades_ms")
        }
        highs = highs_seconds(problem, max(1, args.repeat // 2)) * 1000
        cli = (
            ""
            if args.no_cli or n_orders < 100_000
            else f"{cli_seconds(problem, args.repeat) * 1000:7.0f}"
        )
        steps = len(aggregate(problem.orders).price)
        print(
            f"{label:10} {n_orders:7d} {n_nodes:5d} {steps:6d} {total:7.1f} {med['build_ms']:6.1f} "
            f"{med['solve_ms']:6.1f} {med['prices_ms']:6.1f} {med['allocation_ms']:6.1f} "
            f"{med['trades_ms']:6.1f} {highs:7.1f} {highs / total:5.2f} {cpu:7.1f} {cli:>7}",
            flush=True,
        )
    print("ratio = scipy HiGHS time for the same LP (solve only) / Klaster's whole clear()")
    print("cpu = process CPU time of the whole clear() (all threads)")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
