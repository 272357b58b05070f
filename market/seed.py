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

from market import audit
from market.clock import Clock
from market.errors import Conflict, ValidationFailed
from market.models import (
    Cluster,
    GridConnection,
    Line,
    LoadProfile,
    Member,
    MemberKind,
    MeteringPoint,
    Node,
    NodeKind,
    Role,
    StandingMode,
    StandingOrder,
)
from market.passwords import hash_password
from market.ppe import make_ppe

DEMO_PASSWORD = "klaster-demo"
DEMO_LOGINS = {
    "prosument": Role.MEMBER,
    "koordynator": Role.COORDINATOR,
    "dystrybutor": Role.DISTRIBUTOR,
}
PGE_PREFIX = "5905435"
IMPORT_REFERENCE = Decimal("0.8900")
#: RCEm 2025 (PLN/kWh) by month; months marked * are estimates inside the published range.
RCEM = (
    Decimal("0.4800"),
    Decimal("0.4420"),
    Decimal("0.1830"),
    Decimal("0.1632"),
    Decimal("0.2000"),  # * May
    Decimal("0.1363"),
    Decimal("0.2000"),
    Decimal("0.2200"),
    Decimal("0.2700"),
    Decimal("0.3300"),  # * Jul-Oct
    Decimal("0.3829"),
    Decimal("0.4661"),
)
MIN_MEMBERS = 20
#: Just under the lowest monthly RCEm, so the floor never ties with the grid's export price.
PRICE_FLOOR = Decimal("0.1300")


@dataclass(frozen=True, slots=True)
class SeedReport:
    cluster_id: int
    nodes: int
    lines: int
    members: int
    metering_points: int
    standing_orders: int


@dataclass
class _Point:
    member: str  # a key: points with the same key belong to one member
    kind: MemberKind
    name: str
    node: str
    contracted_kw: float
    annual_kwh: float
    profile: LoadProfile
    pv_kwp: float = 0.0
    other_kw: float = 0.0
    storage_kwh: float = 0.0


def _network(
    lv_circuits: int,
) -> tuple[list[tuple[str, str, NodeKind]], list[tuple[str, str, float]]]:
    """Nodes (code, name, kind) and lines (from, to, capacity kW) of the demo grid."""
    nodes = [
        ("GPZ-STASZOW", "GPZ Staszów 110/15 kV", NodeKind.GPZ),
        ("F1-MIASTO", "Ciąg 15 kV Staszów-miasto (kablowy)", NodeKind.FEEDER),
        ("F2-WIES", "Ciąg 15 kV Rytwiany–Osiek (napowietrzny)", NodeKind.FEEDER),
    ]
    lines = [("GPZ-STASZOW", "F1-MIASTO", 8000.0), ("GPZ-STASZOW", "F2-WIES", 6000.0)]
    stations = [
        ("ST-RYNEK", "Stacja Rynek", "F1-MIASTO", 400.0),
        ("ST-OGRODOWA", "Stacja Ogrodowa", "F1-MIASTO", 630.0),
        ("ST-KOLEJOWA", "Stacja Kolejowa", "F1-MIASTO", 250.0),
        ("ST-ZEC", "Stacja ZEC Staszów", "F1-MIASTO", 630.0),
        ("ST-PGKIM", "Stacja PGKiM (oczyszczalnia)", "F1-MIASTO", 630.0),
        ("ST-RYTWIANY", "Stacja Rytwiany", "F2-WIES", 160.0),
        ("ST-OSIEK", "Stacja Osiek", "F2-WIES", 250.0),
        ("ST-RZEDOW", "Stacja ZGOK Rzędów", "F2-WIES", 630.0),
        ("ST-POLANIEC-OZE", "Stacja farmy PV Połaniec", "F2-WIES", 800.0),
    ]
    for code, name, parent, kva in stations:
        nodes.append((code, name, NodeKind.STATION))
        lines.append((parent, code, kva))
    hosts = ["ST-RYNEK", "ST-OGRODOWA", "ST-RYTWIANY", "ST-OSIEK", "ST-KOLEJOWA"]
    for k in range(lv_circuits):
        host = hosts[k % len(hosts)]
        code = f"LV-{host[3:]}-{k // len(hosts) + 1}"
        nodes.append((code, f"Obwód nN {code[3:]}", NodeKind.LV))
        lines.append((host, code, 140.0))
    return nodes, lines


def _institutions() -> list[_Point]:
    umig = "Urząd Miasta i Gminy Staszów"
    return [
        _Point(
            umig,
            MemberKind.MUNICIPAL,
            "Szkoła Podstawowa nr 2",
            "ST-OGRODOWA",
            120,
            90_000,
            LoadProfile.MUNICIPAL,
            pv_kwp=50,
        ),
        _Point(umig, MemberKind.MUNICIPAL, "Ratusz", "ST-RYNEK", 80, 60_000, LoadProfile.MUNICIPAL),
        _Point(
            umig,
            MemberKind.MUNICIPAL,
            "Kryta pływalnia",
            "ST-KOLEJOWA",
            220,
            200_000,
            LoadProfile.FLAT,
        ),
        _Point(
            umig,
            MemberKind.MUNICIPAL,
            "Oświetlenie uliczne",
            "ST-RYNEK",
            90,
            120_000,
            LoadProfile.STREET_LIGHTING,
        ),
        _Point(
            "PGKiM Staszów",
            MemberKind.UTILITY,
            "Oczyszczalnia ścieków",
            "ST-PGKIM",
            450,
            800_000,
            LoadProfile.FLAT,
            pv_kwp=200,
        ),
        _Point(
            "PGKiM Staszów",
            MemberKind.UTILITY,
            "Stacja uzdatniania wody",
            "ST-PGKIM",
            250,
            400_000,
            LoadProfile.FLAT,
        ),
        _Point(
            "ZEC Staszów",
            MemberKind.UTILITY,
            "Ciepłownia – pompy",
            "ST-ZEC",
            600,
            1_500_000,
            LoadProfile.FLAT,
            pv_kwp=500,
        ),
        _Point(
            "ZGOK Rzędów",
            MemberKind.GENERATOR,
            "Silnik gazu składowiskowego",
            "ST-RZEDOW",
            600,
            600_000,
            LoadProfile.FLAT,
            other_kw=500,
        ),
        _Point(
            "ENEA Elektrownia Połaniec – OZE",
            MemberKind.GENERATOR,
            "Farma PV 1 MWp",
            "ST-POLANIEC-OZE",
            1000,
            0,
            LoadProfile.NONE,
            pv_kwp=1000,
        ),
        _Point(
            "ENEA Elektrownia Połaniec – OZE",
            MemberKind.STORAGE,
            "Magazyn 1 MW / 2 MWh",
            "ST-POLANIEC-OZE",
            1000,
            0,
            LoadProfile.NONE,
            storage_kwh=2000,
        ),
    ]


BUSINESSES = (
    ("Sklep spożywczy „Pod Lipami”", 25_000, 0),
    ("Piekarnia Staszowska", 60_000, 40),
    ("Warsztat samochodowy", 20_000, 0),
    ("Gospodarstwo rolne – chłodnia", 45_000, 50),
    ("Apteka przy Rynku", 15_000, 0),
    ("Stolarnia", 35_000, 20),
    ("Hotel „Staszów”", 55_000, 0),
    ("Market budowlany", 50_000, 0),
)
FIRST = (
    "Anna",
    "Jan",
    "Maria",
    "Piotr",
    "Katarzyna",
    "Andrzej",
    "Magdalena",
    "Tomasz",
    "Agnieszka",
    "Krzysztof",
    "Ewa",
    "Paweł",
    "Barbara",
    "Michał",
    "Zofia",
    "Marek",
)
LAST = (
    "Kowalsk",
    "Nowak",
    "Wiśniewsk",
    "Wójcik",
    "Kamińsk",
    "Lewandowsk",
    "Zielińsk",
    "Szymańsk",
    "Dąbrowsk",
    "Kozieł",
    "Mazur",
    "Krawczyk",
    "Piątek",
    "Grabowsk",
)


def _surname(first: str, stem: str) -> str:
    if stem.endswith("sk"):
        return stem + ("a" if first.endswith("a") else "i")
    return stem


def _points(rng: random.Random, total: int, lv_codes: list[str]) -> list[_Point]:
    points = _institutions()
    stations = ["ST-RYNEK", "ST-OGRODOWA", "ST-KOLEJOWA", "ST-OSIEK", "ST-RYTWIANY"]
    for k, (name, use_kwh, pv_kw) in enumerate(BUSINESSES):
        points.append(
            _Point(
                name,
                MemberKind.BUSINESS,
                name,
                stations[k % len(stations)],
                max(40.0, use_kwh / 600),
                use_kwh,
                LoadProfile.BUSINESS,
                pv_kwp=pv_kw,
            )
        )
    households = max(0, total - len(points))
    for k in range(households):
        first = FIRST[rng.randrange(len(FIRST))]
        person = f"{first} {_surname(first, LAST[rng.randrange(len(LAST))])}"
        name = f"{person}#{k + 1}"
        node = lv_codes[k % len(lv_codes)]
        if k % 11 < 8:  # about 8 in 11 households have PV (40 of 55 at the default size)
            pv = rng.choice((4.0, 5.5, 6.5, 8.0, 9.0, 10.0))
            use = rng.uniform(2000, 4500)
            points.append(
                _Point(
                    name,
                    MemberKind.HOUSEHOLD,
                    f"Dom – {person}",
                    node,
                    max(11.0, pv + 2),
                    round(use),
                    LoadProfile.HOUSEHOLD,
                    pv_kwp=pv,
                )
            )
        else:
            use = rng.uniform(1500, 3000)
            points.append(
                _Point(
                    name,
                    MemberKind.HOUSEHOLD,
                    f"Mieszkanie – {person}",
                    node,
                    9.0,
                    round(use),
                    LoadProfile.HOUSEHOLD,
                )
            )
    return points


def _band_price(rng: random.Random, low: Decimal, high: Decimal, a: float, b: float) -> Decimal:
    share = Decimal(repr(round(rng.uniform(a, b), 4)))
    return (low + (high - low) * share).quantize(Decimal("0.0001"))


async def seed_demo(
    session: AsyncSession,
    *,
    members: int | None = None,
    seed: int = 2026,
    now: datetime | None = None,
    clock: Clock | None = None,
    interval_minutes: int = 15,
) -> SeedReport:
    """Create the Staszów demo cluster in an empty database and commit. The export
    reference (grid buy-back price) is the RCEm of the month of `now` (or `clock.now()`)."""
    if now is None and clock is not None:
        now = clock.now()
    total = 75 if members is None else members
    if total < MIN_MEMBERS:
        raise ValidationFailed("members", f"at least {MIN_MEMBERS} metering points")
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
        timezone="Europe/Warsaw",
        interval_minutes=interval_minutes,
        gate_closure_minutes=5,
        horizon_intervals=8,
        price_floor=PRICE_FLOOR,
        price_cap=IMPORT_REFERENCE,
        profile_seed=seed,
    )
    session.add(cluster)
    households = max(0, total - len(_institutions()) - len(BUSINESSES))
    lv_count = max(5, -(-households // 12))
    node_defs, line_defs = _network(lv_count)
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
    points = _points(rng, total, lv_codes)
    password = hash_password(DEMO_PASSWORD)
    member_names = list(dict.fromkeys(p.member for p in points))
    kinds = {p.member: p.kind for p in points}
    first_household = next(p.member for p in points if p.kind is MemberKind.HOUSEHOLD and p.pv_kwp)
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
    for k, p in enumerate(points):
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
                "note": None,
                "active": True,
            }
        )
    for k in range(0, len(mp_rows), 2000):
        await session.execute(insert(MeteringPoint), mp_rows[k : k + 2000])
    mps = (await session.execute(select(MeteringPoint))).scalars().all()

    # Simulated participants: surplus offered and deficits bid inside the export-import band.
    low, high = export_ref, IMPORT_REFERENCE
    rules = []
    for mp in mps:
        base = {
            "member_id": mp.member_id,
            "metering_point_id": mp.id,
            "weekdays": "1234567",
            "valid_from": None,
            "valid_to": None,
            "paused": False,
        }
        if mp.storage_kwh > 0:
            cycle = (mp.contracted_power_kw * interval_minutes / 60 * Decimal("0.8")).quantize(
                Decimal("0.001")
            )
            rules.append(
                base
                | {
                    "side": "buy",
                    "mode": StandingMode.FIXED.value,
                    "quantity_kwh": cycle,
                    "price": _band_price(rng, low, high, 0.05, 0.2),
                    "hour_from": 10,
                    "hour_to": 14,
                }
            )
            rules.append(
                base
                | {
                    "side": "sell",
                    "mode": StandingMode.FIXED.value,
                    "quantity_kwh": cycle,
                    "price": _band_price(rng, low, high, 0.5, 0.8),
                    "hour_from": 17,
                    "hour_to": 21,
                }
            )
            continue
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
                    else _band_price(rng, low, high, 0.0, 0.3),
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
                    "price": _band_price(rng, low, high, 0.35, 0.95),
                    "hour_from": 0,
                    "hour_to": 24,
                }
            )
    for k in range(0, len(rules), 2000):
        await session.execute(insert(StandingOrder), rules[k : k + 2000])
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
    await session.commit()
    return SeedReport(
        cluster.id, len(node_rows), len(line_defs), len(member_rows), len(mp_rows), len(rules)
    )
