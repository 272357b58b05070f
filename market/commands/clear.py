"""`klaster clear PROBLEM.json [-o RESULT.json]`: clear one problem given as JSON.

Exit status: 0 when the result is optimal, 1 when the solver did not reach an optimum (the
result JSON says why), 2 for bad input (one line on stderr naming the field to fix).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

from market.core.settings import pin_blas_threads

pin_blas_threads()  # before numpy is imported (only when a problem needs it)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("problem", help="problem JSON file ('-' reads standard input)")
    parser.add_argument("-o", "--output", help="write the result here instead of stdout")
    parser.add_argument(
        "--no-timings",
        action="store_true",
        help="leave out the timings, so that the output is byte-identical between runs",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        help="seconds for the whole command (reading, building, solving, writing); when "
        "reached, the result says time_limit and accepts nothing",
    )
    parser.add_argument("--indent", action="store_true", help="pretty-print (two spaces)")


def _fail(message: str) -> int:
    print(f"klaster clear: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    # A one-shot process allocating ~10^6 short-lived containers: the cyclic garbage
    # collector only costs time here (it found nothing to free in measurements).
    gc.disable()
    if args.time_limit is not None and not args.time_limit > 0:
        return _fail("--time-limit: must be a positive number of seconds")
    try:
        text = sys.stdin.buffer.read() if args.problem == "-" else Path(args.problem).read_bytes()
    except FileNotFoundError:
        return _fail(f"problem: file {args.problem!r} not found")
    except OSError as exc:
        return _fail(f"problem: cannot read {args.problem!r}: {exc}")

    if len(text) <= SMALL_TEXT and (args.time_limit is None or args.time_limit >= 1.0):
        small = _run_small(args, text)
        if small is not None:
            return small

    if b'"intervals"' in text:  # perhaps the several-interval form (issue 12)
        several = _run_several(args, text, started)
        if several is not None:
            return several

    from matching import ProblemError, Status, clear
    from matching.jsonio import dumps, output_seconds, problem_from_json, result_to_dict

    try:
        problem, data = problem_from_json(text)
    except ProblemError as exc:
        return _fail(str(exc))
    if args.time_limit is not None:
        # the clearing gets what is left after reading, minus an estimate of the writing
        left = args.time_limit - (time.monotonic() - started) - output_seconds(problem)
        object.__setattr__(problem, "time_limit_s", left)
    result = clear(problem)
    out = dumps(
        result_to_dict(problem, result, timings=not args.no_timings, source=data),
        indent=args.indent,
    )
    return _write(args, out, result.status is Status.OPTIMAL)


#: Problems of at most this many bytes may take the exact small path (one node, a few
#: hundred orders at most; `matching.small` decides).
SMALL_TEXT = 64 * 1024


def _run_small(args: argparse.Namespace, text: bytes) -> int | None:
    """A small one-node problem cleared by `matching.small` in plain Python: the same bytes
    as the full path, without importing numpy and OR-Tools (~0.3 s of a tiny run). None
    when the full path must clear it (it then also reports any bad input)."""
    import orjson

    from matching.small import clear_small

    try:
        data = orjson.loads(text)
        doc = clear_small(data, timings=not args.no_timings)
    except Exception:  # anything unexpected: the full path decides
        return None
    if doc is None:
        return None
    option = orjson.OPT_APPEND_NEWLINE | (orjson.OPT_INDENT_2 if args.indent else 0)
    return _write(args, orjson.dumps(doc, option=option), True)


def _run_several(args: argparse.Namespace, text: bytes, started: float) -> int | None:
    """The several-interval form (a top-level `intervals`); None if the text is not it."""
    from matching import ProblemError, Status
    from matching.document import is_several
    from matching.jsonio import dumps, loads

    try:
        data = loads(text)
    except ProblemError as exc:
        return _fail(str(exc))
    if not is_several(data):
        return None
    from matching import multi
    from matching.multi.problem import parse_text

    try:
        problem = parse_text(text, data)
    except ProblemError as exc:
        return _fail(str(exc))
    if args.time_limit is not None:
        left = args.time_limit - (time.monotonic() - started) - multi.output_seconds(problem)
        object.__setattr__(problem, "time_limit_s", left)
    result = multi.clear(problem)
    out = dumps(multi.to_dict(problem, result, timings=not args.no_timings), indent=args.indent)
    return _write(args, out, result.status is Status.OPTIMAL)


def _write(args: argparse.Namespace, out: bytes, optimal: bool) -> int:
    if args.output:
        try:
            Path(args.output).write_bytes(out)
        except OSError as exc:
            return _fail(f"--output: cannot write {args.output!r}: {exc}")
    else:
        sys.stdout.buffer.write(out)
        sys.stdout.flush()
    return 0 if optimal else 1
