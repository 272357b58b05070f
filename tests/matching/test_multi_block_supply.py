"""The day-ahead journey's block group, worked by hand (issue 13, docs/clearing.md "Block
orders": investigated). A battery at S1 (usable 18 kWh, starting at 8, 5 kW, 95 % each way,
0.05 PLN/kWh wear) and a buy group "1 h at 4 kW from 18, 19 or 20 h, limit 0.85"; the only
other source is the grid at 0.89 (it buys at 0.20).

- The battery must end where it began: a block's 4 kWh would come from the grid at 0.89 or
  from the battery bought back at 0.89 / 0.9025 = 0.986 + wear, both above 0.85: no block is
  accepted, and nothing flows (the LP relaxation itself rejects them).
- The battery may end empty: it supplies one block (its energy is worth the grid's 0.20
  otherwise), exactly one of the exclusive group is accepted and the battery discharges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import matching


def _doc(final_kwh: float) -> dict[str, Any]:
    start = datetime(2026, 6, 15, 22, tzinfo=UTC)  # 16 June, local midnight
    blocks = [
        {"id": f"b{h}", "node": "S1", "side": "buy", "price": 0.85, "first_interval": 4 * h,
         "quantities_kwh": [1, 1, 1, 1], "min_acceptance_ratio": 1, "group": "g"}
        for h in (18, 19, 20)
    ]  # fmt: skip
    return {
        "intervals": [
            {
                "start": (start + timedelta(minutes=15 * k)).isoformat().replace("+00:00", "Z"),
                "minutes": 15,
            }
            for k in range(96)
        ],
        "network": {
            "nodes": [{"id": "GPZ"}, {"id": "S1"}],
            "lines": [{"id": "L1", "from": "GPZ", "to": "S1", "capacity_kw": 100}],
            "grid_connections": [
                {
                    "node": "GPZ",
                    "import_price": 0.89,
                    "export_price": 0.2,
                    "import_limit_kw": 1000,
                    "export_limit_kw": 1000,
                }
            ],
        },
        "orders": [],
        "storage": [
            {
                "id": "s",
                "node": "S1",
                "energy_kwh": 18,
                "soc_initial_kwh": 8,
                "soc_final_min_kwh": final_kwh,
                "charge_kw": 5,
                "discharge_kw": 5,
                "efficiency_charge": 0.95,
                "efficiency_discharge": 0.95,
                "cost_per_kwh": 0.05,
            }
        ],
        "blocks": blocks,
    }


def test_no_block_when_nothing_can_supply_it_below_its_limit() -> None:
    result = matching.clear_document(_doc(final_kwh=8))
    assert result["status"] == "optimal" and "LP relaxation integral" in result["reason"]
    assert [b["accepted_ratio"] for b in result["blocks"]] == [0.0, 0.0, 0.0]
    grid = [g for iv in result["intervals"] for g in iv["grid_connections"]]
    assert sum(g["import_kwh"] for g in grid) == 0.0
    assert sum(result["storage"][0]["discharge_kwh"]) == 0.0


def test_the_battery_supplies_one_block_when_it_may_end_empty() -> None:
    result = matching.clear_document(_doc(final_kwh=0))
    assert result["status"] == "optimal"
    accepted = [b for b in result["blocks"] if b["accepted_ratio"] == 1.0]
    assert len(accepted) == 1
    assert {b["rejected_reason"] for b in result["blocks"] if b not in accepted} == {
        "group_exclusive"
    }
    assert sum(result["storage"][0]["discharge_kwh"]) >= 4 / 0.95 - 1e-6
