"""`python -m bench NAME [options]` (NAME: clearing, cluster, day_ahead, day_ahead_gate,
day_ahead_product, export, forecast, profile_placement, simulate, web_orders, ws_fanout): run
one benchmark and print its figures (each also runs as `python -m bench.NAME`)."""

from __future__ import annotations

import importlib
import sys

BENCHES = {
    "clearing": "bench.clearing",
    "cluster": "bench.cluster",
    "day_ahead": "bench.day_ahead",
    "day_ahead_gate": "bench.day_ahead_gate",
    "day_ahead_product": "bench.day_ahead_product",
    "export": "bench.export",
    "forecast": "bench.forecast",
    "profile_placement": "bench.profile_placement",
    "simulate": "bench.simulate",
    "web_orders": "bench.web_orders",
    "ws_fanout": "bench.ws_fanout",
}


def main(argv: list[str]) -> int:
    name = argv[0] if argv and not argv[0].startswith("-") else "clearing"
    rest = argv[1:] if argv and not argv[0].startswith("-") else argv
    if name not in BENCHES:
        print(
            f"unknown benchmark {name!r}; choose from {', '.join(sorted(BENCHES))}", file=sys.stderr
        )
        return 2
    return int(importlib.import_module(BENCHES[name]).main(rest))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
