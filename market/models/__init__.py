"""SQLAlchemy models of the market (schema created by Alembic migrations only)."""

from __future__ import annotations

from market.models.audit import AuditEntry
from market.models.base import Base, Dec, UTCDateTime
from market.models.clearing import ClearingRun, GridExchange, LineFlow, NodePrice, Trade
from market.models.enums import (
    IntervalStatus,
    LoadProfile,
    MemberKind,
    NodeKind,
    OrderStatus,
    Role,
    Side,
    StandingMode,
)
from market.models.network import (
    ApiToken,
    Cluster,
    GridConnection,
    Line,
    Member,
    MeteringPoint,
    Node,
)
from market.models.trading import Interval, Order, StandingOrder

__all__ = [
    "ApiToken",
    "AuditEntry",
    "Base",
    "ClearingRun",
    "Cluster",
    "Dec",
    "GridConnection",
    "GridExchange",
    "Interval",
    "IntervalStatus",
    "Line",
    "LineFlow",
    "LoadProfile",
    "Member",
    "MemberKind",
    "MeteringPoint",
    "Node",
    "NodeKind",
    "NodePrice",
    "Order",
    "OrderStatus",
    "Role",
    "Side",
    "StandingMode",
    "StandingOrder",
    "Trade",
    "UTCDateTime",
]


def load_all() -> None:
    """Import every `market/*_models.py` module too (e.g. meter data), so `Base.metadata`
    holds every table before migrations run or drift is checked."""
    import importlib
    import pkgutil
    from pathlib import Path

    package_dir = Path(__file__).resolve().parent.parent
    for info in pkgutil.iter_modules([str(package_dir)]):
        if info.name.endswith("_models"):
            importlib.import_module(f"market.{info.name}")
