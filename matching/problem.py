"""The clearing problem: interval, network and orders, as immutable values.

Orders are held column-wise (numpy arrays, read-only) so that a problem with 100k orders is
handed to the solver without a Python loop; `Order` objects are a convenience view.
Quantities are kWh for the interval, prices PLN/kWh.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class ProblemError(ValueError):
    """Bad input: names the offending field and says what to fix."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.field = field_path
        self.message = message


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True, slots=True)
class Interval:
    start: datetime
    minutes: int = 15

    @property
    def hours(self) -> float:
        return self.minutes / 60.0


@dataclass(frozen=True, slots=True)
class Node:
    id: str


@dataclass(frozen=True, slots=True)
class Line:
    """A line or transformer; the same limit applies in both directions."""

    id: str
    from_node: str
    to_node: str
    capacity_kw: float
    reactance: float | None = None


@dataclass(frozen=True, slots=True)
class GridConnection:
    """The upstream grid sells at `import_price` and buys at `export_price` (PLN/kWh)."""

    node: str
    import_price: float
    export_price: float
    import_limit_kw: float
    export_limit_kw: float


@dataclass(frozen=True, slots=True)
class Network:
    nodes: tuple[Node, ...]
    lines: tuple[Line, ...] = ()
    grid_connections: tuple[GridConnection, ...] = ()

    def node_index(self) -> dict[str, int]:
        return {n.id: i for i, n in enumerate(self.nodes)}

    @property
    def uses_dc_flow(self) -> bool:
        """DC power flow applies when every line has a reactance (and there is a line)."""
        return bool(self.lines) and all(ln.reactance is not None for ln in self.lines)


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    node: str
    side: Side
    quantity_kwh: float
    price: float


def _readonly(a: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, slots=True, eq=False)
class OrderBook:
    """Orders column-wise. `node` holds indices into `Network.nodes`; `is_buy` the side."""

    ids: tuple[str, ...]
    node: IntArray
    is_buy: BoolArray
    quantity_kwh: FloatArray
    price: FloatArray

    def __post_init__(self) -> None:
        n = len(self.ids)
        object.__setattr__(self, "node", _readonly(np.asarray(self.node, dtype=np.int64)))
        object.__setattr__(self, "is_buy", _readonly(np.asarray(self.is_buy, dtype=np.bool_)))
        object.__setattr__(
            self, "quantity_kwh", _readonly(np.asarray(self.quantity_kwh, dtype=np.float64))
        )
        object.__setattr__(self, "price", _readonly(np.asarray(self.price, dtype=np.float64)))
        for name in ("node", "is_buy", "quantity_kwh", "price"):
            if getattr(self, name).shape != (n,):
                raise ProblemError(f"orders.{name}", f"expected {n} values")

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_orders(cls, orders: Iterable[Order], node_index: dict[str, int]) -> OrderBook:
        orders = list(orders)
        nodes = []
        for k, o in enumerate(orders):
            try:
                nodes.append(node_index[o.node])
            except KeyError:
                raise ProblemError(
                    f"orders[{k}].node", f"unknown node {o.node!r}; use one of the network's nodes"
                ) from None
        return cls(
            ids=tuple(o.id for o in orders),
            node=np.array(nodes, dtype=np.int64),
            is_buy=np.array([Side(o.side) is Side.BUY for o in orders], dtype=np.bool_),
            quantity_kwh=np.array([o.quantity_kwh for o in orders], dtype=np.float64),
            price=np.array([o.price for o in orders], dtype=np.float64),
        )

    def order(self, k: int, network: Network) -> Order:
        return Order(
            id=self.ids[k],
            node=network.nodes[int(self.node[k])].id,
            side=Side.BUY if self.is_buy[k] else Side.SELL,
            quantity_kwh=float(self.quantity_kwh[k]),
            price=float(self.price[k]),
        )


@dataclass(frozen=True, slots=True, eq=False)
class ClearingProblem:
    interval: Interval
    network: Network
    orders: OrderBook
    #: Optional time limit in seconds for the whole `clear` call (None: no limit); when it
    #: is reached the result is `time_limit` with nothing accepted.
    time_limit_s: float | None = field(default=None)

    @classmethod
    def build(
        cls,
        interval: Interval,
        network: Network,
        orders: Sequence[Order],
        time_limit_s: float | None = None,
    ) -> ClearingProblem:
        """Build and validate a problem from `Order` objects."""
        problem = cls(interval, network, OrderBook.from_orders(orders, network.node_index()))
        if time_limit_s is not None:
            object.__setattr__(problem, "time_limit_s", time_limit_s)
        validate(problem)
        return problem

    def validated(self, *, network_checked: bool = False) -> ClearingProblem:
        """`validate` and return the problem; `network_checked`: its network (the same
        object) already passed `validate` with another problem, so only the rest is checked
        (a batch of intervals sharing one network checks it once)."""
        validate(self, network_checked=network_checked)
        return self


def _finite(value: float, path: str, *, positive: bool = False, nonneg: bool = False) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ProblemError(path, "must be a finite number")
    if positive and value <= 0:
        raise ProblemError(path, f"must be greater than 0 (got {value})")
    if nonneg and value < 0:
        raise ProblemError(path, f"must be 0 or more (got {value})")


def validate(problem: ClearingProblem, *, network_checked: bool = False) -> None:
    """Check the problem; raise `ProblemError` naming the first bad field (the network's
    checks left out with `network_checked`: see `ClearingProblem.validated`)."""
    net = problem.network
    if problem.interval.minutes <= 0:
        raise ProblemError("interval.minutes", "must be a positive number of minutes (15 or 60)")
    if not network_checked:
        _validate_network(net)
    _validate_orders(problem)


def _validate_network(net: Network) -> None:
    if not net.nodes:
        raise ProblemError("network.nodes", "at least one node is needed")
    seen: set[str] = set()
    for k, n in enumerate(net.nodes):
        if not isinstance(n.id, str) or not n.id:
            raise ProblemError(f"network.nodes[{k}].id", "must be a non-empty string")
        if n.id in seen:
            raise ProblemError(f"network.nodes[{k}].id", f"duplicate node id {n.id!r}")
        seen.add(n.id)
    degree = dict.fromkeys(seen, 0)
    line_ids: set[str] = set()
    for k, ln in enumerate(net.lines):
        p = f"network.lines[{k}]"
        if not isinstance(ln.id, str) or not ln.id:
            raise ProblemError(f"{p}.id", "must be a non-empty string")
        if ln.id in line_ids:
            raise ProblemError(f"{p}.id", f"duplicate line id {ln.id!r}")
        line_ids.add(ln.id)
        for end, name in ((ln.from_node, "from"), (ln.to_node, "to")):
            if end not in seen:
                raise ProblemError(f"{p}.{name}", f"unknown node {end!r}")
        if ln.from_node == ln.to_node:
            raise ProblemError(f"{p}.to", f"line {ln.id!r} joins node {ln.from_node!r} to itself")
        _finite(ln.capacity_kw, f"{p}.capacity_kw", nonneg=True)
        if ln.reactance is not None:
            _finite(ln.reactance, f"{p}.reactance", positive=True)
        degree[ln.from_node] += 1
        degree[ln.to_node] += 1
    if len(net.nodes) > 1:
        for k, n in enumerate(net.nodes):
            if degree[n.id] == 0:
                raise ProblemError(
                    f"network.nodes[{k}].id",
                    f"node {n.id!r} is not connected to anything; add a line or remove the node",
                )
    for k, g in enumerate(net.grid_connections):
        p = f"network.grid_connections[{k}]"
        if g.node not in seen:
            raise ProblemError(f"{p}.node", f"unknown node {g.node!r}")
        _finite(g.import_price, f"{p}.import_price")
        _finite(g.export_price, f"{p}.export_price")
        _finite(g.import_limit_kw, f"{p}.import_limit_kw", nonneg=True)
        _finite(g.export_limit_kw, f"{p}.export_limit_kw", nonneg=True)


def _validate_orders(problem: ClearingProblem) -> None:
    net = problem.network
    book = problem.orders
    if len(set(book.ids)) != len(book.ids):
        dup_seen: set[str] = set()
        for k, oid in enumerate(book.ids):
            if oid in dup_seen:
                raise ProblemError(f"orders[{k}].id", f"duplicate order id {oid!r}")
            dup_seen.add(oid)
    if len(book):
        if book.node.min() < 0 or book.node.max() >= len(net.nodes):
            k = int(np.flatnonzero((book.node < 0) | (book.node >= len(net.nodes)))[0])
            raise ProblemError(f"orders[{k}].node", "unknown node")
        bad = ~np.isfinite(book.quantity_kwh) | (book.quantity_kwh <= 0)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ProblemError(
                f"orders[{k}].quantity_kwh",
                f"must be a finite number greater than 0 (got {book.quantity_kwh[k]})",
            )
        bad = ~np.isfinite(book.price)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ProblemError(f"orders[{k}].price", "must be a finite number (PLN/kWh)")
