"""The one order pipeline: validate → resolve → insert in bulk → audit → publish.

Every new order goes through `place`: one from a page, a batch from the API's group commit
(`web.api.intake`), the orders of standing rules (`market.trading.standing`). A new order
attribute or rule is written here once.

- **resolve**: the cluster (price band) with the metering points named and their nodes in one
  statement; the intervals named in one statement, FOR SHARE (a gate closing meanwhile waits
  for this transaction); the client order ids already used in one statement.
- **validate**: each submission on its own (market not halted, price band, own active
  point, open gate, deliverable quantity); a submission that breaks a rule gets its error as
  its outcome and does not affect the others. (The form of each value was checked when it
  was parsed into an `OrderInput`, by the same parser for every entry point.)
  A caller that has read the intervals and their day-ahead auctions FOR SHARE in its own
  transaction already (`place_profile`: one day's) passes them (`Locked`): not read again.
- **insert in bulk**: one INSERT of every accepted row (Core: the ORM would insert and fetch
  ids one row at a time; from `COPY_ROWS` rows without a client order id, which need no retry
  handling, as plain tuples through `market.db.bulk`: a day-ahead day places ~480,000; below
  that on PostgreSQL one array a column, `_insert_arrays`), then the gate re-check SQLite
  needs (`intervals.still_open`).
- **audit**: one INSERT of their audit entries (orders of a standing rule are not audited
  one by one: the rule's own entries say what it places); on PostgreSQL one statement with
  one array a column (`_insert_arrays`), on SQLite one executemany of the driver
  (`market.db.bulk`), not one execution per row nor SQLAlchemy's processing of each value.
- **gate**: members' orders need the gate ahead (`Gate.OPEN`); the scheduler places the
  orders of standing rules when an interval is created and in the transaction that closes
  its gate (`Gate.CLOSING`: open or just closed, not yet cleared).
- **publish**: `Placement.events`, one order-book event per interval that changed, for the
  caller to `publish` after its commit (an event before the commit could make a live view
  read the book without the order).

It never commits: the caller's unit of work does.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import JSON, Table, TextClause, bindparam, select, text, union_all
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from market.access import audit
from market.access.actor import Actor
from market.access.models import AuditEntry
from market.cluster.models import Cluster
from market.cluster.service import get_cluster
from market.core.clock import Clock
from market.core.errors import KlasterError, NotFound
from market.core.events import ORDERBOOK, Publisher, publish_safely
from market.db import bulk
from market.db.base import utcnow
from market.db.engine import dialect_name, insert_returning_ids
from market.network.models import MeteringPoint, Node
from market.trading.book import OrderView, order_view, order_views
from market.trading.day_ahead_gate import (
    auctions_for_share,
    auctions_still_open,
    check_auction_closing,
    check_auction_open,
)
from market.trading.day_ahead_models import DayAheadAuction, Market
from market.trading.halt import check_trading
from market.trading.intervals import check_closing, check_open, for_share, still_open
from market.trading.models import Interval, Order, OrderStatus
from market.trading.order_input import OrderInput
from market.trading.rules import (
    check_deliverable,
    check_own_point,
    check_price_band,
    max_quantity_kwh,
)

Outcome = OrderView | KlasterError
Event = dict[str, object]
#: The cluster's row (`get_cluster`'s), as something to join: built once.
FIRST_CLUSTER = aliased(Cluster, select(Cluster).order_by(Cluster.id).limit(1).subquery())
#: Client-order-id lookups per statement (SQLite allows 500 terms in a compound SELECT).
LOOKUPS_PER_STATEMENT = 256
#: Rows from which an insert takes the bulk path (`market.db.bulk`); a page's single order
#: keeps the plain INSERT (a COPY costs more to start than it saves on a few rows).
BULK_ROWS = 32
#: PostgreSQL: rows from which the bulk path's COPY pays. Below, one multi-row INSERT ...
#: RETURNING is one round trip where the COPY takes three (ids from the sequence, COPY start,
#: COPY end): a 96-value profile's orders.
COPY_ROWS = 1000
#: What a newly placed order has in the columns its row does not set.
NOT_CLEARED = {"accepted_kwh": None, "clearing_price": None, "amount_pln": None}
_OPEN = OrderStatus.OPEN.value
#: (An enum's member read from its class costs ~0.3 µs on Python 3.11: a day's orders read it.)
_DAY_AHEAD = Market.DAY_AHEAD


class Gate(StrEnum):
    """Which intervals take the orders."""

    #: The gate is ahead (orders from members).
    OPEN = "open"
    #: Open, or closing in this transaction (standing rules' orders, placed by the scheduler).
    CLOSING = "closing"


@dataclass(frozen=True, slots=True)
class Submission:
    """An order to place, for whom (and for which standing rule, if it is one's)."""

    actor: Actor
    order: OrderInput
    standing_order_id: int | None = None


@dataclass(slots=True)
class _Accepted:
    """An accepted order; once inserted, with its new id and node (`_place` sets them): its
    view, when someone asks for it. (One object per order, changed once: a day-ahead day's
    standing orders are ~480,000, and a frozen dataclass's `__init__`, setting each field
    through `object.__setattr__`, costs twice as much.)"""

    index: int
    row: dict[str, object]
    interval: Interval
    point: MeteringPoint
    order_id: int = 0
    node: Node | None = None

    def view(self) -> OrderView:
        order = cast(Any, SimpleNamespace(id=self.order_id, **self.row, **NOT_CLEARED))
        return order_view(order, self.interval, self.point, cast(Node, self.node))


#: An outcome that is an order placed now (`_Accepted`, inserted).
_Inserted = _Accepted


@dataclass(frozen=True, slots=True)
class Resolved:
    """The cluster and the metering points `point_ids` (those that exist, with their nodes),
    as `resolve_points` reads them in one statement."""

    cluster: Cluster
    points: dict[int, MeteringPoint]
    nodes: dict[int, Node]
    point_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class Locked:
    """Intervals (by id) and day-ahead auctions (by local day) the caller has read FOR SHARE
    in this transaction: `place` does not read them again; nor the cluster and points, if
    the caller has `resolved` them (`place_profile`: one day's, for one point)."""

    intervals: dict[int, Interval]
    auctions: dict[date, DayAheadAuction]
    resolved: Resolved | None = None


@dataclass(slots=True)
class Placement:
    """Each submission's order or rule error, in order, and the order-book events."""

    results: list[OrderView | KlasterError | _Inserted]
    events: list[Event] = field(default_factory=list)
    #: New stored notifications (a standing rule's order rejected) as (member, id): the
    #: caller announces them after its commit (`market.trading.notifications`).
    notified: list[tuple[int, int]] = field(default_factory=list)

    @property
    def outcomes(self) -> list[Outcome]:
        """Each submission's order view or rule error. (Views are built on demand: the
        scheduler placing a standing rule's orders in bulk never needs them.)"""
        return [r.view() if isinstance(r, _Inserted) else r for r in self.results]

    @property
    def order_ids(self) -> list[int]:
        """The ids of the submissions' orders (placed now, or before under the same client
        order id), in order; without building their views."""
        return [
            r.order_id if isinstance(r, _Inserted) else r.id
            for r in self.results
            if not isinstance(r, KlasterError)
        ]

    @property
    def placed(self) -> int:
        """How many orders were inserted."""
        return sum(1 for r in self.results if isinstance(r, _Inserted))


class _ClientIdTaken(Exception):
    """A client order id was used by a transaction that committed meanwhile."""


def order_event(interval: Interval) -> Event:
    return {
        "type": ORDERBOOK,
        "interval_id": interval.id,
        "interval_start": interval.start_utc.isoformat(),
    }


async def publish(publisher: Publisher, events: Iterable[Event]) -> None:
    """The pipeline's last step, after the caller's commit."""
    for event in events:
        await publish_safely(publisher, ORDERBOOK, event)


async def place(
    session: AsyncSession,
    clock: Clock,
    submissions: Sequence[Submission],
    *,
    gate: Gate = Gate.OPEN,
    locked: Locked | None = None,
) -> Placement:
    """Place the submissions (see the module's doc). Raises only on what is not a rule error;
    the caller's transaction is then to be rolled back."""
    if not submissions:
        return Placement([])
    try:
        return await _place(session, clock, submissions, gate, savepoint=True, locked=locked)
    except _ClientIdTaken:
        # Another transaction committed one of our client order ids after we looked: look
        # again (it is found now, and its order is the outcome, as for any retry).
        return await _place(session, clock, submissions, gate, savepoint=False, locked=locked)


async def place_one(session: AsyncSession, clock: Clock, submission: Submission) -> Placement:
    """`place` for one submission: its rule error is raised."""
    placement = await place(session, clock, [submission])
    outcome = placement.results[0]
    if isinstance(outcome, KlasterError):
        raise outcome
    return placement


async def _place(
    session: AsyncSession,
    clock: Clock,
    submissions: Sequence[Submission],
    gate: Gate,
    *,
    savepoint: bool,
    locked: Locked | None,
) -> Placement:
    resolved = locked.resolved if locked is not None else None
    if resolved is None or any(
        s.order.metering_point_id not in resolved.point_ids for s in submissions
    ):
        resolved = await resolve_points(session, {s.order.metering_point_id for s in submissions})
    cluster, points, nodes = resolved.cluster, resolved.points, resolved.nodes
    if locked is not None and all(s.order.interval_id in locked.intervals for s in submissions):
        intervals = locked.intervals
    else:
        locked = None
        intervals = {
            iv.id: iv
            for iv in await session.scalars(for_share(s.order.interval_id for s in submissions))
        }
    days = {
        iv.local_day
        for s in submissions
        if s.order.market is _DAY_AHEAD and (iv := intervals.get(s.order.interval_id))
    }
    auctions: dict[object, DayAheadAuction] = {}
    if locked is not None and days <= locked.auctions.keys():
        auctions = {day: locked.auctions[day] for day in days}
    elif days:
        auctions = {a.local_day: a for a in await session.scalars(auctions_for_share(days))}
    existing = await _used_client_ids(session, submissions)
    now = clock.now()
    outcomes: list[OrderView | KlasterError | _Inserted | None] = [None] * len(submissions)
    first_with: dict[tuple[int, str], int] = {}
    duplicates: list[tuple[int, int]] = []
    accepted: list[_Accepted] = []
    with_client_ids = audited = False
    check = _Checks(cluster, points, intervals, auctions, now, gate).check
    for i, sub in enumerate(submissions):
        cid = sub.order.client_order_id  # its key: (member, client order id)
        key = None if cid is None else (sub.actor.member_id, cid)
        if key is not None:
            if key in existing:
                outcomes[i] = existing[key]
                continue
            if key in first_with:
                duplicates.append((i, first_with[key]))
                continue
        try:
            point, interval = check(sub)
        except KlasterError as exc:
            outcomes[i] = exc
            continue
        if key is not None:
            first_with[key] = i
            with_client_ids = True
        if sub.standing_order_id is None:
            audited = True
        accepted.append(_Accepted(i, order_row(sub, point, interval, now), interval, point))
    events: list[Event] = []
    if accepted:
        ids = await _insert(
            session, accepted, savepoint=savepoint and with_client_ids, plain=not with_client_ids
        )
        changed = list({a.row["interval_id"]: a.interval for a in accepted}.values())
        if gate is Gate.OPEN:
            intraday = {a.interval.id for a in accepted if not _day_ahead(a)}
            await still_open(session, [iv for iv in changed if iv.id in intraday])
            await auctions_still_open(
                session, {auctions[a.interval.local_day] for a in accepted if _day_ahead(a)}
            )
        if audited:  # (orders of standing rules only: no entry)
            await _audit(session, submissions, accepted, ids)
        node_of: dict[object, Node] = {}  # point id → its node (a batch names few points)
        for a, order_id in zip(accepted, ids, strict=True):
            node = node_of.get(a.row["metering_point_id"])
            if node is None:
                node = node_of[a.row["metering_point_id"]] = nodes[a.point.node_id]
            a.order_id, a.node = order_id, node
            outcomes[a.index] = a
        events = [order_event(iv) for iv in changed]
    for i, first in duplicates:
        outcomes[i] = outcomes[first]
    done = [o for o in outcomes if o is not None]
    assert len(done) == len(submissions)
    return Placement(done, events)


def _day_ahead(a: _Accepted) -> bool:
    return a.row["market"] == Market.DAY_AHEAD.value


class _Checks:
    """The rules that depend on stored state, for one batch (see `check`). A batch of standing
    orders names the same few points and intervals thousands of times: what passed once for a
    (member, point) or an interval is remembered; what failed is checked again, so each
    submission gets its own error."""

    def __init__(
        self,
        cluster: Cluster,
        points: dict[int, MeteringPoint],
        intervals: dict[int, Interval],
        auctions: dict[object, DayAheadAuction],
        now: datetime,
        gate: Gate,
    ) -> None:
        self.cluster, self.points, self.intervals = cluster, points, intervals
        self.auctions, self.now, self.gate = auctions, now, gate
        self.floor, self.cap = cluster.price_floor, cluster.price_cap
        self.trading = cluster.halted_at is None
        self.own: dict[tuple[int, int], MeteringPoint] = {}
        #: (interval id, market) → the interval taking the order, and its minutes
        self.taking: dict[tuple[int, Market], tuple[Interval, int]] = {}
        #: (point id, minutes) → the quantity it can deliver (`check_deliverable`'s limit)
        self.limits: dict[tuple[int, int], Decimal] = {}

    def check(self, sub: Submission) -> tuple[MeteringPoint, Interval]:
        """The rules in the order their errors are reported. A day-ahead order needs its
        day's day-ahead gate ahead, an intraday order its interval's."""
        order = sub.order
        if not self.trading:
            check_trading(self.cluster)
        if not self.floor <= order.price <= self.cap:
            check_price_band(order.price, self.cluster)
        point = self.own.get((sub.actor.member_id, order.metering_point_id))
        if point is None:
            point = check_own_point(
                self.points.get(order.metering_point_id), order.metering_point_id, sub.actor
            )
            self.own[(sub.actor.member_id, order.metering_point_id)] = point
        # (ids and minutes as plain values: an ORM attribute read costs a descriptor call,
        # and a day's standing orders are ~480,000; `order.metering_point_id` is `point.id`)
        taking = self.taking.get((order.interval_id, order.market))
        if taking is None:
            interval = self._interval(order)
            taking = self.taking[(order.interval_id, order.market)] = (
                interval,
                interval.minutes,
            )
        interval, minutes = taking
        limit = self.limits.get((order.metering_point_id, minutes))
        if limit is None:
            limit = self.limits[(order.metering_point_id, minutes)] = max_quantity_kwh(
                point, minutes
            )
        if not order.quantity_kwh <= limit:
            check_deliverable(order.quantity_kwh, point, minutes)  # raises
        return point, interval

    def _interval(self, order: OrderInput) -> Interval:
        found = self.intervals.get(order.interval_id)
        if order.market is Market.DAY_AHEAD:
            if found is None:
                raise NotFound("interval_id", "no interval %(id)s", id=order.interval_id)
            auction = self.auctions.get(found.local_day)
            if self.gate is Gate.OPEN:
                check_auction_open(auction, found.local_day, self.now)
            else:
                check_auction_closing(auction, found.local_day)
            return found
        if self.gate is Gate.OPEN:
            return check_open(found, order.interval_id, self.now)
        return check_closing(found, order.interval_id)


def order_row(
    sub: Submission, point: MeteringPoint, interval: Interval, now: datetime
) -> dict[str, object]:
    """The column values of a newly placed order: the one place they are written."""
    order = sub.order
    # `_value_`: the member's value as a plain attribute (`.value` is a descriptor call;
    # this runs for each of a day-ahead day's ~480,000 standing orders). The ids are the
    # order's own: `point` and `interval` are the ones it names (looked up by these ids),
    # and reading them from the ORM objects would be two more descriptor calls.
    return {
        "member_id": sub.actor.member_id,
        "metering_point_id": order.metering_point_id,
        "interval_id": order.interval_id,
        "side": order.side._value_,
        "quantity_kwh": order.quantity_kwh,
        "price": order.price,
        "status": _OPEN,
        "market": order.market._value_,
        "client_order_id": order.client_order_id,
        "standing_order_id": sub.standing_order_id,
        "created_at": now,
        "updated_at": now,
    }


async def resolve_points(session: AsyncSession, point_ids: Iterable[int]) -> Resolved:
    """The cluster and the points named, with their nodes: the cluster's one row LEFT JOIN
    the points, one statement."""
    point_ids = frozenset(point_ids)
    joined = (
        await session.execute(
            select(FIRST_CLUSTER, MeteringPoint, Node)
            .select_from(FIRST_CLUSTER)
            .outerjoin(MeteringPoint, MeteringPoint.id.in_(point_ids))
            .outerjoin(Node, Node.id == MeteringPoint.node_id)
        )
    ).all()
    if not joined:
        await get_cluster(session)  # raises: no cluster set up yet
    points = {mp.id: mp for _, mp, _ in joined if mp is not None}
    nodes = {nd.id: nd for _, _, nd in joined if nd is not None}
    return Resolved(joined[0][0], points, nodes, point_ids)


def _lookup_size(n: int) -> int:
    """`n` rounded up to a power of two (at most `LOOKUPS_PER_STATEMENT`): few statement
    shapes, so few compilations and prepared statements."""
    return min(LOOKUPS_PER_STATEMENT, 1 << max(0, n - 1).bit_length())


@functools.cache
def _lookup_statement(size: int) -> Any:
    """`size` lookups of an order id by (member_id, client_order_id) as one UNION ALL, with
    bound parameters m0, c0, m1, c1, ...; built once per size."""
    lookups = [
        select(Order.id, Order.member_id, Order.client_order_id).where(
            Order.member_id == bindparam(f"m{i}"), Order.client_order_id == bindparam(f"c{i}")
        )
        for i in range(size)
    ]
    return lookups[0] if size == 1 else union_all(*lookups)


async def _used_client_ids(
    session: AsyncSession, submissions: Sequence[Submission]
) -> dict[tuple[int, str], OrderView]:
    """The orders already placed with the submissions' client order ids (a retry returns
    the order placed the first time)."""
    # One equality lookup on the unique (member_id, client_order_id) index per pair. (As
    # `member_id IN ... AND client_order_id IN ...`, PostgreSQL's generic plan could choose
    # the member_id index and filter all of a member's orders, more with each.)
    # (the key inline: a batch of standing orders has none, in thousands of submissions)
    pairs = list(
        dict.fromkeys(
            (s.actor.member_id, cid)
            for s in submissions
            if (cid := s.order.client_order_id) is not None
        )
    )
    found: dict[tuple[int, str], int] = {}
    for k in range(0, len(pairs), LOOKUPS_PER_STATEMENT):
        chunk = pairs[k : k + LOOKUPS_PER_STATEMENT]
        size = _lookup_size(len(chunk))
        chunk += [chunk[-1]] * (size - len(chunk))  # a repeat finds the same row
        params: dict[str, object] = {f"m{i}": m for i, (m, _) in enumerate(chunk)}
        params |= {f"c{i}": c for i, (_, c) in enumerate(chunk)}
        for order_id, member_id, cid in await session.execute(_lookup_statement(size), params):
            found[(member_id, cid)] = order_id
    if not found:
        return {}
    views = await order_views(session, set(found.values()))
    return {key: views[order_id] for key, order_id in found.items()}


async def _insert(
    session: AsyncSession, accepted: list[_Accepted], *, savepoint: bool, plain: bool
) -> list[int]:
    """Insert the rows (`plain`: none has a client order id); `_ClientIdTaken` if a client
    order id was committed meanwhile by another transaction and ours is still usable to look
    again."""
    table = cast(Table, Order.__table__)
    rows = [a.row for a in accepted]
    postgres = dialect_name(session) == "postgresql"
    enough = len(rows) >= (COPY_ROWS if postgres else BULK_ROWS)
    if enough and plain:
        # No client order id, so no retry to recognise: the bulk path, without SQLAlchemy's
        # per-row parameter processing (a day-ahead day places ~480,000 standing orders). A
        # unique (rule, interval) clash of two schedulers still fails the transaction.
        return await bulk.insert_returning_ids(session, table, rows)
    write = _insert_arrays if postgres else insert_returning_ids
    if not savepoint:
        return await write(session, table, rows)
    if dialect_name(session) == "sqlite":
        # No SAVEPOINT: with sqlite3's implicit transactions the first one would start (and
        # its RELEASE commit) the caller's transaction. A failed statement is undone alone
        # on SQLite; one row failing leaves nothing behind. (A batch's earlier rows would
        # stay: the error goes up, the caller rolls back and places each order alone.)
        try:
            return await insert_returning_ids(session, table, rows)
        except IntegrityError as exc:
            if len(rows) > 1:
                raise
            raise _ClientIdTaken from exc
    # PostgreSQL: a failed statement aborts the transaction; the SAVEPOINT keeps it usable.
    try:
        async with session.begin_nested():
            return await _insert_arrays(session, table, rows)
    except IntegrityError as exc:
        raise _ClientIdTaken from exc


@functools.cache
def _array_insert(table: Table, columns: tuple[str, ...], returning: bool) -> TextClause:
    """PostgreSQL: INSERT of rows given as one array per column (`unnest ... WITH
    ORDINALITY`, in the rows' order), RETURNING their ids: one parameter a column, not one
    a value (a profile's 96 orders are 1,152 values; SQLAlchemy processes each and asyncpg
    encodes each as its own parameter, where an array is encoded at once)."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    arrays = ", ".join(
        f"CAST(:{c} AS {table.c[c].type.compile(dialect=dialect)}[])" for c in columns
    )
    names = ", ".join(columns)
    sql = (
        f"INSERT INTO {table.name} ({names}) SELECT {', '.join(f'u.{c}' for c in columns)} "
        f"FROM unnest({arrays}) WITH ORDINALITY AS u({names}, n) ORDER BY u.n"
    )
    return text(sql + (" RETURNING id" if returning else ""))


def _by_column(table: Table, rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Each column's values as the column's type binds them on PostgreSQL (`bulk.converter`:
    `Dec` quantised to its scale, `UTCDateTime` in UTC; a `JSON` value as its JSON text,
    None as JSON null like SQLAlchemy's `JSON` type)."""
    out: dict[str, list[Any]] = {}
    for name in rows[0]:
        column_type = table.c[name].type
        values = [row[name] for row in rows]
        if isinstance(column_type, JSON):
            out[name] = [json.dumps(v) for v in values]
        else:
            out[name] = list(map(bulk.converter(column_type, False), values))
    return out


async def _insert_arrays(
    session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]], *, ids: bool = True
) -> list[int]:
    """Insert `rows` (dicts with the same keys) on PostgreSQL in one statement
    (`_array_insert`) and return their new ids in the rows' order: the ids a serial column
    gives rows inserted from one ordered SELECT ascend in that order (the assumption
    SQLAlchemy's own "insertmanyvalues" makes for PostgreSQL, `ANY_AUTOINCREMENT`)."""
    statement = _array_insert(table, tuple(rows[0]), ids)
    result = await session.execute(statement, _by_column(table, rows))
    return sorted(result.scalars()) if ids else []


async def _audit(
    session: AsyncSession,
    submissions: Sequence[Submission],
    accepted: list[_Accepted],
    ids: list[int],
) -> None:
    entries = [
        audit.row(
            submissions[a.index].actor,
            "place",
            "order",
            order_id,
            interval_id=a.interval.id,
            side=a.row["side"],
            quantity_kwh=str(a.row["quantity_kwh"]),
            price=str(a.row["price"]),
            metering_point=a.point.ppe_code,
            client_order_id=a.row["client_order_id"],
        )
        for a, order_id in zip(accepted, ids, strict=True)
        if a.row["standing_order_id"] is None
    ]
    if not entries:
        return
    # The table, not the mapped class: the ORM's bulk insert would collect each row again.
    table = cast(Table, AuditEntry.__table__)
    # `at` as its column default gives it when SQLAlchemy inserts: per row.
    for entry in entries:
        entry["at"] = utcnow()
    if dialect_name(session) == "postgresql":
        # One statement, one array a column (asyncpg's executemany would execute the
        # statement once per row).
        await _insert_arrays(session, table, entries, ids=False)
    else:
        # One executemany of the driver, the values as SQLAlchemy would bind them.
        columns = [c for c in entries[0] if c != "details"]
        rows = [[e[c] for c in columns] + [json.dumps(e["details"])] for e in entries]
        await bulk.insert_rows(session, table, [*columns, "details"], rows)
