"""A what-if scenario: how the cluster differs from the seeded demo (docs/simulation.md).

One parser (`parse_scenario`) for a TOML or JSON file; every bad value is a
`ValidationFailed` naming the field as a path (`add_members[1].pv_kwp`). The typed result
is a frozen `Scenario`; `market.simulation.apply` writes it into the database.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from market.access.models import MemberKind
from market.core.errors import ValidationFailed
from market.network.models import LoadProfile

#: Member kinds a scenario may add, with the load profile their points get.
KIND_PROFILE = {
    MemberKind.HOUSEHOLD.value: LoadProfile.HOUSEHOLD,
    MemberKind.BUSINESS.value: LoadProfile.BUSINESS,
    MemberKind.MUNICIPAL.value: LoadProfile.MUNICIPAL,
    MemberKind.UTILITY.value: LoadProfile.FLAT,
    MemberKind.GENERATOR.value: LoadProfile.NONE,
}
MAX_POINTS = 20_000


@dataclass(frozen=True, slots=True)
class MemberGroup:
    kind: str
    count: int
    annual_use_kwh: Decimal
    pv_kwp: Decimal
    node: str | None


@dataclass(frozen=True, slots=True)
class StorageUnit:
    capacity_kwh: Decimal
    power_kw: Decimal
    node: str | None
    count: int


@dataclass(frozen=True, slots=True)
class LineChange:
    line: str  # the line's code, e.g. L-FEEDER-RURAL
    capacity_kw: Decimal


@dataclass(frozen=True, slots=True)
class Prices:
    import_pln_per_kwh: Decimal | None = None
    export_pln_per_kwh: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str = ""
    #: Metering points of the seeded demo cluster (75: the founding members).
    base_points: int = 75
    add_members: tuple[MemberGroup, ...] = ()
    storage: tuple[StorageUnit, ...] = ()
    lines: tuple[LineChange, ...] = ()
    prices: Prices = field(default_factory=Prices)
    #: Relative standard deviation of the metered value against the forecast.
    load_error: Decimal = Decimal("0.10")
    pv_error: Decimal = Decimal("0.20")


BASELINE = Scenario("demo")

_TOP = (
    "name",
    "description",
    "base_points",
    "add_members",
    "storage",
    "lines",
    "prices",
    "forecast_error",
)


def _unknown(data: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in allowed:
            raise ValidationFailed(
                f"{where}{key}",
                "unknown field; expected one of %(choices)s",
                choices=", ".join(allowed),
            )


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationFailed(where, "must be a table (an object)")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValidationFailed(where, "must be a list of tables (objects)")
    return value


def _text(value: object, where: str, limit: int = 200) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise ValidationFailed(where, "must be text of at most %(max)s characters", max=limit)
    return value


def _int(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationFailed(
            where, "must be a whole number between %(min)s and %(max)s", min=low, max=high
        )
    return value


def _dec(value: object, where: str, low: Decimal, high: Decimal) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationFailed(
            where, "must be a number between %(min)s and %(max)s", min=low, max=high
        )
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or not low <= number <= high:
        raise ValidationFailed(
            where, "must be a number between %(min)s and %(max)s", min=low, max=high
        )
    return number


def _node(data: dict[str, Any], where: str) -> str | None:
    return None if data.get("node") is None else _text(data["node"], where + "node", 40)


def parse_scenario(data: object) -> Scenario:
    """The scenario from its parsed document (see docs/simulation.md)."""
    doc = _table(data, "scenario")
    _unknown(doc, _TOP, "")
    name = _text(doc.get("name", "scenario"), "name")
    groups = []
    for k, raw in enumerate(_list(doc.get("add_members", []), "add_members")):
        where = f"add_members[{k}]."
        g = _table(raw, where[:-1])
        _unknown(g, ("kind", "count", "annual_use_kwh", "pv_kwp", "node"), where)
        kind = g.get("kind")
        if kind not in KIND_PROFILE:
            raise ValidationFailed(
                where + "kind",
                "unknown value %(value)s; use one of %(choices)s",
                value=str(kind),
                choices=", ".join(KIND_PROFILE),
            )
        groups.append(
            MemberGroup(
                str(kind),
                _int(g.get("count"), where + "count", 1, MAX_POINTS),
                _dec(
                    g.get("annual_use_kwh", 0),
                    where + "annual_use_kwh",
                    Decimal(0),
                    Decimal(100_000_000),
                ),
                _dec(g.get("pv_kwp", 0), where + "pv_kwp", Decimal(0), Decimal(100_000)),
                _node(g, where),
            )
        )
    units = []
    for k, raw in enumerate(_list(doc.get("storage", []), "storage")):
        where = f"storage[{k}]."
        s = _table(raw, where[:-1])
        _unknown(s, ("capacity_kwh", "power_kw", "node", "count"), where)
        units.append(
            StorageUnit(
                _dec(s.get("capacity_kwh"), where + "capacity_kwh", Decimal(1), Decimal(1_000_000)),
                _dec(s.get("power_kw"), where + "power_kw", Decimal(1), Decimal(100_000)),
                _node(s, where),
                _int(s.get("count", 1), where + "count", 1, 1000),
            )
        )
    lines = []
    for k, raw in enumerate(_list(doc.get("lines", []), "lines")):
        where = f"lines[{k}]."
        ln = _table(raw, where[:-1])
        _unknown(ln, ("line", "capacity_kw"), where)
        lines.append(
            LineChange(
                _text(ln.get("line"), where + "line", 40),
                _dec(ln.get("capacity_kw"), where + "capacity_kw", Decimal(1), Decimal(10_000_000)),
            )
        )
    p = _table(doc.get("prices", {}), "prices")
    _unknown(p, ("import_pln_per_kwh", "export_pln_per_kwh"), "prices.")
    prices = Prices(
        *(
            None if p.get(key) is None else _dec(p[key], f"prices.{key}", Decimal(0), Decimal(10))
            for key in ("import_pln_per_kwh", "export_pln_per_kwh")
        )
    )
    if (
        prices.import_pln_per_kwh is not None
        and prices.export_pln_per_kwh is not None
        and prices.export_pln_per_kwh > prices.import_pln_per_kwh
    ):
        raise ValidationFailed(
            "prices.export_pln_per_kwh",
            "must not exceed the import price %(price)s",
            price=prices.import_pln_per_kwh,
        )
    err = _table(doc.get("forecast_error", {}), "forecast_error")
    _unknown(err, ("load", "pv"), "forecast_error.")
    base = _int(doc.get("base_points", 75), "base_points", 20, MAX_POINTS)
    added = sum(g.count for g in groups) + sum(u.count for u in units)
    if base + added > MAX_POINTS:
        raise ValidationFailed(
            "add_members", "the scenario has more than %(max)s metering points", max=MAX_POINTS
        )
    return Scenario(
        name=name,
        description=_text(doc.get("description", ""), "description", 2000),
        base_points=base,
        add_members=tuple(groups),
        storage=tuple(units),
        lines=tuple(lines),
        prices=prices,
        load_error=_dec(err.get("load", "0.10"), "forecast_error.load", Decimal(0), Decimal(1)),
        pv_error=_dec(err.get("pv", "0.20"), "forecast_error.pv", Decimal(0), Decimal(1)),
    )


#: Shipped scenarios, by name (`klaster simulate --scenario founding`).
SCENARIO_DIR = Path(__file__).resolve().parent.parent / "demo" / "scenarios"


def shipped_scenarios() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.json"))


def load_scenario(path_or_name: str) -> Scenario:
    """A scenario file (`.toml` or `.json`), or the name of a shipped one."""
    path = Path(path_or_name)
    if not path.is_file() and (SCENARIO_DIR / f"{path_or_name}.json").is_file():
        path = SCENARIO_DIR / f"{path_or_name}.json"
    if not path.is_file():
        raise ValidationFailed(
            "scenario",
            "no file %(value)s and no shipped scenario of that name (%(choices)s)",
            value=path_or_name,
            choices=", ".join(shipped_scenarios()),
        )
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        raise ValidationFailed(
            "scenario", "cannot read %(value)s as UTF-8 text", value=path_or_name
        ) from None
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ValidationFailed(
            "scenario",
            "not valid %(format)s: %(error)s",
            format="TOML" if path.suffix.lower() == ".toml" else "JSON",
            error=str(exc)[:200],
        ) from None
    return parse_scenario(data)
