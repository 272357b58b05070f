"""Two simulation results side by side (`klaster simulate --compare A B`): savings per member
kind, the statutory conditions, grid imports and line congestion."""

from __future__ import annotations

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
