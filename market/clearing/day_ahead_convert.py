"""The several-interval core's result as the rows a day-ahead clearing stores, and the audit
record of the problem and result.

What is stored is what it always was: energy to the Wh, prices to 4 places, amounts to the
grosz, each the float's decimal text rounded half-even (`market.core.money`), a position's
amount the sum of its exact products rounded once. Only the arithmetic changed (issue 13, a
5,000-point day has 480,000 orders): decimals are carried as integers of their last place in
numpy columns (exact, as `Decimal` is for these magnitudes) and become `Decimal`s (PostgreSQL)
or floats (SQLite, which stores them so anyway) only when they are written
(`ScaledColumn.driver`), instead of a `Decimal` and a dict per order and position.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from market.core.money import energy
from market.trading.models import OrderStatus

if TYPE_CHECKING:
    from market.clearing.day_ahead import DayProblem

IntArray = np.ndarray[Any, np.dtype[np.int64]]
FILLED, UNFILLED = OrderStatus.FILLED.value, OrderStatus.UNFILLED.value
ENERGY_PLACES, PRICE_PLACES, AMOUNT_PLACES = 3, 4, 2
#: Scaled values beyond this magnitude take the exact `Decimal` path (a float's spacing there
#: is no longer far below the distance to a rounding tie that `units` relies on).
_EXACT_LIMIT = 2.0**30
_TIE_MARGIN = 1e-6


# ---------------------------------------------------------------- the audit record


def canonical(data: Any) -> bytes:
    """The audit encoding of a problem or result document: compact JSON with sorted keys,
    UTF-8, floats in their shortest round-trip form (orjson, ~8× faster than the standard
    library's encoder on a day's 49 MB document; the standard library's only for integers
    beyond 64 bits, which orjson cannot write). `problem_gz` stores exactly these bytes, so
    `input_hash == sha256(zlib.decompress(problem_gz))`."""
    try:
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        text = json.dumps(
            data, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=False
        )
        return text.encode()


def digest(data: Any) -> str:
    return hashlib.sha256(canonical(data)).hexdigest()


def result_digest(result: dict[str, Any]) -> str:
    return digest({k: v for k, v in result.items() if k != "timings"})


def problem_record(doc: dict[str, Any]) -> tuple[str, bytes]:
    """The problem document's audit hash (sha256 of its canonical encoding) and the stored,
    compressed encoding. (zlib level 1: a fifth of level 6's time for 20 % more bytes.)"""
    document = canonical(doc)
    return hashlib.sha256(document).hexdigest(), zlib.compress(document, 1)


# ---------------------------------------------------------------- exact decimal columns


def units(values: Sequence[float | int] | np.ndarray, places: int) -> IntArray:
    """`Decimal(repr(float(v))).quantize(10**-places, ROUND_HALF_EVEN)` of every value, as
    integers of 10**-places. numpy's `rint(v * 10**places)` gives the same integer unless the
    scaled value lies within `_TIE_MARGIN` of a half (its rounding error is below 3e-7 for
    magnitudes under 2**30): those few, and any larger ones, take the `Decimal` path."""
    v = np.asarray(values, dtype=np.float64)
    if not np.isfinite(v).all():
        raise ValueError("a result value is not a finite number")
    scaled = v * float(10**places)
    out = np.rint(scaled).astype(np.int64)
    near = np.abs(scaled - np.floor(scaled) - 0.5) < _TIE_MARGIN
    exact = np.nonzero(near | (np.abs(scaled) >= _EXACT_LIMIT))[0]
    if exact.size:
        quantum = Decimal(1).scaleb(-places)
        for i in exact.tolist():
            d = Decimal(repr(float(v[i]))).quantize(quantum, rounding=ROUND_HALF_EVEN)
            out[i] = int(d.scaleb(places))
    return out


def round_units(values: IntArray, shift: int) -> IntArray:
    """Integers of 10**-p rounded half-even to integers of 10**-(p - shift) (exactly)."""
    step = 10**shift
    q, rem = np.divmod(values, step)
    half = step // 2
    return q + ((rem > half) | ((rem == half) & (q % 2 == 1)))  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class ScaledColumn:
    """A decimal column as integers of 10**-places; None where `missing`."""

    units: IntArray
    places: int
    missing: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.units.shape[0])

    def decimals(self) -> list[Decimal | None]:
        return self.driver(sqlite=False)

    def integers(self) -> list[int | None]:
        out: list[int | None] = self.units.tolist()
        if self.missing is not None:
            for i in np.nonzero(self.missing)[0].tolist():
                out[i] = None
        return out

    def driver(self, sqlite: bool) -> list[Any]:
        """The values as the database driver takes them: floats on SQLite (`Dec` sends
        floats there; `n / 10.0**p` is the float nearest the decimal, as `float(Decimal)`
        is), else `Decimal`s (one per distinct value, shared)."""
        if sqlite:
            out: list[Any] = (self.units / float(10**self.places)).tolist()
        else:
            distinct, inverse = np.unique(self.units, return_inverse=True)
            decimals = [Decimal(u).scaleb(-self.places) for u in distinct.tolist()]
            out = [decimals[i] for i in inverse.tolist()]
        if self.missing is not None:
            for i in np.nonzero(self.missing)[0].tolist():
                out[i] = None
        return out


Column = ScaledColumn | Sequence[Any]


@dataclass(frozen=True, slots=True)
class ResultRows:
    """Rows of one result table, column-wise (`run_id` is added when stored)."""

    columns: tuple[str, ...]
    values: tuple[Column, ...]

    def __len__(self) -> int:
        return len(self.values[0]) if self.values else 0

    def driver_rows(self, sqlite: bool, *lead: Any) -> list[tuple[Any, ...]]:
        """Plain tuples for the driver, each starting with `lead` (e.g. the run id)."""
        n = len(self)
        columns = [v.driver(sqlite) if isinstance(v, ScaledColumn) else v for v in self.values]
        return list(zip(*([value] * n for value in lead), *columns, strict=True))

    def dicts(self) -> list[dict[str, Any]]:
        """The rows as dicts of `Decimal`s (tests, small days)."""
        columns = [v.decimals() if isinstance(v, ScaledColumn) else v for v in self.values]
        return [dict(zip(self.columns, row, strict=True)) for row in zip(*columns, strict=True)]


# ---------------------------------------------------------------- converting the result


@dataclass(frozen=True, slots=True)
class ConvertedDay:
    run: dict[str, Any]
    price_rows: ResultRows
    flow_rows: ResultRows
    grid_rows: ResultRows
    position_rows: ResultRows
    storage_rows: ResultRows
    block_rows: list[dict[str, Any]]
    #: Every order of the day: id, accepted_kwh, clearing_price, amount_pln, status.
    order_rows: ResultRows
    ok: bool
    #: The live event's summary (price range, storage units, blocks).
    summary: dict[str, Any]


class _Contributions:
    """What each order, storage unit and block adds to a metering point's position in an
    interval: (interval index, metering point, node index, buys, kWh in Wh units)."""

    def __init__(self) -> None:
        self.parts: list[tuple[IntArray, IntArray, IntArray, np.ndarray, IntArray]] = []

    def add(self, t: Any, mp: Any, node: Any, buy: Any, kwh: IntArray) -> None:
        kwh = np.asarray(kwh, dtype=np.int64)
        n = kwh.shape[0]
        keep = kwh > 0

        def col(x: Any, dtype: Any) -> np.ndarray:
            return np.broadcast_to(np.asarray(x, dtype=dtype), (n,))[keep]

        self.parts.append(
            (col(t, np.int64), col(mp, np.int64), col(node, np.int64), col(buy, np.bool_),
             kwh[keep])
        )  # fmt: skip

    def positions(self, price: IntArray, interval_ids: list[int]) -> ResultRows:
        """One row per (interval, metering point) with anything accepted, in that order:
        import and export kWh, and the amount (Σ ± kWh × the node's price, rounded to the
        grosz once)."""
        names = ("interval_id", "metering_point_id", "import_kwh", "export_kwh", "amount_pln")
        if not self.parts or not sum(len(part[4]) for part in self.parts):
            return ResultRows(names, tuple([] for _ in names))
        t, mp, node, buy, kwh = (np.concatenate(c) for c in zip(*self.parts, strict=True))
        signed = np.where(buy, kwh, -kwh) * price[t, node]  # 10**-7 PLN
        key = t * (int(mp.max()) + 1) + mp
        order = np.argsort(key, kind="stable")
        key, t, mp = key[order], t[order], mp[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        imports = np.add.reduceat(np.where(buy, kwh, 0)[order], starts)
        exports = np.add.reduceat(np.where(buy, 0, kwh)[order], starts)
        amounts = round_units(np.add.reduceat(signed[order], starts), 5)
        ivs = np.asarray(interval_ids, dtype=np.int64)
        return ResultRows(
            names,
            (
                ivs[t[starts]].tolist(),
                mp[starts].tolist(),
                ScaledColumn(imports, ENERGY_PLACES),
                ScaledColumn(exports, ENERGY_PLACES),
                ScaledColumn(amounts, AMOUNT_PLACES),
            ),
        )


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """The first part of a conversion, all the store needs to update the day's orders (the
    biggest write): the node prices and every order's outcome. The rest
    (`convert_rest`) is converted while the orders are written."""

    status: str
    ok: bool
    #: The node prices, 10**-4 PLN/kWh: price[t, node], known where `priced`.
    price: IntArray
    priced: np.ndarray
    #: Every order of the day: id, accepted_kwh, clearing_price, amount_pln, status.
    order_rows: ResultRows
    #: The accepted Wh of the problem's simple orders (for the positions).
    accepted: IntArray


def convert_day(
    problem: DayProblem, result: dict[str, Any], record: tuple[str, bytes] | None = None
) -> ConvertedDay:
    """The core's floats as stored decimals (energy to the Wh, prices to 4 places, amounts
    to the grosz per order and per position); pure, run off the event loop. `record`:
    `problem_record` of the problem's document, if made already. (`convert_orders` then
    `convert_rest`: the store runs them apart, writing the orders meanwhile.)"""
    return convert_rest(problem, result, convert_orders(problem, result), record)


def convert_orders(problem: DayProblem, result: dict[str, Any]) -> OrderOutcome:
    """The node prices and every order's outcome (see `OrderOutcome`)."""
    status = str(result.get("status", "error"))
    ok = status == "optimal"
    ivs = problem.interval_ids
    codes = list(problem.node_ids)
    node_at = {code: k for k, code in enumerate(codes)}
    price = np.zeros((len(ivs), len(codes)), dtype=np.int64)
    priced = np.zeros((len(ivs), len(codes)), dtype=np.bool_)
    p_val: list[float] = []
    p_t: list[int] = []
    p_node: list[int] = []
    if ok:
        for t, item in enumerate(result.get("intervals", [])):
            nodes = item.get("nodes", [])
            p_val += [float(nd["price"]) for nd in nodes]
            p_t += [t] * len(nodes)
            p_node += [node_at[str(nd["id"])] for nd in nodes]
    if p_t:
        at_t, at_node = np.array(p_t, dtype=np.int64), np.array(p_node, dtype=np.int64)
        price[at_t, at_node] = units(p_val, PRICE_PLACES)  # a repeated node: the last one
        priced[at_t, at_node] = True
    order_rows, accepted = _orders(problem, result, ok, price, priced)
    return OrderOutcome(status, ok, price, priced, order_rows, accepted)


def convert_rest(
    problem: DayProblem,
    result: dict[str, Any],
    outcome: OrderOutcome,
    record: tuple[str, bytes] | None = None,
) -> ConvertedDay:
    """The rest of `convert_day` after `convert_orders`: the result tables, positions,
    blocks, the run's record and the live event's summary."""
    status, ok, price, priced = outcome.status, outcome.ok, outcome.price, outcome.priced
    ivs = problem.interval_ids
    p_iv: list[int] = []
    p_node: list[int] = []
    p_val: list[float] = []
    f_iv: list[int] = []
    f_line: list[int] = []
    f_val: list[float] = []
    g_iv: list[int] = []
    g_node: list[int] = []
    g_in: list[float] = []
    g_out: list[float] = []
    if ok:
        # column by column (comprehensions, not a loop body per item); a missing or null
        # number is 0 (`_e` of old: `if not value: ZERO`)
        node_ids, line_ids = problem.node_ids, problem.line_ids
        for t, item in enumerate(result.get("intervals", [])):
            iv = ivs[t]
            nodes = item.get("nodes", [])
            p_iv += [iv] * len(nodes)
            p_node += [node_ids[str(nd["id"])] for nd in nodes]
            p_val += [float(nd["price"]) for nd in nodes]
            lines = item.get("lines", [])
            f_iv += [iv] * len(lines)
            f_line += [line_ids[str(ln["id"])] for ln in lines]
            f_val += [float(ln.get("flow_kwh") or 0.0) for ln in lines]
            grids = item.get("grid_connections", [])
            g_iv += [iv] * len(grids)
            g_node += [node_ids[str(g["node"])] for g in grids]
            g_in += [float(g.get("import_kwh") or 0.0) for g in grids]
            g_out += [float(g.get("export_kwh") or 0.0) for g in grids]
    price_rows = ResultRows(
        ("interval_id", "node_id", "price"),
        (p_iv, p_node, ScaledColumn(units(p_val, PRICE_PLACES), PRICE_PLACES)),
    )
    flow_rows = ResultRows(
        ("interval_id", "line_id", "flow_kwh"),
        (f_iv, f_line, ScaledColumn(units(f_val, ENERGY_PLACES), ENERGY_PLACES)),
    )
    grid_rows = ResultRows(
        ("interval_id", "node_id", "import_kwh", "export_kwh"),
        (g_iv, g_node, ScaledColumn(units(g_in, ENERGY_PLACES), ENERGY_PLACES),
         ScaledColumn(units(g_out, ENERGY_PLACES), ENERGY_PLACES)),
    )  # fmt: skip
    contributions = _Contributions()
    contributions.add(
        problem.order_interval, problem.order_point, problem.order_node, problem.order_buy,
        outcome.accepted,
    )  # fmt: skip
    storage_rows = _storage(problem, result, ok, contributions)
    block_rows = _blocks(problem, result, ok, contributions)
    position_rows = contributions.positions(price, ivs)
    timings = result.get("timings") or {}
    input_hash, problem_gz = record or problem_record(problem.doc)
    run = {
        "input_hash": input_hash,
        "result_hash": result_digest(result),
        "problem_gz": problem_gz,
        "status": status,
        "reason": str(result.get("reason", "") or ""),
        "interval_count": len(ivs),
        "order_count": len(problem.order_ids) + len(problem.blocks) + len(problem.storage),
        "welfare_pln": Decimal(repr(round(float(result.get("welfare", 0.0) or 0.0), 2)))
        if ok
        else Decimal("0.00"),
        "timings": {str(k): float(v) for k, v in timings.items() if isinstance(v, int | float)},
    }
    known = price[priced]
    summary = {
        "prices_min": str(Decimal(int(known.min())).scaleb(-PRICE_PLACES)) if known.size else "0",
        "prices_max": str(Decimal(int(known.max())).scaleb(-PRICE_PLACES)) if known.size else "0",
        "storage_units": len(problem.storage),
        "blocks_accepted": sum(1 for b in block_rows if b["accepted_ratio"] > 0),
        "blocks": len(block_rows),
    }
    return ConvertedDay(
        run, price_rows, flow_rows, grid_rows, position_rows, storage_rows, block_rows,
        outcome.order_rows, ok, summary,
    )  # fmt: skip


def _orders(
    problem: DayProblem,
    result: dict[str, Any],
    ok: bool,
    price: IntArray,
    priced: np.ndarray,
) -> tuple[ResultRows, IntArray]:
    """Every order of the day (the excluded ones last): accepted kWh, the node's price (None
    if the day failed or the node has none), the amount at it, filled or unfilled (partly
    filled is decided by the store, against the requested quantity)."""
    n = len(problem.order_ids)
    accepted = np.zeros(n, dtype=np.int64)
    if ok:
        raw = result.get("orders", [])
        keys = [o["id"] for o in raw]
        given = [o.get("accepted_kwh") or 0.0 for o in raw]
        if keys != problem.order_keys:  # the core echoes the input's order; else by id
            by_key = dict(zip(keys, given, strict=True))
            given = [by_key.get(k) or 0.0 for k in problem.order_keys]
        accepted = units(given, ENERGY_PLACES)
    t, node = problem.order_interval, problem.order_node
    filled = accepted > 0
    amounts = round_units(np.where(filled, accepted * price[t, node], 0), 5)
    excluded = len(problem.excluded_order_ids)
    missing = np.ones(n + excluded, dtype=np.bool_)
    if ok:
        missing[:n] = ~priced[t, node]
    none = np.zeros(excluded, dtype=np.int64)
    rows = ResultRows(
        ("id", "accepted_kwh", "clearing_price", "amount_pln", "status"),
        (
            [*problem.order_ids, *problem.excluded_order_ids],
            ScaledColumn(np.concatenate([accepted, none]), ENERGY_PLACES),
            ScaledColumn(np.concatenate([price[t, node], none]), PRICE_PLACES, missing),
            ScaledColumn(np.concatenate([amounts, none]), AMOUNT_PLACES),
            [FILLED if f else UNFILLED for f in filled.tolist()] + [UNFILLED] * excluded,
        ),
    )
    return rows, accepted


def _storage(
    problem: DayProblem, result: dict[str, Any], ok: bool, contributions: _Contributions
) -> ResultRows:
    """Each storage unit's charge, discharge and state of charge per interval (the state
    with the unit's minimum added back: the core saw the range above it)."""
    n = len(problem.interval_ids)
    by_storage = {str(s["id"]): s for s in result.get("storage", [])} if ok else {}
    so_ids: list[int] = []
    charges: list[IntArray] = []
    discharges: list[IntArray] = []
    socs: list[IntArray] = []
    steps = np.arange(n, dtype=np.int64)
    codes = {code: k for k, code in enumerate(problem.node_ids)}
    for key, (so_id, mp, node, low) in problem.storage.items():
        item = by_storage.get(key)
        if item is None:
            continue
        c, d, soc = (
            units([float(v or 0.0) for v in item[name][:n]], ENERGY_PLACES)
            for name in ("charge_kwh", "discharge_kwh", "soc_kwh")
        )
        if c.shape[0] != n or d.shape[0] != n or soc.shape[0] != n:
            raise ValueError(f"storage {key}: fewer values than intervals")
        low_units = int(low.scaleb(ENERGY_PLACES))
        if Decimal(low_units).scaleb(-ENERGY_PLACES) != low:
            raise ValueError(f"storage {key}: minimum state of charge finer than a Wh")
        contributions.add(steps, mp, codes[node], True, c)
        contributions.add(steps, mp, codes[node], False, d)
        so_ids.append(so_id)
        charges.append(c)
        discharges.append(d)
        socs.append(soc + low_units)
    ivs = list(problem.interval_ids)

    def joined(parts: list[IntArray]) -> ScaledColumn:
        return ScaledColumn(
            np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64), ENERGY_PLACES
        )

    return ResultRows(
        ("storage_order_id", "interval_id", "charge_kwh", "discharge_kwh", "soc_kwh"),
        (
            [so for so in so_ids for _ in range(n)],
            ivs * len(so_ids),
            joined(charges),
            joined(discharges),
            joined(socs),
        ),
    )


def _blocks(
    problem: DayProblem, result: dict[str, Any], ok: bool, contributions: _Contributions
) -> list[dict[str, Any]]:
    """Each block's accepted ratio, surplus and whether it was paradoxically rejected; its
    accepted energy per interval goes to the positions."""
    by_block = {str(b["id"]): b for b in result.get("blocks", [])} if ok else {}
    codes = {code: k for k, code in enumerate(problem.node_ids)}
    rows: list[dict[str, Any]] = []
    for key, (bid, mp, node, buy, first, quantities) in problem.blocks.items():
        item = by_block.get(key, {})
        ratio = Decimal(repr(round(float(item.get("accepted_ratio", 0.0)), 6)))
        kwh = [int(energy(q * ratio).scaleb(ENERGY_PLACES)) for q in quantities]
        contributions.add(
            np.arange(first, first + len(kwh), dtype=np.int64), mp, codes[node], buy,
            np.array(kwh, dtype=np.int64),
        )  # fmt: skip
        rows.append(
            {
                "id": bid,
                "accepted_ratio": ratio,
                "surplus_pln": Decimal(repr(round(float(item.get("surplus", 0.0)), 2))),
                "paradoxically_rejected": bool(item.get("paradoxically_rejected", False)),
            }
        )
    return rows
