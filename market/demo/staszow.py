"""The Staszów demo cluster as data: its grid, its members and metering points, and the
reference prices (see ../shared/DOMAIN.md). Deterministic for a random generator's seed;
`market.seed` writes it to the database."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from market.access.models import MemberKind
from market.network.models import LoadProfile, NodeKind, Technology

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


@dataclass
class DemoPoint:
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
    #: What generates here; None: PV when it has PV, else nothing.
    technology: Technology | None = None

    @property
    def generation_technology(self) -> Technology:
        if self.technology is not None:
            return self.technology
        return Technology.PV if self.pv_kwp > 0 else Technology.NONE


def network(
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


def institutions() -> list[DemoPoint]:
    umig = "Urząd Miasta i Gminy Staszów"
    return [
        DemoPoint(
            umig,
            MemberKind.MUNICIPAL,
            "Szkoła Podstawowa nr 2",
            "ST-OGRODOWA",
            120,
            90_000,
            LoadProfile.MUNICIPAL,
            pv_kwp=50,
        ),
        DemoPoint(
            umig, MemberKind.MUNICIPAL, "Ratusz", "ST-RYNEK", 80, 60_000, LoadProfile.MUNICIPAL
        ),
        DemoPoint(
            umig,
            MemberKind.MUNICIPAL,
            "Kryta pływalnia",
            "ST-KOLEJOWA",
            220,
            200_000,
            LoadProfile.FLAT,
        ),
        DemoPoint(
            umig,
            MemberKind.MUNICIPAL,
            "Oświetlenie uliczne",
            "ST-RYNEK",
            90,
            120_000,
            LoadProfile.STREET_LIGHTING,
        ),
        DemoPoint(
            "PGKiM Staszów",
            MemberKind.UTILITY,
            "Oczyszczalnia ścieków",
            "ST-PGKIM",
            450,
            800_000,
            LoadProfile.FLAT,
            pv_kwp=200,
        ),
        DemoPoint(
            "PGKiM Staszów",
            MemberKind.UTILITY,
            "Stacja uzdatniania wody",
            "ST-PGKIM",
            250,
            400_000,
            LoadProfile.FLAT,
        ),
        DemoPoint(
            "ZEC Staszów",
            MemberKind.UTILITY,
            "Ciepłownia – pompy",
            "ST-ZEC",
            600,
            1_500_000,
            LoadProfile.FLAT,
            pv_kwp=500,
        ),
        DemoPoint(
            "ZGOK Rzędów",
            MemberKind.GENERATOR,
            "Silnik gazu składowiskowego",
            "ST-RZEDOW",
            600,
            600_000,
            LoadProfile.FLAT,
            other_kw=500,
            technology=Technology.LANDFILL_GAS,  # renewable (biogas from a landfill)
        ),
        DemoPoint(
            "ENEA Elektrownia Połaniec – OZE",
            MemberKind.GENERATOR,
            "Farma PV 1 MWp",
            "ST-POLANIEC-OZE",
            1000,
            0,
            LoadProfile.NONE,
            pv_kwp=1000,
        ),
        DemoPoint(
            "ENEA Elektrownia Połaniec – OZE",
            MemberKind.STORAGE,
            "Magazyn 1 MW / 2 MWh",
            "ST-POLANIEC-OZE",
            1000,
            0,
            LoadProfile.NONE,
            storage_kwh=2000,
            technology=Technology.STORAGE,  # its discharge is not renewable generation
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


def points(rng: random.Random, total: int, lv_codes: list[str]) -> list[DemoPoint]:
    points = institutions()
    stations = ["ST-RYNEK", "ST-OGRODOWA", "ST-KOLEJOWA", "ST-OSIEK", "ST-RYTWIANY"]
    for k, (name, use_kwh, pv_kw) in enumerate(BUSINESSES):
        points.append(
            DemoPoint(
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
                DemoPoint(
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
                DemoPoint(
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


def band_price(rng: random.Random, low: Decimal, high: Decimal, a: float, b: float) -> Decimal:
    share = Decimal(repr(round(rng.uniform(a, b), 4)))
    return (low + (high - low) * share).quantize(Decimal("0.0001"))
