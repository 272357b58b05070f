"""Two simulation results side by side (`klaster simulate --compare A B`): savings per member
kind, the statutory conditions, grid imports and line congestion."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any


def _d(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _fmt(value: object, places: int = 0) -> str:
    d = _d(value)
    if d is None:
        return "–"
    return f"{d:,.{places}f}".replace(",", " ")


def compare_rows(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(what, A, B) rows for the table."""
    rows: list[tuple[str, str, str]] = [
        ("scenario", str(a.get("scenario", "A")), str(b.get("scenario", "B"))),
        ("range", f"{a['from']} … {a['to']}", f"{b['from']} … {b['to']}"),
        ("metering points", str(a["metering_points"]), str(b["metering_points"])),
        ("intervals cleared / failed", f"{a['cleared']} / {a['failed']}",
         f"{b['cleared']} / {b['failed']}"),
    ]  # fmt: skip
    for key, title in (
        ("import_kwh", "grid import, kWh"),
        ("export_kwh", "grid export, kWh"),
        ("local_kwh", "traded locally, kWh"),
    ):
        rows.append((title, _fmt(a["grid"][key]), _fmt(b["grid"][key])))
    for kind in sorted(set(a["by_kind"]) | set(b["by_kind"])):
        ka, kb = a["by_kind"].get(kind, {}), b["by_kind"].get(kind, {})
        rows.append((f"{kind}: members", str(ka.get("members", "–")), str(kb.get("members", "–"))))
        rows.append(
            (
                f"{kind}: benefit, PLN",
                _fmt(ka.get("benefit_pln"), 2),
                _fmt(kb.get("benefit_pln"), 2),
            )
        )
        rows.append(
            (
                f"{kind}: benefit per member, PLN",
                _fmt(ka.get("benefit_per_member_pln"), 2),
                _fmt(kb.get("benefit_per_member_pln"), 2),
            )
        )
    sa, sb = a["statutory"], b["statutory"]
    for key, title in (
        ("exempt_kwh", "exempt energy, kWh"),
        ("avoided_fees_pln", "avoided fees, PLN"),
        ("discount_pln", "distribution discount, PLN"),
    ):
        rows.append(
            (
                title,
                _fmt(sa[key], 2 if key.endswith("pln") else 0),
                _fmt(sb[key], 2 if key.endswith("pln") else 0),
            )
        )
    ca = {c["name"]: c for c in sa["conditions"]}
    cb = {c["name"]: c for c in sb["conditions"]}
    for name in list(dict.fromkeys([*ca, *cb])):

        def cell(c: dict[str, Any] | None) -> str:
            if c is None:
                return "–"
            met = {True: "met", False: "NOT met", None: "n/a"}[c["met"]]
            return f"{c['value']} (≥/≤ {c['threshold']}: {met})"

        rows.append((f"condition {name}", cell(ca.get(name)), cell(cb.get(name))))
    lines = sorted(
        set(a["congestion"]["intervals_by_line"]) | set(b["congestion"]["intervals_by_line"])
    )
    if not lines:
        rows.append(("congested intervals", "0", "0"))
    for line in lines:
        rows.append(
            (
                f"congested intervals {line}",
                str(a["congestion"]["intervals_by_line"].get(line, 0)),
                str(b["congestion"]["intervals_by_line"].get(line, 0)),
            )
        )
    return rows


def table(rows: list[tuple[str, str, str]]) -> str:
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    out = [f"{r[0]:<{w0}}  {r[1]:>{w1}}  {r[2]:>{w2}}" for r in rows]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- for the comparison page


def _num(value: object) -> Decimal | None:
    try:
        return _d(value)
    except ArithmeticError:
        return None


@dataclass(frozen=True, slots=True)
class Pair:
    """One figure of scenario A and of B (None: not in that scenario) and B − A."""

    key: str
    a: Decimal | None
    b: Decimal | None

    @property
    def delta(self) -> Decimal | None:
        return None if self.a is None or self.b is None else self.b - self.a


@dataclass(frozen=True, slots=True)
class KindPair:
    kind: str
    members: tuple[int | None, int | None]
    benefit: Pair
    per_member: Pair
    consumption: Pair
    fed_in: Pair


@dataclass(frozen=True, slots=True)
class ConditionPair:
    name: str
    draft: bool
    a: dict[str, Any] | None
    b: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two simulation summaries side by side, as the comparison page shows them."""

    a: dict[str, Any]
    b: dict[str, Any]
    grid: list[Pair]
    kinds: list[KindPair]
    statutory: list[Pair]
    conditions: list[ConditionPair]
    congestion: list[tuple[str, int, int]]
    day_ahead: list[Pair]


def compare(a: dict[str, Any], b: dict[str, Any]) -> Comparison:
    """The figures of two summaries (`klaster simulate` JSON) paired: grid exchange, each
    member kind's benefit, the statutory figures, each support condition, each line's
    congested intervals (most congested first) and the day-ahead auctions' positions."""
    grid = [
        Pair(key, _num(a["grid"].get(key)), _num(b["grid"].get(key)))
        for key in ("import_kwh", "export_kwh", "local_kwh")
    ]
    kinds = []
    for kind in sorted(set(a["by_kind"]) | set(b["by_kind"])):
        ka, kb = a["by_kind"].get(kind), b["by_kind"].get(kind)

        def pair(key: str, ka: Any = ka, kb: Any = kb) -> Pair:
            return Pair(key, _num(ka.get(key)) if ka else None, _num(kb.get(key)) if kb else None)

        kinds.append(
            KindPair(
                kind,
                (ka["members"] if ka else None, kb["members"] if kb else None),
                pair("benefit_pln"),
                pair("benefit_per_member_pln"),
                pair("consumption_kwh"),
                pair("fed_in_kwh"),
            )
        )
    sa, sb = a["statutory"], b["statutory"]
    statutory = [
        Pair(key, _num(sa.get(key)), _num(sb.get(key)))
        for key in ("renewable_fed_in_kwh", "matched_kwh", "exempt_kwh", "avoided_fees_pln",
                    "discount_pln")
    ]  # fmt: skip
    ca = {c["name"]: c for c in sa.get("conditions", [])}
    cb = {c["name"]: c for c in sb.get("conditions", [])}
    conditions = [
        ConditionPair(
            name,
            bool((ca.get(name) or cb.get(name) or {}).get("draft")),
            ca.get(name),
            cb.get(name),
        )
        for name in dict.fromkeys([*ca, *cb])
    ]
    la = a["congestion"]["intervals_by_line"]
    lb = b["congestion"]["intervals_by_line"]
    congestion = sorted(
        ((line, int(la.get(line, 0)), int(lb.get(line, 0))) for line in set(la) | set(lb)),
        key=lambda row: (-max(row[1], row[2]), row[0]),
    )
    da, db = a.get("day_ahead") or {}, b.get("day_ahead") or {}
    day_ahead = [
        Pair(key, _num(da.get(key)), _num(db.get(key)))
        for key in ("auctions", "bought_kwh", "sold_kwh", "amount_pln")
    ]
    return Comparison(a, b, grid, kinds, statutory, conditions, congestion, day_ahead)
