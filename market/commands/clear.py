"""`klaster clear PROBLEM.json [-o RESULT.json]`: clear one problem given as JSON.

Exit status: 0 when the result is optimal, 1 when the solver did not reach an optimum (the
result JSON says why), 2 for bad input (one line on stderr naming the field to fix).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path

import orjson


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("problem", help="problem JSON file ('-' reads standard input)")
    parser.add_argument("-o", "--output", help="write the result here instead of stdout")
    parser.add_argument(
        "--no-timings",
        action="store_true",
        help="leave out the timings, so that the output is byte-identical between runs",
    )
    parser.add_argument("--time-limit", type=float, help="solver time limit in seconds")
    parser.add_argument("--indent", action="store_true", help="pretty-print (two spaces)")


def _fail(message: str) -> int:
    print(f"klaster clear: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    # A one-shot process allocating ~10^6 short-lived containers: the cyclic garbage
    # collector only costs time here (it found nothing to free in measurements).
    gc.disable()
    try:
        text = sys.stdin.buffer.read() if args.problem == "-" else Path(args.problem).read_bytes()
    except FileNotFoundError:
        return _fail(f"problem: file {args.problem!r} not found")
    except OSError as exc:
        return _fail(f"problem: cannot read {args.problem!r}: {exc}")
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:  # orjson rejects NaN literals; the standard library reads them (and then
            # validation names the field), and gives line and column for real errors
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            return _fail(
                f"problem: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            )
        except ValueError:
            return _fail("problem: the file is not UTF-8 encoded JSON text")
    if args.time_limit is not None and not args.time_limit > 0:
        return _fail("--time-limit: must be a positive number of seconds")

    from matching import ProblemError, Status, clear
    from matching.jsonio import problem_from_dict, result_to_dict

    try:
        problem = problem_from_dict(data)
    except ProblemError as exc:
        return _fail(str(exc))
    if args.time_limit is not None:
        object.__setattr__(problem, "time_limit_s", args.time_limit)
    result = clear(problem)
    option = orjson.OPT_APPEND_NEWLINE | (orjson.OPT_INDENT_2 if args.indent else 0)
    out = orjson.dumps(
        result_to_dict(problem, result, timings=not args.no_timings, source=data), option=option
    )
    if args.output:
        try:
            Path(args.output).write_bytes(out)
        except OSError as exc:
            return _fail(f"--output: cannot write {args.output!r}: {exc}")
    else:
        sys.stdout.buffer.write(out)
        sys.stdout.flush()
    return 0 if result.status is Status.OPTIMAL else 1
