"""Klaster's clearing core: a pure function from a clearing problem to its result.

No database, web, template or file I/O here (enforced by ruff's banned-api rule).

The names below are loaded on first use (PEP 562), so that importing a pure-Python part of
the core (`matching.small`, the exact path of `klaster clear` for small problems) does not
import numpy and OR-Tools.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matching.clearing import clear
    from matching.document import clear_document
    from matching.memo import Memo
    from matching.problem import (
        ClearingProblem,
        GridConnection,
        Interval,
        Line,
        Network,
        Node,
        Order,
        OrderBook,
        ProblemError,
        Side,
    )
    from matching.result import GRID, ClearingResult, FlowModel, Status, Timings, Trades

_WHERE = {
    "clear": "matching.clearing",
    "clear_document": "matching.document",
    "Memo": "matching.memo",
    **dict.fromkeys(
        (
            "ClearingProblem",
            "GridConnection",
            "Interval",
            "Line",
            "Network",
            "Node",
            "Order",
            "OrderBook",
            "ProblemError",
            "Side",
        ),
        "matching.problem",
    ),
    **dict.fromkeys(
        ("GRID", "ClearingResult", "FlowModel", "Status", "Timings", "Trades"), "matching.result"
    ),
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'matching' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "GRID",
    "ClearingProblem",
    "ClearingResult",
    "FlowModel",
    "GridConnection",
    "Interval",
    "Line",
    "Memo",
    "Network",
    "Node",
    "Order",
    "OrderBook",
    "ProblemError",
    "Side",
    "Status",
    "Timings",
    "Trades",
    "clear",
    "clear_document",
]
