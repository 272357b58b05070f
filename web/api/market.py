"""/api/v1 market data every signed-in member may read: intervals, the aggregated book,
cleared results, the network and the market parameters."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import get
from litestar.params import FromPath, FromQuery, QueryParameter

from market.clearing import results
from market.network import service as network_service
from market.trading import book, intervals
from market.trading import parameters as market_parameters
from web.auth import signed_in
from web.deps import ClockDep, Db


@get("/intervals", guards=[signed_in])
async def list_intervals(db: Db, clock: ClockDep) -> intervals.IntervalsView:
    """The current interval, the ones open for orders (with gate closure) and recent ones."""
    return await intervals.list_intervals(db, clock)


@get("/intervals/{interval_id:int}/book", guards=[signed_in])
async def order_book(db: Db, interval_id: FromPath[int]) -> book.OrderBookView:
    """Aggregated order book: volume by price step per side, no identities."""
    return await book.order_book(db, interval_id)


@get("/intervals/{interval_id:int}/result", guards=[signed_in])
async def interval_result(db: Db, interval_id: FromPath[int]) -> results.IntervalResultView:
    """Nodal prices, line flows, grid exchange and run details of a cleared interval."""
    return await results.interval_result(db, interval_id)


@get("/results", guards=[signed_in])
async def day_results(db: Db, day: FromQuery[date]) -> list[results.IntervalSummary]:
    """Every interval of a local day (the cluster's time zone), in order."""
    return await results.day_results(db, day)


@get("/results/latest", guards=[signed_in])
async def latest_results(
    db: Db, limit: Annotated[int, QueryParameter(ge=1, le=500)] = 8
) -> list[results.IntervalSummary]:
    return await results.latest_results(db, limit=limit)


@get("/network", guards=[signed_in])
async def network(db: Db) -> network_service.NetworkView:
    """Nodes, lines with capacities and the grid connection."""
    return await network_service.list_network(db)


@get("/parameters", guards=[signed_in])
async def parameters(db: Db) -> market_parameters.ParametersView:
    return await market_parameters.get_parameters(db)


HANDLERS: list[Any] = [
    list_intervals,
    order_book,
    interval_result,
    day_results,
    latest_results,
    network,
    parameters,
]
