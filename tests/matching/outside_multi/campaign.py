"""The outside campaign: thousands of random several-interval problems through
`matching.clear_document`, each checked by `checks.check`, plus determinism and invariance
under reordering of orders, blocks and storage.

    PYTHONPATH=. python -m tests.matching.outside_multi.campaign [--shapes a,b] [--seeds N]
        [--start S] [--out failures.jsonl]
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import signal
import sys
import time
import traceback
from collections import Counter
from typing import Any

import matching

from .checks import check, stripped
from .generate import SHAPES, random_problem

Json = dict[str, Any]


def _by_id(res: Json) -> Json:
    """The result keyed by id, trades as a sorted multiset (they follow the input order)."""
    out = stripped(copy.deepcopy(res))
    out["reason"] = None
    for key in ("orders", "blocks", "storage"):
        out[key] = sorted(out[key], key=lambda r: str(r["id"]))
    for iv in out["intervals"]:
        iv["trades"] = sorted(json.dumps(tr, sort_keys=True) for tr in iv["trades"])
    return out


def shuffled(problem: Json, seed: int) -> Json:
    rng = random.Random(seed)
    p = copy.deepcopy(problem)
    for key in ("orders", "blocks", "storage"):
        if key in p:
            rng.shuffle(p[key])
    return p


def run_one(shape: str, seed: int, *, invariance: bool = True) -> list[str]:
    problem = random_problem(seed, SHAPES[shape])
    res = matching.clear_document(copy.deepcopy(problem))
    res = json.loads(json.dumps(res))
    fails = check(problem, res)
    if invariance and res.get("status") == "optimal":
        again = json.loads(json.dumps(matching.clear_document(copy.deepcopy(problem))))
        if stripped(again) != stripped(res):
            fails.append("determinism: a second clearing differs")
        other = json.loads(json.dumps(matching.clear_document(shuffled(problem, seed))))
        a, b = _by_id(res), _by_id(other)
        if a != b:
            diff = [k for k in a if a[k] != b.get(k)]
            fails.append(f"invariance: reordering orders/blocks/storage changes {diff}")
    return fails


class Timeout(Exception):
    pass


def _timeout(signum: int, frame: Any) -> None:
    raise Timeout("more than the time limit")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--out", default="outside_failures.jsonl")
    ap.add_argument("--no-invariance", action="store_true")
    ap.add_argument("--limit-s", type=int, default=120)
    args = ap.parse_args(argv)
    signal.signal(signal.SIGALRM, _timeout)
    count: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    t0 = time.process_time()
    with open(args.out, "a", encoding="utf-8") as log:
        for shape in args.shapes.split(","):
            s0 = time.process_time()
            for seed in range(args.start, args.start + args.seeds):
                signal.alarm(args.limit_s)  # a problem that hangs is a finding too
                try:
                    fails = run_one(shape, seed, invariance=not args.no_invariance)
                except Exception as exc:  # a crash is a finding too
                    fails = [f"crash: {exc!r}", traceback.format_exc(limit=3)]
                signal.alarm(0)
                count[shape] += 1
                if fails:
                    failed[shape] += 1
                    log.write(json.dumps({"shape": shape, "seed": seed, "fails": fails[:8]}) + "\n")
                    log.flush()
                    print(f"FAIL {shape} {seed}: {fails[0]}", flush=True)
            print(
                f"{shape}: {count[shape]} problems, {failed[shape]} failed, "
                f"{time.process_time() - s0:.1f} s CPU",
                flush=True,
            )
    print(
        f"total {sum(count.values())} problems, {sum(failed.values())} failed, "
        f"{time.process_time() - t0:.1f} s CPU"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
