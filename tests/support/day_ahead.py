"""A stand-in for the several-interval core (issue 12) in tests of storing and exactly-once:
it answers in the issue-12 result shape with a trivially feasible outcome (every simple
order accepted in full at one price per interval, storage idle at its initial state, the
first block of each group accepted). It makes no claim to optimality: tests of what the
core decides run against the real `matching.clear_document` (skipped until it is merged)."""

from __future__ import annotations

from typing import Any

import pytest

PRICE = 0.5


def fake_clear_document(doc: dict[str, Any]) -> dict[str, Any]:
    n = len(doc["intervals"])
    seen: set[str] = set()
    blocks = []
    for b in doc.get("blocks", []):
        take = b.get("group") not in seen
        if take and b.get("group") is not None:
            seen.add(b["group"])
        blocks.append(
            {"id": b["id"], "accepted_ratio": 1.0 if take else 0.0, "surplus": 1.5,
             "paradoxically_rejected": False,
             "rejected_reason": None if take else "group_exclusive"}
        )  # fmt: skip
    storage = [
        {
            "id": s["id"],
            "charge_kwh": [0.0] * n,
            "discharge_kwh": [0.0] * n,
            "soc_kwh": [float(s["soc_initial_kwh"])] * n,
            "profit": 0.0,
        }
        for s in doc.get("storage", [])
    ]
    nodes = [nd["id"] for nd in doc["network"]["nodes"]]
    return {
        "status": "optimal",
        "welfare": 1.0,
        "congestion_rent": 0.0,
        "fees": 0.0,
        "timings": {"total_ms": 1.0},
        "orders": [{"id": o["id"], "accepted_kwh": o["quantity_kwh"]} for o in doc["orders"]],
        "blocks": blocks,
        "storage": storage,
        "intervals": [
            {
                "start": iv["start"],
                "nodes": [
                    {
                        "id": nd,
                        "price": PRICE + 0.01 * (t % 3),
                        "price_low": None,
                        "price_high": None,
                    }
                    for nd in nodes
                ],
                "lines": [
                    {"id": ln["id"], "flow_kwh": 4.0, "fee": 0.0} for ln in doc["network"]["lines"]
                ],
                "grid_connections": [
                    {"node": g["node"], "import_kwh": 1.0, "export_kwh": 0.0}
                    for g in doc["network"]["grid_connections"]
                ],
                "trades": [],
            }
            for t, iv in enumerate(doc["intervals"])
        ],
    }


@pytest.fixture
def fake_core(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Clear day-ahead auctions with `fake_clear_document`; returns the documents it got."""
    from market.clearing import day_ahead

    calls: list[dict[str, Any]] = []

    def clear(doc: dict[str, Any]) -> dict[str, Any]:
        calls.append(doc)
        return fake_clear_document(doc)

    monkeypatch.setattr(day_ahead, "clear_document", clear)
    monkeypatch.setattr(day_ahead, "core_available", lambda: True)
    return calls
