"""Per-interval grid prices from the imported market prices (RCE), for the day-ahead problem.

With the cluster parameter `grid_prices = "market"` a grid connection's prices follow the
market in each interval t of the day:

- export price_t = RCE_t (what the grid pays for energy fed in, as net-billing does);
- import price_t = RCE_t + (the connection's import price − its export price): the fixed
  spread stands for what buying from the grid costs on top of energy (distribution, fees,
  the supplier's margin), so export ≤ import holds in every interval.

RCE_t (PLN/kWh, rounded to 4 places like every stored price) is the imported price of the
interval's own period (15 minutes at its start); a 15-minute interval with only an hourly
price takes the hour's; a 60-minute interval without an hourly price takes the mean of its
four quarter-hours (all four needed). An interval without an imported price keeps the
connection's fixed prices. With `"fixed"` (the default) every interval has the fixed prices.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.prices.models import MarketPrice

MWH = Decimal(1000)
PRICE_PLACES = Decimal("0.0001")


class GridPrices(StrEnum):
    FIXED = "fixed"
    MARKET = "market"


async def interval_rce(
    session: AsyncSession, starts: Sequence[datetime], minutes: int
) -> list[Decimal | None]:
    """The RCE (PLN/kWh) of each interval starting at `starts` (UTC) and lasting `minutes`,
    or None where none was imported (one query)."""
    if not starts:
        return []
    rows = await session.execute(
        select(
            MarketPrice.start_utc, MarketPrice.resolution_minutes, MarketPrice.price_pln_per_mwh
        ).where(
            MarketPrice.start_utc >= min(starts) - timedelta(hours=1),
            MarketPrice.start_utc < max(starts) + timedelta(minutes=minutes),
        )
    )
    by_res: dict[int, dict[datetime, Decimal]] = {15: {}, 60: {}}
    for start, res, price in rows:
        by_res[res][start] = price
    out: list[Decimal | None] = []
    for start in starts:
        mwh: Decimal | None = by_res.get(minutes, {}).get(start)
        if mwh is None and minutes == 15:
            mwh = by_res[60].get(start.replace(minute=0))
        if mwh is None and minutes == 60:
            quarters = [by_res[15].get(start + timedelta(minutes=15 * k)) for k in range(4)]
            if all(q is not None for q in quarters):
                mwh = sum((q for q in quarters if q is not None), Decimal(0)) / 4
        out.append(None if mwh is None else (mwh / MWH).quantize(PRICE_PLACES))
    return out


def grid_price_series(
    import_price: Decimal, export_price: Decimal, rce: Sequence[Decimal | None]
) -> tuple[list[Decimal], list[Decimal]]:
    """The connection's (import, export) price per interval under market prices."""
    spread = import_price - export_price
    imports = [import_price if r is None else r + spread for r in rce]
    exports = [export_price if r is None else r for r in rce]
    return imports, exports
