"""The `klaster` command. Subcommands are imported lazily, so `klaster clear` does not pay
for importing the web stack.

Each target module exposes `add_arguments(parser)` and `run(args) -> int`.
Exit status 2 means bad input (one line on stderr says what to fix).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from market.core.settings import pin_blas_threads

# One BLAS thread in every `klaster` process (the web app, the worker, the simulation and the
# processes they spawn inherit it), set before anything imports numpy.
pin_blas_threads()

#: name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "clear": ("market.commands.clear", "clear one problem given as JSON (docs/schema/)"),
    "migrate": ("market.commands.migrate", "migrate the database to the newest schema"),
    "seed": ("market.commands.seed", "create the Staszów demo cluster (--demo, --members N)"),
    "worker": ("market.commands.worker", "run the gate-closure scheduler as its own process"),
    "clear-interval": (
        "market.commands.clear_interval",
        "verify (or --clear) one interval's stored clearing by re-running it",
    ),
    "day-ahead": (
        "market.commands.day_ahead",
        "clear a local day's day-ahead auction (clear DATE [--reclear])",
    ),
    "serve": ("web.commands.serve", "run the web app (uvicorn)"),
    "demo": ("web.commands.demo", "migrate, seed the Staszów demo and run it on a fast clock"),
    "watch": ("web.commands.watch", "print live market events in the terminal"),
    "export": (
        "market.commands.export",
        "export cleared results for the distributor (CSV/JSON/XLSX)",
    ),
    "import-meter": ("market.commands.import_meter", "import the distributor's meter data (CSV)"),
    "import-prices": (
        "market.commands.import_prices",
        "import market prices RCE (CSV, 15 or 60 minutes) for the net-billing counterfactual",
    ),
    "simulate-run": (
        "market.commands.simulate_run",
        "execute a simulation run queued on the coordinator's simulations page",
    ),
    "simulate": (
        "market.commands.simulate",
        "what-if: the real market pipeline over a range on a simulated cluster (--scenario)",
    ),
    "report": (
        "market.commands.report",
        "statutory figures: fee exemption, discount, support conditions (JSON/CSV)",
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="klaster", description="Klaster local energy market")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        if argv and argv[0] not in ("-h", "--help"):
            parser.print_usage(sys.stderr)
            print(f"klaster: unknown command {argv[0]!r}; see 'klaster --help'", file=sys.stderr)
            return 2
        parser.print_help()
        return 0 if argv else 2
    name = argv[0]
    module = importlib.import_module(COMMANDS[name][0])
    cmd_parser = argparse.ArgumentParser(prog=f"klaster {name}", description=COMMANDS[name][1])
    module.add_arguments(cmd_parser)
    try:
        args = cmd_parser.parse_args(argv[1:])
    except SystemExit as exc:  # argparse exits 2 on bad arguments, 0 on --help
        return int(exc.code or 0)
    return int(module.run(args))


def console() -> None:
    """The `klaster` console script. `klaster clear` is a one-shot, allocation-heavy process:
    once its output is flushed it exits without tearing down every object (measured: tens
    of ms for 100k orders). Other commands exit normally (atexit handlers, log flushing)."""
    argv = sys.argv[1:]
    rc = main(argv)
    if argv[:1] == ["clear"]:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    raise SystemExit(rc)


if __name__ == "__main__":
    console()
