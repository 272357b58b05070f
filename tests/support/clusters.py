"""The one builder of test clusters: a `ClusterSpec` (cluster parameters, nodes, lines, the
grid connection, members and their metering points) stored through the models.

The tests' three hand-made markets are specs here, so their numbers stay where the tests'
expected values come from:
- `WEB` (pages, API, live, ops tests and the benchmarks): GPZ → line L1 (100 kW) → S1;
- `MARKET` (domain tests): node A → line L-AB (40 kW) → B;
- `EXPORT` (export tests, with cleared intervals added in `tests.support.exports`): GPZ with
  LV-1 (L1, 100 kW) and LV-2 (L2, 10 kW).
Rows are added in the spec's order, so ids are the same on every backend and in every test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

D = Decimal
KW_1000 = D(1000)


@lru_cache(maxsize=4)
def password_hash(password: str) -> str:
    """Argon2 is slow on purpose: hash each test password once per process."""
    from market.access.passwords import hash_password

    return hash_password(password)


@dataclass(frozen=True)
class NodeSpec:
    code: str
    name: str
    kind: str


@dataclass(frozen=True)
class LineSpec:
    code: str
    from_node: str
    to_node: str
    capacity_kw: Decimal
    name: str | None = None


@dataclass(frozen=True)
class GridSpec:
    node: str
    import_price: Decimal
    export_price: Decimal
    import_limit_kw: Decimal = KW_1000
    export_limit_kw: Decimal = KW_1000


@dataclass(frozen=True)
class MemberSpec:
    login: str
    name: str
    kind: str
    role: str
    show_name: bool = False


@dataclass(frozen=True)
class PointSpec:
    ppe_code: str
    member: str  # login
    node: str  # code
    contracted_power_kw: Decimal
    #: further MeteringPoint columns (pv_kwp, annual_use_kwh, load_profile, name, ...)
    columns: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterSpec:
    cluster: Mapping[str, Any]  # Cluster columns
    nodes: tuple[NodeSpec, ...]
    lines: tuple[LineSpec, ...]
    grid: tuple[GridSpec, ...]
    members: tuple[MemberSpec, ...]
    points: tuple[PointSpec, ...]
    password: str


@dataclass
class Built:
    """Database ids of what `build` stored, by node code, line code, login and PPE code."""

    cluster_id: int
    nodes: dict[str, int]
    lines: dict[str, int]
    members: dict[str, int]
    points: dict[str, int]


async def build(session: AsyncSession, spec: ClusterSpec) -> Built:
    """Add the spec's rows and flush (the caller commits)."""
    from market.access.models import Member
    from market.cluster.models import Cluster
    from market.network.models import GridConnection, Line, MeteringPoint, Node

    cluster = Cluster(**spec.cluster)
    nodes = {n.code: Node(code=n.code, name=n.name, kind=n.kind) for n in spec.nodes}
    session.add_all([cluster, *nodes.values()])
    await session.flush()
    lines = {}
    for ls in spec.lines:
        line = Line(
            code=ls.code,
            from_node_id=nodes[ls.from_node].id,
            to_node_id=nodes[ls.to_node].id,
            capacity_kw=ls.capacity_kw,
        )
        if ls.name is not None:
            line.name = ls.name
        lines[ls.code] = line
    session.add_all(lines.values())
    session.add_all(
        GridConnection(
            node_id=nodes[g.node].id,
            import_price=g.import_price,
            export_price=g.export_price,
            import_limit_kw=g.import_limit_kw,
            export_limit_kw=g.export_limit_kw,
        )
        for g in spec.grid
    )
    hashed = password_hash(spec.password)
    members = {
        m.login: Member(
            name=m.name,
            kind=m.kind,
            role=m.role,
            login=m.login,
            password_hash=hashed,
            show_name=m.show_name,
        )
        for m in spec.members
    }
    session.add_all(members.values())
    await session.flush()
    points = {
        p.ppe_code: MeteringPoint(
            ppe_code=p.ppe_code,
            member_id=members[p.member].id,
            node_id=nodes[p.node].id,
            contracted_power_kw=p.contracted_power_kw,
            **p.columns,
        )
        for p in spec.points
    }
    session.add_all(points.values())
    await session.flush()
    return Built(
        cluster.id,
        {k: v.id for k, v in nodes.items()},
        {k: v.id for k, v in lines.items()},
        {k: v.id for k, v in members.items()},
        {k: v.id for k, v in points.items()},
    )


# The web tests' cluster: members alice (PPE at S1, 10 kW), bob (PPE at GPZ, 40 kW), a
# coordinator and a distributor, all with password `haslo-demo-1`.
WEB_PASSWORD = "haslo-demo-1"
ALICE_PPE = "590543500000000018"
BOB_PPE = "590543500000000025"
WEB = ClusterSpec(
    cluster={
        "name": "Test cluster",
        "coordinator_name": "Coordinator Sp. z o.o.",
        "interval_minutes": 15,
        "gate_closure_minutes": 5,
        "horizon_intervals": 4,
        "price_floor": D("0.2000"),
        "price_cap": D("0.8900"),
    },
    nodes=(NodeSpec("GPZ", "GPZ Test", "gpz"), NodeSpec("S1", "Station 1", "station")),
    lines=(LineSpec("L1", "GPZ", "S1", D(100), name="GPZ–S1"),),
    grid=(GridSpec("GPZ", D("0.8900"), D("0.2000")),),
    members=(
        MemberSpec("alice", "Alicja Nowak", "household", "member"),
        MemberSpec("bob", "Bogdan Kowal", "business", "member"),
        MemberSpec("coord", "Koordynator", "operator", "coordinator"),
        MemberSpec("dso", "PGE Dystrybucja", "operator", "distributor"),
    ),
    points=(
        PointSpec(ALICE_PPE, "alice", "S1", D(10), {"name": "Dom", "pv_kwp": D(8)}),
        PointSpec(BOB_PPE, "bob", "GPZ", D(40), {"name": "Piekarnia"}),
    ),
    password=WEB_PASSWORD,
)

# The domain tests' market: one line of 40 kW (10 kWh per interval) from A to B; the grid at
# A sells at 0.80 and buys at 0.20 PLN/kWh. Alice at B (80 kW), Bob at A (100 kW); Carol
# coordinates, Dave is the distributor.
MARKET_PASSWORD = "correct horse"
MARKET = ClusterSpec(
    cluster={
        "name": "Test cluster",
        "coordinator_name": "Carol",
        "interval_minutes": 15,
        "gate_closure_minutes": 5,
        "horizon_intervals": 4,
        "price_floor": D("0.10"),
        "price_cap": D("0.90"),
        "profile_seed": 7,
    },
    nodes=(NodeSpec("A", "GPZ", "gpz"), NodeSpec("B", "Station B", "station")),
    lines=(LineSpec("L-AB", "A", "B", D(40)),),
    grid=(GridSpec("A", D("0.80"), D("0.20")),),
    members=(
        MemberSpec("alice", "Alice", "household", "member"),
        MemberSpec("bob", "Bob", "business", "member", show_name=True),
        MemberSpec("carol", "Carol", "operator", "coordinator"),
        MemberSpec("dave", "Dave", "operator", "distributor"),
    ),
    points=(
        PointSpec(ALICE_PPE, "alice", "B", D(80), {"pv_kwp": D(8), "annual_use_kwh": D(3000)}),
        PointSpec(
            BOB_PPE,
            "bob",
            "A",
            D(100),
            {"annual_use_kwh": D(40000), "load_profile": "business"},
        ),
    ),
    password=MARKET_PASSWORD,
)

# The export tests' cluster (see tests.support.exports for its cleared intervals).
EXPORT_PASSWORD = WEB_PASSWORD
PPE_A, PPE_B, PPE_C = ALICE_PPE, BOB_PPE, "590543500001234566"
EXPORT = ClusterSpec(
    cluster={
        "name": "Klaster Energii Staszów",
        "registry_number": "KE/001/2026",
        "coordinator_name": "Domat Consulting Sp. z o.o.",
        "timezone": "Europe/Warsaw",
        "interval_minutes": 15,
        "price_floor": D("0.1829"),
        "price_cap": D("0.89"),
    },
    nodes=(
        NodeSpec("GPZ", "GPZ Staszów", "gpz"),
        NodeSpec("LV-1", "Obwód 1", "lv"),
        NodeSpec("LV-2", "Obwód 2", "lv"),
    ),
    lines=(LineSpec("L1", "GPZ", "LV-1", D(100)), LineSpec("L2", "GPZ", "LV-2", D(10))),
    grid=(GridSpec("GPZ", D("0.89"), D("0.1829")),),
    members=(
        MemberSpec("coord", "Koordynator", "operator", "coordinator"),
        MemberSpec("dso", "PGE Dystrybucja", "operator", "distributor"),
        MemberSpec("anna", "Anna Prosument", "household", "member"),
        MemberSpec("bakery", "Piekarnia", "business", "member"),
    ),
    points=(
        PointSpec(PPE_A, "anna", "LV-1", D(20), {"pv_kwp": D(8), "annual_use_kwh": D(3000)}),
        PointSpec(
            PPE_B,
            "bakery",
            "LV-2",
            D(40),
            {"annual_use_kwh": D(30000), "load_profile": "business"},
        ),
        PointSpec(PPE_C, "bakery", "LV-2", D(50), {"pv_kwp": D(50), "load_profile": "none"}),
    ),
    password=EXPORT_PASSWORD,
)
