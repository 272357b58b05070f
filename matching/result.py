"""The clearing result, as immutable values (bulk data as read-only numpy arrays)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from matching.problem import BoolArray, FloatArray, IntArray


class Status(StrEnum):
    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    TIME_LIMIT = "time_limit"
    ERROR = "error"


class FlowModel(StrEnum):
    """How line flows were modelled: DC power flow (every line has a reactance) or the
    transport model (flows free within the limits)."""

    DC = "dc"
    TRANSPORT = "transport"


#: Trade endpoint index meaning "the upstream grid" rather than an order.
GRID = -1


@dataclass(frozen=True, slots=True)
class Timings:
    """Milliseconds spent in each step of `matching.clear`: `build_ms` covers topology,
    aggregation into steps and filling the LP; `solve_ms` is GLOP alone."""

    build_ms: float
    solve_ms: float
    prices_ms: float
    allocation_ms: float
    trades_ms: float
    total_ms: float


@dataclass(frozen=True, slots=True, eq=False)
class Trades:
    """Bilateral trades, column-wise.

    `seller`/`buyer` index `problem.orders` or are `GRID` (-1); `seller_node`/`buyer_node`
    index `problem.network.nodes`. Prices are the seller's and the buyer's nodal prices.
    """

    seller: IntArray
    buyer: IntArray
    seller_node: IntArray
    buyer_node: IntArray
    quantity_kwh: FloatArray
    seller_price: FloatArray
    buyer_price: FloatArray

    def __len__(self) -> int:
        return int(self.quantity_kwh.shape[0])


@dataclass(frozen=True, slots=True, eq=False)
class ClearingResult:
    """Everything `matching.clear` decided, aligned with the problem's input order.

    - `accepted_kwh[k]`: accepted part of `problem.orders[k]`.
    - `price[n]`, `price_low[n]`, `price_high[n]`: chosen nodal price and the range of
      optimal prices it was chosen from (PLN/kWh; ±inf where a side is unbounded).
    - `flow_kwh[l]` (positive = from → to), `line_limit_kwh[l]`, `line_congested[l]`.
    - `import_kwh[g]`, `export_kwh[g]` per grid connection.
    - `welfare` (PLN): Σ buy price × accepted − Σ sell price × accepted − import cost +
      export revenue.
    - `flow_model`: DC power flow or the transport model (see `FlowModel`).
    - `congestion_rent` (PLN): what buyers and the grid pay minus what sellers and the grid
      receive at nodal prices (grid at its own prices); ≥ 0.
    """

    status: Status
    reason: str
    accepted_kwh: FloatArray
    price: FloatArray
    price_low: FloatArray
    price_high: FloatArray
    flow_kwh: FloatArray
    line_limit_kwh: FloatArray
    line_congested: BoolArray
    import_kwh: FloatArray
    export_kwh: FloatArray
    welfare: float
    congestion_rent: float
    trades: Trades
    timings: Timings
    solver: str = "glop"
    flow_model: FlowModel = FlowModel.TRANSPORT

    @property
    def ok(self) -> bool:
        return self.status is Status.OPTIMAL


def empty_trades() -> Trades:
    i = np.zeros(0, dtype=np.int64)
    f = np.zeros(0, dtype=np.float64)
    return Trades(i, i, i, i, f, f, f)
