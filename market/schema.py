"""Every table of the market, for Alembic and the schema-drift check: the model modules are
named here, once (no discovery at run time)."""

from __future__ import annotations

import importlib
from typing import Any

from sqlalchemy import MetaData

from market.db.base import Base

#: Each domain package's models, lowest layer first.
MODEL_MODULES = (
    "market.cluster.models",
    "market.access.models",
    "market.network.models",
    "market.network.storage_models",
    "market.metering.models",
    "market.prices.models",
    "market.trading.day_ahead_models",
    "market.trading.models",
    "market.trading.notifications",
    "market.clearing.models",
    "market.clearing.day_ahead_models",
    "market.settlement.models",
    "market.reports.models",
    "market.statutory.models",
    "market.simulation.models",
)


def metadata() -> MetaData:
    """`Base.metadata` with every model module imported."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
    return Base.metadata


def schema_drift(url: str) -> list[Any]:
    """Differences between the models and the database (what `alembic check` reports)."""
    import asyncio

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import Connection

    from market.db.engine import create_engine

    target = metadata()

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, target))

    async def main() -> list[Any]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(main())
