"""Writing a scenario into a seeded cluster: members and points added with standing orders
like the demo's (forecast sell of the surplus, forecast buy of the deficit, inside the
export–import band), storage units with a charge-at-noon / discharge-at-evening rule, line
capacities and grid prices changed. The caller commits."""

from __future__ import annotations

import random
from decimal import Decimal

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.access.models import Member, MemberKind, Role
from market.cluster.models import Cluster
from market.core.errors import ValidationFailed
from market.demo.staszow import PGE_PREFIX, band_price
from market.members.ppe import make_ppe
from market.network.models import (
    GridConnection,
    Line,
    LoadProfile,
    MeteringPoint,
    Node,
    NodeKind,
    Technology,
)
from market.simulation.scenario import KIND_PROFILE, Scenario
from market.trading.models import StandingMode, StandingOrder

#: PPE numbers of added points start here (the seed's stay below 3,300,000,000).
PPE_BASE = 3_900_000_000
BATCH = 2000


async def apply_scenario(session: AsyncSession, scenario: Scenario, seed: int) -> int:
    """Apply `scenario` to the seeded cluster; returns the metering points added."""
    rng = random.Random(f"klaster-scenario:{seed}:{scenario.name}")
    cluster = await session.scalar(select(Cluster).limit(1))
    assert cluster is not None
    nodes = dict((await session.execute(select(Node.code, Node.id))).all())
    lv = [
        nid
        for code, nid, kind in await session.execute(
            select(Node.code, Node.id, Node.kind).order_by(Node.id)
        )
        if kind == NodeKind.LV.value
    ]
    for k, change in enumerate(scenario.lines):
        result = await session.execute(
            update(Line).where(Line.code == change.line).values(capacity_kw=change.capacity_kw)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ValidationFailed(f"lines[{k}].line", "unknown line %(value)s", value=change.line)
    prices = scenario.prices
    if prices.import_pln_per_kwh is not None:
        await session.execute(update(GridConnection).values(import_price=prices.import_pln_per_kwh))
        cluster.price_cap = prices.import_pln_per_kwh
    if prices.export_pln_per_kwh is not None:
        await session.execute(update(GridConnection).values(export_price=prices.export_pln_per_kwh))
    conn = await session.scalar(select(GridConnection).limit(1))
    assert conn is not None
    low, high = Decimal(conn.export_price), Decimal(conn.import_price)
    password = await session.scalar(select(Member.password_hash).limit(1))

    def node_of(code: str | None, where: str, n: int) -> int:
        if code is None:
            return lv[n % len(lv)]
        if code not in nodes:
            raise ValidationFailed(where, "unknown node %(value)s", value=code)
        return int(nodes[code])

    # (kind, name, node id, point fields)
    planned: list[tuple[str, str, int, dict[str, object]]] = []
    for k, g in enumerate(scenario.add_members):
        profile = KIND_PROFILE[g.kind]
        for n in range(g.count):
            use = g.annual_use_kwh
            contracted = max(Decimal(5), g.pv_kwp, (use / 8760 * 4).quantize(Decimal("0.1")))
            planned.append(
                (
                    g.kind,
                    f"{g.kind} {k + 1}.{n + 1}",
                    node_of(g.node, f"add_members[{k}].node", len(planned)),
                    {
                        "contracted_power_kw": contracted,
                        "pv_kwp": g.pv_kwp,
                        "other_generation_kw": Decimal(0),
                        "storage_kwh": Decimal(0),
                        "annual_use_kwh": use,
                        "load_profile": profile.value,
                        "technology": (Technology.PV if g.pv_kwp > 0 else Technology.NONE).value,
                    },
                )
            )
    for k, u in enumerate(scenario.storage):
        for n in range(u.count):
            planned.append(
                (
                    MemberKind.STORAGE.value,
                    f"storage {k + 1}.{n + 1}",
                    node_of(u.node, f"storage[{k}].node", len(planned)),
                    {
                        "contracted_power_kw": u.power_kw,
                        "pv_kwp": Decimal(0),
                        "other_generation_kw": Decimal(0),
                        "storage_kwh": u.capacity_kwh,
                        "annual_use_kwh": Decimal(0),
                        "load_profile": LoadProfile.NONE.value,
                        "technology": Technology.STORAGE.value,
                    },
                )
            )
    if not planned:
        return 0
    start = 0  # logins s000000…: the seed's are m0001…, prosument, koordynator, dystrybutor
    for b in range(0, len(planned), BATCH):
        chunk = planned[b : b + BATCH]
        await session.execute(
            insert(Member),
            [
                {
                    "name": name,
                    "kind": kind,
                    "role": Role.MEMBER.value,
                    "login": f"s{start + b + j:06d}",
                    "password_hash": password,
                    "active": True,
                    "show_name": False,
                    "email": None,
                }
                for j, (kind, name, _node, _fields) in enumerate(chunk)
            ],
        )
    ids = dict(
        (
            await session.execute(select(Member.login, Member.id).where(Member.login.like("s%")))
        ).all()
    )
    point_rows = []
    for j, (_kind, name, node_id, fields) in enumerate(planned):
        point_rows.append(
            {
                "ppe_code": make_ppe(PGE_PREFIX, PPE_BASE + 7919 * j),
                "member_id": ids[f"s{start + j:06d}"],
                "node_id": node_id,
                "name": name,
                "note": None,
                "active": True,
                **fields,
            }
        )
    for b in range(0, len(point_rows), BATCH):
        await session.execute(insert(MeteringPoint), point_rows[b : b + BATCH])
    added = (
        await session.execute(
            select(
                MeteringPoint.id,
                MeteringPoint.member_id,
                MeteringPoint.pv_kwp,
                MeteringPoint.annual_use_kwh,
                MeteringPoint.storage_kwh,
                MeteringPoint.contracted_power_kw,
            )
            .where(MeteringPoint.ppe_code.in_([r["ppe_code"] for r in point_rows]))
            .order_by(MeteringPoint.id)
        )
    ).all()
    minutes = cluster.interval_minutes
    rules: list[dict[str, object]] = []
    for pid, mid, pv, use, storage, contracted in added:
        base = {
            "member_id": mid,
            "metering_point_id": pid,
            "weekdays": "1234567",
            "valid_from": None,
            "valid_to": None,
            "paused": False,
        }
        if storage > 0:
            cycle = (contracted * minutes / 60 * Decimal("0.8")).quantize(Decimal("0.001"))
            for side, (a, b_), (h0, h1) in (
                ("buy", (0.05, 0.2), (10, 14)),
                ("sell", (0.5, 0.8), (17, 21)),
            ):
                rules.append(
                    base
                    | {
                        "side": side,
                        "mode": StandingMode.FIXED.value,
                        "quantity_kwh": cycle,
                        "price": band_price(rng, low, high, a, b_),
                        "hour_from": h0,
                        "hour_to": h1,
                    }
                )
            continue
        if pv > 0:
            rules.append(
                base
                | {
                    "side": "sell",
                    "mode": StandingMode.FORECAST.value,
                    "quantity_kwh": None,
                    "price": band_price(rng, low, high, 0.0, 0.3),
                    "hour_from": 0,
                    "hour_to": 24,
                }
            )
        if use > 0:
            rules.append(
                base
                | {
                    "side": "buy",
                    "mode": StandingMode.FORECAST.value,
                    "quantity_kwh": None,
                    "price": band_price(rng, low, high, 0.35, 0.95),
                    "hour_from": 0,
                    "hour_to": 24,
                }
            )
    for b in range(0, len(rules), BATCH):
        await session.execute(insert(StandingOrder), rules[b : b + BATCH])
    return len(point_rows)
