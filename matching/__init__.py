"""Klaster's clearing core: a pure function from a clearing problem to its result.

No database, web, template or file I/O here (enforced by ruff's banned-api rule).
"""

from __future__ import annotations

from matching.clearing import clear
from matching.document import clear_document
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

__all__ = [
    "GRID",
    "ClearingProblem",
    "ClearingResult",
    "FlowModel",
    "GridConnection",
    "Interval",
    "Line",
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
