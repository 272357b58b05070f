"""`klaster clear` on the several-interval form (issue 12): bad input exits 2 with one line
naming the field, no traceback, nothing written; a good problem clears."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import matching

ROOT = Path(__file__).resolve().parents[2]

needs_core = pytest.mark.skipif(
    getattr(matching, "clear_document", None) is None,
    reason="matching.clear_document (issue 12, the several-interval core) is not merged yet",
)


def klaster(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


BASE: dict[str, Any] = {
    "intervals": [
        {"start": "2026-06-15T12:00:00+02:00", "minutes": 15},
        {"start": "2026-06-15T12:15:00+02:00", "minutes": 15},
        {"start": "2026-06-15T12:30:00+02:00", "minutes": 15},
    ],
    "network": {
        "nodes": [{"id": "A"}, {"id": "B"}],
        "lines": [{"id": "AB", "from": "A", "to": "B", "capacity_kw": 40, "fee_per_kwh": 0.01}],
        "grid_connections": [
            {
                "node": "A",
                "import_price": [0.9, 0.5, 0.95],
                "export_price": 0.2,
                "import_limit_kw": [40, 40, 40],
                "export_limit_kw": 40,
            }
        ],
    },
    "orders": [
        {"id": "b1", "node": "B", "side": "buy", "quantity_kwh": 4, "price": 1.0, "interval": 2},
        {"id": "s1", "node": "B", "side": "sell", "quantity_kwh": 2, "price": 0.3},
    ],
    "storage": [
        {
            "id": "bat",
            "node": "B",
            "energy_kwh": 10,
            "soc_initial_kwh": 2,
            "soc_final_min_kwh": 2,
            "charge_kw": 8,
            "discharge_kw": 8,
            "efficiency_charge": 0.95,
            "efficiency_discharge": 0.95,
        }
    ],
    "blocks": [
        {
            "id": "pump",
            "node": "A",
            "side": "buy",
            "price": 0.8,
            "first_interval": 1,
            "quantities_kwh": [3, 3],
            "min_acceptance_ratio": 1,
            "group": "pump",
        }
    ],
}


def _set(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    target: Any = out
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    target[int(last) if last.isdigit() else last] = value
    return out


# (path to change, new value, the field the one line must name, a word of what to fix)
CASES = [
    ("intervals.1.start", "2026-06-15T12:30:00+02:00", "intervals[1].start", "consecutive"),
    ("intervals.2.minutes", 60, "intervals[2].minutes", "15"),
    ("orders.0.interval", 3, "orders[0].interval", "interval"),
    ("orders.1.interval", -1, "orders[1].interval", "interval"),
    ("blocks.0.first_interval", 2, "blocks[0]", "interval"),
    ("blocks.0.quantities_kwh", [3, -1], "blocks[0].quantities_kwh", "0"),
    ("blocks.0.min_acceptance_ratio", 0, "blocks[0].min_acceptance_ratio", "1"),
    ("blocks.0.min_acceptance_ratio", 1.5, "blocks[0].min_acceptance_ratio", "1"),
    ("storage.0.efficiency_charge", 0, "storage[0].efficiency_charge", "1"),
    ("storage.0.efficiency_discharge", 1.2, "storage[0].efficiency_discharge", "1"),
    ("storage.0.soc_initial_kwh", 20, "storage[0].soc_initial_kwh", "energy_kwh"),
    ("storage.0.soc_final_min_kwh", 9, "storage[0].soc_final_min_kwh", "reach"),
    (
        "network.grid_connections.0.import_price",
        [0.9, 0.5],
        "network.grid_connections[0].import_price",
        "3",
    ),
    (
        "network.grid_connections.0.import_limit_kw",
        [40, 40, 40, 40],
        "network.grid_connections[0].import_limit_kw",
        "3",
    ),
]


@needs_core
def test_the_base_problem_clears(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    proc = klaster("clear", "-", "-o", str(out), stdin=json.dumps(BASE))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["status"] == "optimal"
    assert [len(iv["nodes"]) for iv in result["intervals"]] == [2, 2, 2]


@needs_core
@pytest.mark.parametrize(("path", "value", "field", "hint"), CASES)
def test_bad_input_exits_2_naming_the_field(
    path: str, value: Any, field: str, hint: str, tmp_path: Path
) -> None:
    out = tmp_path / "result.json"
    proc = klaster("clear", "-", "-o", str(out), stdin=json.dumps(_set(BASE, path, value)))
    assert proc.returncode == 2, (proc.returncode, proc.stdout[:300], proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert field in lines[0], lines[0]
    assert hint in lines[0].split(field, 1)[1], lines[0]
    assert not out.exists()


@needs_core
@pytest.mark.parametrize(("path", "value", "field", "hint"), CASES)
def test_clear_document_raises_the_same_error(path: str, value: Any, field: str, hint: str) -> None:
    with pytest.raises(matching.ProblemError) as err:
        matching.clear_document(_set(BASE, path, value))  # type: ignore[attr-defined]
    assert field in str(err.value)
