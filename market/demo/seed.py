"""Demo data: the Staszów energy cluster (see ../shared/DOMAIN.md), deterministic for a seed.

GPZ Staszów (110/15 kV) feeds a town cable feeder (8 MVA) and a rural overhead feeder
(6 MVA); MV/LV stations (100–1,600 kVA) hang off them and households sit on LV circuits
(140 kVA). About 75 metering points: the municipality's buildings, PGKiM (water and
housing), ZEC (district heating), ZGOK Rzędów (landfill gas), the power plant's PV farm and
battery, businesses, households with and without PV. `members=N` scales the households up to
N metering points in total (benchmarks). Every member gets a login (`m0001`…) with the demo
password; three named logins are documented in docs/demo.md.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.access import audit
from market.access.models import Member, MemberKind, Role
from market.access.passwords import hash_password
from market.cluster.models import Cluster
from market.core.clock import Clock
from market.core.errors import Conflict, ValidationFailed
from market.core.settings import DEFAULT_TIMEZONE
from market.demo.staszow import (
    BUSINESSES,
    IMPORT_REFERENCE,
    MIN_MEMBERS,
    PGE_PREFIX,
    PRICE_FLOOR,
    RCEM,
    band_price,
    institutions,
    network,
    points,
)
from market.members.ppe import make_ppe
from market.network.models import GridConnection, Line, MeteringPoint, Node, NodeKind, Technology
from market.network.storage_models import StorageUnit
from market.statutory.models import FeeRate
from market.statutory.rates import DEMO_RATES_2026
from market.trading.day_ahead_models import BlockGroup, Market, StorageOrder
from market.trading.models import StandingMode, StandingOrder

#: Metering points of this contracted power (kW) and more trade their forecast day-ahead.
DAY_AHEAD_KW = Decimal(200)
#: The water utility's pumps: 2 h at 200 kW, starting at a full hour 10:00…16:00.
PUMPS_NAME = "Stacja uzdatniania wody"


async def _seed_day_ahead(
    session: AsyncSession, mps: list[MeteringPoint], *, created: datetime | None
) -> None:
    """Every storage point gets its technical data (the battery: 1 MW / 2 MWh, 95 % each way,
    10 % kept) and a daily storage order; the water utility's pumps a daily block group."""
    when = {"created_at": created} if created is not None else {}
    for mp in mps:
        if mp.technology == Technology.STORAGE.value and mp.storage_kwh > 0:
            power = mp.contracted_power_kw
            session.add(
                StorageUnit(
                    metering_point_id=mp.id,
                    energy_kwh=mp.storage_kwh,
                    charge_kw=power,
                    discharge_kw=power,
                    efficiency_charge=Decimal("0.95"),
                    efficiency_discharge=Decimal("0.95"),
                    soc_min_kwh=(mp.storage_kwh / 10).quantize(Decimal("0.001")),
                )
            )
            session.add(
                StorageOrder(
                    member_id=mp.member_id,
                    metering_point_id=mp.id,
                    local_day=None,
                    daily=True,
                    soc_initial_kwh=(mp.storage_kwh / 2).quantize(Decimal("0.001")),
                    cost_per_kwh=Decimal("0.02"),
                    **when,
                )
            )
        if mp.name == PUMPS_NAME:
            session.add(
                BlockGroup(
                    member_id=mp.member_id,
                    metering_point_id=mp.id,
                    local_day=None,
                    daily=True,
                    name="Pompy: 2 h między 10:00 a 18:00",
                    side="buy",
                    power_kw=Decimal(200),
                    duration_minutes=120,
                    start_from=10 * 60,
                    start_to=16 * 60,
                    start_step_minutes=60,
                    price=Decimal("0.8500"),
                    min_acceptance_ratio=Decimal(1),
                    **when,
                )
            )


DEMO_PASSWORD = "klaster-demo"
DEMO_LOGINS = {
    "prosument": Role.MEMBER,
    "koordynator": Role.COORDINATOR,
    "dystrybutor": Role.DISTRIBUTOR,
}


@dataclass(frozen=True, slots=True)
class SeedReport:
    cluster_id: int
    nodes: int
    lines: int
    members: int
    metering_points: int
    standing_orders: int


async def seed_demo(
    session: AsyncSession,
    *,
    members: int | None = None,
    seed: int = 2026,
    now: datetime | None = None,
    clock: Clock | None = None,
    interval_minutes: int = 15,
) -> SeedReport:
    """Create the Staszów demo cluster in an empty database (the caller commits: a command's
    `unit_of_work`). The export reference (grid buy-back price) is the RCEm of the month of
    `now` (or `clock.now()`)."""
    if now is None and clock is not None:
        now = clock.now()
    total = 75 if members is None else members
    if total < MIN_MEMBERS:
        raise ValidationFailed(
            "members", "at least %(minimum)s metering points", minimum=MIN_MEMBERS
        )
    if interval_minutes not in (15, 60):
        raise ValidationFailed("interval_minutes", "must be 15 or 60")
    if await session.scalar(select(Cluster.id).limit(1)) is not None:
        raise Conflict("cluster", "the database already has a cluster; seed an empty database")
    rng = random.Random(f"klaster-demo:{seed}")
    month = (now or datetime.now()).month
    export_ref = RCEM[month - 1]

    cluster = Cluster(
        name="Klaster Energii Powiatu Staszowskiego",
        registry_number="KE/DEMO/2026",
        coordinator_name="Domat Consulting Sp. z o.o.",
        timezone=DEFAULT_TIMEZONE,
        interval_minutes=interval_minutes,
        gate_closure_minutes=5,
        horizon_intervals=8,
        price_floor=PRICE_FLOOR,
        price_cap=IMPORT_REFERENCE,
        profile_seed=seed,
    )
    session.add(cluster)
    households = max(0, total - len(institutions()) - len(BUSINESSES))
    lv_count = max(5, -(-households // 12))
    node_defs, line_defs = network(lv_count)
    node_rows = [
        {
            "code": c,
            "name": n,
            "kind": k.value,
            "active": True,
            "map_x": None,
            "map_y": None,
        }
        for c, n, k in node_defs
    ]
    await session.execute(insert(Node), node_rows)
    node_id = dict((await session.execute(select(Node.code, Node.id))).all())
    await session.execute(
        insert(Line),
        [
            {
                "code": f"L-{b}",
                "name": f"{a} → {b}",
                "from_node_id": node_id[a],
                "to_node_id": node_id[b],
                "capacity_kw": Decimal(repr(kw)),
                "active": True,
            }
            for a, b, kw in line_defs
        ],
    )
    session.add(
        GridConnection(
            node_id=node_id["GPZ-STASZOW"],
            import_price=IMPORT_REFERENCE,
            export_price=export_ref,
            import_limit_kw=Decimal(40000),
            export_limit_kw=Decimal(40000),
        )
    )

    lv_codes = [c for c, _, k in node_defs if k is NodeKind.LV]
    demo_points = points(rng, total, lv_codes)
    password = hash_password(DEMO_PASSWORD)
    member_names = list(dict.fromkeys(p.member for p in demo_points))
    kinds = {p.member: p.kind for p in demo_points}
    first_household = next(
        p.member for p in demo_points if p.kind is MemberKind.HOUSEHOLD and p.pv_kwp
    )
    member_rows = []
    login_of: dict[str, str] = {}
    for k, name in enumerate(member_names, start=1):
        login = login_of[name] = "prosument" if name == first_household else f"m{k:04d}"
        member_rows.append(
            {
                "name": name.split("#")[0],
                "kind": kinds[name].value,
                "role": Role.MEMBER.value,
                "login": login,
                "password_hash": password,
                "active": True,
                "show_name": kinds[name] is not MemberKind.HOUSEHOLD,
                "email": None,
            }
        )
    member_rows += [
        {
            "name": "Domat Consulting Sp. z o.o. (koordynator)",
            "kind": MemberKind.OPERATOR.value,
            "role": Role.COORDINATOR.value,
            "login": "koordynator",
            "password_hash": password,
            "active": True,
            "show_name": True,
            "email": None,
        },
        {
            "name": "PGE Dystrybucja S.A. (OSD)",
            "kind": MemberKind.OPERATOR.value,
            "role": Role.DISTRIBUTOR.value,
            "login": "dystrybutor",
            "password_hash": password,
            "active": True,
            "show_name": True,
            "email": None,
        },
    ]
    await session.execute(insert(Member), member_rows)
    by_login = dict((await session.execute(select(Member.login, Member.id))).all())
    member_id = {key: by_login[login] for key, login in login_of.items()}

    mp_rows = []
    for k, p in enumerate(demo_points):
        mp_rows.append(
            {
                "ppe_code": make_ppe(PGE_PREFIX, 3_100_000_000 + 7919 * k),
                "member_id": member_id[p.member],
                "node_id": node_id[p.node],
                "name": p.name,
                "contracted_power_kw": Decimal(repr(round(p.contracted_kw, 1))),
                "pv_kwp": Decimal(repr(p.pv_kwp)),
                "other_generation_kw": Decimal(repr(p.other_kw)),
                "storage_kwh": Decimal(repr(p.storage_kwh)),
                "annual_use_kwh": Decimal(repr(float(p.annual_kwh))),
                "load_profile": p.profile.value,
                "technology": p.generation_technology.value,
                "note": None,
                "active": True,
            }
        )
    for k in range(0, len(mp_rows), 2000):
        await session.execute(insert(MeteringPoint), mp_rows[k : k + 2000])
    mps = (await session.execute(select(MeteringPoint))).scalars().all()

    # Simulated participants: surplus offered and deficits bid inside the export-import band.
    # The large ones (DAY_AHEAD_KW and more) trade their forecast day-ahead; the others in
    # each interval's (intraday) auction.
    low, high = export_ref, IMPORT_REFERENCE
    rules = []
    for mp in mps:
        market = (
            Market.DAY_AHEAD.value
            if mp.contracted_power_kw >= DAY_AHEAD_KW
            else Market.INTRADAY.value
        )
        base = {
            "member_id": mp.member_id,
            "metering_point_id": mp.id,
            "weekdays": "1234567",
            "valid_from": None,
            "valid_to": None,
            "paused": False,
            "market": market,
        }
        if mp.technology == Technology.STORAGE.value:
            continue  # scheduled by the day-ahead auction (`_seed_day_ahead`)
        if mp.pv_kwp > 0 or mp.other_generation_kw > 0:
            rules.append(
                base
                | {
                    "side": "sell",
                    "mode": StandingMode.FORECAST.value,
                    "quantity_kwh": None,
                    # Large generators take any price above the floor (the grid buys what
                    # the cluster does not); small producers ask inside the band.
                    "price": PRICE_FLOOR
                    if mp.pv_kwp >= 500 or mp.other_generation_kw > 0
                    else band_price(rng, low, high, 0.0, 0.3),
                    "hour_from": 0,
                    "hour_to": 24,
                }
            )
        if mp.annual_use_kwh > 0:
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
    for k in range(0, len(rules), 2000):
        await session.execute(insert(StandingOrder), rules[k : k + 2000])
    await _seed_day_ahead(session, list(mps), created=now)
    session.add_all(
        FeeRate(
            fee=r.fee.value,
            tariff_group=r.tariff_group,
            rate_pln_per_kwh=r.rate_pln_per_kwh,
            valid_from=r.valid_from,
            valid_to=r.valid_to,
            note=r.note,
        )
        for r in DEMO_RATES_2026
    )
    await session.flush()
    audit.record(
        session,
        None,
        "seed",
        "cluster",
        cluster.id,
        members=len(member_rows),
        metering_points=len(mp_rows),
        seed=seed,
    )
    await session.flush()
    return SeedReport(
        cluster.id, len(node_rows), len(line_defs), len(member_rows), len(mp_rows), len(rules)
    )
