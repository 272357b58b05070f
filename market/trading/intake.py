"""Group commit for order submissions (written by the web helper for the API's speed target).

`place_orders` places many orders in one transaction: the same checks in the same order with
the same messages as `market.orders.place_order` (it calls the same rule functions), but the
cluster, the metering points and each interval are read once per batch and there is one
commit. A submission that breaks a rule gets its own error and does not affect the others.
If anything else goes wrong (a unique-key race on a client order id, a gate closing during the
batch) the caller retries each submission alone through `place_order`, so the outcome is what
one-by-one placement would give.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from market.access.actor import Actor
from market.access.models import AuditEntry
from market.cluster.models import Cluster
from market.cluster.service import get_cluster
from market.core.clock import Clock
from market.core.errors import KlasterError
from market.db import sqlite_driver
from market.db.engine import insert_returning_ids
from market.network.models import MeteringPoint, Node
from market.trading.models import Interval, Order
from market.trading.orders import (
    OrderView,
    _check_open,
    _event,
    _for_share,
    _interval_key,
    _still_open,
    _view_of,
    open_order_row,
    placed_entry,
)
from market.trading.rules import (
    check_deliverable,
    check_own_point,
    parse_client_order_id,
    parse_price,
    parse_quantity,
    parse_side,
    point_key,
)

Outcome = OrderView | KlasterError
#: The cluster's row (`get_cluster`'s), as something to join: built once, not per batch.
FIRST_CLUSTER = aliased(Cluster, select(Cluster).order_by(Cluster.id).limit(1).subquery())
#: Client-order-id lookups per statement (SQLite allows 500 terms in a compound SELECT).
LOOKUPS_PER_STATEMENT = 256
#: What a newly placed order has in the columns its row does not set.
NOT_CLEARED = {"accepted_kwh": None, "clearing_price": None, "amount_pln": None}


def _lookup_size(n: int) -> int:
    """`n` rounded up to a power of two (at most `LOOKUPS_PER_STATEMENT`): few statement
    shapes, so few compilations and prepared statements."""
    return min(LOOKUPS_PER_STATEMENT, 1 << max(0, n - 1).bit_length())


@functools.cache
def _lookup_statement(size: int) -> Any:
    """`size` lookups of an order by (member_id, client_order_id) as one UNION ALL, with
    bound parameters m0, c0, m1, c1, ...; built once per size."""
    lookups = [
        select(Order).where(
            Order.member_id == bindparam(f"m{i}"), Order.client_order_id == bindparam(f"c{i}")
        )
        for i in range(size)
    ]
    return select(Order).from_statement(lookups[0] if size == 1 else union_all(*lookups))


def _ids(raws: Iterable[object]) -> set[int]:
    """The ids among `raws` (the rest get their error when their submission is checked)."""
    ids = set()
    for raw in raws:
        with contextlib.suppress(ValueError):
            ids.add(int(str(raw)))
    return ids


async def place_orders(
    session: AsyncSession, clock: Clock, submissions: Sequence[tuple[Actor, dict[str, Any]]]
) -> tuple[list[Outcome], list[dict[str, object]]]:
    """Place the submissions in one transaction (committed here). Returns each submission's
    order view or rule error, and one order-book event per interval that changed. Raises on
    anything that is not a rule error (the transaction is rolled back)."""
    try:
        with sqlite_driver.inline():  # short statements only: no trips to a thread
            return await _place(session, clock, submissions)
    except BaseException:
        await session.rollback()
        raise


async def _place(
    session: AsyncSession, clock: Clock, submissions: Sequence[tuple[Actor, dict[str, Any]]]
) -> tuple[list[Outcome], list[dict[str, object]]]:
    outcomes: list[Outcome | None] = [None] * len(submissions)
    # The cluster (price limits) and the points named, with their nodes, in one statement:
    # the cluster's one row LEFT JOIN the points.
    point_ids = _ids(f.get("metering_point_id") for _, f in submissions)
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
    cluster = joined[0][0]
    points = {mp.id: mp for _, mp, _ in joined if mp is not None}
    nodes = {nd.id: nd for _, _, nd in joined if nd is not None}
    now = clock.now()
    # And every interval named, in one statement (FOR SHARE, as `place_order` does).
    interval_ids = _ids(f.get("interval_id") for _, f in submissions)
    loaded = {iv.id: iv for iv in await session.scalars(_for_share(interval_ids))}
    # Client order ids already used (a retry returns the order placed the first time).
    wanted: dict[tuple[int, str], int] = {}
    for i, (actor, fields) in enumerate(submissions):
        try:
            cid = parse_client_order_id(fields.get("client_order_id"))
        except KlasterError as exc:
            outcomes[i] = exc
            continue
        if cid is not None:
            wanted.setdefault((actor.member_id, cid), i)
    existing: dict[tuple[int, str], Order] = {}
    if wanted:
        # One equality lookup on the unique (member_id, client_order_id) index per pair. (As
        # `member_id IN ... AND client_order_id IN ...`, PostgreSQL's generic plan could
        # choose the member_id index and filter all of a member's orders, more with each.)
        pairs = list(wanted)
        rows: list[Order] = []
        for k in range(0, len(pairs), LOOKUPS_PER_STATEMENT):
            chunk = pairs[k : k + LOOKUPS_PER_STATEMENT]
            size = _lookup_size(len(chunk))
            chunk += [chunk[-1]] * (size - len(chunk))  # a repeat finds the same row
            params: dict[str, object] = {f"m{i}": m for i, (m, _) in enumerate(chunk)}
            params |= {f"c{i}": c for i, (_, c) in enumerate(chunk)}
            rows += (await session.scalars(_lookup_statement(size), params)).all()
        existing = {(o.member_id, str(o.client_order_id)): o for o in rows}
    placed: list[tuple[int, dict[str, object], Interval, MeteringPoint]] = []
    duplicates: list[tuple[int, int]] = []
    for i, (actor, fields) in enumerate(submissions):
        if outcomes[i] is not None:
            continue
        cid = parse_client_order_id(fields.get("client_order_id"))
        if cid is not None:
            key = (actor.member_id, cid)
            if key in existing:
                old = existing[key]
                interval = await session.get(Interval, old.interval_id)
                point = await session.get(MeteringPoint, old.metering_point_id)
                assert interval is not None and point is not None
                node = await session.get(Node, point.node_id)
                assert node is not None
                outcomes[i] = _view_of(old, interval, point, node)
                continue
            if wanted[key] != i:
                duplicates.append((i, wanted[key]))
                continue
        try:
            side = parse_side(fields.get("side"))
            quantity = parse_quantity(fields.get("quantity_kwh"))
            limit_price = parse_price(fields.get("price"), cluster)
            pt_key = point_key(fields.get("metering_point_id"))
            point = check_own_point(points.get(pt_key), pt_key, actor)
            iv_key = _interval_key(fields.get("interval_id"))
            found = _check_open(loaded.get(iv_key), iv_key, now)
            check_deliverable(quantity, point, found.minutes)
        except KlasterError as exc:
            outcomes[i] = exc
            continue
        row = open_order_row(actor, point, found, side, quantity, limit_price, cid, now)
        placed.append((i, row, found, point))
    if placed:
        # Core bulk inserts: the ORM would insert (and fetch the id of) one row at a time.
        new_rows = [row for _, row, _, _ in placed]
        ids = await insert_returning_ids(session, cast(Table, Order.__table__), new_rows)
        await _still_open(session, *{iv.id: iv for _, _, iv, _ in placed}.values())
        entries = []
        for (i, row, interval, point), order_id in zip(placed, ids, strict=True):
            order = SimpleNamespace(id=order_id, **row, **NOT_CLEARED)
            entries.append(placed_entry(submissions[i][0], order, interval, point))
            outcomes[i] = _view_of(order, interval, point, nodes[point.node_id])
        await session.execute(insert(AuditEntry), entries)
        await session.commit()
    for i, first in duplicates:
        outcomes[i] = outcomes[first]
    changed = [_event(iv) for iv in {iv.id: iv for _, _, iv, _ in placed}.values()]
    done = [o for o in outcomes if o is not None]
    assert len(done) == len(submissions)
    return done, changed
